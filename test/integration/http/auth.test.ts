/**
 * REST API authentication as GitLab's doc/api/rest/authentication.md and lib/api/api_guard.rb define
 * it: where a token may be put, the 401/403 bodies for missing, unknown, revoked and expired tokens,
 * scope checks, deploy tokens refused on the general API, blocked users — and that a secret never
 * reaches the log. Also the endpoints that answer without credentials.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../../src/app.js';
import { loadConfig } from '../../../src/config.js';
import { FakeClock } from '../../../src/kernel/clock.js';
import type { User } from '../../../src/namespaces/namespace.js';
import { openStore, type Store } from '../../../src/store/open-store.js';
import { generateToken } from '../../../src/tokens/token-format.js';
import { createTestDatabase, DIALECTS, type DialectName } from '../../support/dialects.js';
import { seededTokenGenerator } from '../../support/seeded-token-generator.js';
import { seedWorld, startTestApp, TEST_SECRET, type TestApp, type World } from '../../support/test-app.js';

const NOW = '2026-11-23T10:00:00.000Z';
const UNAUTHORIZED = { message: '401 Unauthorized' };
const INSUFFICIENT_SCOPE = { error: 'insufficient_scope', error_description: 'The request requires higher privileges than provided by the access token.' };

describe.each(DIALECTS)('API authentication on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
  });
  afterAll(() => t?.close());

  const tokenFor = async (user: User, scopes: string[], expiresAt = '2027-06-01') =>
    t.app.services.personalTokens.createFor(user, { name: `t-${scopes.join('-')}`, scopes, expiresAt }, null);
  const groupCount = async () => Number((await t.app.store.db.selectFrom('groups').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

  describe('where the token may be put', () => {
    it.each([
      ['PRIVATE-TOKEN header', (s: string) => ({ url: '/api/v4/user', headers: { 'private-token': s } })],
      ['Authorization: Bearer header', (s: string) => ({ url: '/api/v4/user', headers: { authorization: `Bearer ${s}` } })],
      ['private_token query parameter', (s: string) => ({ url: `/api/v4/user?private_token=${encodeURIComponent(s)}`, headers: {} })],
      ['access_token query parameter', (s: string) => ({ url: `/api/v4/user?access_token=${encodeURIComponent(s)}`, headers: {} })],
    ])('authenticates with the %s', async (_how, place) => {
      const { url, headers } = place(w.users.developer.token);
      const res = await t.request('GET', url, { headers });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: w.users.developer.user.id, username: 'developer-user' });
    });

    it('authenticates writes with the private_token query parameter too', async () => {
      const res = await t.request('POST', `/api/v4/groups?private_token=${w.users.outsider.token}`, { body: { name: 'Query Co', path: 'query-co' } });
      expect(res.status).toBe(201);
    });
  });

  describe('refusals', () => {
    it('answers 401 {"message":"401 Unauthorized"} without credentials, on reads and writes', async () => {
      const before = await groupCount();
      for (const [method, url] of [
        ['GET', '/api/v4/user'],
        ['GET', `/api/v4/projects/${w.project.id}/members`],
        ['POST', '/api/v4/groups'],
        ['POST', '/api/v4/users'],
      ] as const) {
        const res = await t.request(method, url, method === 'POST' ? { body: { name: 'x', path: 'no-credentials' } } : {});
        expect(res.status, `${method} ${url}`).toBe(401);
        expect(res.body).toEqual(UNAUTHORIZED);
      }
      expect(await groupCount()).toBe(before);
    });

    it('the project and group reads GitLab answers without a token show only public ones: a private project is 404, lists are empty', async () => {
      // test/integration/http/visibility.test.ts covers public and internal resources.
      expect(await t.request('GET', `/api/v4/projects/${w.project.id}`)).toMatchObject({ status: 404, body: { message: '404 Project Not Found' } });
      expect(await t.request('GET', `/api/v4/groups/${w.top.id}`)).toMatchObject({ status: 404, body: { message: '404 Group Not Found' } });
      expect(await t.request('GET', '/api/v4/groups')).toMatchObject({ status: 200, body: [] });
      expect(await t.request('GET', '/api/v4/projects')).toMatchObject({ status: 200, body: [] });
    });

    it('treats an empty PRIVATE-TOKEN header or query parameter as no credentials', async () => {
      expect((await t.request('GET', '/api/v4/user', { headers: { 'private-token': '' } })).body).toEqual(UNAUTHORIZED);
      expect((await t.request('GET', '/api/v4/user?private_token=')).body).toEqual(UNAUTHORIZED);
    });

    it('answers 401 for an unknown token of the right shape, a bad checksum, garbage and an oversized value', async () => {
      const unknown = generateToken('glpat-', seededTokenGenerator('never-issued'));
      const real = w.users.developer.token;
      const badChecksum = real.slice(0, -1) + (real.endsWith('A') ? 'B' : 'A');
      for (const secret of [unknown, badChecksum, 'glpat-', 'not a token at all', 'x'.repeat(5000)]) {
        for (const headers of [{ 'private-token': secret }, { authorization: `Bearer ${secret}` }] as Record<string, string>[]) {
          const res = await t.request('GET', '/api/v4/user', { headers });
          expect(res.status).toBe(401);
          expect(res.body).toEqual(UNAUTHORIZED);
        }
      }
    });

    it('answers 401 invalid_token "Token was revoked" for a revoked token, at once', async () => {
      const { token, secret } = await tokenFor(w.users.reporter.user, ['api']);
      expect((await t.request('GET', '/api/v4/user', { token: secret })).status).toBe(200);
      await t.app.store.tokens.markRevoked(token.id, NOW);
      t.app.services.verifier.invalidate(token.id); // what every revoking service does
      const res = await t.request('GET', '/api/v4/user', { token: secret });
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: 'invalid_token', error_description: 'Token was revoked. You have to re-authorize from the user.' });
    });

    it('stops a token at 00:00 UTC of its expires_at date with 401 invalid_token "Token is expired"', async () => {
      const { secret } = await tokenFor(w.users.guest.user, ['api'], '2027-06-01');
      try {
        t.clock.set('2027-05-31T23:59:59.999Z');
        expect((await t.request('GET', '/api/v4/user', { token: secret })).status).toBe(200);
        t.clock.set('2027-06-01T00:00:00.000Z');
        const res = await t.request('GET', '/api/v4/user', { token: secret });
        expect(res.status).toBe(401);
        expect(res.body).toEqual({ error: 'invalid_token', error_description: 'Token is expired. You can either do re-authorization or token refresh.' });
        // The same on a write, and nothing is written.
        const before = await groupCount();
        const write = await t.request('POST', '/api/v4/groups', { token: secret, body: { name: 'Late', path: 'late' } });
        expect(write.status).toBe(401);
        expect(await groupCount()).toBe(before);
      } finally {
        t.clock.set(NOW);
      }
    });

    it('lets a read_api token read but answers 403 insufficient_scope (scope "api") to every write', async () => {
      const { secret } = await tokenFor(w.admin, ['read_api']);
      expect((await t.request('GET', '/api/v4/user', { token: secret })).status).toBe(200);
      expect((await t.request('GET', '/api/v4/groups', { token: secret })).status).toBe(200);
      expect((await t.request('GET', `/api/v4/projects/${w.project.id}/members`, { token: secret })).status).toBe(200);
      const before = await groupCount();
      for (const [url, body] of [
        ['/api/v4/groups', { name: 'Read only', path: 'read-only' }],
        ['/api/v4/projects', { name: 'ro', namespace_id: w.sub.id }],
        ['/api/v4/users', { username: 'ro', name: 'ro', email: 'ro@example.com' }],
        [`/api/v4/groups/${w.sub.id}/members`, { user_id: w.users.outsider.user.id, access_level: 10 }],
      ] as const) {
        const res = await t.request('POST', url, { token: secret, body });
        expect(res.status, url).toBe(403);
        expect(res.body).toEqual({ ...INSUFFICIENT_SCOPE, scope: 'api' });
      }
      expect(await groupCount()).toBe(before);
      const members = await t.request('GET', `/api/v4/groups/${w.sub.id}/members?per_page=100`, { token: w.adminToken });
      expect(members.body.map((m: { id: number }) => m.id)).not.toContain(w.users.outsider.user.id);
    });

    it('lets a read_user token read only the user endpoints', async () => {
      const { secret } = await tokenFor(w.users.maintainer.user, ['read_user']);
      expect((await t.request('GET', '/api/v4/user', { token: secret })).status).toBe(200);
      expect((await t.request('GET', `/api/v4/users/${w.users.owner.user.id}`, { token: secret })).status).toBe(200);
      const groups = await t.request('GET', '/api/v4/groups', { token: secret });
      expect(groups.status).toBe(403);
      expect(groups.body).toMatchObject(INSUFFICIENT_SCOPE);
      expect(groups.body.scope).toContain('read_api');
    });

    it('refuses a token without any API scope with 403 insufficient_scope', async () => {
      const { secret } = await tokenFor(w.users.maintainer.user, ['read_repository', 'write_registry']);
      const res = await t.request('GET', '/api/v4/user', { token: secret });
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject(INSUFFICIENT_SCOPE);
    });

    it('refuses a deploy token on the general API with 401, however it is presented', async () => {
      const { token, secret } = await t.app.services.deployTokens.create(w.admin, { type: 'project', project: w.project }, { name: 'pull', scopes: ['read_repository', 'read_registry'] });
      const basic = Buffer.from(`${token.username}:${secret}`).toString('base64');
      for (const headers of [{ 'private-token': secret }, { authorization: `Bearer ${secret}` }, { authorization: `Basic ${basic}` }, { 'deploy-token': secret }] as Record<string, string>[]) {
        for (const url of ['/api/v4/user', `/api/v4/projects/${w.project.id}`]) {
          const res = await t.request('GET', url, { headers });
          expect(res.status).toBe(401);
          expect(res.body).toEqual(UNAUTHORIZED);
        }
      }
      const query = await t.request('GET', `/api/v4/projects/${w.project.id}?private_token=${secret}`);
      expect(query.status).toBe(401);
    });

    it('refuses a blocked user\'s token with GitLab\'s 403 "Your account has been blocked."', async () => {
      const created = await t.request('POST', '/api/v4/users', { token: w.adminToken, body: { username: 'to-block', name: 'To Block', email: 'to-block@example.com' } });
      const user = await t.app.services.namespaces.findUser(w.admin, created.body.id);
      const { token, secret } = await tokenFor(user, ['api']);
      expect((await t.request('GET', '/api/v4/user', { token: secret })).status).toBe(200);
      await t.app.store.db.updateTable('users').set({ state: 'blocked' }).where('id', '=', user.id).execute();
      t.app.services.verifier.invalidate(token.id);
      const res = await t.request('GET', '/api/v4/user', { token: secret });
      expect(res.status).toBe(403);
      expect(res.body).toEqual({ message: '403 Forbidden - Your account has been blocked.' });
    });
  });

  describe('endpoints without credentials', () => {
    it('answers the health and readiness probes', async () => {
      const health = await t.request('GET', '/-/health');
      expect(health.status).toBe(200);
      expect(health.body).toEqual({ status: 'ok' });
      const ready = await t.request('GET', '/-/readiness');
      expect(ready.status).toBe(200);
      expect(ready.body).toEqual({ status: 'ok', checks: { database: 'ok' } });
    });

    it('serves /api/openapi.json as a valid OpenAPI document describing the namespace routes', async () => {
      const res = await t.request('GET', '/api/openapi.json');
      expect(res.status).toBe(200);
      expect(String(res.headers['content-type'])).toMatch(/^application\/json/);
      const doc = JSON.parse(res.text);
      expect(doc.openapi).toMatch(/^3\./);
      expect(doc.info.title).toBe('Latchkey API');
      for (const path of ['/api/v4/user', '/api/v4/users', '/api/v4/groups', '/api/v4/groups/{id}', '/api/v4/projects', '/api/v4/projects/{id}', '/api/v4/groups/{id}/members', '/api/v4/projects/{id}/members']) {
        expect(Object.keys(doc.paths), path).toContain(path);
      }
      expect(doc.paths['/api/v4/groups'].post.requestBody.content['application/json'].schema.required).toEqual(expect.arrayContaining(['name', 'path']));
    });
  });
});

/** A whole app whose log lines land in `lines`, at the most verbose level. */
async function startLoggedApp(dialect: DialectName): Promise<{ app: App; store: Store; lines: string[]; close(): Promise<void> }> {
  const db = await createTestDatabase(dialect);
  const store = await openStore(db.location);
  const lines: string[] = [];
  const config = loadConfig({ LATCHKEY_SECRET: TEST_SECRET, LATCHKEY_LOG_LEVEL: 'trace', LATCHKEY_DATA_DIR: '/nonexistent-latchkey-test' });
  const app = await buildApp(config, { clock: new FakeClock(NOW), store, random: seededTokenGenerator(`log-${dialect}`), logStream: { write: (line) => void lines.push(line) } });
  await app.http.ready();
  return {
    app,
    store,
    lines,
    async close() {
      await app.close();
      await store.close();
      await db.drop();
    },
  };
}

describe.each(DIALECTS)('secrets and the log on %s', (dialect) => {
  let logged: Awaited<ReturnType<typeof startLoggedApp>>;
  let secret: string;
  beforeAll(async () => {
    logged = await startLoggedApp(dialect);
    const { namespaces, personalTokens } = logged.app.services;
    const { admin } = await namespaces.ensureFirstAdmin('root', 'root@example.com');
    secret = (await personalTokens.createFor(admin, { name: 'logged', scopes: ['api'], expiresAt: '2027-06-01' }, null)).secret;
  });
  afterAll(() => logged?.close());

  const inject = (method: 'GET' | 'POST', url: string, headers: Record<string, string> = {}, payload?: string) => logged.app.http.inject({ method, url, headers, payload });

  it('never writes a presented secret to the log, on success or failure', async () => {
    const unknown = generateToken('glpat-', seededTokenGenerator('unknown-for-log'));
    const results = [
      await inject('GET', `/api/v4/user?private_token=${secret}`),
      await inject('GET', `/api/v4/user?access_token=${secret}&page=1`),
      await inject('GET', `/api/v4/user?page=1&private_token=${secret}`),
      await inject('GET', '/api/v4/user', { 'private-token': secret }),
      await inject('GET', '/api/v4/user', { authorization: `Bearer ${secret}` }),
      await inject('GET', `/api/v4/user?private_token=${unknown}`),
      await inject('GET', '/api/v4/user', { 'private-token': unknown }),
      await inject('GET', `/api/v4/no-such-route?private_token=${secret}`),
      await inject('POST', `/api/v4/groups?private_token=${secret}`, { 'content-type': 'application/json' }, '{"name":'),
      await inject('POST', `/api/v4/groups?private_token=${secret}`, { 'content-type': 'application/json' }, '{"name":"Logged","path":"logged"}'),
      await inject('GET', `/api/v4/groups/${encodeURIComponent('../..')}?private_token=${secret}`),
    ];
    expect(results.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200, 401, 401, 404, 400, 201, 404]);

    const log = logged.lines.join('');
    // The log is not empty: requests were logged, by their path; the query string never is.
    expect(log).toContain('/api/v4/user');
    expect(log).not.toMatch(/private_token|access_token|page=1/);
    // Neither secret, nor its random body without the prefix, appears anywhere.
    for (const s of [secret, unknown]) {
      expect(log).not.toContain(s);
      expect(log).not.toContain(s.slice('glpat-'.length));
    }
  });
});
