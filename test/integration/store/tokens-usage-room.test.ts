/**
 * PostgreSQL's tokens table after migration 2026-12-04T0600 (issue 13, item 3): a usage write — the
 * tracker's batched compare-and-set, store.saveUsages — to a token on a page that inserts have filled stays
 * on that page (a HOT update: no new entry in any index, the list indexes included), and the table is
 * vacuumed after 1 % of its rows change, not a fifth, so that the list's index-only scans find its pages
 * all-visible again. The HOT test also fails if an index comes to cover a usage column. SQLite has nothing
 * of the kind (the migration does nothing there).
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresTraits } from '../../../src/store/dialects.js';
import { createTokensUsageRoom } from '../../../src/store/migrations/2026-12-04T0600-tokens-usage-room.js';
import { openStore, type Store } from '../../../src/store/open-store.js';
import { createTokenUsageStore } from '../../../src/store/token-usage.js';
import { createTokenDigester } from '../../../src/tokens/token-digest.js';
import { mergeUsage } from '../../../src/tokens/token-usage.js';
import { createTestDatabase, DIALECTS } from '../../support/dialects.js';

const digester = createTokenDigester('c'.repeat(40));
const POLICY = { windowMs: 3_600_000, maxUserAgents: 0, maxIps: 0 };
const NOW = new Date('2026-12-04T06:00:00Z');
/** Enough rows (about 200 bytes each) to fill the table's first 8 kB page and start the next. */
const TOKENS = 80;

describe.each(DIALECTS.filter((d) => d === 'postgres'))('room for usage writes in the tokens table on %s', (dialect) => {
  let store: Store;
  let drop: () => Promise<void>;
  const pageOf = async (id: number) => Number((await sql<{ page: unknown }>`select (ctid::text::point)[0]::integer as page from tokens where id = ${id}`.execute(store.db)).rows[0]!.page);

  beforeAll(async () => {
    const db = await createTestDatabase(dialect);
    drop = db.drop;
    store = await openStore(db.location);
    await store.migrate();
    for (let i = 0; i < TOKENS; i++) {
      await store.tokens.insert({
        kind: 'deploy', name: `ci-${i}`, description: '', digest: digester.digest(`gldt-room-${i}`), userId: null, projectId: null, groupId: null,
        username: `gitlab+deploy-token-${i}`, scopes: ['read_repository'], accessLevel: null, expiresAt: null, createdBy: null, createdAt: NOW.toISOString(),
      });
    }
  });
  afterAll(async () => {
    await store?.close();
    await drop?.();
  });

  it('a usage write that grows a row on a page filled by inserts is a HOT update: the row stays on its page', async () => {
    const first = (await store.db.selectFrom('tokens').select('id').orderBy('id').executeTakeFirstOrThrow()).id;
    const last = (await store.db.selectFrom('tokens').select('id').orderBy('id', 'desc').executeTakeFirstOrThrow()).id;
    // The inserts went on to a second page: the first is as full as inserts make it.
    expect(await pageOf(first)).toBe(0);
    expect(await pageOf(last)).toBeGreaterThan(0);

    const at = NOW.getTime();
    const ips = new Map(['203.0.113.10', '203.0.113.11', '203.0.113.12', '203.0.113.13', '203.0.113.14'].map((ip) => [ip, at] as const));
    const userAgents = new Map(['gitlab-runner 17.6.0 (17-6-stable; go1.23.2; linux/amd64)', 'python-gitlab/5.1.0', 'curl/8.11.0'].map((ua) => [ua, at] as const));
    const { counts, grownBy, largest } = await store.db.transaction().execute(async (trx) => {
      const usage = createTokenUsageStore(trx);
      const sizes = await sql<{ before: number; largest: number }>`select (select pg_column_size(t.*) from tokens t where id = ${first}) as before, max(pg_column_size(t.*)) as largest from tokens t`.execute(trx);
      const { before, largest } = sizes.rows[0]!;
      const record = (await usage.findUsage(first))!;
      const saved = await usage.saveUsages([{ tokenId: first, revision: record.revision, merged: mergeUsage(record, { usedAt: at, ips, userAgents }, NOW, POLICY) }]);
      expect([...saved]).toEqual([first]);
      const after = (await sql<{ size: number }>`select pg_column_size(t.*) as size from tokens t where id = ${first}`.execute(trx)).rows[0]!.size;
      // This transaction's own counts: no other backend's statistics, no waiting for a flush.
      const stats = await sql<{ n_tup_upd: number; n_tup_hot_upd: number }>`select n_tup_upd::integer, n_tup_hot_upd::integer from pg_stat_xact_user_tables where relname = 'tokens'`.execute(trx);
      return { counts: stats.rows[0]!, grownBy: after - before, largest };
    });
    // Grown by more than the largest inserted row: the space a page packed full leaves (less than the row
    // that went on to the next page) could not take it; only room left on purpose can.
    expect(grownBy).toBeGreaterThan(largest);
    expect(counts).toEqual({ n_tup_upd: 1, n_tup_hot_upd: 1 });
    expect(await pageOf(first)).toBe(0);
  });

  it('the table is vacuumed after 1,000 rows plus 1 % change', async () => {
    const r = await sql<{ reloptions: string[] }>`select reloptions from pg_class where oid = 'tokens'::regclass`.execute(store.db);
    expect(r.rows[0]!.reloptions).toEqual(expect.arrayContaining(['autovacuum_vacuum_scale_factor=0.01', 'autovacuum_vacuum_threshold=1000']));
  });

  it('down takes the settings back to the defaults, up sets them again', async () => {
    const options = async () => (await sql<{ reloptions: string[] | null }>`select reloptions from pg_class where oid = 'tokens'::regclass`.execute(store.db)).rows[0]!.reloptions;
    const migration = createTokensUsageRoom(postgresTraits);
    await migration.down(store.db);
    expect(await options()).toBeNull();
    await migration.up(store.db);
    expect(await options()).toEqual(['fillfactor=90', 'autovacuum_vacuum_scale_factor=0.01', 'autovacuum_vacuum_threshold=1000']);
  });
});
