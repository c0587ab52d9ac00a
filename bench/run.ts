/**
 * `npm run bench`: the verification path and an authenticated API request, each measured against a
 * baseline run in the same process (so the ratios hold on any machine), with the targets they must meet.
 *
 *   verify (cache hit)   vs one HMAC-SHA256 of the secret   — the irreducible cost of checking a token
 *   verify (cache miss)  vs one HMAC-SHA256                 — a database read per call (cache disabled)
 *   GET …/self (auth'd)  vs GET /-/health (no credential)   — what authentication, auditing, usage
 *                                                              tracking and rate limiting add to a request
 *
 * Prints ops/s and ratios; `--strict` exits 1 when a ratio is over its target. SQLite in memory, a fixed
 * clock, no network.
 */
import { createHmac } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { buildApp, type App } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { FakeClock } from '../src/kernel/clock.js';
import { openStore } from '../src/store/open-store.js';

interface Case {
  name: string;
  baseline: string;
  /** Highest acceptable ratio (case time per op / baseline time per op). */
  target: number;
  run: () => unknown;
  runBaseline: () => unknown;
}

const SECRET = 'bench-secret-0123456789abcdef0123456789';
const MIN_MS = Number(process.env.BENCH_MS ?? 1500);

/** Operations per second of `fn` (awaited), after a warm-up, over at least MIN_MS. */
async function opsPerSecond(fn: () => unknown): Promise<number> {
  for (let i = 0; i < 200; i++) await fn();
  let ops = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < MIN_MS) {
    for (let i = 0; i < 100; i++) await fn();
    ops += 100;
    elapsed = performance.now() - start;
  }
  return (ops * 1000) / elapsed;
}

async function startApp(env: Record<string, string>): Promise<{ app: App; token: string }> {
  const clock = new FakeClock('2026-11-23T10:00:00.000Z');
  const store = await openStore({ kind: 'sqlite', file: ':memory:' });
  const app = await buildApp(loadConfig({ LATCHKEY_SECRET: SECRET, LATCHKEY_LOG_LEVEL: 'silent', LATCHKEY_DATA_DIR: '/nonexistent-latchkey-bench', ...env }), { clock, store });
  await app.http.ready();
  const { admin } = await app.services.namespaces.ensureFirstAdmin('root', 'root@example.com');
  const { secret } = await app.services.personalTokens.createFor(admin, { name: 'bench', scopes: ['api'], expiresAt: '2027-06-01' }, null);
  return { app, token: secret };
}

async function main(): Promise<void> {
  const strict = process.argv.includes('--strict');
  const cached = await startApp({});
  const uncached = await startApp({ LATCHKEY_VERIFY_CACHE_MS: '0' });
  const hmac = (token: string) => () => createHmac('sha256', SECRET).update(token).digest();
  const inject = (app: App, url: string, headers: Record<string, string> = {}) => () => app.http.inject({ method: 'GET', url, headers });

  const cases: Case[] = [
    { name: 'verify, cache hit', baseline: 'HMAC-SHA256', target: 5, run: () => cached.app.services.verifier.verify(cached.token, { ip: '127.0.0.1', userAgent: 'bench' }), runBaseline: hmac(cached.token) },
    { name: 'verify, cache miss (DB read)', baseline: 'HMAC-SHA256', target: 100, run: () => uncached.app.services.verifier.verify(uncached.token, { ip: '127.0.0.1', userAgent: 'bench' }), runBaseline: hmac(uncached.token) },
    { name: 'GET /api/v4/personal_access_tokens/self', baseline: 'GET /-/health', target: 3, run: inject(cached.app, '/api/v4/personal_access_tokens/self', { 'private-token': cached.token }), runBaseline: inject(cached.app, '/-/health') },
  ];

  const probe = await cached.app.http.inject({ method: 'GET', url: '/-/health' });
  const self = await cached.app.http.inject({ method: 'GET', url: '/api/v4/personal_access_tokens/self', headers: { 'private-token': cached.token } });
  if (probe.statusCode !== 200 || self.statusCode !== 200) throw new Error(`bench set-up: /-/health answered ${probe.statusCode}, …/self ${self.statusCode}`);

  let over = 0;
  console.log('case | ops/s | baseline | baseline ops/s | ratio | target');
  for (const c of cases) {
    const base = await opsPerSecond(c.runBaseline);
    const ops = await opsPerSecond(c.run);
    const ratio = base / ops;
    const ok = ratio <= c.target;
    if (!ok) over++;
    console.log(`${c.name} | ${ops.toFixed(0)} | ${c.baseline} | ${base.toFixed(0)} | ${ratio.toFixed(2)}× | ≤ ${c.target}× ${ok ? 'ok' : 'OVER'}`);
  }
  await cached.app.close();
  await uncached.app.close();
  await cached.app.store.close();
  await uncached.app.store.close();
  if (strict && over > 0) process.exitCode = 1;
}

await main();
