import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../kernel/clock.js';
import { createInProcessLimiter, type RateLimiter } from '../../rate-limit/index.js';
import type { Token } from '../../tokens/token.js';
import { decorateCredentials } from './authenticate.js';
import { registerRateLimit } from './rate-limit.js';

/** A bare app with the plugin and two routes a protocol helper might add. */
async function buildApp(limiter: RateLimiter, logLines: string[] = []) {
  const decisions: string[] = [];
  const app = Fastify({ logger: { level: 'info', stream: { write: (line: string) => logLines.push(line) } } });
  decorateCredentials(app);
  registerRateLimit(app, { limiter, authenticatedPerMinute: 2, unauthenticatedPerMinute: 1, onDecision: (name, outcome) => decisions.push(`${name}:${outcome}`) });
  let handled = 0;
  let parsed = 0;
  // Counts the bodies actually read: a request refused before parsing never reaches this.
  app.addContentTypeParser('application/x-test', { parseAs: 'string' }, (_request, body, done) => {
    parsed++;
    done(null, { body: String(body) });
  });
  // Verifies its credential in the handler, as a token endpoint does, and has no side effects.
  const tokenEndpoint = async (request: FastifyRequest) => {
    handled++;
    if (request.headers['x-token']) request.authToken = { id: Number(request.headers['x-token']) } as Token;
    return { token: 'issued' };
  };
  app.get('/jwt/auth', { config: { rateLimit: 'after-handler' } }, tokenEndpoint);
  app.post('/jwt/auth', { config: { rateLimit: 'after-handler' } }, tokenEndpoint);
  // Verifies its credential in an onRequest hook, as the API does: over the limit, neither the body
  // parser nor the handler runs.
  app.post('/upload', {
    onRequest: async (request) => {
      if (request.headers['x-token']) request.authToken = { id: Number(request.headers['x-token']) } as Token;
    },
  }, async () => {
    handled++;
    return { stored: true };
  });
  await app.ready();
  return { app, decisions, handled: () => handled, parsed: () => parsed };
}

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

describe('rate limit plugin', () => {
  it("counts 'after-handler' routes against the token their handler verified", async () => {
    const built = await buildApp(createInProcessLimiter(new FakeClock('2026-11-23T10:00:30Z')));
    app = built.app;
    const get = (token?: string) => app!.inject({ method: 'GET', url: '/jwt/auth', headers: token ? { 'x-token': token } : {} });
    const first = await get('7');
    expect(first.statusCode).toBe(200);
    expect(first.headers['ratelimit-name']).toBe('throttle_authenticated_api');
    expect(first.headers['ratelimit-observed']).toBe('1');
    expect((await get('7')).statusCode).toBe(200);
    const third = await get('7');
    expect(third.statusCode).toBe(429);
    expect(third.json()).toEqual({ message: 'Retry later' });
    expect(third.headers['retry-after']).toBe('30');
    expect(third.headers['content-length']).toBe(String(third.body.length));
    // Token 8 has its own quota; anonymous requests count against the IP (limit 1).
    expect((await get('8')).statusCode).toBe(200);
    expect((await get()).headers['ratelimit-name']).toBe('throttle_unauthenticated_api');
    expect((await get()).statusCode).toBe(429);
    expect(built.decisions).toEqual([
      'throttle_authenticated_api:allowed', 'throttle_authenticated_api:allowed', 'throttle_authenticated_api:throttled',
      'throttle_authenticated_api:allowed', 'throttle_unauthenticated_api:allowed', 'throttle_unauthenticated_api:throttled',
    ]);
  });

  it('sends each window its own reset time, whichever window came before (the text is formatted once per window)', async () => {
    const clock = new FakeClock('2026-11-23T10:00:30Z');
    const built = await buildApp(createInProcessLimiter(clock));
    app = built.app;
    const resets: [string | undefined, string | undefined, string | undefined][] = [];
    // Both counting paths (before the body for /upload, after the handler for /jwt/auth), across windows.
    for (const at of ['2026-11-23T10:00:30Z', '2026-11-23T10:00:59Z', '2026-11-23T10:01:00Z', '2026-11-23T11:17:05Z', '2026-11-23T10:00:31Z']) {
      clock.set(at);
      for (const res of [await app.inject({ method: 'POST', url: '/upload', headers: { 'x-token': '9' } }), await app.inject({ method: 'GET', url: '/jwt/auth', headers: { 'x-token': '8' } })]) {
        resets.push([res.headers['ratelimit-reset'] as string, res.headers['ratelimit-resettime'] as string, res.headers['retry-after'] as string | undefined]);
      }
    }
    const expected = (reset: string) => [String(Date.parse(reset) / 1000), new Date(reset).toUTCString()];
    expect(resets).toEqual([
      [...expected('2026-11-23T10:01:00Z'), undefined],
      [...expected('2026-11-23T10:01:00Z'), undefined],
      [...expected('2026-11-23T10:01:00Z'), undefined],
      [...expected('2026-11-23T10:01:00Z'), undefined],
      [...expected('2026-11-23T10:02:00Z'), undefined],
      [...expected('2026-11-23T10:02:00Z'), undefined],
      [...expected('2026-11-23T11:18:00Z'), undefined],
      [...expected('2026-11-23T11:18:00Z'), undefined],
      // Back in the first window (a clock set back).
      [...expected('2026-11-23T10:01:00Z'), undefined],
      [...expected('2026-11-23T10:01:00Z'), undefined],
    ]);
    // Over the limit of 2 in that window: the 429 carries the same reset and its Retry-After.
    clock.set('2026-11-23T10:00:32Z');
    expect((await app.inject({ method: 'POST', url: '/upload', headers: { 'x-token': '9' } })).statusCode).toBe(200);
    const over = await app.inject({ method: 'POST', url: '/upload', headers: { 'x-token': '9' } });
    expect([over.statusCode, over.headers['ratelimit-reset'], over.headers['ratelimit-resettime'], over.headers['retry-after']]).toEqual([429, ...expected('2026-11-23T10:01:00Z'), '28']);
  });

  it('keys by the token a hook verified and stops over-limit requests before the handler', async () => {
    const built = await buildApp(createInProcessLimiter(new FakeClock('2026-11-23T10:00:30Z')));
    app = built.app;
    const post = () => app!.inject({ method: 'POST', url: '/upload', headers: { 'x-token': '3' } });
    expect((await post()).statusCode).toBe(200);
    expect((await post()).statusCode).toBe(200);
    const refused = await post();
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['ratelimit-observed']).toBe('3');
    expect(built.handled()).toBe(2);
  });

  it('refuses an over-limit token before its body is read', async () => {
    const built = await buildApp(createInProcessLimiter(new FakeClock('2026-11-23T10:00:30Z')));
    app = built.app;
    const post = () => app!.inject({ method: 'POST', url: '/upload', headers: { 'x-token': '3', 'content-type': 'application/x-test' }, payload: 'a[]=&'.repeat(1000) });
    expect((await post()).statusCode).toBe(200);
    expect((await post()).statusCode).toBe(200);
    expect(built.parsed()).toBe(2);
    for (let i = 0; i < 3; i++) expect((await post()).statusCode).toBe(429);
    expect(built.parsed()).toBe(2);
    expect(built.handled()).toBe(2);
  });

  it("counts an 'after-handler' body route after its handler, but refuses an address it throttled before reading the body", async () => {
    const built = await buildApp(createInProcessLimiter(new FakeClock('2026-11-23T10:00:30Z')));
    app = built.app;
    const post = (token?: string) =>
      app!.inject({ method: 'POST', url: '/jwt/auth', headers: { 'content-type': 'application/x-test', ...(token ? { 'x-token': token } : {}) }, payload: 'grant_type=password' });
    // A verified token in the body counts against the token, not the address.
    for (let i = 0; i < 2; i++) expect((await post('5')).headers['ratelimit-name']).toBe('throttle_authenticated_api');
    // Anonymous: the first is allowed (limit 1), the second is read, handled, then replaced by the 429.
    expect((await post()).statusCode).toBe(200);
    expect((await post()).statusCode).toBe(429);
    expect(built.parsed()).toBe(4);
    // From now on this address is refused before its body is read.
    for (let i = 0; i < 5; i++) {
      const res = await post();
      expect(res.statusCode).toBe(429);
      expect(res.headers['retry-after']).toBe('30');
    }
    expect(built.parsed()).toBe(4);
    expect(built.handled()).toBe(4);
  });

  it('lets requests through without headers when the counter store fails, warning once and noting the recovery', async () => {
    let down = true;
    const inner = createInProcessLimiter(new FakeClock('2026-11-23T10:00:30Z'));
    const flaky: RateLimiter = {
      hit: (key, period) => (down ? Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379')) : inner.hit(key, period)),
      ready: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379')),
      close: async () => {},
    };
    const logLines: string[] = [];
    const built = await buildApp(flaky, logLines);
    app = built.app;
    for (let i = 0; i < 5; i++) {
      const res = await app.inject({ method: 'POST', url: '/upload' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['ratelimit-limit']).toBeUndefined();
    }
    expect(built.handled()).toBe(5);
    expect(built.decisions).toEqual(Array(5).fill('throttle_unauthenticated_api:unavailable'));
    // One warning at start (onReady), none per request while it stays down.
    const warnings = logLines.filter((l) => l.includes('does not answer'));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!)).toMatchObject({ level: 40, err: 'connect ECONNREFUSED 127.0.0.1:6379' });

    down = false;
    const back = await app.inject({ method: 'POST', url: '/upload' });
    expect(back.headers['ratelimit-observed']).toBe('1');
    expect(logLines.filter((l) => l.includes('answers again'))).toHaveLength(1);
    expect((await app.inject({ method: 'POST', url: '/upload' })).statusCode).toBe(429);
  });
});
