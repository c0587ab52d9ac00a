/**
 * The fast lane (src/http/fast-lane.ts) against Fastify, request for request: the same request goes once
 * over a socket (where the lane answers a cached success) and once through `inject` (Fastify's handler,
 * which the lane never sees), and the two answers, audit entries and metrics samples must be the same.
 * Then what the lane must leave to Fastify: refusals (scope, revocation, expiry, a refused git decision,
 * a registry scope or service it does not issue, a deploy token under another name), other credential
 * forms, a query string it does not read, a malformed Host. All of it twice: with rate limits off and logs
 * at `warn`, and as the service runs by default — a rate limit per token and per address, and Fastify's
 * two log lines per request at `info`, which the lane must write the same. Then a token over its limit
 * (left to Fastify's 429, counted once), and what turns the lane off: `debug` logs, counters in Redis,
 * LATCHKEY_FAST_LANE=off.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AuditRecord } from '../../../src/audit/audit-writer.js';
import { DIALECTS } from '../../support/dialects.js';
import { deleteRedisKeys, REDIS_TEST_URL, requireRedis, uniqueRedisPrefix } from '../../support/redis.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';

const LANE_ENV = { LATCHKEY_RATE_LIMIT_PER_MINUTE: '0', LATCHKEY_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: '0' };
/** The defaults a service runs with: 600 requests a minute per token and per address, and logs at `info`. */
const DEFAULT_ENV = { LATCHKEY_LOG_LEVEL: 'info' };
const SETTINGS: [string, Record<string, string>][] = [
  ['rate limits off, logs at warn', { ...LANE_ENV, LATCHKEY_LOG_LEVEL: 'warn' }],
  ['the default rate limits and info logs', DEFAULT_ENV],
];
const CASES = DIALECTS.flatMap((dialect) => SETTINGS.map(([name, env]) => [dialect, name, env] as const));
const GIT = '/api/v4/latchkey/git/auth';
const FETCH = { 'x-original-method': 'GET', 'x-original-uri': '/acme/platform/web.git/info/refs?service=git-upload-pack' };
const JWT = '/jwt/auth';
const REGISTRY = { service: 'container_registry', pull: 'repository:acme/platform/web:pull' };
/** A /jwt/auth query as Docker's client writes it (url.Values: every `:`, `/` and `,` percent-encoded). */
const jwtQuery = (params: [string, string][]) => `${JWT}?${new URLSearchParams(params).toString()}`;
const basic = (username: string, secret: string) => `Basic ${Buffer.from(`${username}:${secret}`).toString('base64')}`;
/** Connection-level headers only the socket answer has. */
const CONNECTION = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding']);

/** What the tests read of a spy on a lane's cached method: whether any call answered. */
interface LaneSpy {
  mock: { results: { value: unknown }[] };
  mockClear?(): void;
  mockRestore(): void;
}

/** Spies on both of the verifier's lane methods (`verifyCachedOrLoad` for /user, `verifyCached` for the rest) as one. */
function spyOnVerifier(verifier: TestApp['app']['services']['verifier']): LaneSpy {
  const spies = [vi.spyOn(verifier, 'verifyCachedOrLoad'), vi.spyOn(verifier, 'verifyCached')];
  return {
    mock: { get results() { return spies.flatMap((s) => s.mock.results as { value: unknown }[]); } },
    mockClear: () => spies.forEach((s) => s.mockClear()),
    mockRestore: () => spies.forEach((s) => s.mockRestore()),
  };
}

/** The calls of a lane spy that answered: a value, or a promise's once settled, that is not a refusal (null) or `{ absent }`. */
async function answered(lane: LaneSpy): Promise<unknown[]> {
  const values = await Promise.all(lane.mock.results.map((r) => Promise.resolve(r.value).catch(() => null)));
  return values.filter((v) => v !== null && v !== undefined && !(typeof v === 'object' && 'absent' in v));
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  text: string;
}

/** A log line as the comparison reads it: without its time, request id and response time, which differ. */
const loggedLine = (line: string) => {
  const { time: _time, reqId: _reqId, responseTime: _responseTime, ...rest } = JSON.parse(line) as Record<string, unknown>;
  return rest;
};

describe.each(CASES)('fast lane on %s, %s', (dialect, _settings, env) => {
  let t: TestApp;
  const lines: string[] = [];
  let w: World;
  let base: string;
  let records: AuditRecord[];
  let deploy: { username: string; secret: string };
  let registryDeploy: { username: string; secret: string };

  beforeAll(async () => {
    t = await startTestApp(dialect, { env, logStream: { write: (line) => void lines.push(line) } });
    w = await seedWorld(t);
    const { token, secret } = await t.app.services.deployTokens.create(w.admin, { type: 'project', project: w.project }, { name: 'ci', scopes: ['read_repository'], expiresAt: '2027-06-01' });
    deploy = { username: token.username!, secret };
    const made = await t.app.services.deployTokens.create(w.admin, { type: 'project', project: w.project }, { name: 'registry', scopes: ['read_registry', 'write_registry'], expiresAt: '2027-06-01' });
    registryDeploy = { username: made.token.username!, secret: made.secret };
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
  /** The rate limit's `allowed` decisions so far (latchkey_rate_limit_requests_total). */
  const allowedCount = () => {
    const family = t.app.services.metrics.rateLimit.family();
    return family.samples.filter((s) => s.labels.outcome === 'allowed').reduce((n, s) => n + s.value, 0);
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
  async function compare(path: string, given: Record<string, string>, spyOnLane: () => LaneSpy = () => spyOnVerifier(t.app.services.verifier), route = path.split('?', 1)[0]!) {
    // The same user agent both ways (inject's default is its own).
    const headers = { 'user-agent': 'latchkey-test/1', ...given };
    const lane = spyOnLane();
    const before = count(route, 200);
    const allowedBefore = allowedCount();
    let logged = lines.length;
    const fastify = await viaFastify(path, headers);
    const fastifyEntry = records.at(-1);
    const fastifyLines = lines.slice(logged);
    logged = lines.length;
    const socket = await viaSocket(path, headers);
    const socketEntry = records.at(-1);
    const socketLines = lines.slice(logged);
    const laneAnswered = (await answered(lane)).length > 0;
    lane.mockRestore();
    // The same log lines (the same request ids on neither), and with a limit the same count one request later.
    expect(socketLines.map(loggedLine), path).toEqual(fastifyLines.map(loggedLine));
    expect(socketLines.length, path).toBe(env.LATCHKEY_LOG_LEVEL === 'info' ? 2 : 0);
    if (socketLines.length > 0) expect(JSON.parse(socketLines[0]!).reqId).not.toBe(JSON.parse(fastifyLines[0]!).reqId);
    const observed = fastify.headers['ratelimit-observed'];
    if (observed !== undefined) {
      expect(socket.headers['ratelimit-observed'], path).toBe(String(Number(observed) + 1));
      expect(socket.headers['ratelimit-remaining'], path).toBe(String(Number(fastify.headers['ratelimit-remaining']) - 1));
      socket.headers['ratelimit-observed'] = observed;
      socket.headers['ratelimit-remaining'] = fastify.headers['ratelimit-remaining']!;
    }
    // A success the lane answered was counted as allowed once by each, as the hook counts it.
    if (laneAnswered) {
      expect(observed !== undefined, path).toBe(env.LATCHKEY_RATE_LIMIT_PER_MINUTE !== '0');
      expect(allowedCount() - allowedBefore, path).toBe(observed === undefined ? 0 : 2);
    }
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

  it('answers GET /api/v4/user for a token the cache lacks after one read of the store, as the route does', async () => {
    const { secret } = await t.app.services.personalTokens.createFor(w.users.developer.user, { name: 'never seen', scopes: ['read_user'], expiresAt: '2027-06-01' }, null);
    const headers = { 'user-agent': 'latchkey-test/1', 'private-token': secret };
    const reads = vi.spyOn(t.app.store.tokens, 'findByDigestsWithUser');
    const lane = spyOnVerifier(t.app.services.verifier);
    const before = count('/api/v4/user', 200);
    let logged = lines.length;
    const socket = await viaSocket('/api/v4/user', headers);
    const socketEntry = records.at(-1);
    const socketLines = lines.slice(logged);
    expect(await answered(lane)).toHaveLength(1);
    expect(reads).toHaveBeenCalledTimes(1);
    lane.mockRestore();
    logged = lines.length;
    const fastify = await viaFastify('/api/v4/user', headers); // now a cache hit
    expect(reads).toHaveBeenCalledTimes(1);
    reads.mockRestore();
    expect(socket.status).toBe(200);
    expect(socket.text.replace(base, 'http://localhost:80')).toBe(fastify.text);
    const sansLimit = (h: Record<string, string>) => ({ ...h, 'content-length': undefined, 'ratelimit-observed': undefined, 'ratelimit-remaining': undefined });
    expect(sansLimit(socket.headers)).toEqual(sansLimit(fastify.headers));
    if (fastify.headers['ratelimit-observed'] !== undefined) expect(Number(fastify.headers['ratelimit-observed'])).toBe(Number(socket.headers['ratelimit-observed']) + 1);
    expect(comparable(socketEntry)).toEqual(comparable(records.at(-1)));
    expect(socketLines.map(loggedLine)).toEqual(lines.slice(logged).map(loggedLine));
    expect(count('/api/v4/user', 200) - before).toBe(2);
  });

  it('hands Fastify a token the lane read and could not take: an unknown one without reading it again, a revoked one from the cache', async () => {
    const reads = vi.spyOn(t.app.store.tokens, 'findByDigestsWithUser');
    const lane = spyOnVerifier(t.app.services.verifier);
    const unknown = { 'user-agent': 'latchkey-test/1', 'private-token': 'glpat-not-a-token-anyone-has-0000' };
    const socket = await viaSocket('/api/v4/user', unknown);
    expect(reads).toHaveBeenCalledTimes(1);
    expect(await answered(lane)).toHaveLength(0);
    const fastify = await viaFastify('/api/v4/user', unknown);
    expect(reads).toHaveBeenCalledTimes(2);
    expect(socket.status).toBe(401);
    const sansLimit = (a: Answer) => ({ ...a, headers: { ...a.headers, 'ratelimit-observed': undefined, 'ratelimit-remaining': undefined } });
    expect(sansLimit(socket)).toEqual(sansLimit(fastify));

    // Revoked in the store before any node cached it (no revocation message to race the read on PostgreSQL).
    const { token, secret } = await t.app.services.personalTokens.createFor(w.users.developer.user, { name: 'revoked unseen', scopes: ['api'], expiresAt: '2027-06-01' }, null);
    await t.app.store.tokens.markRevoked(token.id, t.clock.now().toISOString());
    reads.mockClear();
    const revoked = await viaSocket('/api/v4/user', { 'private-token': secret });
    expect(reads).toHaveBeenCalledTimes(1);
    expect(revoked.status).toBe(401);
    expect(JSON.parse(revoked.text)).toEqual({ error: 'invalid_token', error_description: 'Token was revoked. You have to re-authorize from the user.' });
    expect(await answered(lane)).toHaveLength(0);
    expect(records.at(-1)).toMatchObject({ tokenId: token.id, status: 401 });
    lane.mockRestore();
    reads.mockRestore();
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

  const spyOnIssue = () => vi.spyOn(t.app.services.registry.tokens, 'issueCached');

  it('answers GET /jwt/auth from the issued-JWT cache as the route does: the same JWT, headers, audit entry, metrics', async () => {
    const { secret: patSecret } = await t.app.services.personalTokens.createFor(w.users.developer.user, { name: 'docker', scopes: ['read_registry'], expiresAt: '2027-06-01' }, null);
    for (const [path, authorization] of [
      // Docker's shape: account, one scope, percent-encoded.
      [jwtQuery([['account', registryDeploy.username], ['scope', REGISTRY.pull], ['service', REGISTRY.service]]), basic(registryDeploy.username, registryDeploy.secret)],
      // Repeated scopes, in order, and a personal token under any username.
      [jwtQuery([['service', REGISTRY.service], ['scope', 'repository:acme/platform/web:pull,push'], ['scope', 'repository:acme/other/thing:pull']]), basic('oauth2', patSecret)],
      // Not percent-encoded at all (curl users), and a scope list that asks for nothing.
      [`${JWT}?service=${REGISTRY.service}&scope=${REGISTRY.pull}`, basic(registryDeploy.username, registryDeploy.secret)],
      [`${JWT}?service=${REGISTRY.service}`, basic(registryDeploy.username, registryDeploy.secret)],
    ] as [string, string][]) {
      const r = await compare(path, { authorization }, spyOnIssue);
      expect(r.laneAnswered, path).toBe(true);
      expect(r.socket.status).toBe(200);
      expect(r.socket).toEqual(r.fastify);
      expect(r.socket.headers).toMatchObject({ 'cache-control': 'no-store', pragma: 'no-cache', 'content-type': 'application/json' });
      expect(Number(r.socket.headers['content-length'])).toBe(Buffer.byteLength(r.socket.text));
      expect(Object.keys(JSON.parse(r.socket.text))).toEqual(['token', 'access_token', 'expires_in', 'issued_at']);
      expect(comparable(r.socketEntry)).toEqual(comparable(r.fastifyEntry));
      expect(r.socketEntry).toMatchObject({ event: 'http.request', route: JWT, path: JWT, status: 200, ip: '127.0.0.1' });
      expect(r.counted).toBe(2);
    }
    const deployEntry = (await compare(jwtQuery([['service', REGISTRY.service], ['scope', REGISTRY.pull]]), { authorization: basic(registryDeploy.username, registryDeploy.secret) }, spyOnIssue)).socketEntry;
    expect(deployEntry?.actor).toEqual({ type: 'deploy_token', id: null, name: registryDeploy.username });
  });

  it('leaves to Fastify every /jwt/auth it does not issue from the cache: bad scope, unknown service, wrong username, revoked while cached, anonymous', async () => {
    const auth = basic(registryDeploy.username, registryDeploy.secret);
    const refusals: [string, Record<string, string>, number][] = [
      [jwtQuery([['service', REGISTRY.service], ['scope', 'repository:acme/platform/web']]), { authorization: auth }, 400],
      [jwtQuery([['service', 'elsewhere'], ['scope', REGISTRY.pull]]), { authorization: auth }, 404],
      [jwtQuery([['service', REGISTRY.service], ['scope', REGISTRY.pull]]), { authorization: basic('someone-else', registryDeploy.secret) }, 401],
      [jwtQuery([['service', REGISTRY.service]]), {}, 403],
    ];
    // The token, and a JWT for the pull under its own username, in the caches.
    expect((await viaSocket(jwtQuery([['service', REGISTRY.service], ['scope', REGISTRY.pull]]), { authorization: auth })).status).toBe(200);
    for (const [path, given, status] of refusals) {
      // Twice: the second time whatever the first cached is there, and the refusal still goes to Fastify.
      await viaSocket(path, given);
      const r = await compare(path, given, spyOnIssue);
      expect(r.laneAnswered, path).toBe(false);
      expect(r.socket.status, path).toBe(status);
      expect(r.socket).toEqual(r.fastify);
      expect(comparable(r.socketEntry)).toEqual(comparable(r.fastifyEntry));
    }

    const { token, secret } = await t.app.services.deployTokens.create(w.admin, { type: 'project', project: w.project }, { name: 'soon revoked', scopes: ['read_registry'], expiresAt: '2027-06-01' });
    const path = jwtQuery([['service', REGISTRY.service], ['scope', REGISTRY.pull]]);
    const headers = { authorization: basic(token.username!, secret) };
    const lane = spyOnIssue();
    expect((await viaSocket(path, headers)).status).toBe(200);
    expect((await viaSocket(path, headers)).status).toBe(200);
    expect(await answered(lane)).toHaveLength(1);
    await t.app.services.deployTokens.remove(w.admin, { type: 'project', project: w.project }, token.id);
    const revoked = await viaSocket(path, headers);
    expect(revoked.status).toBe(401);
    expect(JSON.parse(revoked.text)).toEqual({ errors: [{ code: 'UNAUTHORIZED', message: 'HTTP Basic: Access denied' }] });
    expect(await answered(lane)).toHaveLength(1);
    lane.mockRestore();
  });

  it('leaves to Fastify the /jwt/auth query strings it does not read as Fastify would, and a malformed Host on every path', async () => {
    const auth = basic(registryDeploy.username, registryDeploy.secret);
    // Cached: a JWT for the pull, and one for no scope at all (what a misread `scope` key would ask).
    for (const path of [jwtQuery([['service', REGISTRY.service], ['scope', REGISTRY.pull]]), jwtQuery([['service', REGISTRY.service]])]) expect((await viaSocket(path, { authorization: auth })).status).toBe(200);
    const lane = spyOnIssue();
    for (const path of [
      `${JWT}?service=${REGISTRY.service}&scope=${REGISTRY.pull}%00`,
      `${JWT}?service=${REGISTRY.service}&scope=repository%3Aacme%2Fplatform%2Fweb%3Apull+push`,
      `${JWT}?service=${REGISTRY.service}&sc%6Fpe=${REGISTRY.pull}`,
      `${JWT}?service=${REGISTRY.service}&scope=${REGISTRY.pull}&`,
      `${JWT}?service=${REGISTRY.service}&scope=%E0%A4%A`,
      `${JWT}/?service=${REGISTRY.service}&scope=${REGISTRY.pull}`,
    ]) {
      const headers = { 'user-agent': 'latchkey-test/1', authorization: auth };
      const socket = await viaSocket(path, headers);
      const fastify = await viaFastify(path, headers);
      expect(socket.status, path).toBe(fastify.status);
      expect(socket.text.replace(/"(access_)?token":"[^"]+"/g, ''), path).toBe(fastify.text.replace(/"(access_)?token":"[^"]+"/g, ''));
    }
    expect(await answered(lane)).toHaveLength(0);
    lane.mockRestore();

    // strict-input.ts refuses a malformed Host before any route; the lane must not answer it either.
    const verify = spyOnVerifier(t.app.services.verifier);
    for (const [path, headers] of [
      ['/api/v4/user', { 'private-token': w.adminToken }],
      [GIT, { ...FETCH, authorization: basic(deploy.username, deploy.secret) }],
      [jwtQuery([['service', REGISTRY.service], ['scope', REGISTRY.pull]]), { authorization: auth }],
    ] as [string, Record<string, string>][]) {
      expect((await viaSocket(path, headers)).status).toBe(200);
      const status = await new Promise<number>((resolve, reject) => {
        const url = new URL(base);
        httpRequest({ host: url.hostname, port: url.port, path, headers: { ...headers, host: 'bad host@x' } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
          .on('error', reject)
          .end();
      });
      expect(status, path).toBe(400);
    }
    verify.mockRestore();
  });

  it('answers a cached generic package download as the route does (bytes, headers, entry, metrics), and leaves the rest to Fastify', async () => {
    const url = `/api/v4/projects/${w.project.id}/packages/generic/tool/1.0.0/hello.txt`;
    const route = '/api/v4/projects/:id/packages/generic/:package_name/:package_version/:file_name';
    const { secret: writer } = await t.app.services.deployTokens.create(w.admin, { type: 'project', project: w.project }, { name: 'pkg-w', scopes: ['write_package_registry'], expiresAt: '2027-06-01' });
    const { token: readToken, secret: reader } = await t.app.services.deployTokens.create(w.admin, { type: 'project', project: w.project }, { name: 'pkg-r', scopes: ['read_package_registry'], expiresAt: '2027-06-01' });
    expect((await t.app.http.inject({ method: 'PUT', url, headers: { 'deploy-token': writer }, payload: 'hello\n' })).statusCode).toBe(201);
    const spyOnDownload = () => vi.spyOn(t.app.services.genericPackages, 'downloadCached');
    for (const headers of [{ 'deploy-token': reader }, { authorization: basic('anyone', reader) }, { 'private-token': w.users.reporter.token }] as Record<string, string>[]) {
      const r = await compare(url, headers, spyOnDownload, route);
      expect(r.laneAnswered).toBe(true);
      expect(r.socket).toEqual(r.fastify);
      expect(r.socket.text).toBe('hello\n');
      expect(r.socket.headers).toMatchObject({ 'content-type': 'application/octet-stream', 'content-disposition': 'attachment; filename="hello.txt"', 'content-length': '6' });
      expect(comparable(r.socketEntry)).toEqual(comparable(r.fastifyEntry));
      expect(r.socketEntry).toMatchObject({ route, path: url, status: 200 });
      expect(r.counted).toBe(2);
    }
    // A personal token on a deploy-token header, a token without the scope, a removed token, a query string: Fastify.
    const { secret: noScope } = await t.app.services.deployTokens.create(w.admin, { type: 'project', project: w.project }, { name: 'pkg-n', scopes: ['read_registry'], expiresAt: '2027-06-01' });
    await viaSocket(url, { 'deploy-token': reader });
    await t.app.services.deployTokens.remove(w.admin, { type: 'project', project: w.project }, readToken.id);
    for (const [path, headers, status] of [
      [url, { 'deploy-token': w.users.reporter.token }, 401],
      [url, { 'deploy-token': noScope }, 403],
      [url, { 'deploy-token': reader }, 401],
      [`${url}?x=1`, { 'private-token': w.users.reporter.token }, 200],
    ] as [string, Record<string, string>, number][]) {
      await viaSocket(path, headers);
      const r = await compare(path, headers, spyOnDownload);
      expect(r.laneAnswered, path).toBe(false);
      expect(r.socket.status, path).toBe(status);
      expect(r.socket).toEqual(r.fastify);
    }
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
    const lane = spyOnVerifier(t.app.services.verifier);
    expect((await viaSocket('/api/v4/user', { 'private-token': shortLived })).status).toBe(200);
    expect((await viaSocket('/api/v4/user', { 'private-token': shortLived })).status).toBe(200);
    expect((await answered(lane)).length).toBeGreaterThan(0);
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
    const lane = spyOnVerifier(t.app.services.verifier);
    await viaSocket('/api/v4/user', { 'private-token': w.adminToken }); // cached
    lane.mockClear!();
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
    expect(await answered(lane)).toHaveLength(0);
    lane.mockRestore();
  });
});

describe.each(DIALECTS)('fast lane and a token over its rate limit on %s', (dialect) => {
  it('answers while the token is within its limit, then leaves the request over it to Fastify, which counts it once and answers 429', async () => {
    const t = await startTestApp(dialect, { env: { LATCHKEY_RATE_LIMIT_PER_MINUTE: '3' } });
    try {
      const w = await seedWorld(t);
      const base = await t.app.http.listen({ host: '127.0.0.1', port: 0 });
      const place = { type: 'project', project: w.project } as const;
      const git = await t.app.services.deployTokens.create(w.admin, place, { name: 'git', scopes: ['read_repository'], expiresAt: '2027-06-01' });
      const registry = await t.app.services.deployTokens.create(w.admin, place, { name: 'registry', scopes: ['read_registry'], expiresAt: '2027-06-01' });
      const reader = await t.app.services.deployTokens.create(w.admin, place, { name: 'reader', scopes: ['read_package_registry'], expiresAt: '2027-06-01' });
      const file = `/api/v4/projects/${w.project.id}/packages/generic/tool/1.0.0/hello.txt`;
      expect((await t.app.http.inject({ method: 'PUT', url: file, headers: { 'private-token': w.adminToken }, payload: 'hello\n' })).statusCode).toBe(201);
      const paths: [string, string, Record<string, string>, () => LaneSpy][] = [
        ['/api/v4/user', '/api/v4/user', { 'private-token': w.users.developer.token }, () => spyOnVerifier(t.app.services.verifier)],
        ['git', GIT, { ...FETCH, authorization: basic(git.token.username!, git.secret) }, () => vi.spyOn(t.app.services.gitAccess, 'checkCached')],
        ['/jwt/auth', jwtQuery([['service', REGISTRY.service], ['scope', REGISTRY.pull]]), { authorization: basic(registry.token.username!, registry.secret) }, () => vi.spyOn(t.app.services.registry.tokens, 'issueCached')],
        ['package', file, { 'deploy-token': reader.secret }, () => spyOnVerifier(t.app.services.verifier)],
      ];
      for (const [name, path, headers, spy] of paths) {
        const lane = spy();
        const answers: Response[] = [];
        for (let i = 0; i < 5; i++) answers.push(await fetch(`${base}${path}`, { headers }));
        // The first fills the caches (Fastify); the next two are the lane's; the fourth is over, and Fastify's.
        expect(answers.map((a) => a.status), name).toEqual([200, 200, 200, 429, 429]);
        expect(answers.map((a) => a.headers.get('ratelimit-observed')), name).toEqual(['1', '2', '3', '4', '5']);
        expect(answers.map((a) => a.headers.get('ratelimit-remaining')), name).toEqual(['2', '1', '0', '0', '0']);
        // /user's first is the lane's too: it reads the token the cache lacks.
        expect(await answered(lane), name).toHaveLength(name === '/api/v4/user' ? 3 : 2);
        lane.mockRestore();
        const refused = answers[3]!;
        expect(await refused.json(), name).toEqual({ message: 'Retry later' });
        expect(refused.headers.get('retry-after'), name).toBe(String(60 - (Math.floor(t.clock.now().getTime() / 1000) % 60)));
        // Counted once each: Fastify's own next answer through inject counts the sixth.
        const injected = await t.app.http.inject({ method: 'GET', url: path, headers });
        expect(injected.statusCode, name).toBe(429);
        expect(injected.headers['ratelimit-observed'], name).toBe('6');
      }
    } finally {
      await t.close();
    }
  });
});

describe.each(DIALECTS)('fast lane off on %s', (dialect) => {
  const cases: [string, Record<string, string>][] = [
    ['logs are at debug (more than the two lines a request)', { ...LANE_ENV, LATCHKEY_LOG_LEVEL: 'debug' }],
    ['LATCHKEY_FAST_LANE=off', { ...LANE_ENV, LATCHKEY_FAST_LANE: 'off' }],
  ];
  const prefix = uniqueRedisPrefix('fast-lane');
  if (requireRedis()) cases.push(['the rate limit counts in Redis (a round trip the lane does not wait for)', { REDIS_URL: REDIS_TEST_URL, LATCHKEY_REDIS_KEY_PREFIX: prefix, LATCHKEY_RATE_LIMIT_PER_MINUTE: '600' }]);
  afterAll(async () => {
    if (cases.length > 2) await deleteRedisKeys(prefix);
  });
  for (const [why, env] of cases) {
    it(`when ${why}`, async () => {
      const lines: string[] = [];
      const t = await startTestApp(dialect, { env, logStream: { write: (line) => void lines.push(line) } });
      try {
        const w = await seedWorld(t);
        const base = await t.app.http.listen({ host: '127.0.0.1', port: 0 });
        const lane = spyOnVerifier(t.app.services.verifier);
        for (let i = 0; i < 3; i++) expect((await fetch(`${base}/api/v4/user`, { headers: { 'private-token': w.adminToken } })).status).toBe(200);
        expect(lane.mock.results).toHaveLength(0);
        const last = await fetch(`${base}/api/v4/user`, { headers: { 'private-token': w.adminToken } });
        if (env.REDIS_URL) expect(last.headers.get('ratelimit-observed')).toBe('4');
        if (env.LATCHKEY_LOG_LEVEL === 'debug') expect(lines.filter((l) => l.includes('request completed')).length).toBeGreaterThanOrEqual(4);
      } finally {
        await t.close();
      }
    });
  }
});
