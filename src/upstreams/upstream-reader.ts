/**
 * What the upstream token can see, read through GitLab's v4 API: who it is (`GET /user`,
 * `GET /personal_access_tokens/self`) and the token metadata a sync keeps — personal access tokens,
 * and the access and deploy tokens of every group (sub-groups included) and project it reaches.
 *
 * Reads only; never writes upstream. A group or project whose tokens it may not read (403/404) is
 * skipped and counted; anything else (401, 5xx, a timeout, bad JSON) stops the read with an
 * UpstreamFailure, so a partial picture never reaches the inventory.
 */
import { parseExpiryDate } from '../kernel/dates.js';
import { UpstreamFailure, type GitlabClient } from './gitlab-client.js';
import type { PlacementFields } from '../inventory/credential.js';
import type { VariableRead } from './local-variables.js';
import type { RemoteToken, UpstreamTokenKind } from './upstream.js';

/** What a check shows: the token's user, scopes and admin flag. */
export interface UpstreamIdentity {
  readonly user: { readonly id: number; readonly username: string; readonly name: string | null };
  readonly isAdmin: boolean;
  /** The token's scopes; null when the upstream does not say (no `/personal_access_tokens/self`). */
  readonly scopes: readonly string[] | null;
  readonly tokenName: string | null;
  readonly expiresOn: string | null;
}

export interface UpstreamRead {
  readonly identity: UpstreamIdentity;
  readonly tokens: RemoteToken[];
  /** Whether a known token of this kind and resource was looked for: one not returned has disappeared. */
  covers(kind: UpstreamTokenKind, resource: string): boolean;
  /** Groups and projects skipped (403/404 on their token lists). */
  readonly skipped: number;
}

type Json = Record<string, unknown>;

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const int = (v: unknown): number | null => (typeof v === 'number' && Number.isInteger(v) ? v : null);

/** GitLab's `expires_at`: a date (`2027-01-31`) or, for deploy tokens, a timestamp at midnight. */
function expiryOf(v: unknown): string | null {
  const s = str(v);
  return s === null ? null : parseExpiryDate(s.slice(0, 10));
}

/** One token entity of any kind, or null when it lacks an id or a name (skipped, not trusted). */
export function remoteTokenOf(kind: UpstreamTokenKind, resource: string, t: Json): RemoteToken | null {
  const remoteId = int(t.id);
  const name = str(t.name);
  if (remoteId === null || remoteId < 1 || name === null) return null;
  const revoked = t.revoked === true;
  const expired = t.expired === true;
  const scopes = Array.isArray(t.scopes) ? t.scopes.filter((s): s is string => typeof s === 'string') : [];
  return {
    kind,
    remoteId,
    resource,
    name,
    scopes,
    accessLevel: int(t.access_level),
    expiresOn: expiryOf(t.expires_at),
    lastUsedAt: str(t.last_used_at),
    revoked,
    // Deploy tokens carry `expired` instead of `active`.
    active: typeof t.active === 'boolean' ? t.active && !revoked : !revoked && !expired,
  };
}

export async function readIdentity(client: GitlabClient): Promise<UpstreamIdentity> {
  const user = await client.get<Json>('/user');
  if (user.status !== 200 || typeof user.body !== 'object' || user.body === null || int(user.body.id) === null) {
    throw new UpstreamFailure(`${user.status}: GET /user did not return the token's user (does the token have the read_api or read_user scope?)`);
  }
  const self = await client.get<Json>('/personal_access_tokens/self');
  const token = self.status === 200 && self.body !== null && typeof self.body === 'object' ? self.body : null;
  return {
    user: { id: int(user.body.id)!, username: str(user.body.username) ?? '', name: str(user.body.name) },
    isAdmin: user.body.is_admin === true,
    scopes: token && Array.isArray(token.scopes) ? token.scopes.filter((s): s is string => typeof s === 'string') : null,
    tokenName: token ? str(token.name) : null,
    expiresOn: token ? expiryOf(token.expires_at) : null,
  };
}

export async function readUpstream(client: GitlabClient): Promise<UpstreamRead> {
  const identity = await readIdentity(client);
  const tokens: RemoteToken[] = [];
  const covered = new Set<string>();
  let skipped = 0;
  const take = (kind: UpstreamTokenKind, resource: string, list: Json[]) => {
    covered.add(`${kind} ${resource}`);
    for (const t of list) {
      const token = typeof t === 'object' && t !== null ? remoteTokenOf(kind, resource, t) : null;
      if (token) tokens.push(token);
    }
  };

  // Personal access tokens: an admin's token lists everyone's, any other its user's own.
  const pats = await client.getAll<Json>('/personal_access_tokens');
  const personalCovered = pats !== 'forbidden';
  if (pats === 'forbidden') skipped++;
  else for (const t of pats) {
    const token = typeof t === 'object' && t !== null ? remoteTokenOf('personal_access_token', `user:${int(t.user_id) ?? identity.user.id}`, t) : null;
    if (token) tokens.push(token);
  }

  // Groups and projects: GitLab's lists are flat and include sub-groups and their projects. An admin
  // reads all of them; anyone else those where they are Maintainer or above (the level token lists need).
  const reach: Record<string, string> = identity.isAdmin ? {} : { min_access_level: '40' };
  const groups = await client.getAll<Json>('/groups', reach);
  const projects = await client.getAll<Json>('/projects', { ...reach, simple: 'true' });
  if (groups === 'forbidden' || projects === 'forbidden') throw new UpstreamFailure('403: the upstream refused to list its groups or projects (does the token have the read_api scope?)');
  const reached = new Set<string>();
  const lists: { path: string; resource: string; kind: UpstreamTokenKind }[] = [];
  for (const g of groups) {
    const id = int(g.id);
    const path = str(g.full_path);
    if (id === null || path === null) continue;
    reached.add(`group:${path}`);
    lists.push({ path: `/groups/${id}/access_tokens`, resource: `group:${path}`, kind: 'group_access_token' });
    lists.push({ path: `/groups/${id}/deploy_tokens`, resource: `group:${path}`, kind: 'group_deploy_token' });
  }
  for (const p of projects) {
    const id = int(p.id);
    const path = str(p.path_with_namespace);
    if (id === null || path === null) continue;
    reached.add(`project:${path}`);
    lists.push({ path: `/projects/${id}/access_tokens`, resource: `project:${path}`, kind: 'project_access_token' });
    lists.push({ path: `/projects/${id}/deploy_tokens`, resource: `project:${path}`, kind: 'project_deploy_token' });
  }
  const skippedResources = new Set<string>();
  for (const l of lists) {
    const list = await client.getAll<Json>(l.path);
    if (list === 'forbidden') {
      skippedResources.add(l.resource);
      continue;
    }
    take(l.kind, l.resource, list);
  }
  skipped += skippedResources.size;
  // Project and group access tokens are personal access tokens of bot users: GitLab (and Latchkey)
  // list them among an admin's personal access tokens too, under the same id. One entry each.
  const resourceTokenIds = new Set(tokens.filter((t) => t.kind === 'project_access_token' || t.kind === 'group_access_token').map((t) => t.remoteId));
  const distinct = tokens.filter((t) => t.kind !== 'personal_access_token' || !resourceTokenIds.has(t.remoteId));

  return {
    identity,
    tokens: distinct,
    skipped,
    covers(kind, resource) {
      if (kind === 'personal_access_token') return personalCovered;
      // A group or project no longer listed is gone (or out of reach): its tokens disappeared.
      return covered.has(`${kind} ${resource}`) || !reached.has(resource);
    },
  };
}

/** GitLab's variables API path of a `ci_variable` placement: its project's, its group's, or the instance's (neither named). */
export function variablesPathOf(placement: Pick<PlacementFields, 'project' | 'group'>): string {
  if (placement.project !== null) return `/projects/${encodeURIComponent(placement.project)}/variables`;
  if (placement.group !== null) return `/groups/${encodeURIComponent(placement.group)}/variables`;
  return '/admin/ci/variables';
}

/**
 * The value of the variable a placement names, read through the upstream: in one environment scope when
 * given (`filter[environment_scope]`; instance variables have none), else the one variable of that key.
 * Failures become the line a person reads ("cannot read: 403", "cannot read: no answer …").
 */
export async function readVariable(client: GitlabClient, placement: Pick<PlacementFields, 'project' | 'group' | 'key'>, environmentScope?: string): Promise<VariableRead> {
  const scoped = environmentScope !== undefined && (placement.project !== null || placement.group !== null);
  try {
    const answer = await client.get<{ value?: unknown }>(`${variablesPathOf(placement)}/${encodeURIComponent(placement.key!)}`, scoped ? { 'filter[environment_scope]': environmentScope } : {});
    if (answer.status === 404) return { status: 'missing', detail: 'missing' };
    if (answer.status === 403) return { status: 'cannot_read', detail: 'cannot read: 403' };
    const value = answer.body?.value;
    if (typeof value !== 'string') return { status: 'cannot_read', detail: 'cannot read: the variable is hidden (its value is never returned)' };
    return { value };
  } catch (e) {
    if (!(e instanceof UpstreamFailure)) throw e;
    return { status: 'cannot_read', detail: `cannot read: ${e.message}` };
  }
}
