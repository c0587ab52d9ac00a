/**
 * GitLab's JSON entities, as TypeBox schemas (validation-free serialisation and OpenAPI from one
 * source) and the present* functions that fill them. The serializer drops undeclared fields, so only
 * DeployTokenWithToken can ever carry a secret.
 */
import { Type, type Static } from '@sinclair/typebox';
import { presentExpiryDate, isExpiredAt, utcDateOf } from '../kernel/dates.js';
import type { Group, Member, Project, User } from '../namespaces/namespace.js';
import { isActiveAt, isRevokedAt, isTokenExpiredAt, kindLabelOf, type Token } from '../tokens/token.js';
import { DeployTokenUsageFields, presentDeployTokenUsage, presentTokenUsage, TokenUsageFields } from './token-usage-fields.js';

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

export const UserEntity = Type.Object({
  id: Type.Integer(),
  username: Type.String(),
  name: Type.String(),
  state: Type.String(),
  locked: Type.Boolean(),
  avatar_url: Type.Null(),
  web_url: Type.String(),
  created_at: Type.String(),
  bot: Type.Boolean(),
  is_admin: Type.Boolean(),
  email: Nullable(Type.String()),
});

export const GroupEntity = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  path: Type.String(),
  full_path: Type.String(),
  description: Type.String(),
  visibility: Type.String(),
  parent_id: Type.Union([Type.Integer(), Type.Null()]),
  web_url: Type.String(),
  created_at: Type.String(),
});

export const ProjectEntity = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  path: Type.String(),
  path_with_namespace: Type.String(),
  description: Type.String(),
  visibility: Type.String(),
  web_url: Type.String(),
  created_at: Type.String(),
  namespace: Type.Object({
    id: Type.Integer(),
    name: Type.String(),
    path: Type.String(),
    kind: Type.Literal('group'),
    full_path: Type.String(),
    parent_id: Type.Union([Type.Integer(), Type.Null()]),
    web_url: Type.String(),
  }),
});

export const MemberEntity = Type.Object({
  id: Type.Integer(),
  username: Type.String(),
  name: Type.String(),
  state: Type.String(),
  avatar_url: Type.Null(),
  web_url: Type.String(),
  access_level: Type.Integer(),
  created_at: Type.String(),
  expires_at: Nullable(Type.String()),
});

export const DeployTokenEntity = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  username: Type.String(),
  expires_at: Nullable(Type.String()),
  revoked: Type.Boolean(),
  expired: Type.Boolean(),
  scopes: Type.Array(Type.String()),
  ...DeployTokenUsageFields,
});

export const DeployTokenWithTokenEntity = Type.Composite([DeployTokenEntity, Type.Object({ token: Type.String() })]);

export function presentUser(u: User, baseUrl: string): Static<typeof UserEntity> {
  return {
    id: u.id,
    username: u.username,
    name: u.name,
    state: u.state,
    locked: false,
    avatar_url: null,
    web_url: `${baseUrl}/${u.username}`,
    created_at: u.createdAt,
    bot: u.botKind !== null,
    is_admin: u.isAdmin,
    email: u.email,
  };
}

export function presentGroup(g: Group, baseUrl: string): Static<typeof GroupEntity> {
  return {
    id: g.id,
    name: g.name,
    path: g.path,
    full_path: g.fullPath,
    description: g.description,
    visibility: g.visibility,
    parent_id: g.parentId,
    web_url: `${baseUrl}/groups/${g.fullPath}`,
    created_at: g.createdAt,
  };
}

export function presentProject(p: Project, group: Group, baseUrl: string): Static<typeof ProjectEntity> {
  return {
    id: p.id,
    name: p.name,
    path: p.path,
    path_with_namespace: p.pathWithNamespace,
    description: p.description,
    visibility: p.visibility,
    web_url: `${baseUrl}/${p.pathWithNamespace}`,
    created_at: p.createdAt,
    namespace: { id: group.id, name: group.name, path: group.path, kind: 'group', full_path: group.fullPath, parent_id: group.parentId, web_url: `${baseUrl}/groups/${group.fullPath}` },
  };
}

export function presentMember(m: Member, baseUrl: string): Static<typeof MemberEntity> {
  return {
    id: m.user.id,
    username: m.user.username,
    name: m.user.name,
    state: m.user.state,
    avatar_url: null,
    web_url: `${baseUrl}/${m.user.username}`,
    access_level: m.accessLevel,
    created_at: m.createdAt,
    expires_at: m.expiresAt,
  };
}

export function presentDeployToken(t: Token, now: Date): Static<typeof DeployTokenEntity> {
  return {
    id: t.id,
    name: t.name,
    username: t.username ?? '',
    expires_at: presentExpiryDate(t.expiresAt),
    revoked: t.revokedAt !== null,
    expired: isExpiredAt(t.expiresAt, now),
    scopes: [...t.scopes],
    ...presentDeployTokenUsage(t),
  };
}


/**
 * GitLab's PersonalAccessToken entity (expires_at as a date, `YYYY-MM-DD`). Latchkey adds `grace_until`:
 * on a token rotated away with a grace period, the instant its secret stops working (null otherwise).
 */
export const PersonalAccessTokenEntity = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  revoked: Type.Boolean(),
  created_at: Type.String(),
  description: Nullable(Type.String()),
  scopes: Type.Array(Type.String()),
  user_id: Type.Integer(),
  last_used_at: Nullable(Type.String()),
  active: Type.Boolean(),
  expires_at: Nullable(Type.String()),
  grace_until: Nullable(Type.String()),
  ...TokenUsageFields,
});

/**
 * GitLab's ResourceAccessToken entity (project and group access tokens): the PersonalAccessToken entity
 * with the bot's access level and the resource it belongs to.
 */
export const ResourceAccessTokenEntity = Type.Composite([
  PersonalAccessTokenEntity,
  Type.Object({ access_level: Type.Integer(), resource_type: Type.String(), resource_id: Type.Integer() }),
]);

export const ResourceAccessTokenWithTokenEntity = Type.Composite([ResourceAccessTokenEntity, Type.Object({ token: Type.String() })]);

/** GitLab's ServiceAccount entity (no `unconfirmed_email`: Latchkey does not confirm addresses). */
export const ServiceAccountEntity = Type.Object({
  id: Type.Integer(),
  username: Type.String(),
  name: Type.String(),
  email: Nullable(Type.String()),
  external: Type.Boolean({ description: 'Always true: service accounts are external users, as GitLab creates them' }),
});

export function presentResourceAccessToken(t: Token, now: Date): Static<typeof ResourceAccessTokenEntity> {
  return {
    ...presentPersonalAccessToken(t, now),
    access_level: t.accessLevel ?? 0,
    resource_type: t.kind,
    resource_id: (t.kind === 'project' ? t.projectId : t.groupId) ?? 0,
  };
}

export function presentServiceAccount(u: User): Static<typeof ServiceAccountEntity> {
  return { id: u.id, username: u.username, name: u.name, email: u.email, external: true };
}


export const PersonalAccessTokenWithTokenEntity = Type.Composite([PersonalAccessTokenEntity, Type.Object({ token: Type.String() })]);

export function presentPersonalAccessToken(t: Token, now: Date): Static<typeof PersonalAccessTokenEntity> {
  return {
    id: t.id,
    name: t.name,
    revoked: isRevokedAt(t, now),
    created_at: t.createdAt,
    description: t.description === '' ? null : t.description,
    scopes: [...t.scopes],
    user_id: t.userId ?? 0,
    last_used_at: t.lastUsedAt,
    active: isActiveAt(t, now),
    expires_at: t.expiresAt,
    grace_until: t.revokedAt === null ? t.graceUntil : null,
    ...presentTokenUsage(t),
  };
}

/** GitLab's ImpersonationToken entity: the PersonalAccessToken entity and `impersonation: true`. */
export const ImpersonationTokenEntity = Type.Composite([PersonalAccessTokenEntity, Type.Object({ impersonation: Type.Boolean() })]);

export const ImpersonationTokenWithTokenEntity = Type.Composite([ImpersonationTokenEntity, Type.Object({ token: Type.String() })]);

export function presentImpersonationToken(t: Token, now: Date): Static<typeof ImpersonationTokenEntity> {
  return { ...presentPersonalAccessToken(t, now), impersonation: t.impersonation };
}

/**
 * POST /admin/token: what a token is, from its value (GitLab's doc/api/admin/token.md answers with
 * the token record; Latchkey names the kind and owner explicitly). Never the secret or its digest.
 */
export const AdminTokenEntity = Type.Object({
  id: Type.Integer(),
  kind: Type.String(),
  name: Type.String(),
  description: Nullable(Type.String()),
  user_id: Type.Union([Type.Integer(), Type.Null()]),
  username: Nullable(Type.String()),
  project_id: Type.Union([Type.Integer(), Type.Null()]),
  group_id: Type.Union([Type.Integer(), Type.Null()]),
  scopes: Type.Array(Type.String()),
  access_level: Type.Union([Type.Integer(), Type.Null()]),
  revoked: Type.Boolean(),
  expired: Type.Boolean(),
  active: Type.Boolean(),
  expires_at: Nullable(Type.String()),
  created_at: Type.String(),
  last_used_at: Nullable(Type.String()),
  previous_token_id: Type.Union([Type.Integer(), Type.Null()]),
  /** GitLab's record fields of a personal/impersonation/project/group token (doc/api/admin/token.md's example). */
  previous_personal_access_token_id: Type.Union([Type.Integer(), Type.Null()]),
  impersonation: Type.Boolean(),
  grace_until: Nullable(Type.String()),
  revoke_reason: Nullable(Type.String()),
  ...TokenUsageFields,
  owner: Type.Union([Type.Object({ id: Type.Integer(), username: Type.String(), bot: Type.Boolean() }), Type.Null()]),
});

export function presentAdminToken(t: Token, owner: User | null, now: Date): Static<typeof AdminTokenEntity> {
  // An OAuth access token has no expiry date but an instant (`validUntil`, 2 hours after issue): its date is the day it stops working.
  const expiresAt = t.expiresAt ?? (t.validUntil ? utcDateOf(new Date(t.validUntil)) : null);
  return {
    id: t.id,
    kind: kindLabelOf(t, owner?.botKind ?? null),
    name: t.name,
    description: t.description === '' ? null : t.description,
    user_id: t.userId,
    username: t.kind === 'deploy' ? t.username : (owner?.username ?? null),
    project_id: t.projectId,
    group_id: t.groupId,
    scopes: [...t.scopes],
    access_level: t.accessLevel,
    revoked: isRevokedAt(t, now),
    expired: isTokenExpiredAt(t, now),
    active: isActiveAt(t, now),
    expires_at: expiresAt,
    created_at: t.createdAt,
    last_used_at: t.lastUsedAt,
    previous_token_id: t.rotatedFromId,
    previous_personal_access_token_id: t.kind === 'deploy' ? null : t.rotatedFromId,
    impersonation: t.impersonation,
    grace_until: t.revokedAt === null ? t.graceUntil : null,
    revoke_reason: t.revokeReason,
    ...presentTokenUsage(t),
    owner: owner ? { id: owner.id, username: owner.username, bot: owner.botKind !== null } : null,
  };
}
