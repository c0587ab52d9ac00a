/**
 * Two nodes on one store: a token revoked on node A is refused by node B within 100 ms, although B
 * holds it in a verify cache that never expires here (frozen clock, 60 s cache) — only the broadcast
 * (PostgreSQL LISTEN/NOTIFY; Redis pub/sub for two processes on one SQLite file) can make B drop it.
 * The same holds for a user's change on A: blocked (B refuses their token), unblocked (B accepts it),
 * admin flag removed (B no longer treats them as admin).
 * A dropped listening connection is re-established, and B then drops everything cached, because an
 * id sent meanwhile was missed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../../src/app.js';
import { loadConfig } from '../../../src/config.js';
import { FakeClock } from '../../../src/kernel/clock.js';
import type { User } from '../../../src/namespaces/namespace.js';
import { openStore, type Store } from '../../../src/store/open-store.js';
import { createTestDatabase, DIALECTS, POSTGRES_ADMIN_URL, type DialectName } from '../../support/dialects.js';
import { REDIS_TEST_URL, requireRedis, uniqueRedisPrefix } from '../../support/redis.js';
import { seededTokenGenerator } from '../../support/seeded-token-generator.js';
import { TEST_SECRET } from '../../support/test-app.js';

const redisUsable = DIALECTS.includes('sqlite') ? requireRedis() : false;
const cases = DIALECTS.filter((d) => d === 'postgres' || redisUsable);

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Milliseconds until `condition` holds, polled as fast as the event loop allows; Infinity after 1 s. */
async function millisUntil(condition: () => Promise<boolean>): Promise<number> {
  const start = performance.now();
  while (performance.now() - start < 1000) {
    if (await condition()) return performance.now() - start;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return Infinity;
}

describe.each(cases)('revocation across two nodes (%s)', (dialect: DialectName) => {
  const nodes: { app: App; store: Store }[] = [];
  let cleanup: () => Promise<void> = async () => {};
  let admin: User;
  let adminToken: string;
  let A: App;
  let B: App;

  beforeAll(async () => {
    const env: Record<string, string> = { LATCHKEY_SECRET: TEST_SECRET, LATCHKEY_LOG_LEVEL: 'silent', LATCHKEY_DATA_DIR: '/nonexistent-latchkey-test', LATCHKEY_VERIFY_CACHE_MS: '60000' };
    let location;
    if (dialect === 'postgres') {
      const db = await createTestDatabase('postgres');
      location = db.location;
      cleanup = db.drop;
    } else {
      // Two processes on one host may share a SQLite file; Redis carries the revocations between them.
      const dir = mkdtempSync(join(tmpdir(), 'latchkey-two-nodes-'));
      location = { kind: 'sqlite' as const, file: join(dir, 'latchkey.sqlite') };
      env.REDIS_URL = REDIS_TEST_URL;
      env.LATCHKEY_REDIS_KEY_PREFIX = uniqueRedisPrefix('revocations');
      cleanup = async () => rmSync(dir, { recursive: true, force: true });
    }
    for (const name of ['a', 'b']) {
      const store = await openStore(location);
      // The clock never moves: a cached entry can only leave B's cache through the feed.
      const app = await buildApp(loadConfig(env), { store, clock: new FakeClock('2026-11-23T10:00:00.000Z'), random: seededTokenGenerator(`${dialect}-${name}-${Math.random()}`) });
      await app.http.ready();
      nodes.push({ app, store });
    }
    A = nodes[0]!.app;
    B = nodes[1]!.app;
    ({ admin } = await A.services.namespaces.ensureFirstAdmin('root', 'root@example.com'));
    adminToken = await issue('admin');
    await until(() => A.services.revocations.listening() && B.services.revocations.listening(), 'both nodes listen');
  }, 60_000);

  afterAll(async () => {
    for (const { app, store } of nodes) {
      await app.close();
      await store.close();
    }
    await cleanup();
  });

  async function issue(name: string): Promise<string> {
    return (await A.services.personalTokens.createFor(admin, { name, scopes: ['api'], expiresAt: '2027-06-01' }, null)).secret;
  }
  const tokenId = async (secret: string) => {
    const r = await A.services.verifier.verify(secret);
    if (!r.ok) throw new Error('token does not verify');
    return r.token.id;
  };
  const userOn = (node: App, token: string) => node.http.inject({ method: 'GET', url: '/api/v4/user', headers: { 'private-token': token } });

  it('B caches a verified token: a change B is not told about stays unseen', async () => {
    const secret = await issue('unannounced');
    expect((await userOn(B, secret)).statusCode).toBe(200);
    // Revoked behind every node's back (no feed): B keeps answering from its cache.
    await B.store.tokens.markRevoked(await tokenId(secret), new Date().toISOString());
    expect((await userOn(B, secret)).statusCode).toBe(200);
  });

  it('a token revoked through node A is refused by node B within 100 ms', async () => {
    for (let round = 0; round < 3; round++) {
      const secret = await issue(`revoked-${round}`);
      const id = await tokenId(secret);
      expect((await userOn(B, secret)).statusCode).toBe(200);
      expect((await B.services.verifier.verify(secret)).ok).toBe(true);

      const revoke = await A.http.inject({ method: 'DELETE', url: `/api/v4/personal_access_tokens/${id}`, headers: { 'private-token': adminToken } });
      expect(revoke.statusCode).toBe(204);
      expect(await millisUntil(async () => !(await B.services.verifier.verify(secret)).ok)).toBeLessThan(100);
      expect(await B.services.verifier.verify(secret)).toMatchObject({ ok: false, reason: 'revoked' });
      expect((await userOn(B, secret)).statusCode).toBe(401);
    }
  });

  describe('a user changed through node A', () => {
    let user: User;
    let secret: string;
    const asAdmin = (node: App, method: 'POST' | 'PUT', url: string, payload?: object) => node.http.inject({ method, url: `/api/v4${url}`, headers: { 'private-token': adminToken }, ...(payload ? { payload } : {}) });
    const verifiedOnB = () => B.services.verifier.verify(secret);

    beforeAll(async () => {
      user = await A.services.namespaces.createUser(admin, { username: `person-${Math.random().toString(36).slice(2, 8)}`, name: 'Person', email: `person-${Math.random().toString(36).slice(2, 8)}@example.com` });
      secret = (await A.services.personalTokens.createFor(user, { name: 'laptop', scopes: ['api'], expiresAt: '2027-06-01' }, null)).secret;
    });

    it('B caches the user with the token: a change B is not told about stays unseen', async () => {
      expect((await userOn(B, secret)).statusCode).toBe(200);
      await B.store.namespaces.setUserState(user.id, 'blocked');
      expect((await userOn(B, secret)).statusCode).toBe(200);
      await B.store.namespaces.setUserState(user.id, 'active');
    });

    it('blocked: B refuses their token within 100 ms; unblocked: B accepts it again within 100 ms', async () => {
      for (let round = 0; round < 2; round++) {
        expect((await userOn(B, secret)).statusCode).toBe(200);
        expect((await asAdmin(A, 'POST', `/users/${user.id}/block`)).statusCode).toBe(201);
        expect(await millisUntil(async () => !(await verifiedOnB()).ok)).toBeLessThan(100);
        expect(await verifiedOnB()).toMatchObject({ ok: false, reason: 'user_blocked' });
        expect((await userOn(B, secret)).statusCode).toBe(403);

        expect((await asAdmin(A, 'POST', `/users/${user.id}/unblock`)).statusCode).toBe(201);
        expect(await millisUntil(async () => (await verifiedOnB()).ok)).toBeLessThan(100);
        expect((await userOn(B, secret)).statusCode).toBe(200);
      }
    });

    it('made admin and then not: B sees each change of the admin flag within 100 ms', async () => {
      const adminOnB = async () => {
        const r = await verifiedOnB();
        return r.ok && r.user?.isAdmin === true;
      };
      const listUsersOnB = () => B.http.inject({ method: 'GET', url: '/api/v4/users', headers: { 'private-token': secret } });
      expect((await listUsersOnB()).statusCode).toBe(403);
      expect((await asAdmin(A, 'PUT', `/users/${user.id}`, { admin: true })).statusCode).toBe(200);
      expect(await millisUntil(adminOnB)).toBeLessThan(100);
      expect((await listUsersOnB()).statusCode).toBe(200);

      expect((await asAdmin(A, 'PUT', `/users/${user.id}`, { admin: false })).statusCode).toBe(200);
      expect(await millisUntil(async () => !(await adminOnB()))).toBeLessThan(100);
      expect((await listUsersOnB()).statusCode).toBe(403);
    });
  });

  it('after its listening connection drops, B listens again and drops what it cached (ids sent meanwhile were missed)', async () => {
    const missed = await issue('missed');
    expect((await userOn(B, missed)).statusCode).toBe(200);
    let resyncs = 0;
    const stop = B.services.revocations.onResync(() => resyncs++);

    // The id of this revocation never reaches B (it is not published), as if sent while B was cut off.
    await B.store.tokens.markRevoked(await tokenId(missed), new Date().toISOString());
    expect((await userOn(B, missed)).statusCode).toBe(200);
    await cutListeners(dialect, B);
    await until(() => resyncs > 0 && B.services.revocations.listening(), 'B listens again');
    stop();
    expect((await userOn(B, missed)).statusCode).toBe(401);

    // And the channel works again: a revoke on A reaches B at once.
    const later = await issue('after-reconnect');
    expect((await userOn(B, later)).statusCode).toBe(200);
    await until(() => A.services.revocations.listening(), 'A listens again');
    const revoke = await A.http.inject({ method: 'DELETE', url: `/api/v4/personal_access_tokens/${await tokenId(later)}`, headers: { 'private-token': adminToken } });
    expect(revoke.statusCode).toBe(204);
    await until(async () => !(await B.services.verifier.verify(later)).ok, 'B refuses the token', 100);
  });
});

/** Ends the nodes' listening connections from the server side (a failover, a restart, a proxy timeout). */
async function cutListeners(dialect: DialectName, node: App): Promise<void> {
  if (dialect === 'postgres') {
    const location = node.store.location;
    if (location.kind !== 'postgres') throw new Error('not a PostgreSQL store');
    const database = new URL(location.url).pathname.slice(1);
    const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
    await admin.connect();
    try {
      const r = await admin.query(`select pg_terminate_backend(pid) as done from pg_stat_activity where datname = $1 and application_name = 'latchkey-revocations'`, [database]);
      expect(r.rows.length).toBeGreaterThan(0);
    } finally {
      await admin.end();
    }
    return;
  }
  const redis = new Redis(REDIS_TEST_URL);
  try {
    const clients = String(await redis.call('CLIENT', 'LIST', 'TYPE', 'pubsub'));
    const ids = clients
      .split('\n')
      .filter((line) => / name=latchkey-revocations /.test(line))
      .map((line) => /id=(\d+)/.exec(line)?.[1])
      .filter((id): id is string => id !== undefined);
    expect(ids.length).toBeGreaterThan(0);
    for (const id of ids) await redis.call('CLIENT', 'KILL', 'ID', id);
  } finally {
    redis.disconnect();
  }
}
