/**
 * When the database cannot serve (PostgreSQL unreachable; SQLite locked by another process beyond
 * its busy timeout), a request gets GitLab's 503 body instead of a 500, /-/readiness says so when
 * nothing can be read, and the next request after the database is back succeeds: nothing to restart.
 * (SQLite in WAL mode still serves reads while another process holds the write lock.)
 * @see issue 12 item 1 (and test/e2e/postgres-outage.test.ts for a real process under load)
 */
import SqliteDatabase from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../../src/app.js';
import { loadConfig } from '../../../src/config.js';
import { FakeClock } from '../../../src/kernel/clock.js';
import { openStore, type Store } from '../../../src/store/open-store.js';
import { createTestDatabase, DIALECTS } from '../../support/dialects.js';
import { seededTokenGenerator } from '../../support/seeded-token-generator.js';
import { TEST_SECRET } from '../../support/test-app.js';
import { startTcpProxy, type TcpProxy } from '../../support/tcp-proxy.js';

const UNAVAILABLE = { message: '503 Service Unavailable' };

/** How each store is made unable to serve, and able again. */
interface Outage {
  store: Store;
  /** Reads fail too (PostgreSQL unreachable), not only writes (SQLite locked). */
  readsFail: boolean;
  begin(): void;
  end(): void;
  close(): Promise<void>;
}

async function postgresOutage(): Promise<Outage> {
  const db = await createTestDatabase('postgres');
  const url = new URL(db.url);
  const proxy: TcpProxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
  url.host = `127.0.0.1:${proxy.port}`;
  const store = await openStore({ kind: 'postgres', url: url.toString() });
  return {
    store,
    readsFail: true,
    begin: () => proxy.cut(),
    end: () => proxy.restore(),
    async close() {
      await store.close();
      await proxy.close();
      await db.drop();
    },
  };
}

async function sqliteOutage(): Promise<Outage> {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-locked-'));
  const file = join(dir, 'latchkey.sqlite');
  const store = await openStore({ kind: 'sqlite', file });
  // Another process's connection holding the database's exclusive lock (a long write, a backup tool).
  const other = new SqliteDatabase(file);
  other.pragma('busy_timeout = 0');
  return {
    store,
    readsFail: false,
    begin: () => other.exec('begin exclusive'),
    end: () => other.exec('rollback'),
    async close() {
      other.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe.each(DIALECTS)('the database unable to serve, on %s', (dialect) => {
  let outage: Outage;
  let app: App;
  let adminToken: string;
  beforeAll(async () => {
    outage = dialect === 'postgres' ? await postgresOutage() : await sqliteOutage();
    const config = loadConfig({ LATCHKEY_SECRET: TEST_SECRET, LATCHKEY_LOG_LEVEL: 'silent', LATCHKEY_DATA_DIR: '/nonexistent-latchkey-test', LATCHKEY_VERIFY_CACHE_MS: '0' });
    app = await buildApp(config, { clock: new FakeClock('2026-11-23T10:00:00.000Z'), store: outage.store, random: seededTokenGenerator(`unavailable-${dialect}`) });
    await app.http.ready();
    const { admin } = await app.services.namespaces.ensureFirstAdmin('root', 'root@example.com');
    adminToken = (await app.services.personalTokens.createFor(admin, { name: 'admin', scopes: ['api'], expiresAt: '2027-06-01' }, null)).secret;
  });
  afterAll(async () => {
    await app?.close();
    await outage?.close();
  });

  const inject = async (method: 'GET' | 'POST', url: string, body?: unknown) => {
    const res = await app.http.inject({ method, url, headers: { 'private-token': adminToken, ...(body ? { 'content-type': 'application/json' } : {}) }, payload: body ? JSON.stringify(body) : undefined });
    return { status: res.statusCode, body: res.json() };
  };
  const create = (name: string) => inject('POST', '/api/v4/users/1/personal_access_tokens', { name, scopes: ['read_api'], expires_at: '2027-01-01' });

  it('answers 503 with GitLab’s body, reports it on /-/readiness, and serves again once the database is back', async () => {
    expect((await create('before')).status).toBe(201);
    outage.begin();
    try {
      expect(await create('during')).toEqual({ status: 503, body: UNAVAILABLE });
      if (outage.readsFail) {
        // Authentication itself needs the database (cache off): the same answer, not a 401.
        expect(await inject('GET', '/api/v4/user')).toEqual({ status: 503, body: UNAVAILABLE });
        expect(await inject('GET', '/-/readiness')).toEqual({ status: 503, body: { status: 'failed', checks: { database: 'failed' } } });
      } else {
        expect((await inject('GET', '/api/v4/user')).status).toBe(200);
      }
      expect((await inject('GET', '/-/health')).status).toBe(200);
    } finally {
      outage.end();
    }
    expect(await inject('GET', '/-/readiness')).toEqual({ status: 200, body: { status: 'ok', checks: { database: 'ok' } } });
    expect((await create('after')).status).toBe(201);
    const names = (await inject('GET', '/api/v4/personal_access_tokens?per_page=100')).body.map((t: { name: string }) => t.name);
    expect(names).toEqual(expect.arrayContaining(['before', 'after']));
    expect(names).not.toContain('during');
  }, 60_000);
});
