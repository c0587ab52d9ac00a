/**
 * Tamper detection on both stores: after a session is logged the chain verifies; an UPDATE by hand is
 * reported as an altered entry, a DELETE as missing ids (middle and tail), and an entry rewritten with
 * a recomputed hash as a broken link. Then several writers appending at once still build one dense,
 * intact chain: on PostgreSQL several nodes (separate pools on one database), serialised by the head
 * row's lock; on SQLite (one node) concurrent appends through the one connection. (Several SQLite
 * connections in one thread cannot wait for each other: better-sqlite3's busy wait blocks the thread.)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entryHash } from '../../../src/audit/audit-entry.js';
import { verifyChain } from '../../../src/audit/audit-chain.js';
import { createAuditStore } from '../../../src/audit/audit-store.js';
import { openStore, type DatabaseLocation } from '../../../src/store/open-store.js';
import { createTestDatabase, DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';

describe.each(DIALECTS)('audit chain tamper detection on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  const verify = () => t.app.services.audit.verify();

  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
    for (let i = 0; i < 5; i++) await t.request('GET', '/api/v4/user', { token: w.users.developer.token });
    await t.request('GET', '/api/v4/user', { token: 'glpat-not-a-real-token-000000000' });
    await t.app.services.auditWriter.flush();
  });
  afterAll(() => t?.close());

  it('an untouched log verifies', async () => {
    const report = await verify();
    expect(report).toMatchObject({ ok: true, altered: [], missing: [], brokenLinks: [] });
    expect(report.entries).toBeGreaterThan(10);
    expect(report.lastId).toBe(report.entries);
  });

  it('reports UPDATE, DELETE (middle and tail) and a rehashed rewrite, by entry id', async () => {
    const { db } = t.app.store;
    const { lastId } = await verify();
    await db.updateTable('audit_events').set({ status: 200 }).where('id', '=', 3).execute();
    await db.deleteFrom('audit_events').where('id', 'in', [5, 6]).execute();
    await db.deleteFrom('audit_events').where('id', '=', lastId).execute();
    // A careful forger recomputes the entry's own hash: the next entry still points at the old one.
    const row = await db.selectFrom('audit_events').selectAll().where('id', '=', 9).executeTakeFirstOrThrow();
    const forged = { ...row, actor_name: 'mallory' };
    await db.updateTable('audit_events').set({ actor_name: 'mallory', hash: entryHash(forged) }).where('id', '=', 9).execute();

    const report = await verify();
    expect(report).toMatchObject({ ok: false, altered: [3], missing: [{ from: 5, to: 6 }, { from: lastId, to: lastId }], brokenLinks: [10] });
  });
});

describe.each(DIALECTS)('concurrent appends from several nodes on %s', (dialect) => {
  let location: DatabaseLocation;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    if (dialect === 'postgres') {
      const db = await createTestDatabase('postgres');
      location = db.location;
      cleanup = db.drop;
    } else {
      const dir = await mkdtemp(join(tmpdir(), 'latchkey-audit-nodes-'));
      location = { kind: 'sqlite', file: join(dir, 'audit.db') };
      cleanup = () => rm(dir, { recursive: true, force: true });
    }
  });
  afterAll(() => cleanup?.());

  it('builds one dense chain', async () => {
    const stores = await Promise.all((dialect === 'postgres' ? [1, 2, 3] : [1]).map(() => openStore(location)));
    try {
      await stores[0]!.migrate();
      const nodes = [0, 1, 2].map((i) => createAuditStore(stores[i % stores.length]!.db));
      const row = (node: number, i: number) => ({
        created_at: new Date(Date.UTC(2026, 10, 23, 10, 0, i)).toISOString(), event: 'http.request', actor_type: null, actor_id: null, actor_name: `node-${node}`,
        token_id: null, token_hash: null, method: 'GET', route: '/', path: '/', status: 200, user_agent: null, ip: null, project_id: null, group_id: null, group_path: null, data: '{}',
      });
      await Promise.all(nodes.map((n, node) => Promise.all(Array.from({ length: 10 }, (_, i) => n.append([row(node, i), row(node, i + 100)])))));
      const head = await nodes[0]!.head();
      expect(head.lastId).toBe(60);
      const report = await verifyChain(nodes[1]!.walk(head.lastId), head);
      expect(report).toMatchObject({ ok: true, entries: 60, lastId: 60 });
      const perNode = await sql<{ n: number }>`select count(*) as n from audit_events group by actor_name`.execute(stores[0]!.db);
      expect(perNode.rows.map((r) => Number(r.n))).toEqual([20, 20, 20]);
    } finally {
      for (const s of stores) await s.close();
    }
  });
});
