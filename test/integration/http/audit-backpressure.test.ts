/**
 * Request audit entries under pressure, on both stores (issue 12 item 3): a burst far larger than the
 * queue on a healthy database loses no entry (requests wait their turn instead), and with
 * LATCHKEY_AUDIT_REQUIRED=true requests are refused with GitLab's 503 while the audit table cannot be
 * written — health probes still answer — and served again once it can, with every entry kept.
 */
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { breakAuditTable } from '../../support/audit-table.js';
import { DIALECTS, POSTGRES_ADMIN_URL } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';

const requestEntries = (t: TestApp, userAgent: string) =>
  t.app.store.db.selectFrom('audit_events').select(['status']).where('event', '=', 'http.request').where('user_agent', '=', userAgent).orderBy('id').execute().then((r) => r.map((e) => Number(e.status)));

describe.each(DIALECTS)('audit backpressure on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  beforeAll(async () => {
    // The smallest queue the configuration allows, and no timed flush: only a full batch writes.
    t = await startTestApp(dialect, { env: { LATCHKEY_AUDIT_QUEUE_MAX: '100', LATCHKEY_AUDIT_FLUSH_MS: '60000', LATCHKEY_RATE_LIMIT_PER_MINUTE: '0' } });
    w = await seedWorld(t);
    await t.app.services.auditWriter.flush();
  });
  afterAll(() => t?.close());

  it('a burst of 1,500 requests from 64 clients against a queue of 100 on a healthy database: every entry written, none dropped', async () => {
    const { metrics } = t.app.services;
    const n = 1500;
    const admit = vi.spyOn(t.app.services.auditWriter, 'admit');
    // PostgreSQL: another session holds the chain head's row lock for the first second, so writes stall
    // as on a busy database and the queue fills for certain. (SQLite's lock cannot be held from this
    // thread without blocking it: there the burst runs at full speed.)
    let release: Promise<void> = Promise.resolve();
    if (dialect === 'postgres') {
      const { rows } = await sql<{ name: string }>`select current_database() as name`.execute(t.app.store.db);
      const url = new URL(POSTGRES_ADMIN_URL);
      url.pathname = `/${rows[0]!.name}`;
      const holder = new pg.Client({ connectionString: url.toString() });
      await holder.connect();
      await holder.query('begin');
      await holder.query('select * from audit_chain_head where id = 1 for update');
      release = new Promise<void>((resolve) => setTimeout(resolve, 1500)).then(async () => {
        await holder.query('commit');
        await holder.end();
      });
    }
    // 64 clients, each sending its next request as soon as the last one is answered.
    const results: number[] = [];
    let sent = 0;
    const client = async () => {
      while (sent < n) {
        sent++;
        results.push((await t.request('GET', '/api/v4/user', { token: w.users.developer.token, headers: { 'user-agent': 'burst' } })).status);
      }
    };
    await Promise.all([...Array.from({ length: 64 }, client), release]);
    expect(results).toHaveLength(n);
    expect(results.filter((s) => s !== 200)).toEqual([]);
    // The queue was full: requests did wait for their turn.
    if (dialect === 'postgres') expect(admit.mock.results.filter((r) => r.value instanceof Promise).length).toBeGreaterThan(0);
    admit.mockRestore();
    await t.app.services.auditWriter.flush();
    expect(await requestEntries(t, 'burst')).toHaveLength(n);
    expect(metrics.auditEvents.get({ outcome: 'dropped' })).toBe(0);
    expect((await t.app.services.audit.verify()).ok).toBe(true);
  });
});

describe.each(DIALECTS)('LATCHKEY_AUDIT_REQUIRED on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  beforeAll(async () => {
    t = await startTestApp(dialect, { env: { LATCHKEY_AUDIT_REQUIRED: 'true' } });
    w = await seedWorld(t);
  });
  afterAll(() => t?.close());

  it('refuses requests with 503 while the audit table cannot be written, and serves them again once it can, losing no entry', async () => {
    const writer = t.app.services.auditWriter;
    const get = () => t.request('GET', '/api/v4/user', { token: w.users.developer.token, headers: { 'user-agent': 'required' } });
    expect((await get()).status).toBe(200);
    const repair = await breakAuditTable(t);
    try {
      // Served: its entry is what finds out that writing fails (written at once, not on a timer).
      expect((await get()).status).toBe(200);
      await vi.waitFor(() => expect(writer.refusing).toBe(true), { timeout: 10_000 });
      const refused = await get();
      expect(refused.status).toBe(503);
      expect(refused.body).toEqual({ message: '503 Service Unavailable' });
      // A token change is refused too (nothing created), and the health probes still answer.
      const before = await t.app.store.db.selectFrom('tokens').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
      const create = await t.request('POST', `/api/v4/users/${w.users.developer.user.id}/personal_access_tokens`, { token: w.adminToken, body: { name: 'x', scopes: ['read_api'], expires_at: '2027-01-01' } });
      expect(create.status).toBe(503);
      expect(await t.app.store.db.selectFrom('tokens').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).toEqual(before);
      expect((await t.request('GET', '/-/health')).status).toBe(200);
    } finally {
      await repair();
    }
    await t.app.services.auditWriter.flush();
    expect(writer.refusing).toBe(false);
    expect((await get()).status).toBe(200);
    await t.app.services.auditWriter.flush();
    // Every request, refused ones included, is in the log.
    expect(await requestEntries(t, 'required')).toEqual([200, 200, 503, 200]);
    expect((await t.app.services.audit.verify()).ok).toBe(true);
  });

  it('without the option, the same failure does not refuse requests', async () => {
    const lax = await startTestApp(dialect);
    try {
      const world = await seedWorld(lax);
      const repair = await breakAuditTable(lax);
      try {
        expect((await lax.request('GET', '/api/v4/user', { token: world.users.developer.token })).status).toBe(200);
        await expect(lax.app.services.auditWriter.flush()).rejects.toThrow(/audit table unwritable/);
        expect(lax.app.services.auditWriter.refusing).toBe(false);
        expect((await lax.request('GET', '/api/v4/user', { token: world.users.developer.token })).status).toBe(200);
      } finally {
        await repair();
      }
    } finally {
      await lax.close();
    }
  });
});
