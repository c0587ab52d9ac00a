/**
 * The audit log (issue 5): one chained row per HTTP request and per token event, and the chain head
 * that serialises appends across nodes. Frozen once released: never edit, add a new migration.
 */
import { sql, type Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

/** prev_hash of the first entry. */
export const AUDIT_GENESIS_HASH = '0'.repeat(64);

export function createAuditLog(traits: DialectTraits) {
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('audit_events')
        // Assigned by the appender (head.last_id + 1), never by a sequence: a gap means a deleted entry.
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('event', 'text', (c) => c.notNull())
        .addColumn('actor_type', 'text')
        .addColumn('actor_id', 'integer')
        .addColumn('actor_name', 'text')
        .addColumn('token_id', 'integer')
        // `sha256:<hex>` of the token's HMAC digest: never the secret, never the digest itself.
        .addColumn('token_hash', 'text')
        .addColumn('method', 'text')
        .addColumn('route', 'text')
        .addColumn('path', 'text')
        .addColumn('status', 'integer')
        .addColumn('user_agent', 'text')
        .addColumn('ip', 'text')
        .addColumn('project_id', 'integer')
        .addColumn('group_id', 'integer')
        // traversal path (`/1/5/`) of the group the token lives under: a group Owner sees `<its path>%`.
        .addColumn('group_path', 'text')
        .addColumn('data', 'text', (c) => c.notNull())
        .addColumn('prev_hash', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_events_token_id').on('audit_events').columns(['token_id', 'id']).execute();
      await db.schema.createIndex('audit_events_token_hash').on('audit_events').columns(['token_hash', 'id']).execute();
      await db.schema.createIndex('audit_events_actor_name').on('audit_events').columns(['actor_name', 'id']).execute();
      await db.schema.createIndex('audit_events_created_at').on('audit_events').column('created_at').execute();
      await db.schema.createIndex('audit_events_group_path').on('audit_events').columns(['group_path', 'id']).execute();
      // An Owner's `group_path LIKE '/1/5/%'`: outside the C locale PostgreSQL uses an index for a
      // prefix LIKE only with pattern ops.
      if (traits.name === 'postgres') await sql`create index audit_events_group_path_prefix on audit_events (group_path text_pattern_ops)`.execute(db);
      await db.schema.createIndex('audit_events_project_id').on('audit_events').columns(['project_id', 'id']).execute();

      // One row: the last appended id and hash. Every append updates it first, which takes a row lock
      // (PostgreSQL) or the write lock (SQLite): appends from several nodes are serialised.
      await db.schema
        .createTable('audit_chain_head')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('last_id', 'integer', (c) => c.notNull())
        .addColumn('last_hash', 'text', (c) => c.notNull())
        .execute();
      await db.insertInto('audit_chain_head').values({ id: 1, last_id: 0, last_hash: AUDIT_GENESIS_HASH }).execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.dropTable('audit_chain_head').execute();
      await db.schema.dropTable('audit_events').execute();
    },
  };
}
