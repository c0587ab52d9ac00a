/** TokenStore over Kysely (both dialects). */
import { PostgresAdapter, sql, type Kysely, type RawBuilder, type Selectable, type SelectQueryBuilder } from 'kysely';
import type { Database, TokensTable } from './database.js';
import type { TokenFilter, TokenSearch, TokenSort, TokenStore, TokenWithUser } from '../tokens/token-store.js';
import type { Token, TokenKind } from '../tokens/token.js';
import { pageRows } from './paging.js';
import { preparedQuery } from './prepared-query.js';
import type { BotKind } from '../namespaces/namespace.js';
import { containsPattern } from './like.js';
import { parseStringArray } from '../tokens/token-usage.js';

export function toToken(r: Selectable<TokensTable>): Token {
  return {
    id: r.id,
    kind: r.kind as TokenKind,
    name: r.name,
    description: r.description,
    userId: r.user_id,
    projectId: r.project_id,
    groupId: r.group_id,
    username: r.username,
    scopes: JSON.parse(r.scopes) as string[],
    accessLevel: r.access_level,
    expiresAt: r.expires_at,
    createdBy: r.created_by,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
    lastUsedAt: r.last_used_at,
    rotatedFromId: r.rotated_from_id,
    supersededAt: r.superseded_at,
    graceUntil: r.grace_until,
    revokeReason: r.revoke_reason,
    reuseDetectedAt: r.reuse_detected_at,
    lastUsedIps: parseStringArray(r.last_used_ips),
    reuseFlaggedAt: r.reuse_flagged_at,
    impersonation: r.impersonation === 1,
    validUntil: r.valid_until,
  };
}

/**
 * GitLab's token orders (PersonalAccessToken.simple_sorts) on both stores: names case-insensitively;
 * tokens without an expiry or never used sort last ascending and first descending, as PostgreSQL (and
 * so GitLab) orders NULLs; the id breaks ties (descending for expiry and last use, as GitLab does).
 */
export function orderTokens<Q extends SelectQueryBuilder<Database, 'tokens', any>>(q: Q, sort: TokenSort): Q {
  const by = (expression: RawBuilder<unknown>, id: 'asc' | 'desc') => q.orderBy(expression).orderBy('id', id) as Q;
  switch (sort) {
    case 'id_asc':
      return q.orderBy('id', 'asc') as Q;
    case 'id_desc':
      return q.orderBy('id', 'desc') as Q;
    case 'created_asc':
      return by(sql`created_at asc`, 'asc');
    case 'created_desc':
      return by(sql`created_at desc`, 'desc');
    case 'name_asc':
      return by(sql`lower(name) asc`, 'asc');
    case 'name_desc':
      return by(sql`lower(name) desc`, 'desc');
    case 'expires_asc':
      return by(sql`expires_at asc nulls last`, 'desc');
    case 'expires_desc':
      return by(sql`expires_at desc nulls first`, 'desc');
    case 'last_used_asc':
      return by(sql`last_used_at asc nulls last`, 'desc');
    case 'last_used_desc':
      return by(sql`last_used_at desc nulls first`, 'desc');
  }
}

/**
 * The rows of a TokenFilter (deploy token lists, a bot's or account's tokens). The kind is a literal so
 * SQLite's planner can match the partial list indexes (deleted_at is null) to the query.
 */
export function tokenListFilter(db: Kysely<Database>, f: TokenFilter) {
  let q = db.selectFrom('tokens').where(sql<boolean>`kind = ${sql.lit(f.kind)}`).where('deleted_at', 'is', null);
  if (f.projectId !== undefined) q = q.where('project_id', '=', f.projectId);
  if (f.groupId !== undefined) q = q.where('group_id', '=', f.groupId);
  if (f.userId !== undefined) q = q.where('user_id', '=', f.userId);
  const now = f.now;
  if (f.active === true) {
    q = q.where('revoked_at', 'is', null).where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', f.today)]));
    if (now !== undefined) q = q.where((eb) => eb.or([eb('grace_until', 'is', null), eb('grace_until', '>', now)]));
  } else if (f.active === false) {
    q = q.where((eb) => eb.or([eb('revoked_at', 'is not', null), eb('expires_at', '<=', f.today), ...(now !== undefined ? [eb('grace_until', '<=', now)] : [])]));
  }
  return q;
}

/** The rows of a TokenSearch (GitLab's PersonalAccessTokensFinder), kinds as literals (see tokenListFilter). */
export function personalSearchFilter(db: Kysely<Database>, f: TokenSearch, now: string) {
  const today = now.slice(0, 10);
  let q = db.selectFrom('tokens').where('deleted_at', 'is', null);
  // A project's or group's access tokens, or GitLab's PersonalAccessToken: every kind but deploy (and OAuth).
  if (f.projectId !== undefined) q = q.where(sql<boolean>`kind = 'project'`).where('project_id', '=', f.projectId);
  else if (f.groupId !== undefined) q = q.where(sql<boolean>`kind = 'group'`).where('group_id', '=', f.groupId);
  else q = q.where(sql<boolean>`kind <> 'deploy'`).where(sql<boolean>`kind <> 'oauth'`); // two terms: see the migration 0401
  if (f.userId !== undefined) q = q.where('user_id', '=', f.userId);
  if (f.impersonation !== undefined) q = q.where('impersonation', '=', f.impersonation ? 1 : 0);
  const revoked = (eb: any) => eb.or([eb('revoked_at', 'is not', null), eb('grace_until', '<=', now)]);
  const notRevoked = (eb: any) => eb.and([eb('revoked_at', 'is', null), eb.or([eb('grace_until', 'is', null), eb('grace_until', '>', now)])]);
  if (f.revoked === true) q = q.where(revoked);
  if (f.revoked === false) q = q.where(notRevoked);
  if (f.state === 'active') q = q.where(notRevoked).where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', today)]));
  if (f.state === 'inactive') q = q.where((eb) => eb.or([revoked(eb), eb('expires_at', '<=', today)]));
  if (f.search !== undefined && f.search !== '') {
    const pattern = containsPattern(f.search);
    q = q.where(sql`lower(name) like ${pattern} escape '\\'` as any);
  }
  // GitLab's scopes: created_before/after and last_used_before/after include the bound
  // (CreatedAtFilterable, `last_used_at <= ?`), expires_before excludes it, expires_after includes it.
  if (f.createdBefore !== undefined) q = q.where('created_at', '<=', f.createdBefore);
  if (f.createdAfter !== undefined) q = q.where('created_at', '>=', f.createdAfter);
  if (f.lastUsedBefore !== undefined) q = q.where('last_used_at', '<=', f.lastUsedBefore);
  if (f.lastUsedAfter !== undefined) q = q.where('last_used_at', '>=', f.lastUsedAfter);
  if (f.expiresBefore !== undefined) q = q.where('expires_at', '<', f.expiresBefore);
  if (f.expiresAfter !== undefined) q = q.where('expires_at', '>=', f.expiresAfter);
  return q;
}

/** Digests per look-up query. */
const LOOKUP_CHUNK = 500;

/** Tokens and their users in one query (one round trip on PostgreSQL): the verifier's look-up by digest. */
function tokensWithUser(db: Kysely<Database>) {
  return db
    .selectFrom('tokens')
    .leftJoin('users', 'users.id', 'tokens.user_id')
    .selectAll('tokens')
    .select(['users.id as u_id', 'users.username as u_username', 'users.name as u_name', 'users.email as u_email', 'users.is_admin as u_is_admin', 'users.bot_kind as u_bot_kind', 'users.state as u_state', 'users.created_at as u_created_at']);
}

function tokensWithUserByDigest(db: Kysely<Database>, digests: readonly string[]) {
  return tokensWithUser(db).where('tokens.digest', 'in', [...digests]);
}

/** PostgreSQL: the digests as one array parameter, so every batch size is the same statement (compiled once). */
function tokensWithUserByDigestArray(db: Kysely<Database>, digests: readonly string[]) {
  return tokensWithUser(db).where(sql<boolean>`tokens.digest = any(${digests}::text[])`);
}

type TokenWithUserRow = Awaited<ReturnType<ReturnType<typeof tokensWithUser>['execute']>>[number];

/**
 * A look-up row as the verifier keeps it: the token (toToken's fields, its digest and deleted flag) and
 * its user (toUser's fields) built directly, each object once: this runs on every cache miss.
 */
function toTokenWithUser(r: TokenWithUserRow): TokenWithUser {
  const token = {
    id: r.id,
    kind: r.kind as TokenKind,
    name: r.name,
    description: r.description,
    userId: r.user_id,
    projectId: r.project_id,
    groupId: r.group_id,
    username: r.username,
    scopes: JSON.parse(r.scopes) as string[],
    accessLevel: r.access_level,
    expiresAt: r.expires_at,
    createdBy: r.created_by,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
    lastUsedAt: r.last_used_at,
    rotatedFromId: r.rotated_from_id,
    supersededAt: r.superseded_at,
    graceUntil: r.grace_until,
    revokeReason: r.revoke_reason,
    reuseDetectedAt: r.reuse_detected_at,
    lastUsedIps: parseStringArray(r.last_used_ips),
    reuseFlaggedAt: r.reuse_flagged_at,
    impersonation: r.impersonation === 1,
    validUntil: r.valid_until,
    digest: r.digest,
    deleted: r.deleted_at !== null,
  };
  const user =
    r.u_id === null || r.u_id === undefined
      ? null
      : { id: r.u_id, username: r.u_username!, name: r.u_name!, email: r.u_email ?? null, isAdmin: r.u_is_admin === 1, botKind: (r.u_bot_kind ?? null) as BotKind | null, state: r.u_state!, createdAt: r.u_created_at! };
  return { token, user, usage: { revision: Number(r.usage_revision), windowIps: r.usage_window_ips, windowUserAgents: r.usage_window_user_agents } };
}

/**
 * A read run at once on SQLite's one connection, past Kysely (its query path costs about a fifth of a
 * point look-up): null when that connection is not free for it (a transaction is open on it, or a
 * statement is still being stepped), and the caller goes through Kysely, which waits its turn. Reads
 * outside a transaction see committed rows only, as through Kysely.
 */
export type DirectRead = (sql: string, parameters: readonly unknown[]) => unknown[] | null;

/** `directRead`: SQLite's (open-store.ts), for the verifier's look-up; absent on PostgreSQL and inside transactions. */
export function createTokenStore(db: Kysely<Database>, directRead?: DirectRead): TokenStore {
  // Building and compiling the query costs more than SQLite's look-up itself: done once per store, when first needed.
  const byOneDigest = preparedQuery(db, (digest: string) => tokensWithUserByDigest(db, [digest]), ['\u0000digest']);
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  const byDigestArray = preparedQuery(db, (digests: readonly string[]) => tokensWithUserByDigestArray(db, digests), [[]]);
  let oneDigestSql: string | null | undefined;
  /** The one-digest look-up: on SQLite's connection directly when it is free, else the prepared query. */
  const lookUpOne = async (digest: string): Promise<TokenWithUserRow[]> => {
    if (directRead !== undefined) {
      if (oneDigestSql === undefined) {
        const compiled = tokensWithUserByDigest(db, ['\u0000digest']).compile();
        oneDigestSql = compiled.parameters.length === 1 && compiled.parameters[0] === '\u0000digest' ? compiled.sql : null;
      }
      const rows = oneDigestSql === null ? null : directRead(oneDigestSql, [digest]);
      if (rows !== null) return rows as TokenWithUserRow[];
    }
    return byOneDigest(digest);
  };
  return {
    async insert(t) {
      const r = await db
        .insertInto('tokens')
        .values({
          kind: t.kind,
          name: t.name,
          description: t.description,
          digest: t.digest,
          user_id: t.userId,
          project_id: t.projectId,
          group_id: t.groupId,
          username: t.username,
          scopes: JSON.stringify(t.scopes),
          access_level: t.accessLevel,
          expires_at: t.expiresAt,
          created_by: t.createdBy,
          created_at: t.createdAt,
          rotated_from_id: t.rotatedFromId ?? null,
          impersonation: t.impersonation ? 1 : 0,
          valid_until: t.validUntil ?? null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toToken(r);
    },
    async setUsername(id, username) {
      await db.updateTable('tokens').set({ username }).where('id', '=', id).execute();
    },
    async findById(id) {
      const r = await db.selectFrom('tokens').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
      return r ? toToken(r) : null;
    },
    async findByDigest(digest) {
      const r = await db.selectFrom('tokens').selectAll().where('digest', '=', digest).executeTakeFirst();
      return r ? { ...toToken(r), digest: r.digest, deleted: r.deleted_at !== null } : null;
    },
    async replaceDigest(id, from, to) {
      await db.updateTable('tokens').set({ digest: to }).where('id', '=', id).where('digest', '=', from).execute();
    },
    async findByDigestsWithUser(digests) {
      const found = new Map<string, TokenWithUser>();
      for (let i = 0; i < digests.length; i += LOOKUP_CHUNK) {
        const chunk = digests.slice(i, i + LOOKUP_CHUNK);
        // Compiled once and run with the digests as parameters: one at a time on SQLite (each a direct
        // read when the connection is free, a few µs, where a long IN list would be compiled anew), all
        // of them as one array on PostgreSQL (one round trip).
        if (postgres && chunk.length > 1) {
          for (const r of await byDigestArray(chunk)) found.set(r.digest, toTokenWithUser(r));
          continue;
        }
        for (const digest of chunk) for (const r of await lookUpOne(digest)) found.set(r.digest, toTokenWithUser(r));
      }
      return found;
    },
    async list(f, page) {
      const page_ = await pageRows<Selectable<TokensTable>>(db, 'tokens', tokenListFilter(db, f), (q) => q.orderBy('id'), page);
      return { ...page_, items: page_.items.map(toToken) };
    },
    async markRevoked(id, at, reason = 'revoked') {
      const r = await db.updateTable('tokens').set({ revoked_at: at, revoke_reason: reason }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },
    async markSuperseded(id, { at, graceUntil }) {
      const r = await db
        .updateTable('tokens')
        .set(graceUntil === null ? { superseded_at: at, grace_until: null, revoked_at: at, revoke_reason: 'rotated' } : { superseded_at: at, grace_until: graceUntil })
        .where('id', '=', id)
        .where('superseded_at', 'is', null)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },
    async findSuccessor(id) {
      const r = await db.selectFrom('tokens').selectAll().where('rotated_from_id', '=', id).executeTakeFirst();
      return r ? toToken(r) : null;
    },
    async markReuseDetected(id, at) {
      await db.updateTable('tokens').set({ reuse_detected_at: at }).where('id', '=', id).where('reuse_detected_at', 'is', null).execute();
    },
    async searchPersonal(f, now, page) {
      const page_ = await pageRows<Selectable<TokensTable>>(db, 'tokens', personalSearchFilter(db, f, now), (q) => orderTokens(q as any, f.sort ?? 'id_asc'), page);
      return { ...page_, items: page_.items.map(toToken) };
    },
    async groupLifetimeLimit(groupIds) {
      if (groupIds.length === 0) return null;
      const r = await db
        .selectFrom('groups')
        .select((eb) => eb.fn.min('max_token_lifetime_days').as('days'))
        .where('id', 'in', [...groupIds])
        .executeTakeFirst();
      return r?.days === null || r?.days === undefined ? null : Number(r.days);
    },
    async setGroupLifetimeLimit(groupId, days) {
      await db.updateTable('groups').set({ max_token_lifetime_days: days }).where('id', '=', groupId).execute();
    },
    async markDeleted(id, at) {
      await db.updateTable('tokens').set({ deleted_at: at }).where('id', '=', id).execute();
      await db.updateTable('tokens').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).execute();
    },
  };
}
