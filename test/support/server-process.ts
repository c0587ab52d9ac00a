/**
 * The real service as a child process (`node bin/latchkey.mjs serve`) for end-to-end tests: a temp data
 * dir, 127.0.0.1 on a port the OS picks (LATCHKEY_PORT=0, read back from the "listening on" line),
 * optionally a fresh PostgreSQL database, and the first admin's token from `admin bootstrap --json`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, type DialectName } from './dialects.js';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const LATCHKEY_BIN = join(REPO_ROOT, 'bin', 'latchkey.mjs');

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Milliseconds from the first stderr output to the exit (null without stderr): how long it lingered after reporting an error. */
  lingeredAfterStderrMs: number | null;
}

/**
 * The environment a spawned latchkey sees: ours without any Latchkey or database setting that would
 * leak in from the developer's shell, plus `extra`.
 */
export function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('LATCHKEY_') || k.startsWith('DATABASE_URL') || k === 'PORT') continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/** Runs `node bin/latchkey.mjs <args>` to completion (killed after `timeoutMs`). */
export function runLatchkey(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<CommandResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [LATCHKEY_BIN, ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let firstStderrAt: number | null = null;
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      firstStderrAt ??= Date.now();
      stderr += s;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr, lingeredAfterStderrMs: firstStderrAt === null ? null : Date.now() - firstStderrAt });
    });
  });
}

export interface ServerProcess {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** `http://127.0.0.1:<port>/api/v4` */
  readonly apiUrl: string;
  /** A personal access token (scope api) of the first admin, from `admin bootstrap --json`. */
  readonly adminToken: string;
  readonly dataDir: string;
  readonly dialect: DialectName;
  /** The environment `serve` runs with; CLI commands given it act on the same store. */
  readonly env: NodeJS.ProcessEnv;
  /** Everything the server printed so far (stdout and stderr, interleaved). */
  output(): string;
  /** How the process ended, or null while it runs (a crash shows here before `stop`). */
  exited(): { code: number | null; signal: NodeJS.Signals | null } | null;
  /**
   * SIGTERM, wait for exit (SIGKILL after `graceMs`), then remove the data dir (unless the caller gave
   * it) and drop the database. Resolves to how the process ended.
   */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; killed: boolean }>;
  /** SIGKILL now (a crash: nothing runs on the way out) and wait for the exit; data dir and database stay until `stop`. */
  kill(): Promise<void>;
}

export interface StartOptions {
  dialect?: DialectName;
  /** Extra environment for the server and the bootstrap command. */
  env?: Record<string, string>;
  /** Skip `admin bootstrap` (adminToken is then ''). */
  bootstrap?: boolean;
  /** Use this data dir (e.g. to restart on the same one); the caller removes it. A fresh temp dir otherwise. */
  dataDir?: string;
  startTimeoutMs?: number;
  /** How the server reaches its fresh PostgreSQL database (e.g. through a proxy): the URL it is given. */
  reachDatabaseAt?: (url: string) => string;
}

const running = new Set<ChildProcess>();
// A crashed or interrupted test run must not leave servers behind.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolvePromise) => {
    const timer = setTimeout(() => resolvePromise(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolvePromise(true);
    });
  });
}

async function waitUntilReady(url: string, child: ChildProcess, deadline: number): Promise<void> {
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`server exited (${child.exitCode ?? child.signalCode}) before it was ready`);
    try {
      const res = await fetch(`${url}/-/readiness`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return;
      last = `readiness answered ${res.status}: ${await res.text()}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server at ${url} not ready in time (${last})`);
}

export async function startServer(options: StartOptions = {}): Promise<ServerProcess> {
  const dialect = options.dialect ?? 'sqlite';
  const ownDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'latchkey-e2e-')));
  const db = dialect === 'postgres' ? await createTestDatabase('postgres') : null;
  const env = childEnv({
    LATCHKEY_DATA_DIR: dataDir,
    LATCHKEY_HOST: '127.0.0.1',
    LATCHKEY_PORT: '0',
    LATCHKEY_LOG_LEVEL: 'warn',
    ...(db ? { DATABASE_URL: options.reachDatabaseAt ? options.reachDatabaseAt(db.url) : db.url } : {}),
    ...options.env,
  });

  const cleanup = async () => {
    if (ownDataDir) await rm(dataDir, { recursive: true, force: true });
    await db?.drop();
  };

  const child = spawn(process.execPath, [LATCHKEY_BIN, 'serve'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (output += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (output += s));

  const stop = async (graceMs = 10_000) => {
    let killed = false;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      if (!(await waitForExit(child, graceMs))) {
        killed = true;
        child.kill('SIGKILL');
        await waitForExit(child, 5_000);
      }
    }
    running.delete(child);
    await cleanup();
    return { code: child.exitCode, signal: child.signalCode, killed };
  };

  try {
    const deadline = Date.now() + (options.startTimeoutMs ?? 90_000);
    const url = await new Promise<string>((resolvePromise, reject) => {
      const timer = setInterval(() => {
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
        if (m) {
          clearInterval(timer);
          resolvePromise(m[1]!);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          clearInterval(timer);
          reject(new Error(`server exited (${child.exitCode ?? child.signalCode}) before listening`));
        } else if (Date.now() > deadline) {
          clearInterval(timer);
          reject(new Error('server did not print "listening on" in time'));
        }
      }, 50);
    });
    await waitUntilReady(url, child, deadline);

    let adminToken = '';
    if (options.bootstrap !== false) {
      const result = await runLatchkey(['admin', 'bootstrap', '--json'], env);
      if (result.code !== 0) throw new Error(`admin bootstrap failed (${result.code}): ${result.stderr}${result.stdout}`);
      adminToken = (JSON.parse(result.stdout) as { token: string }).token;
    }
    const exited = () => (child.exitCode === null && child.signalCode === null ? null : { code: child.exitCode, signal: child.signalCode });
    const kill = async () => {
      child.kill('SIGKILL');
      await waitForExit(child, 5_000);
    };
    return { url, apiUrl: `${url}/api/v4`, adminToken, dataDir, dialect, env, output: () => output, exited, stop, kill };
  } catch (e) {
    await stop(2_000).catch(() => {});
    throw new Error(`${(e as Error).message}\n--- server output ---\n${output}`);
  }
}

/** One JSON request to a server's API (`/api/v4` + path) with a token (the admin's by default); the body parsed. */
export async function serverApi(server: Pick<ServerProcess, 'apiUrl' | 'adminToken'>, method: string, path: string, body?: unknown, token = server.adminToken): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.apiUrl}${path}`, {
    method,
    headers: { 'private-token': token, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}
