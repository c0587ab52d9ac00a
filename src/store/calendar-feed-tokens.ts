/** FeedTokenStore over Kysely (both dialects): the `calendar_feed_tokens` table of migration 2026-12-03T1200. */
import type { Generated, Kysely } from 'kysely';
import type { Database } from './database.js';
import type { FeedTokenStore } from '../calendar/feed-token-store.js';

export interface CalendarFeedTokensTable {
  id: Generated<number>;
  user_id: number;
  digest: string;
  created_at: string;
  last_used_at: string | null;
}

type Tables = Database & { calendar_feed_tokens: CalendarFeedTokensTable };

const toRecord = (r: { user_id: number; created_at: string; last_used_at: string | null }) => ({ userId: r.user_id, createdAt: r.created_at, lastUsedAt: r.last_used_at });

export function createFeedTokenStore(database: Kysely<Database>): FeedTokenStore {
  const db = database as unknown as Kysely<Tables>;
  return {
    async replace(userId, digest, at) {
      // One statement per step inside a transaction: the old digest stops working as the new one starts.
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom('calendar_feed_tokens').where('user_id', '=', userId).execute();
        await trx.insertInto('calendar_feed_tokens').values({ user_id: userId, digest, created_at: at, last_used_at: null }).execute();
      });
      return { userId, createdAt: at, lastUsedAt: null };
    },
    async find(userId) {
      const r = await db.selectFrom('calendar_feed_tokens').selectAll().where('user_id', '=', userId).executeTakeFirst();
      return r ? toRecord(r) : null;
    },
    async revoke(userId) {
      const r = await db.deleteFrom('calendar_feed_tokens').where('user_id', '=', userId).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
    async findByDigest(digests) {
      if (digests.length === 0) return null;
      const r = await db.selectFrom('calendar_feed_tokens').selectAll().where('digest', 'in', [...digests]).executeTakeFirst();
      return r ? { ...toRecord(r), digest: r.digest } : null;
    },
    async touch(userId, at) {
      await db.updateTable('calendar_feed_tokens').set({ last_used_at: at }).where('user_id', '=', userId).execute();
    },
  };
}
