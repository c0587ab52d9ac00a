/**
 * Several nodes, one limit: two real `latchkey serve` processes on one PostgreSQL database and one
 * Redis (REDIS_URL, a key prefix of this run's own) with a limit of 20 requests per minute per token
 * and 10 per IP. A burst spread over both nodes gets exactly the limit through per window — the two
 * nodes' answers continue one counter — and every answer carries consistent GitLab headers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, DIALECTS } from '../support/dialects.js';
import { deleteRedisKeys, REDIS_TEST_URL, requireRedis, uniqueRedisPrefix } from '../support/redis.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

const TOKEN_LIMIT = 20;
const IP_LIMIT = 10;

interface Answer {
  node: 'a' | 'b';
  status: number;
  headers: Headers;
}

/** Answers grouped by the window they fell in (RateLimit-Reset names it). */
function byWindow(answers: Answer[]): Map<string, Answer[]> {
  const windows = new Map<string, Answer[]>();
  for (const a of answers) {
    const reset = a.headers.get('ratelimit-reset');
    expect(reset, `answer ${a.status} from node ${a.node} without RateLimit-Reset`).toMatch(/^\d+$/);
    windows.set(reset!, [...(windows.get(reset!) ?? []), a]);
  }
  return windows;
}

/** Checks one burst: per window exactly min(limit, n) get through, and the headers tell the truth. */
function expectSharedLimit(answers: Answer[], limit: number, name: string, allowedStatus: number): void {
  const windows = byWindow(answers);
  let largest = 0;
  for (const [reset, inWindow] of windows) {
    largest = Math.max(largest, inWindow.length);
    const allowed = inWindow.filter((a) => a.status === allowedStatus);
    const throttled = inWindow.filter((a) => a.status === 429);
    expect(allowed.length + throttled.length, `only ${allowedStatus} or 429 expected`).toBe(inWindow.length);
    expect(allowed.length, `window ending ${reset}`).toBe(Math.min(limit, inWindow.length));
    // One counter across both nodes: the observed values of a window are 1..n, each exactly once.
    const observed = inWindow.map((a) => Number(a.headers.get('ratelimit-observed'))).sort((x, y) => x - y);
    expect(observed).toEqual(Array.from({ length: inWindow.length }, (_, i) => i + 1));
    for (const a of inWindow) {
      const n = Number(a.headers.get('ratelimit-observed'));
      expect(a.status).toBe(n <= limit ? allowedStatus : 429);
      expect(a.headers.get('ratelimit-name')).toBe(name);
      expect(a.headers.get('ratelimit-limit')).toBe(String(limit));
      expect(a.headers.get('ratelimit-remaining')).toBe(String(Math.max(0, limit - n)));
      expect(a.headers.get('ratelimit-resettime')).toBe(new Date(Number(reset) * 1000).toUTCString());
      expect(Number(reset) % 60).toBe(0);
      if (a.status === 429) {
        const retryAfter = Number(a.headers.get('retry-after'));
        expect(retryAfter).toBeGreaterThanOrEqual(1);
        expect(retryAfter).toBeLessThanOrEqual(60);
        // Retry-After counts down to the reset, on Redis's clock (the same host's here).
        expect(Math.abs(Number(reset) - retryAfter - Date.now() / 1000)).toBeLessThan(15);
      } else {
        expect(a.headers.get('retry-after')).toBeNull();
      }
    }
  }
  // Whatever window boundary the burst crossed, one window saw more than the limit.
  expect(largest).toBeGreaterThan(limit);
}

describe.runIf(DIALECTS.includes('postgres') && requireRedis())('rate limits shared by two nodes through Redis', () => {
  const prefix = uniqueRedisPrefix('two-nodes');
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let a: ServerProcess;
  let b: ServerProcess;
  // Fresh tokens, one per test, so each counter starts at zero (the admin token's counted their creation).
  const tokens: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    const env = {
      DATABASE_URL: db.url,
      LATCHKEY_SECRET: 'two-nodes-rate-limit-secret-0123456789abcdef',
      REDIS_URL: REDIS_TEST_URL,
      LATCHKEY_REDIS_KEY_PREFIX: prefix,
      LATCHKEY_RATE_LIMIT_PER_MINUTE: String(TOKEN_LIMIT),
      LATCHKEY_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: String(IP_LIMIT),
    };
    a = await startServer({ env });
    // The second node shares the database (and the first node's admin); it needs no bootstrap.
    b = await startServer({ env, bootstrap: false });
    // Created through node B: node A knows them only through the shared database.
    for (const name of ['alternating', 'burst']) {
      const created = await fetch(`${b.apiUrl}/users/1/personal_access_tokens`, {
        method: 'POST',
        headers: { 'private-token': a.adminToken, 'content-type': 'application/json' },
        body: JSON.stringify({ name, scopes: ['read_user'], expires_at: new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10) }),
      });
      expect(created.status, await created.clone().text()).toBe(201);
      tokens.push(((await created.json()) as { token: string }).token);
    }
  }, 90_000);

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await db?.drop();
    await deleteRedisKeys(prefix);
  });

  const ask = async (node: 'a' | 'b', headers: Record<string, string>): Promise<Answer> => {
    const res = await fetch(`${(node === 'a' ? a : b).apiUrl}/user`, { headers });
    await res.arrayBuffer();
    return { node, status: res.status, headers: res.headers };
  };
  const burst = (count: number, headers: Record<string, string>) => Promise.all(Array.from({ length: count }, (_, i) => ask(i % 2 ? 'b' : 'a', headers)));

  it('continues one counter across nodes: alternating requests, each node stops at the shared limit', async () => {
    const answers: Answer[] = [];
    for (let i = 0; i < 50; i++) answers.push(await ask(i % 2 ? 'b' : 'a', { 'private-token': tokens[0]! }));
    expectSharedLimit(answers, TOKEN_LIMIT, 'throttle_authenticated_api', 200);
    // In the window that saw more than the limit, both nodes let requests through and both refused.
    const busiest = [...byWindow(answers).values()].sort((x, y) => y.length - x.length)[0]!;
    for (const node of ['a', 'b'] as const) {
      expect(busiest.some((x) => x.node === node && x.status === 200), `node ${node} answered 200`).toBe(true);
      expect(busiest.some((x) => x.node === node && x.status === 429), `node ${node} answered 429`).toBe(true);
    }
  }, 60_000);

  it('lets exactly the per-token limit through per window when a burst hits both nodes at once', async () => {
    expectSharedLimit(await burst(50, { 'private-token': tokens[1]! }), TOKEN_LIMIT, 'throttle_authenticated_api', 200);
  }, 60_000);

  it('lets exactly the per-IP limit through per window for requests without a valid token', async () => {
    expectSharedLimit(await burst(30, { 'private-token': 'glpat-not-a-token-of-this-instance-00' }), IP_LIMIT, 'throttle_unauthenticated_api', 401);
  }, 60_000);
});
