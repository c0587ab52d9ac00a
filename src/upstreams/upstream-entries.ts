/**
 * How a synced upstream token becomes an inventory entry. Pure. The sync owns what the upstream says
 * (name, kind, scopes, role, expiry); the entry keeps what people added (owner, purpose, procedure,
 * placements, fingerprint, renewals), so a resync never undoes them.
 */
import { dueDate, type Credential, type Renewal } from '../inventory/credential.js';
import type { CredentialRecord } from '../inventory/inventory-store.js';
import type { UtcDate } from '../kernel/dates.js';
import type { RemoteToken, SyncedToken, Upstream, UpstreamTokenKind } from './upstream.js';

const SLUG_PART: Record<UpstreamTokenKind, string> = {
  personal_access_token: 'pat',
  project_access_token: 'project-token',
  group_access_token: 'group-token',
  project_deploy_token: 'project-deploy-token',
  group_deploy_token: 'group-deploy-token',
};

const ROLE: Record<number, string> = { 10: 'guest', 15: 'planner', 20: 'reporter', 30: 'developer', 40: 'maintainer', 50: 'owner' };

/** A token without an expiry date is reviewed yearly: it is still a credential someone must own. */
const NO_EXPIRY_RENEWAL: Renewal = { type: 'event', event: 'review: the token has no expiry date upstream', reviewEveryDays: 365 };

/** The entry's stable slug: `<upstream>-<kind>-<remote id>` (`primary-project-token-17`). */
export function slugOfUpstreamToken(upstreamName: string, token: Pick<RemoteToken, 'kind' | 'remoteId'>): string {
  return `${upstreamName}-${SLUG_PART[token.kind]}-${token.remoteId}`;
}

/** The columns of the entry for `token`; `current` is the entry an earlier sync made (null: a new one). */
export function entryForUpstreamToken(upstream: Pick<Upstream, 'name' | 'url' | 'owner'>, token: RemoteToken, current: Credential | null, today: UtcDate): CredentialRecord {
  const renewal: Renewal = token.expiresOn === null ? NO_EXPIRY_RENEWAL : { type: 'expires_at', expiresAt: token.expiresOn };
  const renewedOn = current?.renewedOn ?? null;
  return {
    slug: current?.slug ?? slugOfUpstreamToken(upstream.name, token),
    name: token.name,
    kind: `gitlab_${token.kind}`,
    provider: new URL(upstream.url).host,
    resource: token.resource.replace(/^(group|project):/, ''),
    ownerGroupId: current?.owner.id ?? upstream.owner.id,
    scopes: token.scopes,
    role: token.accessLevel === null ? null : (ROLE[token.accessLevel] ?? String(token.accessLevel)),
    purpose: current?.purpose ?? null,
    renewal,
    procedure: current?.procedure ?? null,
    renewedOn,
    dueOn: dueDate(renewal, renewedOn ?? current?.createdAt.slice(0, 10) ?? today),
  };
}

/** Whether the upstream changed anything about a token since the last sync. */
export function upstreamTokenChanged(before: SyncedToken, now: RemoteToken): boolean {
  return (
    before.name !== now.name ||
    before.resource !== now.resource ||
    JSON.stringify(before.scopes) !== JSON.stringify(now.scopes) ||
    before.accessLevel !== now.accessLevel ||
    before.expiresOn !== now.expiresOn ||
    before.lastUsedAt !== now.lastUsedAt ||
    before.revoked !== now.revoked ||
    before.active !== now.active ||
    before.state !== 'present'
  );
}

/** Whether the entry already holds what the sync would write (then it is left untouched). */
export function entryMatches(current: Credential, next: CredentialRecord): boolean {
  const fields = ['name', 'kind', 'provider', 'resource', 'scopes', 'role', 'renewal', 'dueOn'] as const;
  return fields.every((f) => JSON.stringify(current[f]) === JSON.stringify(next[f]));
}
