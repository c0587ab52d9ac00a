/**
 * Indexes for the daily expiry job at a million tokens (issue 13): the tokens that can still get a
 * notice by (expiry date, id) — revoked, deleted and rotated-away tokens are not in it — the notices
 * whose event is not published yet, and the open deliveries in the order they are mailed (by recipient).
 * Partial indexes, on both dialects: each holds only the rows the job looks for, so a day with nothing to
 * do reads almost nothing. The predicates are literals so SQLite's planner can match the queries to them.
 * Frozen once released: never edit, add a new migration.
 */
import { sql, type Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

export function createExpiryScanIndexes(_traits: DialectTraits) {
  return {
    async up(db: Kysely<any>): Promise<void> {
      await sql`create index tokens_notice_candidates on tokens (expires_at, id) where revoked_at is null and deleted_at is null and superseded_at is null and expires_at is not null`.execute(db);
      await sql`create index expiry_notices_unpublished on expiry_notices (id) where event_published_at is null`.execute(db);
      await sql`create index expiry_notice_deliveries_open on expiry_notice_deliveries (lower(email), id) where status in ('pending', 'sending')`.execute(db);
      // Replaced by the partial index: it served only the claim, which now pages in recipient order (SQLite
      // would otherwise pick it and sort every open delivery for each page).
      await db.schema.dropIndex('expiry_notice_deliveries_status').execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.createIndex('expiry_notice_deliveries_status').on('expiry_notice_deliveries').column('status').execute();
      for (const name of ['expiry_notice_deliveries_open', 'expiry_notices_unpublished', 'tokens_notice_candidates']) await db.schema.dropIndex(name).execute();
    },
  };
}
