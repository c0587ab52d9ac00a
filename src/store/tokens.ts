/** TokenStore over Kysely (both dialects). */
import type { Kysely, Selectable } from 'kysely';
import type { Database, TokensTable } from './database.js';
import type { TokenStore } from '../tokens/token-store.js';
import type { Token, TokenKind } from '../tokens/token.js';
import { offsetOf } from '../kernel/page.js';

function toToken(r: Selectable<TokensTable>): Token {
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
  };
}

export function createTokenStore(db: Kysely<Database>): TokenStore {
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
    async list(f, page) {
      let q = db.selectFrom('tokens').where('kind', '=', f.kind).where('deleted_at', 'is', null);
      if (f.projectId !== undefined) q = q.where('project_id', '=', f.projectId);
      if (f.groupId !== undefined) q = q.where('group_id', '=', f.groupId);
      if (f.userId !== undefined) q = q.where('user_id', '=', f.userId);
      if (f.active === true) {
        q = q.where('revoked_at', 'is', null).where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', f.today)]));
      } else if (f.active === false) {
        q = q.where((eb) => eb.or([eb('revoked_at', 'is not', null), eb('expires_at', '<=', f.today)]));
      }
      const [rows, count] = await Promise.all([
        q.selectAll().orderBy('id').limit(page.perPage).offset(offsetOf(page)).execute(),
        q.select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow(),
      ]);
      return { items: rows.map(toToken), total: Number(count.n) };
    },
    async markRevoked(id, at) {
      await db.updateTable('tokens').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).execute();
    },
    async markDeleted(id, at) {
      await db.updateTable('tokens').set({ deleted_at: at }).where('id', '=', id).execute();
      await db.updateTable('tokens').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).execute();
    },
    async touchLastUsed(id, at) {
      await db.updateTable('tokens').set({ last_used_at: at }).where('id', '=', id).execute();
    },
  };
}
