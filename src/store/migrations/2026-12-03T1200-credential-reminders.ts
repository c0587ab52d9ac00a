/**
 * Issue 14 item 4: reminders for outside credentials of the inventory. Notices (one per credential, due
 * date and interval: a renewal starts a new cycle) with their e-mail deliveries, the partial index the
 * daily scan ranges over (outside credentials by due date), and the calendar feed tokens (HMAC digests,
 * one per user). Frozen once released: never edit, add a new migration.
 */
import { sql, type Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

export function createCredentialReminders(traits: DialectTraits) {
  const id = (c: any) => (traits.needsAutoIncrement ? c.primaryKey().autoIncrement() : c.primaryKey());
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('credential_notices')
        .addColumn('id', traits.serialType, id)
        .addColumn('credential_id', 'integer', (c) => c.notNull().references('inventory_credentials.id').onDelete('cascade'))
        .addColumn('interval', 'text', (c) => c.notNull())
        // The due date the notice counted down to: a renewal moves it, and the next cycle is noticed again.
        .addColumn('due_on', 'text', (c) => c.notNull())
        .addColumn('days_left', 'integer', (c) => c.notNull())
        .addColumn('decided_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('credential_notices_once').on('credential_notices').columns(['credential_id', 'due_on', 'interval']).unique().execute();

      await db.schema
        .createTable('credential_notice_deliveries')
        .addColumn('id', traits.serialType, id)
        .addColumn('notice_id', 'integer', (c) => c.notNull().references('credential_notices.id').onDelete('cascade'))
        .addColumn('user_id', 'integer')
        .addColumn('email', 'text', (c) => c.notNull())
        // pending → sending (claimed_at) → sent | failed, or skipped
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('claimed_at', 'text')
        .addColumn('sent_at', 'text')
        .addColumn('last_error', 'text')
        .execute();
      await sql`create index credential_notice_deliveries_open on credential_notice_deliveries (lower(email), id) where status in ('pending', 'sending')`.execute(db);
      // The scan: outside credentials (not annotations of Latchkey's own tokens, which get token notices) by due date.
      await sql`create index inventory_credentials_outside_due on inventory_credentials (due_on, id) where token_id is null`.execute(db);

      await db.schema
        .createTable('calendar_feed_tokens')
        .addColumn('id', traits.serialType, id)
        .addColumn('user_id', 'integer', (c) => c.notNull().unique().references('users.id').onDelete('cascade'))
        // HMAC-SHA256 of the feed token under the server secret; the token itself is shown once.
        .addColumn('digest', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('last_used_at', 'text')
        .execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.dropTable('calendar_feed_tokens').execute();
      await db.schema.dropIndex('inventory_credentials_outside_due').execute();
      await db.schema.dropTable('credential_notice_deliveries').execute();
      await db.schema.dropTable('credential_notices').execute();
    },
  };
}
