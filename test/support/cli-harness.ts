/**
 * The set-up every CLI suite shares: a temp data dir, a store (a SQLite file in that dir or a fresh
 * PostgreSQL database), the env the CLI reads, an in-process `cli(...args)` over runCli that captures
 * stdout/stderr, and short-lived apps or services on the same store. Suites call `setUp()` in a
 * beforeAll (or beforeEach) and `tearDown()` after; `tearDown` drops the database and removes the dir.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { buildApp, buildServices, type App } from '../../src/app.js';
import type { BuiltServices } from '../../src/services.js';
import { runCli } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config.js';
import { createTestDatabase, type DialectName } from './dialects.js';

export const CLI_TEST_SECRET = 'cli-test-secret-0123456789abcdef0123456789';

/** What one CLI run did: its exit code and what it printed, lines joined with `\n`. */
export interface CliRun {
  code: number;
  out: string;
  err: string;
}

export type { BuiltServices };

export interface CliHarnessOptions {
  /** Prefix of the temp dir's name, e.g. `latchkey-token-cli-`. */
  prefix: string;
  /** Extra variables (or overrides) for every run, e.g. LATCHKEY_REGISTRY_ISSUER. */
  env?: Record<string, string>;
}

export interface CliHarness {
  /** The env of the CLI and of `withApp`/`withServices`; valid after setUp. */
  readonly env: Record<string, string>;
  readonly dir: string;
  readonly databaseUrl: string;
  /** What `-` reads from stdin in the next runs (empty by default). */
  stdin: string;
  cli(...args: string[]): Promise<CliRun>;
  /** Runs with `--json` appended, expects exit 0 and an empty stderr, and parses stdout. */
  cliJson<T = any>(...args: string[]): Promise<T>;
  /** A `cli` whose env has these variables changed, for one run or a few. */
  cliWithEnv(overrides: Record<string, string>): (...args: string[]) => Promise<CliRun>;
  /** An app on the same store, closed (its queued writes flushed) when fn settles. */
  withApp<T>(fn: (app: App) => Promise<T>): Promise<T>;
  /** The services on the same store, closed with `built.close()` when fn settles. */
  withServices<T>(fn: (built: BuiltServices) => Promise<T>): Promise<T>;
  /** One API request through a fresh app: status and the parsed JSON body. */
  api(method: 'GET' | 'POST' | 'PUT', url: string, options: { token: string; body?: unknown }): Promise<{ status: number; body: any }>;
  /** Creates the dir and the database; `extraEnv` adds to options.env for this set-up only. */
  setUp(extraEnv?: Record<string, string>): Promise<void>;
  tearDown(): Promise<void>;
}

/**
 * A harness on `dialect`, or `'none'` for commands that must not touch a store: then no DATABASE_URL
 * is set and the data dir is `<dir>/data`, which is never created.
 */
export function createCliHarness(dialect: DialectName | 'none', options: CliHarnessOptions): CliHarness {
  let dir: string | undefined;
  let env: Record<string, string> | undefined;
  let databaseUrl: string | undefined;
  let dropDatabase: () => Promise<void> = async () => {};

  const ready = <T>(value: T | undefined, name: string): T => {
    if (value === undefined) throw new Error(`cli harness: ${name} is only set after setUp()`);
    return value;
  };

  const harness: CliHarness = {
    get env() {
      return ready(env, 'env');
    },
    get dir() {
      return ready(dir, 'dir');
    },
    get databaseUrl() {
      return ready(databaseUrl, 'databaseUrl');
    },
    stdin: '',

    cli: (...args) => run(harness.env, args),

    async cliJson<T = any>(...args: string[]): Promise<T> {
      const result = await harness.cli(...args, '--json');
      expect(result, result.err).toMatchObject({ code: 0, err: '' });
      return JSON.parse(result.out) as T;
    },

    cliWithEnv: (overrides) => (...args) => run({ ...harness.env, ...overrides }, args),

    withApp: async (fn) => closingAfter(await buildApp(loadConfig(harness.env)), fn),

    withServices: async (fn) => closingAfter(await buildServices(loadConfig(harness.env)), fn),

    api: (method, url, { token, body }) =>
      harness.withApp(async (app) => {
        const res = await app.http.inject({ method, url, headers: { 'private-token': token, ...(body ? { 'content-type': 'application/json' } : {}) }, payload: body ? JSON.stringify(body) : undefined });
        return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined };
      }),

    async setUp(extraEnv = {}) {
      harness.stdin = '';
      dir = await mkdtemp(join(tmpdir(), options.prefix));
      const base = { LATCHKEY_SECRET: CLI_TEST_SECRET, LATCHKEY_LOG_LEVEL: 'silent' };
      if (dialect === 'none') {
        env = { ...base, LATCHKEY_DATA_DIR: join(dir, 'data'), ...options.env, ...extraEnv };
        return;
      }
      databaseUrl = `sqlite:${join(dir, 'cli.db')}`;
      if (dialect === 'postgres') {
        const db = await createTestDatabase('postgres');
        databaseUrl = db.url;
        dropDatabase = db.drop;
      }
      env = { ...base, LATCHKEY_DATA_DIR: dir, DATABASE_URL: databaseUrl, ...options.env, ...extraEnv };
    },

    async tearDown() {
      const drop = dropDatabase;
      dropDatabase = async () => {};
      await drop();
      if (dir) await rm(dir, { recursive: true, force: true });
      dir = env = databaseUrl = undefined;
    },
  };

  async function run(runEnv: Record<string, string>, args: string[]): Promise<CliRun> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(['node', 'latchkey', ...args], { print: (t) => out.push(t), error: (t) => err.push(t), env: runEnv, readStdin: async () => harness.stdin });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  return harness;
}

/** Runs fn on an app or built services and closes them however fn ends. */
async function closingAfter<R extends { close(): Promise<void> }, T>(resource: R, fn: (resource: R) => Promise<T>): Promise<T> {
  try {
    return await fn(resource);
  } finally {
    await resource.close();
  }
}
