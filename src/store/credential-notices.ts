/**
 * CredentialNoticeStore over Kysely (both dialects): the scan of outside credentials by due date, the
 * notices, their e-mail deliveries and their `credential.expiring` webhook deliveries (written into the
 * webhook outbox, `webhook_deliveries`, in the notices' own transaction).
 */
import { sql, type Generated, type Kysely } from 'kysely';
import type { Database, ExpiryNoticeDeliveriesTable } from './database.js';
import type { InventoryCredentialsTable } from './inventory.js';
import { notEndedUpstream } from './upstream-tokens-table.js';
import { createWebhookStore } from '../webhooks/webhook-store.js';
import { deliveryQueue } from './notice-deliveries.js';
import type { CredentialInterval, CredentialNoticeStore, DueCredential } from '../notifications/credential-notice-store.js';
import type { NoticeBand } from '../notifications/expiry-check.js';

export interface CredentialNoticesTable {
  id: Generated<number>;
  credential_id: number;
  interval: string;
  due_on: string;
  days_left: number;
  decided_at: string;
}

/** One e-mail recipient of a credential notice: the token notices' delivery row, to a credential notice. */
export type CredentialNoticeDeliveriesTable = ExpiryNoticeDeliveriesTable;

type Tables = Database & { inventory_credentials: InventoryCredentialsTable; credential_notices: CredentialNoticesTable; credential_notice_deliveries: CredentialNoticeDeliveriesTable };

/** Credential deliveries in `webhook_deliveries` carry no token: token_id 0, the payload names the credential. */
export const CREDENTIAL_WEBHOOK_TOKEN_ID = 0;

const chunks = <T>(items: readonly T[], size: number): T[][] => Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, i * size + size));

/** The due query of one band (exported for the test that EXPLAINs it). */
export function dueCredentialsQuery(db: Kysely<Tables>, band: NoticeBand, after: DueCredential | null, limit: number) {
  let q = db
    .selectFrom('inventory_credentials as c')
    .select(['c.id', 'c.due_on'])
    .where('c.token_id', 'is', null)
    .where('c.due_on', '>=', band.from)
    .where('c.due_on', '<=', band.to)
    .where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('credential_notices as n').select(sql<number>`1`.as('one')).whereRef('n.credential_id', '=', 'c.id').whereRef('n.due_on', '=', 'c.due_on').where('n.interval', 'in', [...band.settledBy]))),
    )
    // A synced entry whose upstream token was revoked or has disappeared is no longer renewed: no reminder.
    .where(notEndedUpstream);
  if (after) q = q.where((eb) => eb.and([eb('c.due_on', '>=', after.dueOn), eb.or([eb('c.due_on', '>', after.dueOn), eb('c.id', '>', after.id)])]));
  return q.orderBy('c.due_on').orderBy('c.id').limit(limit);
}


export function createCredentialNoticeStore(database: Kysely<Database>): CredentialNoticeStore {
  const db = database as unknown as Kysely<Tables>;
  const queue = deliveryQueue(database, 'credential_notice_deliveries');
  return {
    async listDue(band, after, limit) {
      return (await dueCredentialsQuery(db, band, after, limit).execute()).map((r) => ({ id: r.id, dueOn: r.due_on }));
    },

    async recordNotices(items, skipReason) {
      if (items.length === 0) return { intervals: [], deliveries: 0, webhooks: 0 };
      return db.transaction().execute(async (trx) => {
        const out = { intervals: [] as CredentialInterval[], deliveries: 0, webhooks: 0 };
        const byKey = new Map(items.map((i) => [`${i.credentialId}:${i.dueOn}:${i.interval}`, i]));
        for (const part of chunks(items, 200)) {
          const inserted = await trx
            .insertInto('credential_notices')
            .values(part.map((n) => ({ credential_id: n.credentialId, interval: n.interval, due_on: n.dueOn, days_left: n.daysLeft, decided_at: n.decidedAt })))
            .onConflict((oc) => oc.columns(['credential_id', 'due_on', 'interval']).doNothing())
            .returning(['id', 'credential_id', 'due_on', 'interval'])
            .execute();
          const deliveries = [];
          const hooks = [];
          for (const row of inserted) {
            const notice = byKey.get(`${row.credential_id}:${row.due_on}:${row.interval}`)!;
            out.intervals.push(notice.interval);
            const seen = new Set<string>();
            for (const r of notice.recipients) {
              if (seen.has(r.email.toLowerCase())) continue;
              seen.add(r.email.toLowerCase());
              deliveries.push({ notice_id: row.id, user_id: r.userId, email: r.email, status: skipReason === null ? 'pending' : 'skipped', attempts: 0, claimed_at: null, sent_at: null, last_error: skipReason });
            }
            for (const h of notice.webhooks) hooks.push({ hookId: h.hookId, tokenId: CREDENTIAL_WEBHOOK_TOKEN_ID, event: 'credential.expiring', payload: h.payload, at: notice.decidedAt });
          }
          for (const rows of chunks(deliveries, 500)) await trx.insertInto('credential_notice_deliveries').values(rows).execute();
          for (const rows of chunks(hooks, 500)) await createWebhookStore(trx as unknown as Kysely<Database>).insertDeliveries(rows);
          out.deliveries += deliveries.length;
          out.webhooks += hooks.length;
        }
        return out;
      });
    },

    async claimDeliveries(claim) {
      const claimed = await queue.claim(claim);
      if (claimed.length === 0) return [];
      const rows = await db
        .selectFrom('credential_notice_deliveries as d')
        .innerJoin('credential_notices as n', 'n.id', 'd.notice_id')
        .select(['d.id', 'd.email', 'n.credential_id', 'n.interval', 'n.due_on', 'n.days_left'])
        .where('d.id', 'in', claimed.map((c) => c.id))
        .execute();
      const byId = new Map(rows.map((r) => [r.id, r]));
      return claimed.flatMap((p) => {
        const r = byId.get(p.id);
        return r ? [{ deliveryId: r.id, email: r.email, recipientKey: p.recipientKey, credentialId: r.credential_id, interval: r.interval as CredentialInterval, dueOn: r.due_on, daysLeft: r.days_left }] : [];
      });
    },

    markSent: queue.markSent,
    markSkipped: queue.markSkipped,
    markFailed: queue.markFailed,
  };
}
