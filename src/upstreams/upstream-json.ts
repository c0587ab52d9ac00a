/**
 * The JSON form of upstreams, their check and sync results and synced tokens, shared by the API and
 * the CLI's `--json`: snake_case, and never the upstream's token (no field can carry it).
 */
import type { CheckResult, SyncResult } from './upstream-service.js';
import type { PlacementCheck, SyncCounts, SyncedToken, Upstream } from './upstream.js';

const presentCounts = (c: SyncCounts | null) => (c === null ? null : { seen: c.seen, created: c.created, updated: c.updated, revoked: c.revoked, disappeared: c.disappeared, skipped: c.skipped });

export function presentUpstream(u: Upstream) {
  return {
    id: u.id,
    name: u.name,
    url: u.url,
    owner: { id: u.owner.id, full_path: u.owner.fullPath },
    source: u.source,
    created_at: u.createdAt,
    updated_at: u.updatedAt,
    last_sync: { started_at: u.sync.startedAt, finished_at: u.sync.finishedAt, status: u.sync.status, reason: u.sync.reason, counts: presentCounts(u.sync.counts) },
  };
}

export function presentCheck(c: CheckResult) {
  const i = c.identity;
  return {
    upstream: c.upstream,
    ok: c.ok,
    reason: c.reason,
    user: i ? { id: i.user.id, username: i.user.username, name: i.user.name } : null,
    is_admin: i ? i.isAdmin : null,
    scopes: i ? i.scopes : null,
    token_name: i ? i.tokenName : null,
    token_expires_at: i ? i.expiresOn : null,
    warnings: [...c.warnings],
  };
}

export function presentSyncResult(r: SyncResult) {
  return { upstream: r.upstream, status: r.status, reason: r.reason, counts: presentCounts(r.counts), requests: r.requests, rate_limit_waits: r.rateLimitWaits };
}

export function presentSyncedToken(t: SyncedToken) {
  return {
    kind: t.kind,
    id: t.remoteId,
    resource: t.resource,
    name: t.name,
    scopes: [...t.scopes],
    access_level: t.accessLevel,
    expires_at: t.expiresOn,
    last_used_at: t.lastUsedAt,
    revoked: t.revoked,
    active: t.active,
    state: t.state,
    credential: { id: t.credentialId, slug: t.credentialSlug },
    first_seen_at: t.firstSeenAt,
    last_seen_at: t.lastSeenAt,
    disappeared_at: t.disappearedAt,
  };
}

export function presentPlacementCheck(c: PlacementCheck) {
  return { placement_id: c.placementId, status: c.status, detail: c.detail, checked_at: c.checkedAt };
}
