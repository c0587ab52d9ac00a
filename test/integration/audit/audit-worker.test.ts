/**
 * Audit batches written by the worker thread (src/audit/audit-worker-appender.ts) on its own connection,
 * on a SQLite file and on PostgreSQL: entries come out enriched exactly as in-thread and chained; appends
 * of the outbox relay on the main connection interleave with them in one valid chain; a write that fails
 * (table unwritable, worker killed) keeps the batch queued and it is written, once, when writing works
 * again; close() writes everything queued and stops the thread. And the app's wiring: LATCHKEY_AUDIT_WORKER
 * on (the default) and off both write request entries, the worker's connection only when on.
 */
import type { Worker } from 'node:worker_threads';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyChain } from '../../../src/audit/audit-chain.js';
import { tokenHashOfDigest } from '../../../src/audit/audit-entry.js';
import { createAuditStore, type AuditStore } from '../../../src/audit/audit-store.js';
import { createWorkerAppender, spawnAuditWorker, type AuditWorkerData } from '../../../src/audit/audit-worker-appender.js';
import { createAuditWriter, type AuditRecord } from '../../../src/audit/audit-writer.js';
import { generateToken } from '../../../src/tokens/token-format.js';
import { cryptoTokenGenerator } from '../../../src/kernel/random.js';
import { breakAuditTable } from '../../support/audit-table.js';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';

/** Starts workers as the app does, keeping hold of each one. */
function spawner() {
  const started: { worker: Worker; exited: boolean }[] = [];
  const spawn = (data: AuditWorkerData) => {
    const entry = { worker: spawnAuditWorker(data), exited: false };
    entry.worker.on('exit', () => (entry.exited = true));
    started.push(entry);
    return entry.worker;
  };
  return { spawn, started };
}

describe.each(DIALECTS)('audit batches written by a worker thread on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let audit: AuditStore;
  let projectToken: { id: number; token: string };
  const request = (i: number, extra: Partial<AuditRecord> = {}): AuditRecord => ({ at: `2026-11-23T10:00:${String(i % 60).padStart(2, '0')}.000Z`, event: 'http.request', method: 'GET', route: '/api/v4/user', path: `/api/v4/user?n=${i}`, status: 200, ...extra });
  /** Entries after `id` but those of the app's own requests (inject's user agent), which its writer adds meanwhile. */
  const rowsAfter = async (id: number) => (await t.app.store.db.selectFrom('audit_events').selectAll().where('id', '>', id).orderBy('id').execute()).filter((r) => r.user_agent !== 'lightMyRequest');
  const lastId = async () => (await audit.head()).lastId;
  async function chainReport() {
    const head = await audit.head();
    return verifyChain(audit.walk(head.lastId), head);
  }

  beforeAll(async () => {
    // The app's own writer in-thread: only the writers these tests make use the worker.
    t = await startTestApp(dialect, { sqliteFile: true, env: { LATCHKEY_AUDIT_WORKER: 'off', LATCHKEY_RATE_LIMIT_PER_MINUTE: '0' } });
    w = await seedWorld(t);
    audit = createAuditStore(t.app.store.db);
    const created = await t.request('POST', `/api/v4/projects/${w.project.id}/access_tokens`, { token: w.users.owner.token, body: { name: 'ci', scopes: ['api'], access_level: 30, expires_at: '2027-01-01' } });
    expect(created.status).toBe(201);
    projectToken = { id: created.body.id, token: created.body.token };
  }, 60_000);
  afterAll(() => t?.close());

  it('writes entries enriched as in-thread (redaction, token hash, project and group, actor) in a valid chain', async () => {
    const { spawn, started } = spawner();
    const writer = createAuditWriter({ store: audit, appender: createWorkerAppender({ location: t.app.store.location, spawn }), maxQueue: 1000, flushMs: 0 });
    const pasted = generateToken('glpat-', cryptoTokenGenerator);
    const from = await lastId();
    writer.record(request(1, { tokenId: projectToken.id, path: `/api/v4/projects/${pasted}`, userAgent: `curl/8 ${pasted}`, ip: '10.0.0.7' }));
    writer.record({ at: '2026-11-23T10:00:02.000Z', event: 'token.revoked', tokenId: projectToken.id, actorUsername: 'developer-user', data: { by: 'developer-user' } });
    await writer.flush();
    expect(writer.pending).toBe(0);
    expect(started).toHaveLength(1);

    const digest = (await t.app.store.db.selectFrom('tokens').select('digest').where('id', '=', projectToken.id).executeTakeFirstOrThrow()).digest;
    const sub = await t.app.store.db.selectFrom('groups').select('traversal_path').where('id', '=', w.sub.id).executeTakeFirstOrThrow();
    const rows = await rowsAfter(from);
    expect(rows).toMatchObject([
      {
        event: 'http.request', token_id: projectToken.id, token_hash: tokenHashOfDigest(digest), project_id: w.project.id, group_path: sub.traversal_path,
        path: '/api/v4/projects/[REDACTED]', user_agent: 'curl/8 [REDACTED]', ip: '10.0.0.7', status: 200, actor_type: null,
      },
      { event: 'token.revoked', actor_type: 'user', actor_id: w.users.developer.user.id, actor_name: 'developer-user', data: '{"by":"developer-user"}' },
    ]);
    expect(JSON.stringify(rows)).not.toContain(pasted);
    const report = await chainReport();
    expect(report.ok).toBe(true);
    expect(report.lastId).toBeGreaterThanOrEqual(from + 2);

    await writer.close();
    expect(started[0]!.exited).toBe(true);
  });

  it('worker appends interleaved with the relay appending token events on the main connection keep one valid chain', async () => {
    const writer = createAuditWriter({ store: audit, appender: createWorkerAppender({ location: t.app.store.location }), maxQueue: 10_000, flushMs: 0 });
    const from = await lastId();
    const created: number[] = [];
    for (let round = 0; round < 6; round++) {
      for (let i = 0; i < 200; i++) writer.record(request(round * 1000 + i));
      // The worker writes this round's entries while token creations relay their events on the main connection.
      const [, ...answers] = await Promise.all([
        writer.flush(),
        ...[0, 1].map((k) => t.request('POST', `/api/v4/users/${w.users.developer.user.id}/personal_access_tokens`, { token: w.adminToken, body: { name: `race-${round}-${k}`, scopes: ['read_api'], expires_at: '2027-01-01' } })),
      ]);
      for (const a of answers) {
        expect(a!.status).toBe(201);
        created.push(a!.body.id);
      }
    }
    await writer.close();
    const rows = await rowsAfter(from);
    expect(rows.filter((r) => r.event === 'http.request' && r.route === '/api/v4/user' && r.path?.startsWith('/api/v4/user?n='))).toHaveLength(1200);
    expect(rows.filter((r) => r.event === 'token.created').map((r) => r.token_id).sort((a, b) => a! - b!)).toEqual([...created].sort((a, b) => a - b));
    const report = await chainReport();
    expect(report).toMatchObject({ ok: true, altered: [], missing: [], brokenLinks: [] });
    expect(report.lastId).toBeGreaterThanOrEqual(from + 1200 + created.length);
  }, 60_000);

  it('a write the database refuses keeps the batch queued; it is written once when the table accepts writes again', async () => {
    const errors: string[] = [];
    const writer = createAuditWriter({ store: audit, appender: createWorkerAppender({ location: t.app.store.location }), maxQueue: 1000, flushMs: 0, onError: (e) => errors.push((e as Error).message) });
    const from = await lastId();
    const repair = await breakAuditTable(t);
    try {
      for (let i = 0; i < 5; i++) writer.record(request(i, { route: '/refused' }));
      await expect(writer.flush()).rejects.toThrow(/audit table unwritable/);
      expect(writer.pending).toBe(5);
      expect(errors[0]).toMatch(/audit log cannot be written \(.*audit table unwritable.*\): 5 entries waiting/);
      expect(await rowsAfter(from)).toEqual([]);
    } finally {
      await repair();
    }
    await writer.flush();
    expect(writer.pending).toBe(0);
    expect(errors.at(-1)).toBe('audit log written again');
    expect((await rowsAfter(from)).map((r) => r.route)).toEqual(Array(5).fill('/refused'));
    expect(await chainReport()).toMatchObject({ ok: true });
    await writer.close();
  });

  it('a killed worker fails the batch, which stays queued; a new worker is started (not at once) and writes it once', async () => {
    const { spawn, started } = spawner();
    let clock = 1_000_000;
    const writer = createAuditWriter({ store: audit, appender: createWorkerAppender({ location: t.app.store.location, spawn, restartMs: 1000, now: () => clock }), maxQueue: 1000, flushMs: 0 });
    const from = await lastId();
    writer.record(request(1, { route: '/before-kill' }));
    await writer.flush();
    await started[0]!.worker.terminate();

    for (let i = 0; i < 3; i++) writer.record(request(i, { route: '/after-kill' }));
    await expect(writer.flush()).rejects.toThrow(/audit worker exited/);
    expect(writer.pending).toBe(3);
    // Within restartMs of the death no new worker is started: the attempt fails with the reason.
    clock += 500;
    await expect(writer.flush()).rejects.toThrow(/audit worker exited .*restarting in 500 ms/);
    expect(started).toHaveLength(1);
    clock += 500;
    await writer.flush();
    expect(started).toHaveLength(2);
    expect(writer.pending).toBe(0);
    expect((await rowsAfter(from)).map((r) => r.route)).toEqual(['/before-kill', '/after-kill', '/after-kill', '/after-kill']);
    expect(await chainReport()).toMatchObject({ ok: true });
    await writer.close();
    expect(started[1]!.exited).toBe(true);
  });

  it('close() writes every queued entry, more than one batch, then stops the worker', async () => {
    const { spawn, started } = spawner();
    const writer = createAuditWriter({ store: audit, appender: createWorkerAppender({ location: t.app.store.location, spawn }), maxQueue: 10_000, flushMs: 60_000 });
    const from = await lastId();
    for (let i = 0; i < 1234; i++) writer.record(request(i, { route: '/on-close' }));
    await writer.close();
    expect(writer.pending).toBe(0);
    expect((await rowsAfter(from)).filter((r) => r.route === '/on-close')).toHaveLength(1234);
    expect(started.every((s) => s.exited)).toBe(true);
    expect(await chainReport()).toMatchObject({ ok: true });
    // Closed: nothing more goes to a worker.
    writer.record(request(0));
    await expect(writer.flush()).rejects.toThrow(/audit writer closed/);
  });
});

describe.each(DIALECTS)('the app on %s (a SQLite file, not memory) with LATCHKEY_AUDIT_WORKER on and off', (dialect) => {
  for (const worker of ['on', 'off'] as const) {
    it(`${worker}: request entries are written, enriched, in a valid chain; on PostgreSQL the worker's own connection is there only when on`, async () => {
      const t = await startTestApp(dialect, { sqliteFile: true, env: { LATCHKEY_AUDIT_WORKER: worker, LATCHKEY_AUDIT_FLUSH_MS: '60000' } });
      try {
        const w = await seedWorld(t);
        const me = await t.request('GET', '/api/v4/user', { token: w.users.developer.token, headers: { 'user-agent': `wiring-${worker}` } });
        expect(me.status).toBe(200);
        await t.app.services.auditWriter.flush();
        const entry = await t.app.store.db.selectFrom('audit_events').selectAll().where('user_agent', '=', `wiring-${worker}`).executeTakeFirstOrThrow();
        expect(entry).toMatchObject({ event: 'http.request', route: '/api/v4/user', status: 200, actor_name: 'developer-user', token_hash: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) });
        const audit = createAuditStore(t.app.store.db);
        const head = await audit.head();
        expect(await verifyChain(audit.walk(head.lastId), head)).toMatchObject({ ok: true });
        if (dialect === 'postgres') {
          // The worker's own connection, by its name; none when the batches are written in-thread.
          const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = 'latchkey-audit'`.execute(t.app.store.db);
          expect(rows[0]!.n).toBe(worker === 'on' ? 1 : 0);
        }
      } finally {
        await t.close();
      }
    }, 60_000);
  }
});
