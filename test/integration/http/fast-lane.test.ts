/**
 * The fast lane (src/http/fast-lane.ts) against Fastify, request for request: the same request goes once
 * over a socket (where the lane answers a cached success) and once through `inject` (Fastify's handler,
 * which the lane never sees), and the two answers, audit entries and metrics samples must be the same.
 * Then what the lane must leave to Fastify: refusals (scope, revocation, expiry, a refused git decision),
 * other credential forms, a query string, and everything while per-request logs or rate limits are on.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AuditRecord } from '../../../src/audit/audit-writer.js';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';

const LANE_ENV = { LATCHKEY_RATE_LIMIT_PER_MINUTE: '0', LATCHKEY_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: '0' };
const GIT = '/api/v4/latchkey/git/auth';
const FETCH = { 'x-original-method': 'GET', 'x-original-uri': '/acme/platform/web.git/info/refs?service=git-upload-pack' };
const basic = (username: string, secret: string) => `Basic ${Buffer.from(`${username}:${secret}`).toString('base64')}`;
/** Connection-level headers only the socket answer has. */
const CONNECTION = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding']);

interface Answer {
  status: number;
  headers: Record<string, string>;
  text: string;
}

describe.each(DIALECTS)('fast lane on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let base: string;
  let records: AuditRecord[];
  let deploy: { username: string; secret: string };

  beforeAll(async () => {
    t = await startTestApp(dialect, { env: LANE_ENV });
    w = await seedWorld(t);
    const { token, secret } = await t.app.services.deployTokens.create(w.admin, { type: 'project', project: w.project }, { name: 'ci', scopes: ['read_repository'], expiresAt: '2027-06-01' });
    deploy = { username: token.username!, secret };
    base = await t.app.http.listen({ host: '127.0.0.1', port: 0 });
    const writer = t.app.services.auditWriter;
    const record = writer.record.bind(writer);
    records = [];
    vi.spyOn(writer, 'record').mockImplementation((entry) => {
      records.push(entry);
      record(entry);
    });
  });
  afterAll(async () => t?.close());
  afterEach(() => {
    records.length = 0;
  });

  const viaSocket = async (path: string, headers: Record<string, string>): Promise<Answer> => {
    const res = await fetch(`${base}${path}`, { headers });
    const out: Record<string, string> = {};
    res.headers.forEach((v, k) => {
      if (!CONNECTION.has(k)) out[k] = v;
    });
    return { status: res.status, headers: out, text: await res.text() };
  };
  const viaFastify = async (path: string, headers: Record<string, string>): Promise<Answer> => {
    const res = await t.app.http.inject({ method: 'GET', url: path, headers });
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) if (!CONNECTION.has(k)) out[k] = String(v);
    return { status: res.statusCode, headers: out, text: res.body };
  };
  const count = (route: string, status: number) => {
    // The counter's value through its exposition (the series object only increments).
    const family = t.app.services.metrics.httpRequests.family();
    const sample = family.samples.find((s) => s.labels.route === route && s.labels.status === String(status) && s.labels.method === 'GET');
    return sample?.value ?? 0;
  };
  /** The entry minus what differs between two requests (time; the socket's address is 127.0.0.1 on both). */
  const comparable = (entry: AuditRecord | undefined) => {
    const { at: _at, ...rest } = entry ?? ({} as AuditRecord);
    return rest;
  };

  /**
   * The same request through Fastify and then (the token now cached) over the socket: equal answers,
   * equal audit entries, one metrics sample each; `laneAnswered` says whether the lane took the second.
   */
  async function compare(path: string, given: Record<string, string>) {
    // The same user agent both ways (inject's default is its own).
    const headers = { 'user-agent': 'latchkey-test/1', ...given };
    const lane = vi.spyOn(t.app.services.verifier, 'verifyCached');
    const route = path.split('?', 1)[0]!;
    const before = count(route, 200);
    const fastify = await viaFastify(path, headers);
    const fastifyEntry = records.at(-1);
    const socket = await viaSocket(path, headers);
    const socketEntry = records.at(-1);
    const laneAnswered = lane.mock.results.some((r) => r.value !== null);
    lane.mockRestore();
    return { fastify, socket, fastifyEntry, socketEntry, laneAnswered, counted: count(route, 200) - before };
  }

  it('answers GET /api/v4/user from the cache exactly as the route does: body, headers, audit entry, metrics', async () => {
    for (const headers of [{ 'private-token': w.users.developer.token }, { authorization: `Bearer ${w.adminToken}` }, { 'private-token': w.adminToken, 'user-agent': 'python-gitlab/4.4.0' }] as Record<string, string>[]) {
      const r = await compare('/api/v4/user', headers);
      expect(r.laneAnswered).toBe(true);
      expect(r.socket.status).toBe(200);
      expect(r.socket.text.replace(base, 'http://localhost:80')).toBe(r.fastify.text);
      expect({ ...r.socket.headers, 'content-length': undefined }).toEqual({ ...r.fastify.headers, 'content-length': undefined });
      expect(Number(r.socket.headers['content-length'])).toBe(Buffer.byteLength(r.socket.text));
      expect(comparable(r.socketEntry)).toEqual(comparable(r.fastifyEntry));
      expect(r.socketEntry).toMatchObject({ event: 'http.request', route: '/api/v4/user', path: '/api/v4/user', status: 200, ip: '127.0.0.1' });
      expect(r.counted).toBe(2);
    }
  });

  it("names a bot as the actor and an impersonation token's admin, as the audit hook does", async () => {
    const { secret: botSecret } = await t.app.services.resourceTokens.create(w.admin, { type: 'project', project: w.project }, { name: 'bot', scopes: ['read_api'], accessLevel: 30, expiresAt: '2027-06-01' });
    const bot = await compare('/api/v4/user', { 'private-token': botSecret });
    expect(bot.laneAnswered).toBe(true);
    expect(bot.socketEntry?.actor?.type).toBe('bot');
    expect(comparable(bot.socketEntry)).toEqual(comparable(bot.fastifyEntry));

    const { secret } = await t.app.services.impersonationTokens.create(w.admin, w.users.reporter.user.id, { name: 'support', scopes: ['read_user'], expiresAt: '2027-06-01' });
    const impersonated = await compare('/api/v4/user', { 'private-token': secret });
    expect(impersonated.laneAnswered).toBe(true);
    expect(impersonated.socketEntry?.data).toEqual({ impersonation: true, impersonated_by_id: w.admin.id });
    expect(comparable(impersonated.socketEntry)).toEqual(comparable(impersonated.fastifyEntry));
    expect(JSON.parse(impersonated.socket.text).username).toBe('reporter-user');
  });

  it('answers an allowed git auth_request from the caches as the route does, with the client address nginx reports', async () => {
    const headers = { ...FETCH, authorization: basic(deploy.username, deploy.secret), 'x-real-ip': '10.1.2.3' };
    const r = await compare(GIT, headers);
    expect(r.laneAnswered).toBe(true);
    expect(r.socket).toEqual(r.fastify);
    expect(r.socket.headers['x-latchkey-user']).toBe(deploy.username);
    expect(JSON.parse(r.socket.text)).toEqual({ username: deploy.username, project: 'acme/platform/web', operation: 'fetch' });
    expect(comparable(r.socketEntry)).toEqual(comparable(r.fastifyEntry));
    expect(r.socketEntry).toMatchObject({ actor: { type: 'deploy_token', id: null, name: deploy.username }, route: GIT, path: GIT, status: 200, ip: '10.1.2.3' });
    expect(r.counted).toBe(2);
  });

  it('leaves every refusal to Fastify: a scope the route does not take, a refused git decision, a token revoked or expired while cached', async () => {
    const { secret: repoOnly } = await t.app.services.personalTokens.createFor(w.users.developer.user, { name: 'repo', scopes: ['read_repository'], expiresAt: '2027-06-01' }, null);
    const scope = await compare('/api/v4/user', { 'private-token': repoOnly });
    expect(scope.laneAnswered).toBe(false);
    expect(scope.socket).toEqual(scope.fastify);
    expect(scope.socket.status).toBe(403);

    // A push with a read-only deploy token: the refusal is cached as a decision, and still answered by Fastify.
    const push = { 'x-original-method': 'GET', 'x-original-uri': '/acme/platform/web.git/info/refs?service=git-receive-pack', authorization: basic(deploy.username, deploy.secret) };
    const refused = await compare(GIT, push);
    expect(refused.laneAnswered).toBe(false);
    expect(refused.socket.status).toBe(403);
    expect(refused.socket).toEqual(refused.fastify);

    const { token, secret } = await t.app.services.personalTokens.createFor(w.users.developer.user, { name: 'soon revoked', scopes: ['api'], expiresAt: '2027-06-01' }, null);
    expect((await viaSocket('/api/v4/user', { 'private-token': secret })).status).toBe(200);
    expect((await viaSocket('/api/v4/user', { 'private-token': secret })).status).toBe(200);
    await t.app.services.personalTokens.revoke(w.users.developer.user, token.id);
    const revoked = await viaSocket('/api/v4/user', { 'private-token': secret });
    expect(revoked.status).toBe(401);
    expect(JSON.parse(revoked.text)).toEqual({ error: 'invalid_token', error_description: 'Token was revoked. You have to re-authorize from the user.' });

    // Cached, then past its expiry date on the injected clock: the lane's judgement sees it at once.
    const { secret: shortLived } = await t.app.services.personalTokens.createFor(w.users.developer.user, { name: 'short', scopes: ['api'], expiresAt: '2026-11-24' }, null);
    const lane = vi.spyOn(t.app.services.verifier, 'verifyCached');
    expect((await viaSocket('/api/v4/user', { 'private-token': shortLived })).status).toBe(200);
    expect((await viaSocket('/api/v4/user', { 'private-token': shortLived })).status).toBe(200);
    expect(lane.mock.results.some((r) => r.value !== null)).toBe(true);
    t.clock.set('2026-11-24T00:00:00.000Z');
    try {
      const expired = await viaSocket('/api/v4/user', { 'private-token': shortLived });
      expect(expired.status).toBe(401);
      expect(JSON.parse(expired.text).error_description).toMatch(/Token is expired/);
    } finally {
      t.clock.set('2026-11-23T10:00:00.000Z');
      lane.mockRestore();
    }
  });

  it('leaves other credential forms and a query string to Fastify, which answers them the same', async () => {
    const lane = vi.spyOn(t.app.services.verifier, 'verifyCached');
    await viaSocket('/api/v4/user', { 'private-token': w.adminToken }); // cached
    lane.mockClear();
    for (const [path, given] of [
      [`/api/v4/user?private_token=${w.adminToken}`, {}],
      ['/api/v4/user', { authorization: basic('root', w.adminToken) }],
      ['/api/v4/user', { 'deploy-token': deploy.secret }],
      ['/api/v4/user/', { 'private-token': w.adminToken }],
    ] as [string, Record<string, string>][]) {
      const headers = { 'user-agent': 'latchkey-test/1', ...given };
      const socket = await viaSocket(path, headers);
      const fastify = await viaFastify(path, headers);
      expect(socket.status).toBe(fastify.status);
      expect(socket.text.replace(base, 'http://localhost:80')).toBe(fastify.text);
    }
    expect(lane.mock.results.filter((r) => r.value !== null)).toHaveLength(0);
    lane.mockRestore();
  });
});

describe.each(DIALECTS)('fast lane off on %s', (dialect) => {
  for (const [why, env] of [
    ['a rate limit is set (its headers and counts come from the hook chain)', { LATCHKEY_RATE_LIMIT_PER_MINUTE: '600', LATCHKEY_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: '0' }],
    ['per-request log lines are on (LATCHKEY_LOG_LEVEL=info)', { ...LANE_ENV, LATCHKEY_LOG_LEVEL: 'info' }],
    ['LATCHKEY_FAST_LANE=off', { ...LANE_ENV, LATCHKEY_FAST_LANE: 'off' }],
  ] as [string, Record<string, string>][]) {
    it(`when ${why}`, async () => {
      const lines: string[] = [];
      const t = await startTestApp(dialect, { env, logStream: { write: (line) => void lines.push(line) } });
      try {
        const w = await seedWorld(t);
        const base = await t.app.http.listen({ host: '127.0.0.1', port: 0 });
        const lane = vi.spyOn(t.app.services.verifier, 'verifyCached');
        for (let i = 0; i < 3; i++) expect((await fetch(`${base}/api/v4/user`, { headers: { 'private-token': w.adminToken } })).status).toBe(200);
        expect(lane).not.toHaveBeenCalled();
        const last = await fetch(`${base}/api/v4/user`, { headers: { 'private-token': w.adminToken } });
        if (env.LATCHKEY_RATE_LIMIT_PER_MINUTE === '600') expect(last.headers.get('ratelimit-observed')).toBe('4');
        if (env.LATCHKEY_LOG_LEVEL === 'info') expect(lines.filter((l) => l.includes('request completed')).length).toBeGreaterThanOrEqual(4);
      } finally {
        await t.close();
      }
    });
  }
});
