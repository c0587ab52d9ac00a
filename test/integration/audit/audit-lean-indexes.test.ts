/**
 * The audit log's indexes after migration 2026-12-04T0500 (issue 13): `http.request` entries no longer
 * pay for an index on their token hash nor one on (token, event), and what those served still works and
 * still reads an index, on both stores:
 * - a query by token hash finds the token ids in audit_token_hashes and reads the entries on the token
 *   id index, newest first without a sort; entries written under another hash of the same token (its
 *   digest moved to a new server secret) are not mixed in;
 * - `audit verify`'s look-up of a token event reads the partial (token_id, event) index, which holds no
 *   `http.request` entry;
 * - the migration carries the pairs of entries written before it;
 * - rows go in as given, whatever their number and content (PostgreSQL inserts one array per column).
 */
import { CompiledQuery, sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenHashOfDigest, type UnchainedRow } from '../../../src/audit/audit-entry.js';
import { verifyChain } from '../../../src/audit/audit-chain.js';
import { createAuditStore, entriesQuery, tokenEventEntry, type AuditStore } from '../../../src/audit/audit-store.js';
import type { Database } from '../../../src/store/database.js';
import { postgresTraits, sqliteTraits } from '../../../src/store/dialects.js';
import { createAuditLeanIndexes } from '../../../src/store/migrations/2026-12-04T0500-audit-lean-indexes.js';
import { openStore, type Store } from '../../../src/store/open-store.js';
import { createTestDatabase, DIALECTS } from '../../support/dialects.js';

async function plan(db: Kysely<Database>, dialect: string, query: { compile(): CompiledQuery }): Promise<string> {
  const { sql: text, parameters } = query.compile();
  if (dialect === 'sqlite') {
    const rows = await db.executeQuery<{ detail: string }>(CompiledQuery.raw(`explain query plan ${text}`, [...parameters]));
    return rows.rows.map((r) => r.detail).join('\n');
  }
  return db.transaction().execute(async (trx) => {
    // The tables are tiny here: sequential and bitmap scans (then a sort) are priced out, as a token with
    // a long history prices them out at scale; a missing (token_id, id) index then shows as a Sort.
    await trx.executeQuery(CompiledQuery.raw('set local enable_seqscan = off'));
    await trx.executeQuery(CompiledQuery.raw('set local enable_bitmapscan = off'));
    const rows = await trx.executeQuery<{ 'QUERY PLAN': string }>(CompiledQuery.raw(`explain ${text}`, [...parameters]));
    return rows.rows.map((r) => r['QUERY PLAN']).join('\n');
  });
}

const at = '2026-12-04T05:00:00.000Z';
const hashOf = (tokenId: number, key = 'k1') => tokenHashOfDigest(`${key}-digest-of-${tokenId}`);

function entry(tokenId: number | null, event = 'http.request', key = 'k1'): UnchainedRow {
  return {
    created_at: at, event, actor_type: 'user', actor_id: 1, actor_name: 'u', token_id: tokenId, token_hash: tokenId === null ? null : hashOf(tokenId, key),
    method: 'GET', route: '/api/v4/user', path: '/api/v4/user', status: 200, user_agent: 'ua', ip: '127.0.0.1', project_id: null, group_id: null, group_path: null, data: '{}',
  };
}

describe.each(DIALECTS)('audit log indexes on %s', (dialect) => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let store: Store;
  let audit: AuditStore;

  beforeAll(async () => {
    db = await createTestDatabase(dialect);
    store = await openStore(db.location);
    await store.migrate();
    audit = createAuditStore(store.db);
    // 20 tokens, 100 requests each, in batches (pairs repeat across batches), and a token.created each.
    for (let batch = 0; batch < 10; batch++) await audit.append(Array.from({ length: 200 }, (_, i) => entry(1 + (i % 20))));
    await audit.append(Array.from({ length: 20 }, (_, i) => entry(1 + i, 'token.created')));
    // Token 7's digest moved to a new server secret: a second hash for the same token id.
    await audit.append([entry(7, 'http.request', 'k2'), entry(7, 'http.request', 'k2'), entry(null)]);
    // A rarely used token among the busy ones, as nearly every token is among 10,000.
    await audit.append([entry(500), entry(500), entry(500)]);
    await sql.raw(dialect === 'postgres' ? 'vacuum analyze' : 'analyze').execute(store.db);
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it('keeps each (token hash, token id) pair once, however many entries and batches carry it', async () => {
    const pairs = await store.db.selectFrom('audit_token_hashes').selectAll().orderBy('token_id').orderBy('token_hash').execute();
    expect(pairs).toHaveLength(22);
    expect(pairs.filter((p) => Number(p.token_id) === 7).map((p) => p.token_hash).sort()).toEqual([hashOf(7), hashOf(7, 'k2')].sort());
  });

  it('a query by token hash returns exactly the entries that show it, newest first, pages by id', async () => {
    const all = await audit.query({ tokenHash: hashOf(7) }, 1000);
    expect(all).toHaveLength(101);
    expect(all.every((e) => e.token_hash === hashOf(7) && Number(e.token_id) === 7)).toBe(true);
    expect(all.map((e) => Number(e.id))).toEqual([...all.map((e) => Number(e.id))].sort((a, b) => b - a));
    const moved = await audit.query({ tokenHash: hashOf(7, 'k2') }, 1000);
    expect(moved).toHaveLength(2);
    const page2 = await audit.query({ tokenHash: hashOf(7), beforeId: Number(all[9]!.id) }, 10);
    expect(page2.map((e) => e.id)).toEqual(all.slice(10, 20).map((e) => e.id));
    expect(await audit.query({ tokenHash: hashOf(7), event: 'token.created' }, 10)).toHaveLength(1);
    expect(await audit.query({ tokenHash: hashOf(999) }, 10)).toEqual([]);
  });

  it('reads entries by token hash on the token id index, without a sort', async () => {
    const text = await plan(store.db, dialect, entriesQuery(store.db, { tokenHash: hashOf(500) }, [500]).limit(20));
    if (dialect === 'sqlite') {
      expect(text).toContain('USING INDEX audit_events_token_id (token_id=?)');
      expect(text).not.toContain('TEMP B-TREE');
    } else {
      expect(text).toContain('audit_events_token_id');
      expect(text).not.toMatch(/\bSort\b/);
    }
  });

  it("audit verify's token event look-up reads the partial index, which holds no http.request entry", async () => {
    const query = store.db.selectFrom('tokens').select('tokens.id').where(({ not, exists }) => not(exists(tokenEventEntry(store.db, 'tokens.id', 'token.created'))));
    const text = await plan(store.db, dialect, query);
    expect(text).toContain('audit_events_token_event');
    const [{ n }] = (await sql<{ n: number }>`select count(*) as n from audit_events where event <> 'http.request'`.execute(store.db)).rows as [{ n: number }];
    expect(Number(n)).toBe(20);
    const definition =
      dialect === 'sqlite'
        ? ((await sql<{ sql: string }>`select sql from sqlite_master where name = 'audit_events_token_event'`.execute(store.db)).rows[0]?.sql ?? '')
        : ((await sql<{ indexdef: string }>`select indexdef from pg_indexes where indexname = 'audit_events_token_event'`.execute(store.db)).rows[0]?.indexdef ?? '');
    expect(definition).toMatch(/where \(?\(?event\)?(::text)? <> 'http\.request'/i);
    for (const gone of ['audit_events_token_hash']) {
      const rows = dialect === 'sqlite' ? (await sql`select name from sqlite_master where name = ${gone}`.execute(store.db)).rows : (await sql`select indexname from pg_indexes where indexname = ${gone}`.execute(store.db)).rows;
      expect(rows, gone).toEqual([]);
    }
  });

  it("a group Owner's entries (group_path prefix): PostgreSQL reads one index for it; SQLite, whose LIKE no index on the column can serve, keeps none", async () => {
    // A small group among the busy tokens' entries, two levels deep.
    await audit.append(Array.from({ length: 6 }, (_, i) => ({ ...entry(800 + (i % 3)), group_path: i % 2 === 0 ? '/1/5/' : '/1/5/9/', project_id: 70 + (i % 3) })));
    await sql.raw(dialect === 'postgres' ? 'vacuum analyze' : 'analyze').execute(store.db);
    expect(await audit.query({ groupPath: '/1/5/' }, 100)).toHaveLength(6);
    expect(await audit.query({ groupPath: '/1/5/9/' }, 100)).toHaveLength(3);
    const text = await plan(store.db, dialect, entriesQuery(store.db, { groupPath: '/1/5/' }).limit(20));
    const indexes =
      dialect === 'postgres'
        ? (await sql<{ name: string }>`select indexname as name from pg_indexes where tablename = 'audit_events' and indexdef like '%group_path%'`.execute(store.db)).rows.map((r) => r.name)
        : (await sql<{ name: string }>`select name from sqlite_master where type = 'index' and tbl_name = 'audit_events' and sql like '%group_path%'`.execute(store.db)).rows.map((r) => r.name);
    if (dialect === 'postgres') {
      expect(text).toContain('audit_events_group_path_ops');
      expect(indexes).toEqual(['audit_events_group_path_ops']);
    } else {
      // SQLite's LIKE ignores case, so an index on a BINARY column never serves it: the one it had was written and never read.
      expect(text).not.toMatch(/group_path/);
      expect(indexes).toEqual([]);
    }
  });

  it('stores every field as given: nulls, quotes, backslashes, braces, commas, newlines, non-ASCII; 1,200 rows in one append', async () => {
    const nasty = ['a "quoted", {braced} \\ back\\slash', 'NULL', '', 'line\nbreak\ttab', 'ünïcødé ✓ 𝄞', "it's"];
    const rows = Array.from({ length: 1200 }, (_, i) => ({
      ...entry(i % 3 === 0 ? null : 900 + (i % 7)),
      user_agent: i % 5 === 0 ? null : nasty[i % nasty.length]!,
      path: `/api/v4/${nasty[(i + 1) % nasty.length]}`,
      data: JSON.stringify({ n: i, s: nasty[(i + 2) % nasty.length] }),
      status: i % 11 === 0 ? null : 200 + (i % 3),
      project_id: i % 2 === 0 ? null : i,
    }));
    const stored = await audit.append(rows);
    const back = await store.db.selectFrom('audit_events').selectAll().where('id', '>=', stored[0]!.id).where('id', '<=', stored.at(-1)!.id).orderBy('id').execute();
    expect(back).toHaveLength(1200);
    const fields = (r: any) => ({ ...r, id: Number(r.id), actor_id: r.actor_id === null ? null : Number(r.actor_id), token_id: r.token_id === null ? null : Number(r.token_id), status: r.status === null ? null : Number(r.status), project_id: r.project_id === null ? null : Number(r.project_id), group_id: r.group_id === null ? null : Number(r.group_id) });
    expect(back.map(fields)).toEqual(stored.map(fields));
    async function* all() {
      yield* await store.db.selectFrom('audit_events').selectAll().orderBy('id').execute();
    }
    const report = await verifyChain(all(), await audit.head());
    expect(report.ok).toBe(true);
  });

  it('a large batch lets waiting requests run between its inserts (SQLite), and nothing sees it half-written', async () => {
    const before = Number((await store.db.selectFrom('audit_events').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    let ranBetween = false;
    let seen: number | null = null;
    const appended = audit.append(Array.from({ length: 500 }, (_, i) => entry(950 + (i % 4))));
    // Scheduled after the append started: with the append's yields it runs before the append ends.
    setImmediate(() => {
      ranBetween = true;
      // A query meanwhile waits for the batch's transaction and sees it whole.
      void store.db.selectFrom('audit_events').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow().then((r) => (seen = Number(r.n)));
    });
    await appended;
    if (dialect === 'sqlite') expect(ranBetween).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(seen === null || seen === before || seen === before + 500).toBe(true);
    if (dialect === 'sqlite') expect(seen).toBe(before + 500);
  });

  it('the migration carries the pairs of entries written before it', async () => {
    const migration = createAuditLeanIndexes(dialect === 'sqlite' ? sqliteTraits : postgresTraits);
    await migration.down(store.db);
    const before = await store.db.selectFrom('audit_events').select(['token_id', 'token_hash']).distinct().where('token_hash', 'is not', null).execute();
    await migration.up(store.db);
    const after = await store.db.selectFrom('audit_token_hashes').select(['token_id', 'token_hash']).execute();
    const key = (r: { token_id: unknown; token_hash: unknown }) => `${Number(r.token_id)} ${String(r.token_hash)}`;
    expect(after.map(key).sort()).toEqual(before.map(key).sort());
    expect(await audit.query({ tokenHash: hashOf(3) }, 1000)).toHaveLength(101);
  });
});
