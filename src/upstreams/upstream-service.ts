/**
 * Upstreams (issue 15): register GitLab-compatible instances (admins only), check what their token
 * can see, and sync the token metadata they show into the credential inventory.
 *
 * The upstream's token is sealed under the server secret's key ring and opened only to make requests;
 * no answer carries it. A sync reads everything first (no transaction open while the network is
 * used), then applies it in one transaction: entries keyed by (upstream, kind, remote id) are created
 * or updated, tokens a complete read no longer returns are marked disappeared. A sync that fails —
 * 401/403, 5xx, a timeout, bad JSON, a rate limit it will not wait for — records its reason on the
 * upstream and changes no entry. One node at a time syncs an upstream (a database lock per upstream,
 * as the expiry job's); time comes from the injected clock and sleep.
 */
import type { AuditRecord } from '../audit/audit-writer.js';
import type { Clock } from '../kernel/clock.js';
import { utcDateOf } from '../kernel/dates.js';
import { conflict, DomainError, forbidden, notFound } from '../kernel/errors.js';
import type { Page, PageRequest } from '../kernel/page.js';
import type { SecretBox } from '../kernel/secret-box.js';
import type { Group, User } from '../namespaces/namespace.js';
import { createGitlabClient, UpstreamFailure, type GitlabClient } from './gitlab-client.js';
import { readIdentity, readUpstream, readVariable, type UpstreamIdentity, type UpstreamRead } from './upstream-reader.js';
import { entryForUpstreamToken, entryMatches, upstreamTokenChanged } from './upstream-entries.js';
import type { PlacementCheck, PlacementCheckStatus, RemoteToken, SyncCounts, SyncedToken, Upstream, UpstreamInput } from './upstream.js';
import type { Credential, InventoryEntry } from '../inventory/credential.js';
import { secretHeldBy } from './placement-value.js';
import type { LocalVariables, VariableRead } from './local-variables.js';
import type { UpstreamStore, UpstreamSyncPorts } from './upstream-store.js';

/** An upstream from LATCHKEY_UPSTREAMS / LATCHKEY_UPSTREAMS_FILE (validated by config.ts). */
export interface ConfiguredUpstream {
  readonly name: string;
  readonly url: string;
  readonly token: string;
  readonly owner: string;
}

/** The job lock of store/expiry-notices.ts (`job_locks`): a lease one holder has at a time. */
export interface JobLock {
  tryLock(name: string, holder: string, now: string, until: string): Promise<boolean>;
  unlock(name: string, holder: string, now: string): Promise<void>;
}

export interface UpstreamServiceDeps {
  store: UpstreamStore;
  /** Seals upstream tokens (HKDF purpose `upstream-token v1`). */
  box: SecretBox;
  findGroup(idOrPath: string): Promise<Group | null>;
  clock: Clock;
  /** Waits for a rate limit; tests pass one that advances a fake clock. */
  sleep(ms: number): Promise<void>;
  timeoutMs: number;
  maxRetryWaitMs: number;
  lock: JobLock;
  /** This node's name in the lock table. */
  holder: string;
  configured: readonly ConfiguredUpstream[];
  audit?: (entry: AuditRecord) => Promise<void> | void;
  /** Injected for tests of the transport only. */
  fetch?: typeof fetch;
  /** The inventory, for placement checks: an entry the actor may read (404 otherwise), and the entries a value's fingerprint matches. */
  inventory: {
    get(actor: User, ref: string): Promise<InventoryEntry>;
    recogniseValue(value: string): Promise<Credential[]>;
  };
  /** Latchkey's own CI variables, for placements whose `instance` is this Latchkey (no upstream needed). */
  local?: LocalVariables;
  /** Counts each placement check by its status (a metric). */
  onPlacementCheck?: (status: PlacementCheckStatus) => void;
}

/** What a sync did: `ok` with its counts, `failed` with the reason, or `skipped` when another node holds the lock. */
export interface SyncResult {
  readonly upstream: string;
  readonly status: 'ok' | 'failed' | 'skipped';
  readonly reason: string | null;
  readonly counts: SyncCounts | null;
  readonly requests: number;
  readonly rateLimitWaits: number;
}

export interface CheckResult {
  readonly upstream: string;
  readonly ok: boolean;
  readonly reason: string | null;
  readonly identity: UpstreamIdentity | null;
  /** Plain-language limits of what the token can do (no read_api scope, not an admin). */
  readonly warnings: readonly string[];
}

/** HKDF purpose of the upstream tokens. Frozen: stored tokens were sealed under it. */
export const UPSTREAM_TOKEN_PURPOSE = 'upstream-token v1';

/** A sync that runs longer than this may be taken over by another node (it is idempotent). */
const SYNC_LEASE_MS = 30 * 60_000;
const NOT_FOUND = () => notFound('Upstream Not Found', 'UPSTREAM_NOT_FOUND');

export type UpstreamService = ReturnType<typeof createUpstreamService>;

export function createUpstreamService(deps: UpstreamServiceDeps) {
  const { store, box, clock } = deps;
  const now = () => clock.now().toISOString();
  /** Told when an upstream is registered, changed or removed on this node (rotation's cache of upstream hosts). */
  const changeListeners: (() => void)[] = [];
  const changed = () => {
    for (const listener of changeListeners) listener();
  };
  let configuredApplied: Promise<void> | null = null;

  const requireAdmin = (actor: User) => {
    if (!actor.isAdmin) throw forbidden('UPSTREAMS_NEED_ADMIN');
  };

  const ownerGroup = async (owner: string): Promise<Group> => {
    const group = await deps.findGroup(owner);
    if (group === null) throw new DomainError('invalid', 'INVALID_UPSTREAM', `owner (${owner}) is not a group`, { owner: [`(${owner}) is not a group`] });
    return group;
  };

  /** LATCHKEY_UPSTREAMS, written once per process before the first use (a changed URL, token or owner is taken over). */
  async function applyConfigured(): Promise<void> {
    for (const c of deps.configured) {
      const owner = await ownerGroup(c.owner).catch(() => {
        throw new DomainError('invalid', 'INVALID_UPSTREAM', `LATCHKEY_UPSTREAMS: upstream ${c.name}: owner (${c.owner}) is not a group`);
      });
      const existing = await store.findByName(c.name);
      if (existing === null) {
        await store.insert({ name: c.name, url: c.url, tokenSealed: box.seal(c.token), ownerGroupId: owner.id, source: 'config' }, now()).catch((e) => {
          // Another node applied it first.
          if ((e as DomainError).code !== 'ALREADY_EXISTS') throw e;
        });
        continue;
      }
      const sealed = await store.sealedToken(existing.id);
      let sameToken = false;
      try {
        sameToken = sealed !== null && box.open(sealed) === c.token;
      } catch {
        sameToken = false;
      }
      if (existing.url !== c.url || existing.owner.id !== owner.id || existing.source !== 'config' || !sameToken) {
        await store.update(existing.id, { url: c.url, ownerGroupId: owner.id, source: 'config', ...(sameToken ? {} : { tokenSealed: box.seal(c.token) }) }, now());
      }
    }
  }
  const ensureConfigured = async () => {
    configuredApplied ??= applyConfigured().catch((e) => {
      configuredApplied = null;
      throw e;
    });
    await configuredApplied;
  };

  const find = async (name: string): Promise<Upstream> => {
    await ensureConfigured();
    const upstream = /^[a-z0-9][a-z0-9_-]{0,62}$/.test(name) ? await store.findByName(name) : null;
    if (upstream === null) throw NOT_FOUND();
    return upstream;
  };

  /** A client with the upstream's own token; a token no configured secret opens is a reason, not a crash. */
  async function clientOf(upstream: Upstream): Promise<GitlabClient> {
    const sealed = await store.sealedToken(upstream.id);
    let token: string;
    try {
      token = box.open(sealed ?? '');
    } catch {
      throw new UpstreamFailure('the upstream token cannot be decrypted: it was sealed under a server secret that is not configured (set LATCHKEY_SECRET_PREVIOUS, or register the token again)');
    }
    return createGitlabClient(upstream.url, token, { timeoutMs: deps.timeoutMs, maxRetryWaitMs: deps.maxRetryWaitMs, clock, sleep: deps.sleep, fetch: deps.fetch });
  }

  /** Applies a complete read in one transaction; returns what changed. */
  async function apply(ports: UpstreamSyncPorts, upstream: Upstream, read: UpstreamRead): Promise<SyncCounts> {
    const at = now();
    const today = utcDateOf(clock.now());
    const known = new Map<string, SyncedToken>((await ports.knownTokens(upstream.id)).map((t) => [`${t.kind} ${t.remoteId}`, t]));
    // Tokens a rotation replaced: their entry moved on to the new token (the upstream lists them as revoked).
    const rotatedAway = await ports.rotatedAway(upstream.id);
    const seen = new Set<string>();
    let created = 0;
    let updated = 0;
    let revoked = 0;
    let disappeared = 0;
    for (const token of read.tokens) {
      const key = `${token.kind} ${token.remoteId}`;
      if (seen.has(key) || (rotatedAway.has(key) && !known.has(key))) continue;
      seen.add(key);
      const before = known.get(key);
      const current = before ? await ports.inventory.findById(before.credentialId) : null;
      let credentialId: number;
      if (before === undefined || current === null) {
        credentialId = await ports.inventory.insert(entryForUpstreamToken(upstream, token, null, today), null, at).catch((e) => {
          if ((e as DomainError).code === 'ALREADY_EXISTS') throw new UpstreamFailure(`${(e as Error).message} by another inventory entry; rename that entry to let the sync create its own`);
          throw e;
        });
        created++;
        if (token.revoked || !token.active) revoked++;
      } else {
        credentialId = current.id;
        if (!upstreamTokenChanged(before, token)) {
          await ports.saveToken(upstream.id, token, credentialId, at);
          continue;
        }
        const next = entryForUpstreamToken(upstream, token, current, today);
        if (!entryMatches(current, next)) await ports.inventory.update(current.id, next, at);
        updated++;
        if ((!before.revoked && token.revoked) || (before.active && !token.active)) revoked++;
      }
      await ports.saveToken(upstream.id, token, credentialId, at);
    }
    for (const [key, before] of known) {
      if (seen.has(key) || before.state !== 'present' || !read.covers(before.kind, before.resource)) continue;
      await ports.markDisappeared(upstream.id, before, at);
      disappeared++;
    }
    return { seen: seen.size, created, updated, revoked, disappeared, skipped: read.skipped };
  }

  async function syncOne(upstream: Upstream): Promise<SyncResult> {
    const lockName = `upstream-sync:${upstream.name}`;
    const started = clock.now();
    if (!(await deps.lock.tryLock(lockName, deps.holder, started.toISOString(), new Date(started.getTime() + SYNC_LEASE_MS).toISOString()))) {
      return { upstream: upstream.name, status: 'skipped', reason: 'another node is syncing this upstream', counts: null, requests: 0, rateLimitWaits: 0 };
    }
    let client: GitlabClient | null = null;
    try {
      await store.markSyncStarted(upstream.id, started.toISOString());
      let counts: SyncCounts;
      try {
        client = await clientOf(upstream);
        const read = await readUpstream(client);
        counts = await store.transaction((ports) => apply(ports, upstream, read));
      } catch (e) {
        if (!(e instanceof UpstreamFailure)) throw e;
        await store.recordSyncOutcome(upstream.id, { finishedAt: now(), status: 'failed', reason: e.message, counts: null });
        await deps.audit?.({ at: now(), event: 'upstream.sync_failed', data: { upstream: upstream.name, reason: e.message } });
        const stats = client?.stats();
        return { upstream: upstream.name, status: 'failed', reason: e.message, counts: null, requests: stats?.requests ?? 0, rateLimitWaits: stats?.rateLimitWaits ?? 0 };
      }
      await store.recordSyncOutcome(upstream.id, { finishedAt: now(), status: 'ok', reason: null, counts });
      await deps.audit?.({ at: now(), event: 'upstream.synced', data: { upstream: upstream.name, ...counts } });
      const stats = client.stats();
      return { upstream: upstream.name, status: 'ok', reason: null, counts, requests: stats.requests, rateLimitWaits: stats.rateLimitWaits };
    } finally {
      await deps.lock.unlock(lockName, deps.holder, now());
    }
  }

  /** The upstream registered for a host (`host[:port]` of its URL), if any. */
  const upstreamForHost = async (host: string | null): Promise<Upstream | null> =>
    host === null ? null : ((await store.list()).find((u) => new URL(u.url).host === host.toLowerCase()) ?? null);

  /** Reads the variable a `ci_variable` placement names through the upstream registered for its instance. */
  async function readThroughUpstream(placement: InventoryEntry['placements'][number]): Promise<VariableRead> {
    const upstream = await upstreamForHost(placement.instance);
    if (!upstream) return { status: 'cannot_read', detail: `cannot read: no upstream is registered for ${placement.instance}` };
    try {
      return await readVariable(await clientOf(upstream), placement);
    } catch (e) {
      if (!(e instanceof UpstreamFailure)) throw e;
      return { status: 'cannot_read', detail: `cannot read: ${e.message}` };
    }
  }

  /**
   * Reads the variable a `ci_variable` placement names — on Latchkey itself through the CI-variables
   * service, elsewhere through the instance's upstream — and compares what it holds with the fingerprint.
   */
  async function judgePlacement(actor: User, credential: InventoryEntry, placement: InventoryEntry['placements'][number]): Promise<{ status: PlacementCheckStatus; detail: string }> {
    if (!credential.hasFingerprint) return { status: 'no_fingerprint', detail: 'no fingerprint: give the entry its value (PUT … {"value": …}) to compare with' };
    const read = deps.local?.isLocal(placement.instance) ? await deps.local.read(actor, placement) : await readThroughUpstream(placement);
    if (!('value' in read)) return read;
    const secret = secretHeldBy(placement, read.value);
    if (secret === null) return { status: 'stale', detail: `stale: the value is not ${placement.format ?? 'raw'} for this placement` };
    const matches = await deps.inventory.recogniseValue(secret);
    return matches.some((c) => c.id === credential.id) ? { status: 'in_sync', detail: 'in sync' } : { status: 'stale', detail: 'stale: holds an older secret' };
  }

  return {
    async list(actor: User): Promise<Upstream[]> {
      requireAdmin(actor);
      await ensureConfigured();
      return store.list();
    },

    async get(actor: User, name: string): Promise<Upstream> {
      requireAdmin(actor);
      return find(name);
    },

    /** Registers an upstream; `input` comes from parseUpstreamInput (every field present). */
    async create(actor: User, input: UpstreamInput): Promise<Upstream> {
      requireAdmin(actor);
      await ensureConfigured();
      const owner = await ownerGroup(input.owner!);
      try {
        const upstream = await store.insert({ name: input.name!, url: input.url!, tokenSealed: box.seal(input.token!), ownerGroupId: owner.id, source: 'api' }, now());
        changed();
        await deps.audit?.({ at: now(), event: 'upstream.created', actorUsername: actor.username, data: { by: actor.username, upstream: upstream.name, url: upstream.url } });
        return upstream;
      } catch (e) {
        if ((e as DomainError).code === 'ALREADY_EXISTS') throw new DomainError('invalid', 'INVALID_UPSTREAM', `name (${input.name}) has already been taken`, { name: ['has already been taken'] });
        throw e;
      }
    },

    /** Changes the URL, token or owner. An upstream from LATCHKEY_UPSTREAMS is changed there (409). */
    async update(actor: User, name: string, input: UpstreamInput): Promise<Upstream> {
      requireAdmin(actor);
      const upstream = await find(name);
      if (upstream.source === 'config') throw conflict(`Upstream ${name} is defined in LATCHKEY_UPSTREAMS; change it there`, 'UPSTREAM_FROM_CONFIG');
      const owner = input.owner !== undefined ? await ownerGroup(input.owner) : null;
      await store.update(upstream.id, { ...(input.url ? { url: input.url } : {}), ...(input.token ? { tokenSealed: box.seal(input.token) } : {}), ...(owner ? { ownerGroupId: owner.id } : {}) }, now());
      changed();
      await deps.audit?.({ at: now(), event: 'upstream.updated', actorUsername: actor.username, data: { by: actor.username, upstream: name, changed: Object.keys(input) } });
      return (await store.findByName(name))!;
    },

    /** Unregisters an upstream; the entries its syncs made stay in the inventory (with what people added). */
    async remove(actor: User, name: string): Promise<void> {
      requireAdmin(actor);
      const upstream = await find(name);
      if (upstream.source === 'config') throw conflict(`Upstream ${name} is defined in LATCHKEY_UPSTREAMS; remove it there`, 'UPSTREAM_FROM_CONFIG');
      await store.delete(upstream.id);
      changed();
      await deps.audit?.({ at: now(), event: 'upstream.deleted', actorUsername: actor.username, data: { by: actor.username, upstream: name } });
    },

    /** What the upstream token can see: its user, scopes and admin flag (or why it cannot be asked). */
    async check(actor: User, name: string): Promise<CheckResult> {
      requireAdmin(actor);
      const upstream = await find(name);
      try {
        const identity = await readIdentity(await clientOf(upstream));
        const warnings: string[] = [];
        if (identity.scopes !== null && !identity.scopes.includes('api') && !identity.scopes.includes('read_api')) warnings.push('the token has neither read_api nor api: the sync cannot read token metadata');
        if (identity.scopes !== null && !identity.scopes.includes('api')) warnings.push('without the api scope Latchkey cannot rotate tokens or write CI variables there');
        if (!identity.isAdmin) warnings.push('not an admin: the sync sees this user\'s personal access tokens and the groups and projects where it is Maintainer or Owner');
        return { upstream: name, ok: true, reason: null, identity, warnings };
      } catch (e) {
        if (!(e instanceof UpstreamFailure)) throw e;
        return { upstream: name, ok: false, reason: e.message, identity: null, warnings: [] };
      }
    },

    /** Syncs one upstream now (`latchkey upstream sync <name>`, POST …/sync); 409 while another node syncs it. */
    async sync(actor: User, name: string): Promise<SyncResult> {
      requireAdmin(actor);
      const result = await syncOne(await find(name));
      if (result.status === 'skipped') throw conflict(`A sync of upstream ${name} is already running`, 'UPSTREAM_SYNC_RUNNING');
      return result;
    },

    /** The scheduled sync: every upstream in turn, each skipped when another node holds its lock. */
    async syncAll(): Promise<SyncResult[]> {
      await ensureConfigured();
      const results: SyncResult[] = [];
      for (const upstream of await store.list()) results.push(await syncOne(upstream));
      return results;
    },

    /** The tokens the syncs of an upstream found, with their inventory entries and state. */
    async tokens(actor: User, name: string, page: PageRequest): Promise<Page<SyncedToken>> {
      requireAdmin(actor);
      const upstream = await find(name);
      return store.listTokens(upstream.id, page);
    },

    /** Checks one `ci_variable` placement of an entry the actor may read; the result is kept on the entry. */
    async checkPlacement(actor: User, ref: string, placementId: number): Promise<PlacementCheck> {
      const credential = await deps.inventory.get(actor, ref);
      const placement = credential.placements.find((p) => p.id === placementId);
      // A Latchkey token without inventory fields (id null) has no placements either.
      if (!placement || credential.id === null) throw notFound('Placement Not Found', 'PLACEMENT_NOT_FOUND');
      if (placement.kind !== 'ci_variable') throw new DomainError('invalid', 'PLACEMENT_NOT_CHECKABLE', `placement ${placementId} is a ${placement.kind} placement; only ci_variable placements can be checked`);
      await ensureConfigured();
      const { status, detail } = await judgePlacement(actor, credential, placement);
      const check: PlacementCheck = { placementId, credentialId: credential.id, status, detail, checkedAt: now() };
      await store.savePlacementCheck(check);
      deps.onPlacementCheck?.(status);
      return check;
    },

    /** The last checks of an entry's placements (an entry the actor may read). */
    async placementChecks(actor: User, ref: string): Promise<PlacementCheck[]> {
      const credential = await deps.inventory.get(actor, ref);
      return credential.id === null ? [] : store.listPlacementChecks(credential.id);
    },

    ensureConfigured,

    /**
     * Rotation's access to upstreams (issue 16), as the system — never reachable from HTTP: the upstream
     * of a host and a client with its token, the synced token an entry is, and the record of a rotation
     * done upstream (the entry follows the new remote token at once, as the next sync would have it).
     */
    rotation: {
      upstreamForHost: async (host: string | null) => {
        await ensureConfigured();
        return upstreamForHost(host);
      },
      /** The hosts of the registered upstreams. */
      hosts: async (): Promise<string[]> => {
        await ensureConfigured();
        return (await store.list()).map((u) => new URL(u.url).host);
      },
      clientOf,
      onChanged: (listener: () => void) => void changeListeners.push(listener),
      async syncedToken(credentialId: number): Promise<{ upstream: Upstream; token: SyncedToken } | null> {
        await ensureConfigured();
        const found = await store.tokenOfCredential(credentialId);
        const upstream = found && (await store.list()).find((u) => u.id === found.upstreamId);
        return found && upstream ? { upstream, token: found.token } : null;
      },
      async recordRotation(upstream: Upstream, before: SyncedToken, after: RemoteToken): Promise<void> {
        const at = now();
        await store.transaction(async (ports) => {
          const current = await ports.inventory.findById(before.credentialId);
          if (current === null) return;
          if (after.remoteId !== before.remoteId) await ports.moveToken(upstream.id, before.kind, before.remoteId, after.remoteId, at);
          await ports.saveToken(upstream.id, after, current.id, at);
          const next = entryForUpstreamToken(upstream, after, current, utcDateOf(clock.now()));
          if (!entryMatches(current, next)) await ports.inventory.update(current.id, next, at);
        });
        await deps.audit?.({ at, event: 'upstream.token_rotated', data: { upstream: upstream.name, kind: after.kind, resource: after.resource, remote_id: after.remoteId, previous_remote_id: before.remoteId } });
      },
    },
  };
}
