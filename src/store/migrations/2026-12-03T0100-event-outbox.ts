/**
 * The transactional outbox of token events (issue 12 item 3): a token change inserts its event here in
 * the same transaction, so a crash can lose neither. The relay (src/events/event-relay.ts) moves each row
 * into the audit chain and the webhook deliveries in one transaction that deletes it: exactly once.
 * Frozen once released: never edit, add a new migration.
 */
import type { Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

export function createEventOutbox(traits: DialectTraits) {
  const id = (c: any) => (traits.needsAutoIncrement ? c.primaryKey().autoIncrement() : c.primaryKey());
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('event_outbox')
        .addColumn('id', traits.serialType, id)
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('token_id', 'integer', (c) => c.notNull())
        // When the event happened (the event's `at`), ISO instant.
        .addColumn('at', 'text', (c) => c.notNull())
        // JSON object; never a secret.
        .addColumn('data', 'text', (c) => c.notNull())
        .execute();
      // `audit verify` asks whether a token's token.created is still waiting here.
      await db.schema.createIndex('event_outbox_token_id').on('event_outbox').columns(['token_id', 'name']).execute();
      // `audit verify` asks every token for its token.created entry.
      await db.schema.createIndex('audit_events_token_event').on('audit_events').columns(['token_id', 'event']).execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.dropIndex('audit_events_token_event').execute();
      await db.schema.dropTable('event_outbox').execute();
    },
  };
}
