/**
 * Rate limits on the HTTP API with the in-process counters and a fake clock, on both stores: GitLab's
 * RateLimit-* headers with exact values, the 429 with Retry-After and {"message": "Retry later"}
 * (the handler does not run), per-token and per-IP counting (failed credentials count against the IP),
 * the window reset, exempt probes, and limits switched off. Then the same app with REDIS_URL: counters
 * in Redis, and requests let through (no headers, no 500) when Redis does not answer.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { deleteRedisKeys, REDIS_TEST_URL, requireRedis, uniqueRedisPrefix } from '../../support/redis.js';
import { seedWorld, startTestApp, tableCounts, type Response, type TestApp, type World } from '../../support/test-app.js';

const NOW = '2026-11-23T10:00:15.000Z';
const RESET_AT = String(Date.parse('2026-11-23T10:01:00Z') / 1000);
const RETRY_LATER = { message: 'Retry later' };

function rateLimitHeaders(res: Response) {
  const h = res.headers;
  return {
    name: h['ratelimit-name'],
    limit: h['ratelimit-limit'],
    observed: h['ratelimit-observed'],
    remaining: h['ratelimit-remaining'],
    reset: h['ratelimit-reset'],
    resetTime: h['ratelimit-resettime'],
  };
}

describe.each(DIALECTS)('rate limits on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  beforeAll(async () => {
    t = await startTestApp(dialect, { now: NOW, env: { LATCHKEY_RATE_LIMIT_PER_MINUTE: '5', LATCHKEY_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: '3' } });
    w = await seedWorld(t);
  });
  afterAll(() => t?.close());

  // Each test starts in a fresh window of its own (counters of earlier tests are gone).
  let minute = 0;
  const nextWindow = () => t.clock.set(new Date(Date.parse(NOW) + ++minute * 3_600_000));
  const resetOfWindow = () => String(Math.floor(t.clock.now().getTime() / 60_000) * 60 + 60);
  const fromIp = (ip: string, url: string, headers: Record<string, string> = {}) => t.app.http.inject({ method: 'GET', url, headers, remoteAddress: ip });

  it('sends GitLab headers on every API answer, counting per token, and answers the 6th request 429', async () => {
    const token = w.users.developer.token;
    const first = await t.request('GET', '/api/v4/user', { token });
    expect(first.status).toBe(200);
    expect(rateLimitHeaders(first)).toEqual({
      name: 'throttle_authenticated_api',
      limit: '5',
      observed: '1',
      remaining: '4',
      reset: RESET_AT,
      resetTime: 'Mon, 23 Nov 2026 10:01:00 GMT',
    });
    expect(first.headers['retry-after']).toBeUndefined();
    for (let i = 2; i <= 5; i++) {
      const res = await t.request('GET', '/api/v4/user', { token });
      expect(res.status).toBe(200);
      expect(res.headers['ratelimit-remaining']).toBe(String(5 - i));
    }

    // Over the limit: a write that would create a group is refused before its handler runs.
    const before = await tableCounts(t);
    const refused = await t.request('POST', '/api/v4/groups', { token, body: { name: 'Nope', path: 'nope' } });
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual(RETRY_LATER);
    expect(refused.headers['content-type']).toMatch(/^application\/json/);
    expect(refused.headers['retry-after']).toBe('45');
    expect(rateLimitHeaders(refused)).toMatchObject({ name: 'throttle_authenticated_api', limit: '5', observed: '6', remaining: '0', reset: RESET_AT });
    expect(await tableCounts(t)).toEqual(before);

    // Another token of the same user, from the same address, has its own quota.
    const other = await t.app.services.personalTokens.createFor(w.users.developer.user, { name: 'second', scopes: ['api'], expiresAt: '2027-06-01' }, null);
    const otherRes = await t.request('GET', '/api/v4/user', { token: other.secret });
    expect(otherRes.status).toBe(200);
    expect(otherRes.headers['ratelimit-observed']).toBe('1');

    // The next window starts at :00 of the next minute, and the quota is whole again.
    t.clock.set('2026-11-23T10:00:59.999Z');
    expect((await t.request('GET', '/api/v4/user', { token })).status).toBe(429);
    t.clock.set('2026-11-23T10:01:00.000Z');
    const again = await t.request('GET', '/api/v4/user', { token });
    expect(again.status).toBe(200);
    expect(rateLimitHeaders(again)).toMatchObject({ observed: '1', remaining: '4', reset: String(Date.parse('2026-11-23T10:02:00Z') / 1000) });
  });

  it('counts answers given before the handler (validation 400, 404) against the token too', async () => {
    nextWindow();
    const token = w.users.maintainer.token;
    const invalid = await t.request('POST', '/api/v4/groups', { token, body: { name: 'x' } });
    expect(invalid.status).toBe(400);
    expect(rateLimitHeaders(invalid)).toMatchObject({ name: 'throttle_authenticated_api', observed: '1' });
    const missing = await t.request('GET', '/api/v4/projects/999999', { token });
    expect(missing.status).toBe(404);
    expect(missing.headers['ratelimit-observed']).toBe('2');
  });

  it('counts requests without a valid token against the client IP, and answers 429 instead of 401 past the limit', async () => {
    nextWindow();
    const ip = '198.51.100.7';
    const anonymous = await fromIp(ip, '/api/v4/user');
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.headers['ratelimit-name']).toBe('throttle_unauthenticated_api');
    expect(anonymous.headers['ratelimit-limit']).toBe('3');
    expect(anonymous.headers['ratelimit-observed']).toBe('1');
    expect(anonymous.headers['ratelimit-reset']).toBe(resetOfWindow());
    // A wrong token is not a token: it counts against the IP.
    const wrong = await fromIp(ip, '/api/v4/user', { 'private-token': 'glpat-not-a-real-token-000000000000' });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.headers['ratelimit-observed']).toBe('2');
    expect((await fromIp(ip, '/api/v4/user')).statusCode).toBe(401);

    const throttled = await fromIp(ip, '/api/v4/user', { 'private-token': 'glpat-another-guess-00000000000000' });
    expect(throttled.statusCode).toBe(429);
    expect(JSON.parse(throttled.body)).toEqual(RETRY_LATER);
    expect(throttled.headers['retry-after']).toBe('45');
    expect(throttled.headers['ratelimit-observed']).toBe('4');
    expect(throttled.headers['ratelimit-remaining']).toBe('0');
    expect(throttled.headers['www-authenticate']).toBeUndefined();

    // Unknown routes count too; another address has its own quota; a valid token from this one is fine.
    expect((await fromIp(ip, '/api/v4/nowhere')).statusCode).toBe(429);
    const elsewhere = await fromIp('198.51.100.8', '/api/v4/user');
    expect(elsewhere.statusCode).toBe(401);
    expect(elsewhere.headers['ratelimit-observed']).toBe('1');
    const withToken = await fromIp(ip, '/api/v4/user', { 'private-token': w.users.guest.token });
    expect(withToken.statusCode).toBe(200);
    expect(withToken.headers['ratelimit-name']).toBe('throttle_authenticated_api');
  });

  it('never throttles the health probes and /metrics, and counts throttled requests there', async () => {
    nextWindow();
    const ip = '203.0.113.9';
    for (let i = 0; i < 4; i++) await fromIp(ip, '/api/v4/user');
    expect((await fromIp(ip, '/api/v4/user')).statusCode).toBe(429);
    for (const url of ['/-/health', '/-/readiness', '/metrics']) {
      const res = await fromIp(ip, url);
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['ratelimit-limit'], url).toBeUndefined();
    }
    const metrics = (await fromIp(ip, '/metrics')).body;
    expect(metrics).toMatch(/^latchkey_rate_limit_requests_total\{throttle="throttle_unauthenticated_api",outcome="throttled"\} [1-9]\d*$/m);
  });
});

describe('rate limits switched off', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp('sqlite', { now: NOW, env: { LATCHKEY_RATE_LIMIT_PER_MINUTE: '0', LATCHKEY_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: '0' } });
  });
  afterAll(() => t?.close());

  it('sends no headers and never answers 429 with both limits at 0', async () => {
    for (let i = 0; i < 700; i++) {
      const res = await t.request('GET', '/api/v4/user');
      expect(res.status).toBe(401);
      expect(res.headers['ratelimit-limit']).toBeUndefined();
    }
  });
});

describe('default limits', () => {
  let t: TestApp;
  let w: World;
  beforeAll(async () => {
    t = await startTestApp('sqlite', { now: NOW });
    w = await seedWorld(t);
  });
  afterAll(() => t?.close());

  it('are 600 per minute per token and per IP', async () => {
    const authed = await t.request('GET', '/api/v4/user', { token: w.users.owner.token });
    expect(authed.headers['ratelimit-limit']).toBe('600');
    const anonymous = await t.request('GET', '/api/v4/user');
    expect(anonymous.headers['ratelimit-limit']).toBe('600');
  });
});

describe.runIf(requireRedis())('rate limits with REDIS_URL', () => {
  const prefix = uniqueRedisPrefix('http');
  let t: TestApp;
  let w: World;
  beforeAll(async () => {
    t = await startTestApp('sqlite', { now: NOW, env: { REDIS_URL: REDIS_TEST_URL, LATCHKEY_REDIS_KEY_PREFIX: prefix, LATCHKEY_RATE_LIMIT_PER_MINUTE: '3' } });
    w = await seedWorld(t);
  });
  afterAll(async () => {
    await t?.close();
    await deleteRedisKeys(prefix);
  });

  it("counts in Redis, on Redis's clock (the fake clock does not move its windows)", async () => {
    const answers: Response[] = [];
    for (let i = 0; i < 8; i++) answers.push(await t.request('GET', '/api/v4/user', { token: w.users.reporter.token }));
    // Grouped by window (a boundary may fall inside the loop): each counts 1..n, and past 3 it is 429.
    const windows = new Map<string, Response[]>();
    for (const a of answers) windows.set(String(a.headers['ratelimit-reset']), [...(windows.get(String(a.headers['ratelimit-reset'])) ?? []), a]);
    for (const [reset, inWindow] of windows) {
      expect(Number(reset) % 60).toBe(0);
      expect(Math.abs(Number(reset) - Date.now() / 1000)).toBeLessThanOrEqual(61);
      inWindow.forEach((a, i) => {
        expect(a.headers['ratelimit-observed']).toBe(String(i + 1));
        expect(a.status).toBe(i < 3 ? 200 : 429);
      });
    }
    expect(answers.find((a) => a.status === 429)?.body).toEqual(RETRY_LATER);
  });
});

describe('rate limits with REDIS_URL unreachable', () => {
  let t: TestApp;
  let w: World;
  beforeAll(async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    t = await startTestApp('sqlite', { now: NOW, env: { REDIS_URL: `redis://127.0.0.1:${port}`, LATCHKEY_RATE_LIMIT_PER_MINUTE: '1' } });
    w = await seedWorld(t);
  });
  afterAll(() => t?.close());

  it('lets requests through without headers (fail open) and counts them as unavailable', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await t.request('GET', '/api/v4/user', { token: w.users.reporter.token });
      expect(res.status).toBe(200);
      expect(res.headers['ratelimit-limit']).toBeUndefined();
    }
    expect(t.app.services.metrics.rateLimit.get({ throttle: 'throttle_authenticated_api', outcome: 'unavailable' })).toBe(3);
  });
});
