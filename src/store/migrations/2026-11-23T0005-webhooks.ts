/**
 * Webhooks (issue 4): registered endpoints, the durable outbox of deliveries, and every attempt.
 * Frozen once released: never edit, add a new migration.
 */
import type { Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

export function createWebhooks(traits: DialectTraits) {
  const id = (c: any) => (traits.needsAutoIncrement ? c.primaryKey().autoIncrement() : c.primaryKey());
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('webhooks')
        .addColumn('id', traits.serialType, id)
        // null: an instance hook (admins); otherwise the group whose tree's token events it receives.
        .addColumn('group_id', 'integer', (c) => c.references('groups.id'))
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('events', 'text', (c) => c.notNull())
        // AES-256-GCM under a key derived from the server secret: the secret must be read back to sign.
        .addColumn('secret_encrypted', 'text', (c) => c.notNull())
        .addColumn('created_by', 'integer')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('deleted_at', 'text')
        .execute();
      await db.schema.createIndex('webhooks_group_id').on('webhooks').column('group_id').execute();

      await db.schema
        .createTable('webhook_deliveries')
        .addColumn('id', traits.serialType, id)
        .addColumn('hook_id', 'integer', (c) => c.notNull().references('webhooks.id'))
        .addColumn('token_id', 'integer', (c) => c.notNull())
        .addColumn('event', 'text', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        // pending → delivered | failed (given up)
        .addColumn('status', 'text', (c) => c.notNull().defaultTo('pending'))
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('next_attempt_at', 'text', (c) => c.notNull())
        // A node that claimed the row sends it until then; after that another node may take it over.
        .addColumn('lease_until', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('finished_at', 'text')
        .execute();
      await db.schema.createIndex('webhook_deliveries_due').on('webhook_deliveries').columns(['status', 'next_attempt_at']).execute();
      await db.schema.createIndex('webhook_deliveries_order').on('webhook_deliveries').columns(['hook_id', 'token_id', 'id']).execute();

      await db.schema
        .createTable('webhook_attempts')
        .addColumn('id', traits.serialType, id)
        .addColumn('delivery_id', 'integer', (c) => c.notNull().references('webhook_deliveries.id'))
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addColumn('status_code', 'integer')
        .addColumn('latency_ms', 'integer', (c) => c.notNull())
        .addColumn('error', 'text')
        .addColumn('next_retry_at', 'text')
        .execute();
      await db.schema.createIndex('webhook_attempts_delivery_id').on('webhook_attempts').column('delivery_id').execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.dropTable('webhook_attempts').execute();
      await db.schema.dropTable('webhook_deliveries').execute();
      await db.schema.dropTable('webhooks').execute();
    },
  };
}
