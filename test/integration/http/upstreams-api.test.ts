/**
 * Upstreams (issue 15) through the API of instance A, against a real second Latchkey B listening on
 * 127.0.0.1 (GitLab's v4 API, no fake): registration and its 4xx answers, the check, a sync into the
 * inventory and a resync that keeps what people added, pagination, B's 429s (waited for with both
 * fake clocks advanced, never a sleep), B going away mid-sync, B's token revoked, and upstreams that
 * answer slowly, with a 502 or with something that is not JSON. A failure never changes an entry.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../../src/app.js';
import { ConfigError, loadConfig } from '../../../src/config.js';
import { FakeClock } from '../../../src/kernel/clock.js';
import type { Group, User } from '../../../src/namespaces/namespace.js';
import { openStore, type Store } from '../../../src/store/open-store.js';
import { createTestDatabase, DIALECTS } from '../../support/dialects.js';
import { seededTokenGenerator } from '../../support/seeded-token-generator.js';
import { seedWorld, startTestApp, TEST_SECRET, type TestApp, type World } from '../../support/test-app.js';

/** Instance A, built here because its sync waits through an injected sleep that also moves B's clock. */
async function startA(dialect: (typeof DIALECTS)[number], onSleep: (ms: number) => void, env: Record<string, string> = {}) {
  const db = await createTestDatabase(dialect);
  const clock = new FakeClock('2026-11-23T10:00:00.000Z');
  const store: Store = await openStore(db.location);
  const config = loadConfig({ LATCHKEY_SECRET: TEST_SECRET, LATCHKEY_LOG_LEVEL: 'silent', LATCHKEY_DATA_DIR: '/nonexistent-latchkey-test', LATCHKEY_UPSTREAM_TIMEOUT_MS: '1500', ...env });
  const sleep = async (ms: number) => {
    clock.advance(ms);
    onSleep(ms);
  };
  const app: App = await buildApp(config, { clock, store, sleep, random: seededTokenGenerator(`a-${dialect}-${Math.random()}`) });
  await app.http.ready();
  const request = async (method: string, url: string, opts: { token?: string; body?: unknown } = {}) => {
    const res = await app.http.inject({ method: method as 'GET', url, headers: { ...(opts.token ? { 'private-token': opts.token } : {}), ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}) }, payload: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
    return { status: res.statusCode, body: res.body ? (JSON.parse(res.body) as any) : undefined, text: res.body };
  };
  return {
    app,
    clock,
    request,
    async close() {
      await app.close();
      await store.close();
      await db.drop();
    },
  };
}

/** A plain HTTP server standing in for something that is not a GitLab: it answers `answer` to everything. */
async function startOther(answer: (res: import('node:http').ServerResponse) => void): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => answer(res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function listen(t: TestApp): Promise<string> {
  await t.app.http.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(t.app.http.server.address() as AddressInfo).port}`;
}

describe.each(DIALECTS)('upstreams on %s', (dialect) => {
  let b: TestApp;
  let bUrl: string;
  let world: World;
  let a: Awaited<ReturnType<typeof startA>>;
  let aAdmin: User;
  let aToken: string;
  let aUserToken: string;
  let team: Group;
  let upstreamToken: string;
  let upstreamTokenId: number;
  const others: Server[] = [];

  beforeAll(async () => {
    b = await startTestApp(dialect, { now: '2026-11-23T10:00:00.000Z' });
    world = await seedWorld(b);
    bUrl = await listen(b);
    const bs = b.app.services;
    const web = { type: 'project' as const, project: world.project };
    await bs.resourceTokens.create(world.admin, web, { name: 'deploy-bot', scopes: ['read_api'], accessLevel: 30, expiresAt: '2027-01-15' });
    await bs.resourceTokens.create(world.admin, { type: 'group', group: world.top }, { name: 'group-bot', scopes: ['read_registry'], accessLevel: 40, expiresAt: '2027-02-01' });
    await bs.deployTokens.create(world.admin, web, { name: 'pull', scopes: ['read_registry'], expiresAt: '2027-03-01' });
    await bs.deployTokens.create(world.admin, { type: 'group', group: world.sub }, { name: 'group-pull', scopes: ['read_repository'] });
    const made = await bs.personalTokens.createFor(world.admin, { name: 'latchkey-a', scopes: ['read_api'], expiresAt: '2027-05-01' }, null);
    upstreamToken = made.secret;
    upstreamTokenId = made.token.id;

    a = await startA(dialect, (ms) => b.clock.advance(ms));
    const ns = a.app.services.namespaces;
    aAdmin = (await ns.ensureFirstAdmin('root', 'root@example.com')).admin;
    team = await ns.createGroup(aAdmin, { name: 'Platform team', path: 'platform-team' });
    aToken = (await a.app.services.personalTokens.createFor(aAdmin, { name: 't', scopes: ['api'], expiresAt: '2027-06-01' }, null)).secret;
    const someone = await ns.createUser(aAdmin, { username: 'someone', name: 'Someone', email: 'someone@example.com' });
    aUserToken = (await a.app.services.personalTokens.createFor(someone, { name: 't', scopes: ['api'], expiresAt: '2027-06-01' }, null)).secret;
  }, 60_000);

  afterAll(async () => {
    for (const s of others) s.close();
    await a?.close();
    await b?.close();
  });

  const register = (name: string, url: string, token = upstreamToken) => a.request('POST', '/api/v4/latchkey/upstreams', { token: aToken, body: { name, url, token, owner: 'platform-team' } });
  const sync = async (name: string) => (await a.request('POST', `/api/v4/latchkey/upstreams/${name}/sync`, { token: aToken })).body;
  const entries = async () => (await a.request('GET', '/api/v4/latchkey/credentials?per_page=100', { token: aToken })).body as any[];
  const synced = async (name: string) => {
    const all: any[] = [];
    for (let page = 1; ; page++) {
      const r = await a.request('GET', `/api/v4/latchkey/upstreams/${name}/tokens?per_page=100&page=${page}`, { token: aToken });
      all.push(...r.body);
      if (r.body.length < 100) return all;
    }
  };

  describe('registration', () => {
    it('refuses a registration naming every bad field, a non-admin, and an unknown name, each GitLab-shaped', async () => {
      const empty = await a.request('POST', '/api/v4/latchkey/upstreams', { token: aToken, body: {} });
      expect(empty.status).toBe(400);
      expect(Object.keys(empty.body.message).sort()).toEqual(['name', 'owner', 'token', 'url']);
      const bad = await a.request('POST', '/api/v4/latchkey/upstreams', { token: aToken, body: { name: 'Bad Name', url: 'ftp://x', token: 't', owner: 'platform-team', extra: 1 } });
      expect(bad.status).toBe(400);
      expect(Object.keys(bad.body.message).sort()).toEqual(['extra', 'name', 'url']);
      const noGroup = await a.request('POST', '/api/v4/latchkey/upstreams', { token: aToken, body: { name: 'x', url: bUrl, token: 't', owner: 'no-such-group' } });
      expect(noGroup.status).toBe(400);
      expect(noGroup.body.message.owner).toBeDefined();
      expect((await a.request('GET', '/api/v4/latchkey/upstreams', { token: aUserToken })).status).toBe(403);
      expect((await a.request('POST', '/api/v4/latchkey/upstreams', { token: aUserToken, body: { name: 'x', url: bUrl, token: 't', owner: 'platform-team' } })).status).toBe(403);
      expect((await a.request('GET', '/api/v4/latchkey/upstreams/none', { token: aToken })).body).toEqual({ message: '404 Upstream Not Found' });
      expect((await a.request('GET', '/api/v4/latchkey/upstreams/none', { token: aToken })).status).toBe(404);
    });

    it('registers an upstream whose token is sealed and never shown again', async () => {
      const created = await register('b', `${bUrl}/api/v4/`);
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ name: 'b', url: bUrl, owner: { full_path: 'platform-team' }, source: 'api', last_sync: { status: null } });
      expect(created.text).not.toContain(upstreamToken);
      expect((await register('b', bUrl)).body).toEqual({ message: { name: ['has already been taken'] } });
      const listed = await a.request('GET', '/api/v4/latchkey/upstreams', { token: aToken });
      expect(listed.text).not.toContain(upstreamToken);
      const row = await a.app.store.db.selectFrom('upstreams' as any).select('token_sealed' as any).executeTakeFirstOrThrow();
      expect(JSON.stringify(row)).not.toContain(upstreamToken);
    });

    it('checks what the token sees: its user, scopes and admin flag', async () => {
      const check = await a.request('POST', '/api/v4/latchkey/upstreams/b/check', { token: aToken });
      expect(check.status).toBe(200);
      expect(check.body).toMatchObject({ ok: true, reason: null, user: { username: 'root' }, is_admin: true, scopes: ['read_api'], token_name: 'latchkey-a', token_expires_at: '2027-05-01' });
      expect(check.body.warnings.join(' ')).toContain('without the api scope');
    });
  });

  describe('sync', () => {
    it('creates one inventory entry per token, with its kind, scopes, role and expiry', async () => {
      const result = await sync('b');
      expect(result).toMatchObject({ upstream: 'b', status: 'ok', reason: null });
      expect(result.counts.created).toBe(result.counts.seen);
      const list = await entries();
      const bySlugPart = (kind: string, name: string) => list.find((e) => e.kind === kind && e.name === name);
      const host = new URL(bUrl).host;
      expect(bySlugPart('gitlab_project_access_token', 'deploy-bot')).toMatchObject({ provider: host, resource: 'acme/platform/web', role: 'developer', scopes: ['read_api'], renewal: { expires_at: '2027-01-15' }, due_on: '2027-01-15', owner: { full_path: 'platform-team' } });
      expect(bySlugPart('gitlab_group_access_token', 'group-bot')).toMatchObject({ resource: 'acme', role: 'maintainer', due_on: '2027-02-01' });
      expect(bySlugPart('gitlab_project_deploy_token', 'pull')).toMatchObject({ resource: 'acme/platform/web', scopes: ['read_registry'], due_on: '2027-03-01' });
      expect(bySlugPart('gitlab_group_deploy_token', 'group-pull')).toMatchObject({ resource: 'acme/platform', renewal: { event: expect.stringContaining('no expiry') } });
      expect(bySlugPart('gitlab_personal_access_token', 'latchkey-a')).toMatchObject({ due_on: '2027-05-01', scopes: ['read_api'] });
      const upstream = (await a.request('GET', '/api/v4/latchkey/upstreams/b', { token: aToken })).body;
      expect(upstream.last_sync).toMatchObject({ status: 'ok', reason: null, counts: { created: result.counts.created } });
    });

    it('a resync changes nothing when nothing changed upstream', async () => {
      const result = await sync('b');
      expect(result.counts).toMatchObject({ created: 0, updated: 0, revoked: 0, disappeared: 0 });
    });

    it('a resync follows changes, notices revoked and disappeared tokens, and keeps what people added', async () => {
      const pull = (await entries()).find((e) => e.name === 'pull');
      const bot = (await entries()).find((e) => e.name === 'deploy-bot');
      const edited = await a.request('PUT', `/api/v4/latchkey/credentials/${pull.slug}`, {
        token: aToken,
        body: { purpose: 'Pulls images in prod', procedure: '1. Rotate\n2. Update the secret', placements: [{ kind: 'kubernetes_secret', namespace: 'prod', name: 'pull', key: '.dockerconfigjson' }] },
      });
      expect(edited.status).toBe(200);
      // Upstream: the deploy token is revoked, the bot token revoked.
      const web = { type: 'project' as const, project: world.project };
      const bs = b.app.services;
      const pullOnB = (await bs.deployTokens.list(world.admin, web, {}, { page: 1, perPage: 100 })).items.find((t) => t.name === 'pull')!;
      await bs.deployTokens.remove(world.admin, web, pullOnB.id);
      const botOnB = (await b.request('GET', `/api/v4/projects/${world.project.id}/access_tokens`, { token: world.adminToken })).body.find((t: any) => t.name === 'deploy-bot');
      expect((await b.request('DELETE', `/api/v4/projects/${world.project.id}/access_tokens/${botOnB.id}`, { token: world.adminToken })).status).toBe(204);

      const result = await sync('b');
      expect(result.status).toBe('ok');
      expect(result.counts.revoked + result.counts.disappeared).toBe(2);
      expect(result.counts.created).toBe(0);
      const tokens = await synced('b');
      const pullToken = tokens.find((t) => t.name === 'pull');
      const botToken = tokens.find((t) => t.name === 'deploy-bot');
      expect(pullToken.revoked || pullToken.state === 'disappeared').toBe(true);
      expect(botToken.revoked || botToken.state === 'disappeared').toBe(true);
      // The entries stay, with what people added.
      const after = (await a.request('GET', `/api/v4/latchkey/credentials/${pull.slug}`, { token: aToken })).body;
      expect(after).toMatchObject({ purpose: 'Pulls images in prod', procedure: '1. Rotate\n2. Update the secret', placements: [{ kind: 'kubernetes_secret', name: 'pull' }] });
      expect((await a.request('GET', `/api/v4/latchkey/credentials/${bot.slug}`, { token: aToken })).status).toBe(200);
    });

    it('follows pagination past the first page', async () => {
      const bs = b.app.services;
      const site = { type: 'project' as const, project: world.otherProject };
      for (let i = 0; i < 105; i++) await bs.deployTokens.create(world.admin, site, { name: `bulk-${i}`, scopes: ['read_repository'], expiresAt: '2027-04-01' });
      const result = await sync('b');
      expect(result).toMatchObject({ status: 'ok', counts: { created: 105 } });
      const bulk = (await synced('b')).filter((t) => t.resource === 'project:acme/other/site');
      expect(bulk).toHaveLength(105);
    }, 60_000);
  });

  describe('placement checks', () => {
    it('reads each ci_variable placement through the upstream and compares it, decoded by format, with the fingerprint', async () => {
      const current = 'current-secret-value-1';
      const variables = [
        { key: 'NPM_TOKEN', value: current },
        { key: 'DOCKER_AUTH_CONFIG', value: JSON.stringify({ auths: { 'registry.example.com': { auth: Buffer.from('bot:an-older-secret').toString('base64') } } }) },
        { key: 'NETRC', value: `machine git.example.com login bot password ${current}` },
      ];
      for (const v of variables) expect((await b.request('POST', `/api/v4/projects/${world.project.id}/variables`, { token: world.adminToken, body: v })).status).toBe(201);
      const instance = new URL(bUrl).host;
      const at = (key: string, extra: Record<string, string> = {}) => ({ kind: 'ci_variable', instance, project: 'acme/platform/web', key, ...extra });
      const entry = await a.request('POST', '/api/v4/latchkey/credentials', {
        token: aToken,
        body: {
          name: 'npm publish',
          kind: 'npm_token',
          owner: 'platform-team',
          renewal: { every_days: 90 },
          value: current,
          placements: [at('NPM_TOKEN'), at('DOCKER_AUTH_CONFIG', { format: 'docker_auth_config', registry: 'registry.example.com' }), at('NETRC', { format: 'netrc', username: 'bot' }), at('GONE'), { kind: 'manual', where: 'the wiki' }],
        },
      });
      expect(entry.status, entry.text).toBe(201);
      const [npm, docker, netrc, gone, manual] = entry.body.placements.map((p: any) => p.id);
      const check = async (id: number) => a.request('POST', `/api/v4/latchkey/credentials/${entry.body.slug}/placements/${id}/check`, { token: aToken });
      expect((await check(npm)).body).toMatchObject({ placement_id: npm, status: 'in_sync', detail: 'in sync' });
      expect((await check(docker)).body).toMatchObject({ status: 'stale', detail: 'stale: holds an older secret' });
      expect((await check(netrc)).body).toMatchObject({ status: 'in_sync' });
      expect((await check(gone)).body).toMatchObject({ status: 'missing', detail: 'missing' });
      const refused = await check(manual);
      expect(refused.status).toBe(400);
      expect((await check(999999)).status).toBe(404);
      // Someone without access to the entry learns nothing.
      expect((await a.request('POST', `/api/v4/latchkey/credentials/${entry.body.slug}/placements/${npm}/check`, { token: aUserToken })).status).toBe(404);
      // Shown with the entry, and counted.
      const shown = await a.request('GET', `/api/v4/latchkey/credentials/${entry.body.slug}/placement_checks`, { token: aToken });
      expect(shown.body.map((c: any) => [c.placement_id, c.status])).toEqual([[npm, 'in_sync'], [docker, 'stale'], [netrc, 'in_sync'], [gone, 'missing']]);
      const metrics = await a.app.http.inject({ method: 'GET', url: '/metrics' });
      expect(metrics.body).toMatch(/latchkey_placement_checks_total\{status="stale"\} 1/);
      expect(metrics.body).toMatch(/latchkey_placement_checks_total\{status="in_sync"\} 2/);
      // The upstream's variable updated: the next check says so.
      expect((await b.request('PUT', `/api/v4/projects/${world.project.id}/variables/DOCKER_AUTH_CONFIG`, { token: world.adminToken, body: { value: JSON.stringify({ auths: { 'registry.example.com': { auth: Buffer.from(`bot:${current}`).toString('base64') } } }) } })).status).toBe(200);
      expect((await check(docker)).body).toMatchObject({ status: 'in_sync' });
    });
  });

  describe('failures are recorded on the upstream and never change an entry', () => {
    const snapshot = async () => JSON.stringify({ entries: await entries(), tokens: await synced('b') });

    it('B stopped mid-sync', async () => {
      const before = await snapshot();
      let seen = 0;
      const server = b.app.http.server;
      const stopAfterThree = () => {
        if (++seen === 3) {
          server.close();
          server.closeAllConnections();
        }
      };
      server.on('request', stopAfterThree);
      const result = await sync('b');
      server.off('request', stopAfterThree);
      expect(result.status).toBe('failed');
      expect(result.reason).toMatch(/cannot reach|broke/);
      expect(await snapshot()).toBe(before);
      expect((await a.request('GET', '/api/v4/latchkey/upstreams/b', { token: aToken })).body.last_sync).toMatchObject({ status: 'failed', reason: result.reason });
      // B back on the same port: the next sync succeeds.
      await new Promise<void>((r) => server.listen(Number(new URL(bUrl).port), '127.0.0.1', r));
      expect((await sync('b')).status).toBe('ok');
    });

    it("B's token revoked: a 401 with its reason", async () => {
      const before = await snapshot();
      expect((await b.request('DELETE', `/api/v4/personal_access_tokens/${upstreamTokenId}`, { token: world.adminToken })).status).toBe(204);
      const result = await sync('b');
      expect(result).toMatchObject({ status: 'failed', reason: expect.stringContaining('401 Unauthorized') });
      expect(await snapshot()).toBe(before);
      const check = (await a.request('POST', '/api/v4/latchkey/upstreams/b/check', { token: aToken })).body;
      expect(check).toMatchObject({ ok: false, reason: expect.stringContaining('401') });
      // A new token through PUT: syncing again.
      upstreamToken = (await b.app.services.personalTokens.createFor(world.admin, { name: 'latchkey-a-2', scopes: ['read_api'], expiresAt: '2027-05-01' }, null)).secret;
      expect((await a.request('PUT', '/api/v4/latchkey/upstreams/b', { token: aToken, body: { token: upstreamToken } })).status).toBe(200);
      expect((await sync('b')).status).toBe('ok');
    });

    it('a 502, an answer that is not JSON, and no answer in time', async () => {
      const bad = await startOther((res) => res.writeHead(502).end('Bad Gateway'));
      const html = await startOther((res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>sign in</html>'));
      const silent = await startOther(() => {});
      others.push(bad.server, html.server, silent.server);
      const before = await snapshot();
      await register('bad', bad.url);
      await register('html', html.url);
      await register('silent', silent.url);
      expect(await sync('bad')).toMatchObject({ status: 'failed', reason: expect.stringContaining('502') });
      expect(await sync('html')).toMatchObject({ status: 'failed', reason: expect.stringContaining('not JSON') });
      expect(await sync('silent')).toMatchObject({ status: 'failed', reason: expect.stringMatching(/no answer from .* within 1500 ms/) });
      expect(await snapshot()).toBe(before);
    }, 30_000);
  });

  describe('LATCHKEY_UPSTREAMS', () => {
    it('refuses a bad list at start, naming the entry and field, never quoting the token', () => {
      const load = (value: string) => () => loadConfig({ LATCHKEY_UPSTREAMS: value });
      expect(load('[{"name": "x", "url": "https://gitlab.com", "token": "glpat-secret-value"')).toThrow(ConfigError);
      expect(load('[{"name": "x", "url": "https://gitlab.com", "token": "glpat-secret-value"')).not.toThrow(/glpat-secret-value/);
      expect(load('{"name": "x"}')).toThrow(/JSON list/);
      expect(load('[{"name": "x", "url": "ftp://gitlab.com", "token": "t", "owner": "g"}]')).toThrow(/LATCHKEY_UPSTREAMS\[0\]: url must be/);
      expect(load('[{"name": "x", "url": "https://a", "token": "t", "owner": "g"}, {"name": "x", "url": "https://b", "token": "t", "owner": "g"}]')).toThrow(/appears twice/);
    });

    it('applies the configured upstreams, which are changed in the configuration only', async () => {
      const configured = JSON.stringify([{ name: 'from-config', url: bUrl, token: upstreamToken, owner: 'cfg-team' }]);
      const c = await startA(dialect, () => {}, { LATCHKEY_UPSTREAMS: configured });
      try {
        const admin = (await c.app.services.namespaces.ensureFirstAdmin('root', 'root@example.com')).admin;
        await c.app.services.namespaces.createGroup(admin, { name: 'Cfg team', path: 'cfg-team' });
        const token = (await c.app.services.personalTokens.createFor(admin, { name: 't', scopes: ['api'], expiresAt: '2027-06-01' }, null)).secret;
        const listed = await c.request('GET', '/api/v4/latchkey/upstreams', { token });
        expect(listed.body).toMatchObject([{ name: 'from-config', url: bUrl, source: 'config', owner: { full_path: 'cfg-team' } }]);
        expect(listed.text).not.toContain(upstreamToken);
        expect((await c.request('PUT', '/api/v4/latchkey/upstreams/from-config', { token, body: { url: 'https://elsewhere.example' } })).status).toBe(409);
        expect((await c.request('DELETE', '/api/v4/latchkey/upstreams/from-config', { token })).status).toBe(409);
        expect((await c.request('POST', '/api/v4/latchkey/upstreams/from-config/sync', { token })).body).toMatchObject({ status: 'ok' });
      } finally {
        await c.close();
      }
    }, 120_000);
  });

  describe('rate limits', () => {
    let limited: TestApp;
    let waited: number[];
    let a2: Awaited<ReturnType<typeof startA>>;
    let a2Token: string;
    let url: string;
    let token: string;
    beforeAll(async () => {
      limited = await startTestApp(dialect, { now: '2026-11-23T10:00:00.000Z', env: { LATCHKEY_RATE_LIMIT_PER_MINUTE: '4' } });
      const w = await seedWorld(limited);
      url = await listen(limited);
      token = (await limited.app.services.personalTokens.createFor(w.admin, { name: 'sync', scopes: ['read_api'], expiresAt: '2027-05-01' }, null)).secret;
      waited = [];
      a2 = await startA(dialect, (ms) => {
        waited.push(ms);
        limited.clock.advance(ms);
      });
      const admin = (await a2.app.services.namespaces.ensureFirstAdmin('root', 'root@example.com')).admin;
      await a2.app.services.namespaces.createGroup(admin, { name: 'Team', path: 'team' });
      a2Token = (await a2.app.services.personalTokens.createFor(admin, { name: 't', scopes: ['api'], expiresAt: '2027-06-01' }, null)).secret;
      expect((await a2.request('POST', '/api/v4/latchkey/upstreams', { token: a2Token, body: { name: 'limited', url, token, owner: 'team' } })).status).toBe(201);
    }, 60_000);
    afterAll(async () => {
      await a2?.close();
      await limited?.close();
    });

    it("waits for B's Retry-After on a 429 and finishes the sync", async () => {
      // Someone else used up the token's minute: the sync's first request is answered 429.
      for (let i = 0; i < 4; i++) await fetch(`${url}/api/v4/user`, { headers: { 'private-token': token } });
      expect((await fetch(`${url}/api/v4/user`, { headers: { 'private-token': token } })).status).toBe(429);
      const result = (await a2.request('POST', '/api/v4/latchkey/upstreams/limited/sync', { token: a2Token })).body;
      expect(result).toMatchObject({ status: 'ok', reason: null });
      expect(result.rate_limit_waits).toBeGreaterThan(0);
      expect(waited.length).toBeGreaterThan(0);
      // Every wait is what B asked for (Retry-After, or until RateLimit-Reset): within its one-minute window.
      for (const ms of waited) {
        expect(ms).toBeGreaterThan(0);
        expect(ms).toBeLessThanOrEqual(60_000);
      }
      expect(result.counts.created).toBeGreaterThan(0);
    });
  });
});
