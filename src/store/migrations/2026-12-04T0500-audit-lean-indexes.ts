/**
 * Issue 13: every audit entry paid for seven secondary indexes, and two of them were written at a place
 * per token (the entry's token hash; token and event) — on SQLite about a third of an entry's insert
 * cost. Neither needs to index every `http.request` entry:
 * - entries by `token_hash`: a token's hash is the same on all of its entries until its digest moves
 *   to a new server secret, so `audit_token_hashes` keeps each (hash, token id) pair once, and a query by
 *   hash finds the token ids there and reads their entries by the token id index;
 * - `audit verify`'s "does this token have its token.created / token.revoked / … entry" asks for token
 *   events only, never `http.request`: the (token_id, event) index keeps the other events only (a
 *   partial index; the query repeats its condition word for word so that both databases use it).
 * Frozen once released: never edit, add a new migration.
 */
import { sql, type Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

export function createAuditLeanIndexes(_traits: DialectTraits) {
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('audit_token_hashes')
        .addColumn('token_hash', 'text', (c) => c.notNull())
        .addColumn('token_id', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('audit_token_hashes_pk', ['token_hash', 'token_id'])
        .execute();
      await sql`insert into audit_token_hashes (token_hash, token_id) select distinct token_hash, token_id from audit_events where token_hash is not null and token_id is not null`.execute(db);
      await db.schema.dropIndex('audit_events_token_hash').execute();
      await db.schema.dropIndex('audit_events_token_event').execute();
      await sql`create index audit_events_token_event on audit_events (token_id, event) where event <> 'http.request'`.execute(db);
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.dropIndex('audit_events_token_event').execute();
      await db.schema.createIndex('audit_events_token_event').on('audit_events').columns(['token_id', 'event']).execute();
      await db.schema.createIndex('audit_events_token_hash').on('audit_events').columns(['token_hash', 'id']).execute();
      await db.schema.dropTable('audit_token_hashes').execute();
    },
  };
}
