/**
 * What the OAuth2 provider reports about its grants — issued, refreshed, revoked, a code presented twice —
 * and the audit entry each becomes. Never a secret: ids, names, scopes and reasons only. The entry names
 * the access token it is about (so the log can be searched by that token's hash) when there is one.
 */
import type { AuditRecord } from '../audit/audit-writer.js';
import type { OAuthApplication } from './application.js';
import type { OAuthGrant } from './oauth-store.js';

export type OAuthEventName = 'oauth.grant_issued' | 'oauth.token_refreshed' | 'oauth.grant_revoked' | 'oauth.token_revoked' | 'oauth.code_reuse';

/** Why a grant (or one access token) stopped working. */
export type OAuthRevokeReason = 'revoked' | 'refresh_reuse' | 'code_reuse' | 'application_deleted' | 'admin';

export interface OAuthEvent {
  readonly name: OAuthEventName;
  readonly at: string;
  readonly grant: OAuthGrant;
  readonly application: Pick<OAuthApplication, 'id' | 'uid' | 'name'>;
  /** The access token issued (grant_issued, token_refreshed) or revoked alone (token_revoked). */
  readonly tokenId: number | null;
  /** Username of who acted: the grant's user, an admin; null when the client itself did (RFC 7009 revoke, a replay). */
  readonly by: string | null;
  readonly reason?: OAuthRevokeReason;
}

/** Where the provider reports them (the audit log and metrics, wired by the composition root); must not throw. */
export type OAuthEventSink = (event: OAuthEvent) => void;

export function auditRecordOfOAuthEvent(e: OAuthEvent): AuditRecord {
  return {
    at: e.at,
    event: e.name,
    actorUsername: e.by,
    tokenId: e.tokenId,
    data: {
      application_id: e.application.id,
      application_uid: e.application.uid,
      application_name: e.application.name,
      grant_id: e.grant.id,
      user_id: e.grant.userId,
      flow: e.grant.flow,
      scopes: [...e.grant.scopes],
      ...(e.reason ? { reason: e.reason } : {}),
      ...(e.by ? { by: e.by } : {}),
    },
  };
}
