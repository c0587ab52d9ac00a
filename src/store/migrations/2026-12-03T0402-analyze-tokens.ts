/**
 * SQLite: statistics for every index of `tokens`, not only the list indexes 0401 analyzed. With statistics for
 * some indexes and none for the rest, the planner misjudged the expiry scan (a range over tokens_expires_at, every
 * token, instead of the active-only tokens_notice_candidates). On a new, empty database the statistics describe
 * nothing real and are dropped again. PostgreSQL keeps its own statistics.
 * Frozen once released: never edit, add a new migration.
 */
import { sql, type Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

export function createAnalyzeTokens(traits: DialectTraits) {
  return {
    async up(db: Kysely<any>): Promise<void> {
      if (traits.name === 'sqlite') await sql`analyze tokens`.execute(db);
      // Statistics of a table still empty describe no real database: drop them, the planner's own estimates pick the partial indexes.
      if (traits.name === 'sqlite') await sql`delete from sqlite_stat1 where tbl = 'tokens' and not exists (select 1 from tokens)`.execute(db);
    },
    async down(): Promise<void> {},
  };
}
