/**
 * A `latchkey serve` process on PostgreSQL survives the database dropping its connections.
 *
 * 1. Backends terminated mid-load (pg_terminate_backend, what a failover or a restart does): the node
 *    stays up, every request gets an answer — its result or a 503 with GitLab's body, never a hang —
 *    and service goes on without a restart; every request answered is in the audit log afterwards.
 * 2. A sustained outage (a TCP proxy between node and database cut, then restored): /-/readiness says
 *    so, requests fail fast with 503, and both recover by themselves once the database is back; the
 *    audit entries of the requests answered during the outage are written after it.
 *
 * @see issue 12 item 1 (an unhandled 'error' event of a busy pg client took the node down)
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, POSTGRES_ADMIN_URL } from '../support/dialects.js';
import { startServer, type ServerProcess } from '../support/server-process.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

const UNAVAILABLE = { message: '503 Service Unavailable' };
/** A request that takes longer than this hangs, as far as these tests are concerned. */
const HANG_MS = 15_000;

interface Answer {
  status: number;
  body: unknown;
}

async function call(server: ServerProcess, method: string, path: string, body?: unknown, token = server.adminToken): Promise<Answer> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { 'private-token': token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(HANG_MS),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: kept as text for the assertion message
  }
  return { status: res.status, body: parsed };
}

const createToken = (server: ServerProcess, name: string) =>
  call(server, 'POST', '/api/v4/users/1/personal_access_tokens', { name, scopes: ['read_api'], expires_at: '2027-01-01' });

async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: T | undefined;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (ok(last)) return last;
    } catch (e) {
      last = e as T;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: not reached in ${ms} ms (last: ${JSON.stringify(last)})`);
}

async function withDatabase<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

describe.runIf(DIALECTS.includes('postgres'))('a node on PostgreSQL when the database drops its connections', () => {
  // One node for both cases (starting one is slow on a busy machine), reaching its database through a
  // proxy the second case cuts; backends are terminated on the server itself.
  let server: ServerProcess;
  let proxy: TcpProxy;
  let directUrl: string;
  beforeAll(async () => {
    const target = new URL(POSTGRES_ADMIN_URL);
    const direct = `${target.hostname}:${target.port || 5432}`;
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    server = await startServer({
      dialect: 'postgres',
      env: { LATCHKEY_AUDIT_FLUSH_MS: '200', LATCHKEY_VERIFY_CACHE_MS: '0' },
      reachDatabaseAt: (url) => Object.assign(new URL(url), { host: `127.0.0.1:${proxy.port}` }).toString(),
      startTimeoutMs: 120_000,
    });
    directUrl = Object.assign(new URL(server.env.DATABASE_URL!), { host: direct }).toString();
  }, 180_000);
  afterAll(async () => {
    await server?.stop();
    await proxy?.close();
  }, 60_000);

  it('stays up while its backends are terminated under load, answers every request, and resumes by itself', async () => {
    const s = server;
    const databaseUrl = directUrl;
    const dbName = new URL(databaseUrl).pathname.slice(1);
    const answers: Answer[] = [];
    const failures: string[] = [];
    let stop = false;
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        try {
          answers.push(await createToken(s, `load-${w}-${i}`));
        } catch (e) {
          failures.push(`${(e as Error).name}: ${(e as Error).message}`);
        }
      }
    };
    const workers = Array.from({ length: 16 }, (_, w) => worker(w));
    let terminated = 0;
    await withDatabase(POSTGRES_ADMIN_URL, async (admin) => {
      for (let round = 0; round < 6; round++) {
        await new Promise((r) => setTimeout(r, 400));
        const r = await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [dbName]);
        terminated += r.rowCount ?? 0;
      }
    });
    await new Promise((r) => setTimeout(r, 400));
    stop = true;
    await Promise.all(workers);

    expect(s.exited(), s.output()).toBeNull();
    expect(terminated).toBeGreaterThan(0);
    expect(failures, 'requests that hung or lost their connection').toEqual([]);
    const unexpected = answers.filter((a) => a.status !== 201 && !(a.status === 503 && JSON.stringify(a.body) === JSON.stringify(UNAVAILABLE)));
    expect(unexpected).toEqual([]);
    // The terminations hit requests in flight (otherwise this test proves nothing).
    expect(answers.filter((a) => a.status === 503).length).toBeGreaterThan(0);
    expect(answers.filter((a) => a.status === 201).length).toBeGreaterThan(0);

    // Service resumes without a restart.
    expect((await createToken(s, 'after')).status).toBe(201);
    expect((await call(s, 'GET', '/-/readiness')).status).toBe(200);

    // Every answered request is audited: batches cut mid-write were written on a later flush.
    const answered = answers.length + 1;
    const audited = await until(
      'audit entries of every answered request',
      () => withDatabase(databaseUrl, async (c) => Number((await c.query(`select count(*) as n from audit_events where event = 'http.request' and route = '/api/v4/users/:user_id/personal_access_tokens'`)).rows[0].n)),
      (n) => n >= answered,
    );
    expect(audited).toBe(answered);
    // Every token that exists has its token.created entry.
    const { tokens, created } = await withDatabase(databaseUrl, async (c) => ({
      tokens: (await c.query(`select id from tokens where name like 'load-%' or name = 'after' order by id`)).rows.map((r) => Number(r.id)),
      created: (await c.query(`select token_id from audit_events where event = 'token.created' order by token_id`)).rows.map((r) => Number(r.token_id)),
    }));
    expect(tokens.filter((id) => !created.includes(id))).toEqual([]);
    expect(s.exited()).toBeNull();
  }, 120_000);

  it('reports a sustained outage on /-/readiness, answers 503 fast meanwhile, and recovers when the database is back', async () => {
    const s = server;
    const p = proxy;
    expect((await createToken(s, 'before')).status).toBe(201);
    const count503 = () => withDatabase(directUrl, async (c) => Number((await c.query(`select count(*) as n from audit_events where status = 503`)).rows[0].n));
    const refusedBefore = await until('audit settled', count503, () => true);

    p.cut();
    const readiness = await until('readiness reports the outage', () => call(s, 'GET', '/-/readiness'), (a) => a.status === 503);
    expect(readiness.body).toEqual({ status: 'failed', checks: { database: 'failed' } });
    const during: Answer[] = [];
    for (let i = 0; i < 5; i++) {
      const started = Date.now();
      during.push(await createToken(s, `during-${i}`));
      during.push(await call(s, 'GET', '/api/v4/user'));
      // Fails fast: far below the hang limit (the pool's connect timeout bounds a refused connection).
      expect(Date.now() - started).toBeLessThan(HANG_MS / 2);
    }
    expect(during.map((a) => a.status)).toEqual(Array(10).fill(503));
    for (const a of during) expect(a.body).toEqual(UNAVAILABLE);
    expect((await call(s, 'GET', '/-/health')).status).toBe(200);
    expect(s.exited(), s.output()).toBeNull();

    p.restore();
    await until('readiness recovers', () => call(s, 'GET', '/-/readiness'), (a) => a.status === 200);
    expect((await createToken(s, 'after')).status).toBe(201);
    expect((await call(s, 'GET', '/api/v4/user')).status).toBe(200);

    // The requests answered 503 during the outage were queued for the audit log and written after it.
    const refused = await until('audit entries of the refused requests', count503, (n) => n >= refusedBefore + 10);
    expect(refused - refusedBefore).toBe(10);
    expect(s.exited()).toBeNull();
  }, 120_000);
});
