/**
 * Issue 13, item 3: on PostgreSQL the token lists read the table again after usage writes. A usage write
 * (last_used_at, last_used_ips, the reuse window) changes no indexed column, yet on a page packed full
 * (fillfactor 100) the new row version finds no room and goes to another page, with a new entry in each of
 * the table's fourteen indexes, the list indexes included. On a copy of the bench's million tokens, of
 * 200,000 usage writes to the 10,000 tokens in use (the tracker's statement) 12 % stayed on their page (HOT),
 * and 39 % of the next 200,000. With a tenth of each page left free: 70 % (a row grows at its first write
 * and may have to move), then 100 %. A list page's index-only scans then read one table row per listed
 * token on a page written since the last vacuum (10,000 heap fetches to count 10,001 tokens) instead of four
 * or five (46,000): page 1000 of the personal list in 8 ms instead of 30.
 * Those reads stop only when a vacuum marks the pages all-visible again (then 0 heap fetches, 2 ms), and by
 * default autovacuum waits for a fifth of the table to change (200,000 rows at a million tokens): `tokens`
 * is vacuumed after 1,000 rows plus 1 % instead. With the writes HOT, such a vacuum reads the pages written
 * since the last one (0.7 s after 200,000 writes on the bench copy). This needs autovacuum on (the default).
 * No rewrite: the fillfactor holds for pages written from now on (new tokens, moved rows), and an existing
 * token moves once, at its first usage write, to a page with room. Rewriting the table here (CLUSTER: a
 * migration's transaction cannot run VACUUM FULL, 15 s) took 22 s at a million tokens on the bench copy,
 * every verification that reads the table waiting on its lock; setting the options took 0.1 s. SQLite updates rows in place and its list indexes cover their
 * queries: nothing to do there.
 * Frozen once released: never edit, add a new migration.
 */
import { sql, type Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

export function createTokensUsageRoom(traits: DialectTraits) {
  return {
    async up(db: Kysely<any>): Promise<void> {
      if (traits.name !== 'postgres') return;
      await sql`alter table tokens set (fillfactor = 90, autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000)`.execute(db);
    },
    async down(db: Kysely<any>): Promise<void> {
      if (traits.name !== 'postgres') return;
      await sql`alter table tokens reset (fillfactor, autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold)`.execute(db);
    },
  };
}
