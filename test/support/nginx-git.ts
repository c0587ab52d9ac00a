/**
 * Debian's nginx + fcgiwrap + `git http-backend` for end-to-end tests, configured from the documented
 * snippet (docs/nginx-git.conf) with its EDIT values replaced: everything in one temp dir, nginx on
 * 127.0.0.1 at a port the OS picked, fcgiwrap on a unix socket; `stop()` ends both by their pids.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { delimiter, join } from 'node:path';
import { REPO_ROOT } from './server-process.js';

export const NGINX_SNIPPET = join(REPO_ROOT, 'docs', 'nginx-git.conf');

/**
 * Where a program is: on PATH, or in the sbin directories Debian installs nginx and fcgiwrap to
 * (often not on a non-root user's PATH). The bare name when not found, so spawning reports ENOENT.
 */
export function programPath(name: string): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  return dirs.map((d) => join(d, name)).find((p) => existsSync(p)) ?? name;
}

export interface SnippetValues {
  listen: string;
  projectRoot: string;
  fcgiwrapSocket: string;
  /** Latchkey's base URL, e.g. `http://127.0.0.1:34567`. */
  latchkeyUrl: string;
}

/**
 * The snippet with the values of its four EDIT lines replaced. Each documented value must appear
 * exactly once, so the docs cannot drift away from what the tests run.
 */
export function renderSnippet(snippet: string, values: SnippetValues): string {
  const replacements: [string, string][] = [
    ['listen 80;', `listen ${values.listen};`],
    ['fastcgi_param GIT_PROJECT_ROOT /srv/git;', `fastcgi_param GIT_PROJECT_ROOT ${values.projectRoot};`],
    ['fastcgi_pass unix:/run/fcgiwrap.socket;', `fastcgi_pass unix:${values.fcgiwrapSocket};`],
    ['proxy_pass http://127.0.0.1:8080/api/v4/latchkey/git/auth;', `proxy_pass ${values.latchkeyUrl}/api/v4/latchkey/git/auth;`],
  ];
  let out = snippet;
  for (const [from, to] of replacements) {
    const count = out.split(from).length - 1;
    if (count !== 1) throw new Error(`docs/nginx-git.conf: expected \`${from}\` once, found it ${count} times`);
    out = out.replace(from, to);
  }
  return out;
}

/** A port that was free a moment ago (the OS picked it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitFor(what: string, ready: () => Promise<boolean>, child: ChildProcess, output: () => string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}):\n${output()}`);
    if (await ready()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} not ready in ${ms} ms:\n${output()}`);
}

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.end();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

function startProcess(command: string, args: string[]): { child: ChildProcess; output: () => string } {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (output += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (output += s));
  return { child, output: () => output };
}

async function stopProcess(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

export interface GitHttpFront {
  /** `http://127.0.0.1:<port>`, where git clients connect. */
  readonly url: string;
  /** What nginx and fcgiwrap printed (error log on stderr; CGI stderr through `fcgiwrap -f`). */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts fcgiwrap and nginx in `dir` (which must exist), serving `projectRoot` and asking Latchkey at
 * `latchkeyUrl`. nginx runs in the foreground as the current user (as root: `user root;`, so its
 * workers can use the socket and the repositories, which the tests create as root).
 */
export async function startGitHttpFront(dir: string, projectRoot: string, latchkeyUrl: string): Promise<GitHttpFront> {
  const socket = join(dir, 'fcgiwrap.sock');
  const port = await freePort();
  await mkdir(join(dir, 'temp'), { recursive: true });
  const server = renderSnippet(await readFile(NGINX_SNIPPET, 'utf8'), { listen: `127.0.0.1:${port}`, projectRoot, fcgiwrapSocket: socket, latchkeyUrl });
  const temp = (name: string) => `${name}_temp_path ${join(dir, 'temp', name)};`;
  const conf = [
    process.getuid?.() === 0 ? 'user root;' : '',
    'worker_processes 1;',
    'events { worker_connections 64; }',
    'http {',
    '  access_log off;',
    `  ${['client_body', 'fastcgi', 'proxy', 'uwsgi', 'scgi'].map(temp).join('\n  ')}`,
    server,
    '}',
  ].join('\n');
  const confFile = join(dir, 'nginx.conf');
  await writeFile(confFile, conf);

  const fcgiwrap = startProcess(programPath('fcgiwrap'), ['-f', '-s', `unix:${socket}`]);
  let nginx: ReturnType<typeof startProcess> | null = null;
  const output = () => `--- fcgiwrap ---\n${fcgiwrap.output()}\n--- nginx ---\n${nginx?.output() ?? ''}`;
  const stop = async () => {
    if (nginx) await stopProcess(nginx.child, 'SIGQUIT');
    await stopProcess(fcgiwrap.child, 'SIGTERM');
  };
  try {
    await waitFor('fcgiwrap', async () => existsSync(socket), fcgiwrap.child, output);
    const globals = `daemon off; pid ${join(dir, 'nginx.pid')}; error_log stderr warn;`;
    const started = startProcess(programPath('nginx'), ['-p', dir, '-e', 'stderr', '-c', confFile, '-g', globals]);
    nginx = started;
    await waitFor('nginx', () => accepts(port), started.child, output);
  } catch (e) {
    await stop();
    throw e;
  }
  return { url: `http://127.0.0.1:${port}`, output, stop };
}
