/** SessionStore over Kysely (both dialects): web sessions, sign-in throttles and sign-in links. */
import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database, WebSessionsTable } from './database.js';
import type { SessionStore } from '../sessions/session-store.js';
import type { WebSession } from '../sessions/session.js';

const toSession = (r: Selectable<WebSessionsTable>): WebSession & { digest: string } => ({
  id: Number(r.id),
  digest: r.digest,
  userId: r.user_id,
  createdAt: r.created_at,
  lastSeenAt: r.last_seen_at,
  revokedAt: r.revoked_at,
  ip: r.ip,
  userAgent: r.user_agent,
});

export function createSessionStore(db: Kysely<Database>): SessionStore {
  const throttle = (r: { key: string; failures: number; window_started_at: string; locked_until: string | null }) => ({
    key: r.key,
    failures: Number(r.failures),
    windowStartedAt: r.window_started_at,
    lockedUntil: r.locked_until,
  });
  return {
    async insertSession(s) {
      const r = await db
        .insertInto('web_sessions')
        .values({ digest: s.digest, user_id: s.userId, created_at: s.createdAt, last_seen_at: s.createdAt, revoked_at: null, ip: s.ip, user_agent: s.userAgent })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toSession(r);
    },
    async findSessionByDigest(digest) {
      const r = await db.selectFrom('web_sessions').selectAll().where('digest', '=', digest).executeTakeFirst();
      return r ? toSession(r) : null;
    },
    async touchSession(id, at) {
      await db.updateTable('web_sessions').set({ last_seen_at: at }).where('id', '=', id).where('last_seen_at', '<', at).execute();
    },
    async revokeSession(id, at) {
      await db.updateTable('web_sessions').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).execute();
    },
    async revokeSessionsOfUser(userId, at) {
      const r = await db.updateTable('web_sessions').set({ revoked_at: at }).where('user_id', '=', userId).where('revoked_at', 'is', null).executeTakeFirst();
      return Number(r.numUpdatedRows);
    },
    async deleteSessionsSeenBefore(before) {
      const r = await db.deleteFrom('web_sessions').where('last_seen_at', '<', before).executeTakeFirst();
      return Number(r.numDeletedRows);
    },

    async findThrottles(keys) {
      if (keys.length === 0) return [];
      return (await db.selectFrom('sign_in_throttles').selectAll().where('key', 'in', [...keys]).execute()).map(throttle);
    },
    async recordFailure(key, at, windowStart) {
      await db
        .insertInto('sign_in_throttles')
        .values({ key, failures: 1, window_started_at: at, locked_until: null })
        .onConflict((oc) =>
          oc.column('key').doUpdateSet({
            failures: sql<number>`case when sign_in_throttles.window_started_at < ${windowStart} then 1 else sign_in_throttles.failures + 1 end`,
            window_started_at: sql<string>`case when sign_in_throttles.window_started_at < ${windowStart} then ${at} else sign_in_throttles.window_started_at end`,
          }),
        )
        .execute();
      return throttle(await db.selectFrom('sign_in_throttles').selectAll().where('key', '=', key).executeTakeFirstOrThrow());
    },
    async lockIfAtLeast(key, failures, until, at) {
      await db.updateTable('sign_in_throttles').set({ locked_until: until, failures: 0, window_started_at: at }).where('key', '=', key).where('failures', '>=', failures).execute();
    },
    async clearThrottle(key) {
      await db.deleteFrom('sign_in_throttles').where('key', '=', key).execute();
    },

    async insertLink(link) {
      await db.insertInto('sign_in_links').values({ digest: link.digest, user_id: link.userId, created_at: link.createdAt, expires_at: link.expiresAt, used_at: null }).execute();
    },
    async findLinkByDigest(digest) {
      const r = await db.selectFrom('sign_in_links').selectAll().where('digest', '=', digest).executeTakeFirst();
      return r ? { id: Number(r.id), digest: r.digest, userId: r.user_id, expiresAt: r.expires_at, usedAt: r.used_at } : null;
    },
    async markLinkUsed(id, at) {
      const r = await db.updateTable('sign_in_links').set({ used_at: at }).where('id', '=', id).where('used_at', 'is', null).executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    },
  };
}
