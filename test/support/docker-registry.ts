/**
 * Debian's Docker registry (`/usr/bin/docker-registry`, 2.8) as a child process for end-to-end tests:
 * filesystem storage in a temp dir, 127.0.0.1 on a free port, token auth pointed at a Latchkey realm
 * and trusting the given certificate bundle. Ready once `GET /v2/` answers 401 with a Bearer challenge.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const DOCKER_REGISTRY_BIN = '/usr/bin/docker-registry';

/** A port nobody listens on right now (the OS picks it; the registry cannot take port 0 and report it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface RegistryProcess {
  /** `127.0.0.1:<port>`, as image references name it. */
  readonly host: string;
  output(): string;
  stop(): Promise<void>;
}

export async function startDockerRegistry(options: { realm: string; service: string; issuer: string; certificatePem: string }): Promise<RegistryProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-registry-'));
  const port = await freePort();
  const bundle = join(dir, 'bundle.crt');
  await writeFile(bundle, options.certificatePem);
  const config = [
    'version: 0.1',
    'log: { level: info, accesslog: { disabled: true } }',
    `storage: { filesystem: { rootdirectory: ${JSON.stringify(join(dir, 'data'))} }, delete: { enabled: true } }`,
    `http: { addr: "127.0.0.1:${port}", secret: latchkey-test-not-secret }`,
    'auth:',
    '  token:',
    `    realm: ${JSON.stringify(options.realm)}`,
    `    service: ${JSON.stringify(options.service)}`,
    `    issuer: ${JSON.stringify(options.issuer)}`,
    `    rootcertbundle: ${JSON.stringify(bundle)}`,
    '',
  ].join('\n');
  await writeFile(join(dir, 'config.yml'), config);
  let output = '';
  const child: ChildProcess = spawn(DOCKER_REGISTRY_BIN, ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (output += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (output += s));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`docker-registry exited with ${child.exitCode}:\n${output}`);
    }
    try {
      const res = await fetch(`http://127.0.0.1:${port}/v2/`);
      if (res.status === 401 && /^Bearer /.test(res.headers.get('www-authenticate') ?? '')) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`docker-registry did not answer on 127.0.0.1:${port}:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { host: `127.0.0.1:${port}`, output: () => output, stop };
}

/** Runs `skopeo --insecure-policy <args>`: ok, and what it printed (stdout and stderr). */
export async function skopeo(...args: string[]): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)('skopeo', ['--insecure-policy', ...args], { timeout: 60_000 });
    return { ok: true, output: stdout + stderr };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    const output = `${err.stdout ?? ''}${err.stderr ?? ''}` || err.message;
    return { ok: false, output };
  }
}
