/**
 * Rotation's writes into placements (issue 16): puts a new secret into the CI variable a `ci_variable`
 * placement names — on this Latchkey through the CI-variables service, on a registered upstream GitLab
 * through its variables API with the upstream's token — in the placement's format, keeping what else
 * the value holds, and reads it back to verify it (compared in constant time).
 *
 * Variables are written in the `*` environment scope (placements name none): an existing one is
 * updated with only its value changed; an absent one is created — masked where the value can be masked
 * (on this Latchkey also hidden, as the system still reads it back; upstream it stays readable, or the
 * read-back could not verify it). Every way a write or read fails is a reason a person can act on
 * ("403 Forbidden: the upstream token cannot write variables of group acme"), never a secret.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isMaskableValue } from '../ci-variables/ci-variable.js';
import type { Placement } from '../inventory/credential.js';
import type { Clock } from '../kernel/clock.js';
import { UpstreamFailure, type GitlabClient } from '../upstreams/gitlab-client.js';
import { PLACEMENT_ENVIRONMENT_SCOPE, type LocalVariables, type VariableRead } from '../upstreams/local-variables.js';
import { secretHeldBy, valueForPlacement } from '../upstreams/placement-value.js';
import { readVariable, variablesPathOf } from '../upstreams/upstream-reader.js';
import type { Upstream } from '../upstreams/upstream.js';
import type { PlacementIO, PlacementResult } from './contracts.js';

export interface PlacementIODeps {
  /** Latchkey's own CI variables, written and read as the system. */
  local: Pick<LocalVariables, 'isLocal' | 'writeAsSystem' | 'readAsSystem'>;
  /** The registered upstreams (upstream-service's `rotation`). */
  upstreams: {
    hosts(): Promise<string[]>;
    upstreamForHost(host: string | null): Promise<Upstream | null>;
    clientOf(upstream: Upstream): Promise<GitlabClient>;
    onChanged(listener: () => void): void;
  };
  clock: Clock;
}

/** How old the cache of upstream hosts `isAutomatic` answers from may be before it is read again. */
const HOSTS_TTL_MS = 30_000;

const OK: PlacementResult = { ok: true };
const fail = (reason: string): PlacementResult => ({ ok: false, reason });

const describeOwner = (p: Placement): string => (p.project !== null ? `project ${p.project}` : p.group !== null ? `group ${p.group}` : 'the instance');

/** Equal in constant time (digests first: the lengths of the secrets stay unknown too). */
function sameSecret(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(a), digest(b));
}

/** The reason a refused write gives: the status, what was refused, and GitLab's message when it sent one. */
function refusal(status: number, body: unknown, what: string, host: string): string {
  const message = (body as { message?: unknown; error?: unknown } | null)?.message ?? (body as { error?: unknown } | null)?.error;
  const detail = message === undefined ? '' : `: ${typeof message === 'string' ? message : JSON.stringify(message)}`;
  if (status === 403) return `403 Forbidden: the upstream token cannot write variables of ${what} (it needs the api scope and Maintainer there)`;
  if (status === 404) return `404 Not Found: ${what} does not exist on ${host}, or the upstream token cannot see it`;
  if (status === 400) return `400 Bad request: ${host} refused the value for ${what}${detail}`;
  return `${status}: ${host} refused to write the variable of ${what}${detail}`;
}

export type RotationPlacementIO = PlacementIO & {
  /** Reads the registered upstreams' hosts again (done on its own after changes and every 30 s). */
  refresh(): Promise<void>;
};

export function createPlacementIO(deps: PlacementIODeps): RotationPlacementIO {
  let hosts = new Set<string>();
  let loadedAt = -Infinity;
  let loading: Promise<void> | null = null;
  const refresh = (): Promise<void> => {
    loading ??= deps.upstreams
      .hosts()
      .then((list) => {
        hosts = new Set(list.map((h) => h.toLowerCase()));
        loadedAt = deps.clock.now().getTime();
      })
      .finally(() => {
        loading = null;
      });
    return loading;
  };
  const refreshQuietly = () => void refresh().catch(() => {});
  deps.upstreams.onChanged(refreshQuietly);
  refreshQuietly();

  /** The upstream of the placement's host and a client with its token, or why there is none. */
  async function upstreamOf(placement: Placement): Promise<{ upstream: Upstream; client: GitlabClient } | { reason: string }> {
    const upstream = await deps.upstreams.upstreamForHost(placement.instance);
    if (upstream === null) return { reason: `no upstream registered for host ${placement.instance}` };
    return { upstream, client: await deps.upstreams.clientOf(upstream) };
  }

  async function writeUpstream(placement: Placement, secret: string): Promise<PlacementResult> {
    const target = await upstreamOf(placement);
    if ('reason' in target) return fail(target.reason);
    const { client, upstream } = target;
    const host = new URL(upstream.url).host;
    const what = describeOwner(placement);
    const collection = variablesPathOf(placement);
    const path = `${collection}/${encodeURIComponent(placement.key!)}`;
    // Instance variables have no environment scope.
    const scoped = placement.project !== null || placement.group !== null;
    const filter: Record<string, string> = scoped ? { 'filter[environment_scope]': PLACEMENT_ENVIRONMENT_SCOPE } : {};

    // What the variable holds now: a DOCKER_AUTH_CONFIG keeps its other registries.
    const before = await client.get<{ value?: unknown }>(path, filter);
    if (before.status === 403) return fail(`403 Forbidden: the upstream token cannot read variables of ${what} (it needs the api scope and Maintainer there)`);
    const exists = before.status === 200;
    const current = exists && typeof before.body?.value === 'string' ? before.body.value : null;
    if (exists && current === null && (placement.format ?? 'raw') !== 'raw') {
      return fail(`${placement.key} on ${host} is hidden: its value cannot be read, so what else it holds (${placement.format}) cannot be kept; write it by hand or make it visible`);
    }
    const value = valueForPlacement(placement, secret, current);
    let answer = exists ? await client.send('PUT', path, { value }, filter) : null;
    // Absent (or deleted since the read): created.
    if (answer === null || answer.status === 404) {
      answer = await client.send('POST', collection, { key: placement.key, value, masked: isMaskableValue(value, false), ...(scoped ? { environment_scope: PLACEMENT_ENVIRONMENT_SCOPE } : {}) });
    }
    return answer.status >= 200 && answer.status < 300 ? OK : fail(refusal(answer.status, answer.body, what, host));
  }

  async function readBack(placement: Placement): Promise<VariableRead> {
    if (deps.local.isLocal(placement.instance)) return deps.local.readAsSystem(placement);
    const target = await upstreamOf(placement);
    if ('reason' in target) return { status: 'cannot_read', detail: `cannot read: ${target.reason}` };
    return readVariable(target.client, placement, PLACEMENT_ENVIRONMENT_SCOPE);
  }

  /** An upstream that cannot be reached, or whose token cannot be opened, is a reason, not a crash. */
  const asResult = async (work: () => Promise<PlacementResult>): Promise<PlacementResult> => {
    try {
      return await work();
    } catch (e) {
      if (e instanceof UpstreamFailure) return fail(e.message);
      throw e;
    }
  };

  const checkAutomatic = (placement: Placement): string | null => {
    if (placement.kind !== 'ci_variable' || placement.key === null) return `a ${placement.kind} placement is not written by Latchkey`;
    return null;
  };

  return {
    isAutomatic(placement) {
      if (checkAutomatic(placement) !== null) return false;
      if (deps.local.isLocal(placement.instance)) return true;
      if (deps.clock.now().getTime() - loadedAt > HOSTS_TTL_MS) refreshQuietly();
      return placement.instance !== null && hosts.has(placement.instance.toLowerCase());
    },

    write(placement, secret) {
      const notAutomatic = checkAutomatic(placement);
      if (notAutomatic !== null) return Promise.resolve(fail(notAutomatic));
      return asResult(async () => {
        if (!deps.local.isLocal(placement.instance)) return writeUpstream(placement, secret);
        return deps.local.writeAsSystem(placement, (current) => valueForPlacement(placement, secret, current));
      });
    },

    verify(placement, secret) {
      const notAutomatic = checkAutomatic(placement);
      if (notAutomatic !== null) return Promise.resolve(fail(notAutomatic));
      return asResult(async () => {
        const read = await readBack(placement);
        if (!('value' in read)) return fail(read.detail);
        const held = secretHeldBy(placement, read.value);
        if (held === null) return fail(`${placement.key} does not hold a ${placement.format ?? 'raw'} value for this placement`);
        return sameSecret(held, secret) ? OK : fail(`${placement.key} holds another secret than the one written`);
      });
    },

    refresh,
  };
}
