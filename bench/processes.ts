/**
 * The processes `npm run bench` measures: the bare node:http baseline and `latchkey serve` as users run
 * it (`node bin/latchkey.mjs serve`), each a child process on a port the OS picks; and one-shot CLI runs
 * (`latchkey notify run`), timed. Also reads a process's resident memory from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const LATCHKEY_BIN = join(REPO_ROOT, 'bin', 'latchkey.mjs');

export interface Child {
  readonly url: string;
  readonly pid: number;
  output(): string;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Our environment without any Latchkey or database setting from the caller's shell, plus `extra`. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('LATCHKEY_') && !k.startsWith('DATABASE_URL') && k !== 'PORT' && k !== 'REDIS_URL') env[k] = v;
  return { ...env, ...extra };
}

async function startChild(args: string[], env: NodeJS.ProcessEnv, readyPath: string | null, timeoutMs = 120_000): Promise<Child> {
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (output += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (output += s));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const exited = await new Promise<boolean>((r) => {
        const timer = setTimeout(() => r(false), 15_000);
        child.once('exit', () => (clearTimeout(timer), r(true)));
      });
      if (!exited) child.kill('SIGKILL');
    }
    running.delete(child);
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
    if (m) {
      const url = m[1]!;
      if (readyPath) {
        for (;;) {
          const ok = await fetch(`${url}${readyPath}`).then((r) => r.status === 200, () => false);
          if (ok) break;
          if (Date.now() > deadline) throw new Error(`${args.join(' ')}: not ready in time\n${output}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      return { url, pid: child.pid!, output: () => output, stop };
    }
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${args.join(' ')} exited before listening:\n${output}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${args.join(' ')} did not listen in time:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function startBare(): Promise<Child> {
  return startChild([join(REPO_ROOT, 'bench', 'bare-server.mjs')], cleanEnv({}), null);
}

/** `latchkey serve` with `env` (database, secret, …), node flags first (e.g. --cpu-prof). */
export function startLatchkey(env: Record<string, string>, nodeFlags: string[] = []): Promise<Child> {
  return startChild([...nodeFlags, LATCHKEY_BIN, 'serve'], cleanEnv({ LATCHKEY_HOST: '127.0.0.1', LATCHKEY_PORT: '0', ...env }), '/-/readiness');
}

/** Runs `latchkey <args>` to the end; its wall time in ms, exit code and output. */
export function runLatchkeyTimed(args: string[], env: Record<string, string>): Promise<{ ms: number; code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [LATCHKEY_BIN, ...args], { cwd: REPO_ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ ms: performance.now() - started, code, stdout, stderr }));
  });
}

/** Resident set size now and at its peak, in MB (Linux /proc). */
export function memoryOf(pid: number): { rssMb: number; peakMb: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
    return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

/**
 * CPU time a process has used so far (user + system, all its threads; with `mainThread`, its main thread's
 * alone), in ms (Linux /proc; null elsewhere).
 */
export function cpuMsOf(pid: number, { mainThread = false } = {}): number | null {
  try {
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const stat = readFileSync(mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return null;
  }
}
/** USER_HZ: 100 on every Linux this runs on (getconf CLK_TCK). */
const CLOCK_TICKS = 100;
