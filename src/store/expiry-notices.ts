/**
 * ExpiryNoticeStore over Kysely (both dialects): due tokens, the namespace facts recipients need,
 * notices, deliveries and the job lock. Pages and batches only; the partial indexes of migration
 * 2026-12-02T1300 serve the job's three scans (due tokens, unpublished notices, open deliveries).
 */
import { sql, type ExpressionBuilder, type Kysely } from 'kysely';
import type { Database } from './database.js';
import { insertOutboxEvents } from '../events/event-outbox.js';
import { toToken } from './tokens.js';
import type { BotKind } from '../namespaces/namespace.js';
import type { ExpiryNoticeStore, NoticeGroup, NoticeProject, NoticeUser, RecordedNotice, SourceMember } from '../notifications/expiry-notice-store.js';
import type { NoticeBand, NoticeInterval } from '../notifications/expiry-check.js';
import type { DeliveryCursor, DueCursor } from '../notifications/expiry-notice-store.js';

// Bounded IN lists and multi-row inserts: PostgreSQL and SQLite both cap bound parameters.
const chunks = <T>(items: readonly T[], size: number): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
};

/**
 * The due-token query of one band (exported for the test that EXPLAINs it): the active-token
 * conditions are written as the partial index `tokens_notice_candidates` states them, so both
 * planners range-scan it by expiry date; the settled check is an anti-join on the notices' unique key.
 * Only the indexed columns are selected, so PostgreSQL answers from the index alone (with a million
 * tokens, fetching every candidate's row would be most of the cost); the rows of the due ones are
 * read afterwards, by id.
 */
export function dueTokensQuery(db: Kysely<Database>, band: NoticeBand, after: DueCursor | null, limit: number) {
  let q = db
    .selectFrom('tokens as t')
    .select(['t.id', 't.expires_at'])
    .where('t.revoked_at', 'is', null)
    .where('t.deleted_at', 'is', null)
    // Rotated away (in its grace or past it): the successor is the token to warn about.
    .where('t.superseded_at', 'is', null)
    .where('t.expires_at', 'is not', null)
    .where('t.expires_at', '>=', band.from)
    .where('t.expires_at', '<=', band.to)
    .where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('expiry_notices as n').select(sql<number>`1`.as('one')).whereRef('n.token_id', '=', 't.id').where('n.interval', 'in', [...band.settledBy]))),
    );
  // (expires_at, id) > cursor, spelled so SQLite also starts its index range at the cursor's date.
  if (after) q = q.where((eb) => eb.and([eb('t.expires_at', '>=', after.expiresAt), eb.or([eb('t.expires_at', '>', after.expiresAt), eb('t.id', '>', after.id)])]));
  return q.orderBy('t.expires_at').orderBy('t.id').limit(limit);
}

/** Claimable: pending, or claimed by a node that died (its claim older than `staleBefore`). */
const claimable = (staleBefore: string) => (eb: ExpressionBuilder<Database, 'expiry_notice_deliveries'>) =>
  eb.or([eb('status', '=', 'pending'), eb.and([eb('status', '=', 'sending'), eb('claimed_at', '<', staleBefore)])]);

const recipientKey = sql<string>`lower(email)`;

/**
 * One page of claimable deliveries in (recipient key, id) order (exported for the EXPLAIN test).
 * `status in ('pending', 'sending')` is a literal, as the partial index `expiry_notice_deliveries_open`
 * states it, so both planners walk that index in order.
 */
export function openDeliveriesQuery(db: Kysely<Database>, staleBefore: string, after: DeliveryCursor | null, limit: number) {
  let q = db
    .selectFrom('expiry_notice_deliveries')
    .select(['id', recipientKey.as('recipientKey')])
    .where(sql<boolean>`status in ('pending', 'sending')`)
    .where(claimable(staleBefore));
  // (key, id) > cursor, spelled so SQLite also starts its index range at the cursor's key.
  if (after) q = q.where((eb) => eb.and([eb(recipientKey, '>=', after.recipientKey), eb.or([eb(recipientKey, '>', after.recipientKey), eb('id', '>', after.id)])]));
  return q.orderBy(recipientKey).orderBy('id').limit(limit);
}

/** One page of notices whose event is not published yet, by id (the partial index expiry_notices_unpublished). */
export function unpublishedNoticesQuery(db: Kysely<Database>, afterId: number, limit: number) {
  return db
    .selectFrom('expiry_notices')
    .select(['id as noticeId', 'token_id as tokenId', 'interval', 'days_left as daysLeft', 'expires_at as expiresAt', 'decided_at as decidedAt'])
    .where('event_published_at', 'is', null)
    .where('id', '>', afterId)
    .orderBy('id')
    .limit(limit);
}

/** `onEventsCommitted`: after a commit that wrote token events (app.ts: the outbox relay's drain). */
export function createExpiryNoticeStore(db: Kysely<Database>, onEventsCommitted: () => Promise<void> = async () => {}): ExpiryNoticeStore {
  return {
    async listDue(band, after, limit) {
      return (await dueTokensQuery(db, band, after, limit).execute()).map((r) => ({ id: r.id, expiresAt: r.expires_at! }));
    },

    async findTokens(ids) {
      const out = new Map();
      for (const part of chunks([...new Set(ids)], 500)) {
        for (const r of await db.selectFrom('tokens').selectAll().where('id', 'in', part).execute()) out.set(r.id, toToken(r));
      }
      return out;
    },

    async findUsers(ids) {
      const out = new Map<number, NoticeUser>();
      for (const part of chunks(ids, 500)) {
        const rows = await db.selectFrom('users').select(['id', 'username', 'email', 'state', 'bot_kind', 'provisioned_by_group_id']).where('id', 'in', part).execute();
        for (const r of rows) {
          const botKind = r.bot_kind as BotKind | null;
          out.set(r.id, { id: r.id, username: r.username, email: r.email, state: r.state, botKind, provisioningGroupId: botKind === 'service_account' ? r.provisioned_by_group_id : null });
        }
      }
      return out;
    },

    async findProjects(ids) {
      const out = new Map<number, NoticeProject>();
      for (const part of chunks(ids, 500)) {
        const rows = await db.selectFrom('projects').select(['id', 'group_id', 'path_with_namespace']).where('id', 'in', part).execute();
        for (const r of rows) out.set(r.id, { id: r.id, groupId: r.group_id, pathWithNamespace: r.path_with_namespace });
      }
      return out;
    },

    async findGroups(ids) {
      const out = new Map<number, NoticeGroup>();
      for (const part of chunks(ids, 500)) {
        const rows = await db.selectFrom('groups').select(['id', 'full_path', 'traversal_path']).where('id', 'in', part).execute();
        for (const r of rows) out.set(r.id, { id: r.id, fullPath: r.full_path, ancestorIds: r.traversal_path.split('/').filter(Boolean).map(Number) });
      }
      return out;
    },

    async listMembersOf(sources, today) {
      const out: SourceMember[] = [];
      for (const part of chunks(sources, 500)) {
        const ofType = (type: 'group' | 'project') => part.filter((s) => s.type === type).map((s) => s.id);
        const rows = await db
          .selectFrom('members')
          .innerJoin('users', 'users.id', 'members.user_id')
          .select(['members.source_type as sourceType', 'members.source_id as sourceId', 'users.id as userId', 'users.email as email', 'members.access_level as accessLevel'])
          .where((eb) =>
            eb.or(
              (['group', 'project'] as const)
                .filter((type) => ofType(type).length > 0)
                .map((type) => eb.and([eb('members.source_type', '=', type), eb('members.source_id', 'in', ofType(type))])),
            ),
          )
          .where((eb) => eb.or([eb('members.expires_at', 'is', null), eb('members.expires_at', '>', today)]))
          .where('users.bot_kind', 'is', null)
          .where('users.state', '=', 'active')
          .where('users.email', 'is not', null)
          .execute();
        for (const r of rows) out.push({ source: { type: r.sourceType, id: r.sourceId }, userId: r.userId, email: r.email!, accessLevel: r.accessLevel });
      }
      return out;
    },

    async recordNotices(items, skipReason) {
      if (items.length === 0) return { notices: [], deliveries: 0 };
      return db.transaction().execute(async (trx) => {
        const recorded: RecordedNotice[] = [];
        let written = 0;
        const recipientsOf = new Map(items.map((i) => [`${i.notice.tokenId}:${i.notice.interval}`, i.recipients]));
        for (const part of chunks(items, 500)) {
          const inserted = await trx
            .insertInto('expiry_notices')
            .values(part.map(({ notice }) => ({ token_id: notice.tokenId, interval: notice.interval, expires_at: notice.expiresAt, days_left: notice.daysLeft, decided_at: notice.decidedAt, event_published_at: null })))
            .onConflict((oc) => oc.columns(['token_id', 'interval']).doNothing())
            .returning(['id', 'token_id', 'interval'])
            .execute();
          const deliveries = [];
          for (const n of inserted) {
            recorded.push({ tokenId: n.token_id, interval: n.interval as NoticeInterval });
            const seen = new Set<string>();
            for (const r of recipientsOf.get(`${n.token_id}:${n.interval}`) ?? []) {
              const key = r.email.toLowerCase();
              if (seen.has(key)) continue;
              seen.add(key);
              deliveries.push({ notice_id: n.id, user_id: r.userId, email: r.email, status: skipReason === null ? 'pending' : 'skipped', attempts: 0, claimed_at: null, sent_at: null, last_error: skipReason });
            }
          }
          for (const rows of chunks(deliveries, 500)) await trx.insertInto('expiry_notice_deliveries').values(rows).execute();
          written += deliveries.length;
        }
        return { notices: recorded, deliveries: written };
      });
    },

    async claimDeliveries({ now, staleBefore, after, limit }) {
      const page = await openDeliveriesQuery(db, staleBefore, after, limit).execute();
      if (page.length === 0) return [];
      const claimed = await db
        .updateTable('expiry_notice_deliveries')
        .set((eb) => ({ status: 'sending', claimed_at: now, attempts: eb('attempts', '+', 1) }))
        .where('id', 'in', page.map((c) => c.id))
        .where(claimable(staleBefore))
        .returning('id')
        .execute();
      const rows = claimed.length === 0 ? [] : await db
        .selectFrom('expiry_notice_deliveries as d')
        .innerJoin('expiry_notices as n', 'n.id', 'd.notice_id')
        .select(['d.id as deliveryId', 'd.notice_id as noticeId', 'd.email', 'd.user_id as userId', 'd.attempts', 'n.token_id as tokenId', 'n.interval', 'n.days_left as daysLeft', 'n.expires_at as expiresAt'])
        .where('d.id', 'in', claimed.map((r) => r.id))
        .execute();
      const byId = new Map(rows.map((r) => [r.deliveryId, r]));
      // In page order (recipient key, id), keys as the store computed them: one message per key.
      return page.flatMap((c) => {
        const r = byId.get(c.id);
        return r ? [{ ...r, recipientKey: c.recipientKey, interval: r.interval as NoticeInterval, attempt: r.attempts }] : [];
      });
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

    async listUnpublished(afterId, limit) {
      const rows = await unpublishedNoticesQuery(db, afterId, limit).execute();
      return rows.map((r) => ({ ...r, interval: r.interval as NoticeInterval }));
    },

    async publishNotices(published, at) {
      if (published.length === 0) return 0;
      const eventOf = new Map(published.map((p) => [p.noticeId, p.event]));
      const count = await db.transaction().execute(async (trx) => {
        let n = 0;
        for (const part of chunks([...eventOf.keys()], 500)) {
          // The conditional update decides which notices this transaction publishes (row locks on PostgreSQL).
          const marked = await trx.updateTable('expiry_notices').set({ event_published_at: at }).where('id', 'in', part).where('event_published_at', 'is', null).returning('id').execute();
          await insertOutboxEvents(trx, marked.map((r) => eventOf.get(r.id)!));
          n += marked.length;
        }
        return n;
      });
      if (count > 0) await onEventsCommitted();
      return count;
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
