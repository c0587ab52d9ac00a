/**
 * Hostile request bodies cost milliseconds, not seconds, and an anonymous client cannot make the server
 * read one: the API authenticates before the body is parsed, the rate limit is decided before it too,
 * and the form parser is linear with Rack's limits on pairs and nesting. "Before parsing" is shown by
 * what the answer is: a body that would be a 400 if it were read gets the 401/429 instead.
 * @see issue 12 item 2
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, tableCounts, type TestApp, type World } from '../../support/test-app.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const JSON_TYPE = { 'content-type': 'application/json' };
/** 100 KB of `a[]=&`: 20,000 repeated keys; the old parser took 14-40 s on it. */
const HOSTILE_FORM = 'a[]=&'.repeat(20_000);

describe.each(DIALECTS)('hostile bodies on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  beforeAll(async () => {
    t = await startTestApp(dialect, { env: { LATCHKEY_RATE_LIMIT_PER_MINUTE: '0', LATCHKEY_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: '0' } });
    w = await seedWorld(t);
  });
  afterAll(() => t?.close());

  const elapsed = async <T>(f: () => Promise<T>): Promise<[T, number]> => {
    const start = performance.now();
    const result = await f();
    return [result, performance.now() - start];
  };

  it('refuses a 100 KB form of repeated keys with a 400 that says why, in a time of the order of a plain request', async () => {
    // Baseline: the same endpoint with a small valid body, so the bound follows the machine's speed.
    const [, baseline] = await elapsed(() => t.request('POST', '/api/v4/groups', { token: w.adminToken, rawBody: 'name=Base&path=base', headers: FORM }));
    const before = await tableCounts(t);
    for (const body of [HOSTILE_FORM, 'a=&'.repeat(30_000), `${Array.from({ length: 2000 }, (_, i) => `k${i}=v`).join('&')}`]) {
      const [res, ms] = await elapsed(() => t.request('POST', '/api/v4/groups', { token: w.adminToken, rawBody: body, headers: FORM }));
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ message: '400 Bad request - Too many parameters (at most 1000)' });
      // Generous: 50 plain requests' time, and never less than a second (the old parser: 14-40 s).
      expect(ms).toBeLessThan(Math.max(50 * baseline, 1000));
    }
    expect(await tableCounts(t)).toEqual(before);
  });

  it('refuses a key nested deeper than 5 brackets, and a key that is both a value and a hash', async () => {
    const deep = await t.request('POST', '/api/v4/groups', { token: w.adminToken, rawBody: `name${'[x]'.repeat(50_000)}=1`, headers: FORM });
    expect(deep.status).toBe(400);
    expect(deep.body.message).toMatch(/^400 Bad request - Parameter "name" is nested deeper than 5 levels$/);
    const clash = await t.request('POST', '/api/v4/groups', { token: w.adminToken, rawBody: 'name=x&name[y]=1&path=clash', headers: FORM });
    expect(clash.status).toBe(400);
    expect(clash.body.message).toMatch(/^400 Bad request - /);
  });

  it('refuses JSON nested deeper than 32 levels before parsing it', async () => {
    const [, baseline] = await elapsed(() => t.request('POST', '/api/v4/groups', { token: w.adminToken, body: { name: 'Base2', path: 'base2' } }));
    const [res, ms] = await elapsed(() => t.request('POST', '/api/v4/groups', { token: w.adminToken, rawBody: '['.repeat(1_000_000), headers: JSON_TYPE }));
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ message: '400 Bad request - The JSON body is nested deeper than 32 levels' });
    expect(ms).toBeLessThan(Math.max(50 * baseline, 1000));
  });

  it('still takes the forms clients send', async () => {
    const res = await t.request('POST', `/api/v4/projects/${w.project.id}/deploy_tokens`, {
      token: w.adminToken,
      rawBody: 'name=form+token&scopes[]=read_repository&scopes%5B%5D=read_registry&expires_at=2027-05-01',
      headers: FORM,
    });
    expect(res.status, res.text).toBe(201);
    expect(res.body.scopes).toEqual(['read_repository', 'read_registry']);
  });

  it('answers an anonymous or wrongly authenticated request 401 without reading its body', async () => {
    // If these bodies were parsed, the answers would be 400 (bad JSON, too many parameters).
    for (const token of [null, 'glpat-not-a-real-token']) {
      for (const [rawBody, headers] of [['{"name":', JSON_TYPE], [HOSTILE_FORM, FORM], [`${'['.repeat(100_000)}`, JSON_TYPE]] as const) {
        const res = await t.request('POST', '/api/v4/groups', { token, rawBody, headers });
        expect(res.status).toBe(401);
        expect(res.body).toEqual({ message: '401 Unauthorized' });
      }
    }
  });
});

describe.each(DIALECTS)('rate limits before body parsing on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  beforeAll(async () => {
    t = await startTestApp(dialect, { env: { LATCHKEY_RATE_LIMIT_PER_MINUTE: '2', LATCHKEY_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: '2' } });
    w = await seedWorld(t);
  });
  afterAll(() => t?.close());

  it('answers an over-limit token 429 whatever its body (src/http/plugins/rate-limit.test.ts shows the body is not read)', async () => {
    const token = w.users.developer.token;
    const post = () => t.request('POST', '/api/v4/groups', { token, rawBody: '{"name":', headers: JSON_TYPE });
    expect((await post()).status).toBe(400);
    expect((await post()).status).toBe(400);
    // Over the limit: the answer is the 429, not the 400 of the malformed body.
    const res = await post();
    expect(res.status).toBe(429);
    expect(res.body).toEqual({ message: 'Retry later' });
  });

  it('answers an address it throttled 429 before reading a POST /jwt/auth form', async () => {
    const tooMany = Array.from({ length: 1500 }, (_, i) => `k${i}=v`).join('&');
    const post = () => t.app.http.inject({ method: 'POST', url: '/jwt/auth', headers: FORM, payload: `grant_type=password&username=nobody&password=wrong&${tooMany}`, remoteAddress: '203.0.113.9' });
    // Read (the parser refuses it), counted against the address after the answer: 400, 400, then 429.
    expect((await post()).statusCode).toBe(400);
    expect((await post()).statusCode).toBe(400);
    expect((await post()).statusCode).toBe(429);
    // Now known to be over: refused before the body is read (the 400 would need the parser).
    for (let i = 0; i < 3; i++) {
      const res = await post();
      expect(res.statusCode).toBe(429);
      expect(res.headers['ratelimit-name']).toBe('throttle_unauthenticated_api');
    }
    // Another address is not affected.
    const other = await t.app.http.inject({ method: 'POST', url: '/jwt/auth', headers: FORM, payload: 'grant_type=password&username=nobody&password=wrong', remoteAddress: '203.0.113.10' });
    expect(other.statusCode).toBe(401);
  });
});
