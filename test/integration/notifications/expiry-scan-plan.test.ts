/**
 * The expiry job's three scans use their partial indexes on both stores (issue 13, item 4): due tokens
 * by expiry date, unpublished notices, open deliveries by recipient. A lost or unmatched index would turn
 * the daily scan over a million tokens into a full table read; this fails first.
 *
 * PostgreSQL: the tables are tiny here, so sequential scans are priced out for the EXPLAIN (in its own
 * transaction) and the plan shows which index the planner can use for the query as written.
 */
import { CompiledQuery, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noticeBands } from '../../../src/notifications/expiry-check.js';
import type { Database } from '../../../src/store/database.js';
import { dueTokensQuery, unpublishedNoticesQuery, openDeliveriesQuery } from '../../../src/store/expiry-notices.js';
import { openStore, type Store } from '../../../src/store/open-store.js';
import { createTestDatabase, DIALECTS } from '../../support/dialects.js';

async function plan(db: Kysely<Database>, dialect: string, query: { compile(): CompiledQuery }): Promise<string> {
  const { sql, parameters } = query.compile();
  if (dialect === 'sqlite') {
    const rows = await db.executeQuery<{ detail: string }>(CompiledQuery.raw(`explain query plan ${sql}`, [...parameters]));
    return rows.rows.map((r) => r.detail).join('\n');
  }
  return db.transaction().execute(async (trx) => {
    await trx.executeQuery(CompiledQuery.raw('set local enable_seqscan = off'));
    const rows = await trx.executeQuery<{ 'QUERY PLAN': string }>(CompiledQuery.raw(`explain ${sql}`, [...parameters]));
    return rows.rows.map((r) => r['QUERY PLAN']).join('\n');
  });
}

/** Uses the index as a range, in index order (SQLite: SEARCH, and no sort of the whole range). */
function expectIndexRange(text: string, dialect: string, index: string): void {
  expect(text).toContain(index);
  if (dialect === 'sqlite') {
    expect(text).toContain(`SEARCH`);
    expect(text).not.toContain('TEMP B-TREE');
  }
}

describe.each(DIALECTS)('expiry scan query plans on %s', (dialect) => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let store: Store;
  beforeAll(async () => {
    db = await createTestDatabase(dialect);
    store = await openStore(db.location);
    await store.migrate();
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it('due tokens: a range over tokens_notice_candidates per band, first page and after a cursor (index-only on PostgreSQL)', async () => {
    for (const band of noticeBands(new Date('2026-11-23T01:00:00Z'))) {
      for (const after of [null, { expiresAt: band.from, id: 42 }]) {
        const text = await plan(store.db, dialect, dueTokensQuery(store.db, band, after, 500));
        expectIndexRange(text, dialect, 'tokens_notice_candidates');
        if (dialect === 'postgres') expect(text).toContain('Index Only Scan using tokens_notice_candidates');
      }
    }
  });

  it('unpublished notices and open deliveries walk their partial indexes', async () => {
    expectIndexRange(await plan(store.db, dialect, unpublishedNoticesQuery(store.db, 0, 500)), dialect, 'expiry_notices_unpublished');
    const staleBefore = '2026-11-23T00:50:00.000Z';
    // The first page walks the whole (small) index in order; later pages start at the cursor.
    const first = await plan(store.db, dialect, openDeliveriesQuery(store.db, staleBefore, null, 500));
    expect(first).toContain('expiry_notice_deliveries_open');
    if (dialect === 'sqlite') expect(first).not.toContain('TEMP B-TREE');
    expectIndexRange(await plan(store.db, dialect, openDeliveriesQuery(store.db, staleBefore, { recipientKey: 'a@example.com', id: 7 }, 500)), dialect, 'expiry_notice_deliveries_open');
  });
});
