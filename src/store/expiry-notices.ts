/** ExpiryNoticeStore over Kysely (both dialects): notice candidates, notices, deliveries, the job lock. */
import type { Kysely } from 'kysely';
import type { Database } from './database.js';
import { toToken } from './tokens.js';
import type { ExpiryNoticeStore, Recipient } from '../notifications/expiry-notice-store.js';
import type { NoticeInterval } from '../notifications/expiry-check.js';

const chunks = <T>(items: readonly T[], size: number): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
};

export function createExpiryNoticeStore(db: Kysely<Database>): ExpiryNoticeStore {
  return {
    async listCandidates({ from, to }) {
      const rows = await db
        .selectFrom('tokens')
        .selectAll()
        .where('expires_at', 'is not', null)
        .where('expires_at', '>=', from)
        .where('expires_at', '<=', to)
        .where('revoked_at', 'is', null)
        .where('deleted_at', 'is', null)
        // Rotated away (in its grace or past it): the successor is the token to warn about.
        .where('superseded_at', 'is', null)
        .orderBy('id')
        .execute();
      const noticed = new Map<number, NoticeInterval[]>();
      // Bounded IN lists: PostgreSQL and SQLite both cap bound parameters.
      for (const ids of chunks(rows.map((r) => r.id), 500)) {
        const notices = await db.selectFrom('expiry_notices').select(['token_id', 'interval']).where('token_id', 'in', ids).execute();
        for (const n of notices) noticed.set(n.token_id, [...(noticed.get(n.token_id) ?? []), n.interval as NoticeInterval]);
      }
      return rows.map((r) => ({ token: toToken(r), noticed: noticed.get(r.id) ?? [] }));
    },

    async provisioningGroupOf(userId) {
      const r = await db.selectFrom('users').select(['provisioned_by_group_id', 'bot_kind']).where('id', '=', userId).executeTakeFirst();
      return r?.bot_kind === 'service_account' ? (r.provisioned_by_group_id ?? null) : null;
    },

    async managersOf(sources, minLevel, today) {
      if (sources.length === 0) return [];
      const rows = await db
        .selectFrom('members')
        .innerJoin('users', 'users.id', 'members.user_id')
        .select(['users.id as id', 'users.email as email', 'members.access_level as level'])
        .where((eb) => eb.or(sources.map((s) => eb.and([eb('members.source_type', '=', s.type), eb('members.source_id', '=', s.id)]))))
        .where((eb) => eb.or([eb('members.expires_at', 'is', null), eb('members.expires_at', '>', today)]))
        .where('users.bot_kind', 'is', null)
        .where('users.state', '=', 'active')
        .where('users.email', 'is not', null)
        .execute();
      const best = new Map<number, { email: string; level: number }>();
      for (const r of rows) {
        const seen = best.get(r.id);
        if (!seen || r.level > seen.level) best.set(r.id, { email: r.email!, level: r.level });
      }
      return [...best.entries()].filter(([, v]) => v.level >= minLevel).map(([userId, v]): Recipient => ({ userId, email: v.email })).sort((a, b) => a.userId - b.userId);
    },

    async recordNotice(notice, recipients) {
      return db.transaction().execute(async (trx) => {
        const inserted = await trx
          .insertInto('expiry_notices')
          .values({ token_id: notice.tokenId, interval: notice.interval, expires_at: notice.expiresAt, days_left: notice.daysLeft, decided_at: notice.decidedAt, event_published_at: null })
          .onConflict((oc) => oc.columns(['token_id', 'interval']).doNothing())
          .returning('id')
          .executeTakeFirst();
        if (!inserted) return false;
        const seen = new Set<string>();
        for (const r of recipients) {
          const key = r.email.toLowerCase();
          if (seen.has(key)) continue;
          seen.add(key);
          await trx.insertInto('expiry_notice_deliveries').values({ notice_id: inserted.id, user_id: r.userId, email: r.email, status: 'pending', attempts: 0, claimed_at: null, sent_at: null, last_error: null }).execute();
        }
        return true;
      });
    },

    async claimDeliveries(now, staleBefore) {
      const claimable = (eb: any) => eb.or([eb('status', '=', 'pending'), eb.and([eb('status', '=', 'sending'), eb('claimed_at', '<', staleBefore)])]);
      const candidates = await db.selectFrom('expiry_notice_deliveries').select('id').where(claimable).orderBy('id').execute();
      const claimed: number[] = [];
      for (const ids of chunks(candidates.map((c) => c.id), 500)) {
        const rows = await db
          .updateTable('expiry_notice_deliveries')
          .set((eb) => ({ status: 'sending', claimed_at: now, attempts: eb('attempts', '+', 1) }))
          .where('id', 'in', ids)
          .where(claimable)
          .returning('id')
          .execute();
        claimed.push(...rows.map((r) => r.id));
      }
      if (claimed.length === 0) return [];
      const out = [];
      for (const ids of chunks(claimed, 500)) {
        const rows = await db
          .selectFrom('expiry_notice_deliveries as d')
          .innerJoin('expiry_notices as n', 'n.id', 'd.notice_id')
          .select(['d.id as deliveryId', 'd.notice_id as noticeId', 'd.email', 'd.user_id as userId', 'd.attempts', 'n.token_id as tokenId', 'n.interval', 'n.days_left as daysLeft', 'n.expires_at as expiresAt'])
          .where('d.id', 'in', ids)
          .orderBy('d.id')
          .execute();
        out.push(...rows.map((r) => ({ ...r, interval: r.interval as NoticeInterval, attempt: r.attempts })));
      }
      return out;
    },

    async markSent(ids, at) {
      for (const part of chunks(ids, 500)) {
        await db.updateTable('expiry_notice_deliveries').set({ status: 'sent', sent_at: at, last_error: null }).where('id', 'in', part).execute();
      }
    },

    async markFailed(ids, error, maxAttempts) {
      for (const part of chunks(ids, 500)) {
        await db
          .updateTable('expiry_notice_deliveries')
          .set((eb) => ({ status: eb.case().when('attempts', '>=', maxAttempts).then('failed').else('pending').end(), last_error: error.slice(0, 500) }))
          .where('id', 'in', part)
          .execute();
      }
    },

    async markSkipped(ids, reason) {
      for (const part of chunks(ids, 500)) {
        await db.updateTable('expiry_notice_deliveries').set({ status: 'skipped', last_error: reason }).where('id', 'in', part).execute();
      }
    },

    async listUnpublished() {
      const rows = await db
        .selectFrom('expiry_notices')
        .select(['id as noticeId', 'token_id as tokenId', 'interval', 'days_left as daysLeft', 'expires_at as expiresAt', 'decided_at as decidedAt'])
        .where('event_published_at', 'is', null)
        .orderBy('id')
        .execute();
      return rows.map((r) => ({ ...r, interval: r.interval as NoticeInterval }));
    },

    async markPublished(noticeId, at) {
      await db.updateTable('expiry_notices').set({ event_published_at: at }).where('id', '=', noticeId).execute();
    },

    async tryLock(name, holder, now, until) {
      await db.insertInto('job_locks').values({ name, holder: null, locked_until: now }).onConflict((oc) => oc.column('name').doNothing()).execute();
      // On PostgreSQL a concurrent taker waits for this row and re-checks the condition after our
      // commit, so exactly one of two simultaneous takers sees its update land.
      const r = await db
        .updateTable('job_locks')
        .set({ holder, locked_until: until })
        .where('name', '=', name)
        .where((eb) => eb.or([eb('locked_until', '<=', now), eb('holder', '=', holder), eb('holder', 'is', null)]))
        .executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },

    async unlock(name, holder, now) {
      await db.updateTable('job_locks').set({ holder: null, locked_until: now }).where('name', '=', name).where('holder', '=', holder).execute();
    },
  };
}
