/**
 * Expiry notifications: one row per token and interval ('60', '30', '7', 'expired') once the notice is
 * decided — the unique key is what makes a notice happen at most once, across restarts and nodes — the
 * per-recipient deliveries of each notice, and a lease-based lock so one node runs the job at a time.
 * Frozen once released.
 */
import type { Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

export function createExpiryNotices(traits: DialectTraits) {
  const id = (c: any) => (traits.needsAutoIncrement ? c.primaryKey().autoIncrement() : c.primaryKey());
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('expiry_notices')
        .addColumn('id', traits.serialType, id)
        .addColumn('token_id', 'integer', (c) => c.notNull().references('tokens.id'))
        // '60' | '30' | '7' | 'expired'
        .addColumn('interval', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('days_left', 'integer', (c) => c.notNull())
        .addColumn('decided_at', 'text', (c) => c.notNull())
        // Set once the token.expiring / token.expired event went to the event sink.
        .addColumn('event_published_at', 'text')
        .addUniqueConstraint('expiry_notices_token_interval', ['token_id', 'interval'])
        .execute();

      await db.schema
        .createTable('expiry_notice_deliveries')
        .addColumn('id', traits.serialType, id)
        .addColumn('notice_id', 'integer', (c) => c.notNull().references('expiry_notices.id'))
        .addColumn('user_id', 'integer', (c) => c.references('users.id'))
        .addColumn('email', 'text', (c) => c.notNull())
        // pending → sending (claimed, with claimed_at) → sent | failed; skipped when mail is disabled
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('claimed_at', 'text')
        .addColumn('sent_at', 'text')
        .addColumn('last_error', 'text')
        .addUniqueConstraint('expiry_notice_deliveries_notice_email', ['notice_id', 'email'])
        .execute();
      await db.schema.createIndex('expiry_notice_deliveries_status').on('expiry_notice_deliveries').column('status').execute();

      await db.schema
        .createTable('job_locks')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('holder', 'text')
        .addColumn('locked_until', 'text', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.dropTable('job_locks').execute();
      await db.schema.dropTable('expiry_notice_deliveries').execute();
      await db.schema.dropTable('expiry_notices').execute();
    },
  };
}
