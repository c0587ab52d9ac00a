/**
 * The e-mail delivery queue shared by the reminder tables (credential notices, rotation task
 * reminders): one row per recipient, pending → sending (claimed, with a lease) → sent | failed, or
 * skipped; claimed a page at a time in (lower(email), id) order so each recipient gets one e-mail.
 */
import { sql, type Kysely } from 'kysely';
import type { DeliveryCursor } from '../notifications/expiry-notice-store.js';

const chunks = <T>(items: readonly T[], size: number): T[][] => Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, i * size + size));
const recipientKey = sql<string>`lower(email)`;

/** The queue over `table` (a table with the ExpiryNoticeDeliveriesTable columns). */
export function deliveryQueue(db: Kysely<any>, table: string) {
  const claimable = (staleBefore: string) => (eb: any) => eb.or([eb('status', '=', 'pending'), eb.and([eb('status', '=', 'sending'), eb('claimed_at', '<', staleBefore)])]);
  const setStatus = async (ids: readonly number[], set: Partial<{ status: string; sent_at: string; last_error: string | null }>) => {
    for (const part of chunks(ids, 500)) await db.updateTable(table).set(set).where('id', 'in', part).execute();
  };
  return {
    /** Claims one page of open deliveries (pending, or claimed before `staleBefore`); the ids claimed, in recipient order. */
    async claim({ now, staleBefore, after, limit }: { now: string; staleBefore: string; after: DeliveryCursor | null; limit: number }): Promise<{ id: number; recipientKey: string }[]> {
      let q = db
        .selectFrom(table)
        .select(['id', recipientKey.as('recipientKey')])
        .where(sql<boolean>`status in ('pending', 'sending')`)
        .where(claimable(staleBefore));
      if (after) q = q.where((eb: any) => eb.and([eb(recipientKey, '>=', after.recipientKey), eb.or([eb(recipientKey, '>', after.recipientKey), eb('id', '>', after.id)])]));
      const page: { id: number; recipientKey: string }[] = await q.orderBy(recipientKey).orderBy('id').limit(limit).execute();
      if (page.length === 0) return [];
      const claimed = await db
        .updateTable(table)
        .set((eb: any) => ({ status: 'sending', claimed_at: now, attempts: eb('attempts', '+', 1) }))
        .where('id', 'in', page.map((p) => p.id))
        .where(claimable(staleBefore))
        .returning('id')
        .execute();
      const ids = new Set(claimed.map((c: { id: number }) => c.id));
      return page.filter((p) => ids.has(p.id));
    },
    markSent: (ids: readonly number[], at: string) => setStatus(ids, { status: 'sent', sent_at: at, last_error: null }),
    markSkipped: (ids: readonly number[], reason: string) => setStatus(ids, { status: 'skipped', last_error: reason }),
    async markFailed(ids: readonly number[], error: string, maxAttempts: number): Promise<void> {
      for (const part of chunks(ids, 500)) {
        await db
          .updateTable(table)
          .set((eb: any) => ({ status: eb.case().when('attempts', '>=', maxAttempts).then('failed').else('pending').end(), last_error: error.slice(0, 500) }))
          .where('id', 'in', part)
          .execute();
      }
    },
  };
}
