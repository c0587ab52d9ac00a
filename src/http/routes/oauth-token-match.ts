/**
 * How POST /admin/token shows an OAuth2 token (issue 17): an access token is a token record with the grant
 * it belongs to; a refresh token, which is no token record, is shown by its grant alone.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { DescribedGrant } from '../../tokens/value-lookup.js';
import { AdminTokenEntity } from '../presenters.js';

const OAuthGrantRef = Type.Object({
  grant_id: Type.Integer(),
  flow: Type.String({ description: 'authorization_code or device_code' }),
  application: Type.Object({ id: Type.Integer(), application_id: Type.String({ description: 'The client id' }), application_name: Type.String() }),
  grant_revoked: Type.Boolean(),
  grant_revoke_reason: Type.Union([Type.String(), Type.Null()]),
  /** When an access token stops working (2 hours after issue by default); null for a refresh token. */
  valid_until: Type.Union([Type.String(), Type.Null()]),
});

/** A token record; an OAuth access token's also names its grant. */
export const AdminTokenWithGrantEntity = Type.Composite([AdminTokenEntity, Type.Object({ oauth: Type.Optional(OAuthGrantRef) })]);

export const OAuthRefreshTokenMatchEntity = Type.Object({
  kind: Type.Literal('oauth_refresh_token'),
  user_id: Type.Integer(),
  scopes: Type.Array(Type.String()),
  revoked: Type.Boolean(),
  active: Type.Boolean(),
  created_at: Type.String(),
  owner: Type.Union([Type.Object({ id: Type.Integer(), username: Type.String(), bot: Type.Boolean() }), Type.Null()]),
  oauth: OAuthGrantRef,
});


export function presentGrantRef({ grant, application }: DescribedGrant, validUntil: string | null): Static<typeof OAuthGrantRef> {
  return {
    grant_id: grant.id,
    flow: grant.flow,
    application: { id: application.id, application_id: application.uid, application_name: application.name },
    grant_revoked: grant.revokedAt !== null,
    grant_revoke_reason: grant.revokeReason,
    valid_until: validUntil,
  };
}

export function presentRefreshTokenMatch(d: DescribedGrant): Static<typeof OAuthRefreshTokenMatchEntity> {
  const revoked = d.grant.revokedAt !== null;
  return {
    kind: 'oauth_refresh_token',
    user_id: d.grant.userId,
    scopes: [...d.grant.scopes],
    revoked,
    active: !revoked,
    created_at: d.grant.createdAt,
    owner: d.user ? { id: d.user.id, username: d.user.username, bot: d.user.botKind !== null } : null,
    oauth: presentGrantRef(d, null),
  };
}
