/**
 * `latchkey registry cert` in-process on SQLite and PostgreSQL: prints the PEM certificate of the
 * signing key (generated on first use, the same on every later call and for the running service),
 * `--json` with the kid, service and issuer the registry config needs.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { runCli } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config.js';
import { libtrustKeyId } from '../../src/protocols/registry/libtrust-kid.js';
import { createTestDatabase, DIALECTS } from '../support/dialects.js';

const SECRET = 'cli-registry-test-secret-0123456789abcdef01';

describe.each(DIALECTS)('latchkey registry cert on %s', (dialect) => {
  let dir: string;
  let env: Record<string, string>;
  let dropDatabase: () => Promise<void> = async () => {};

  async function cli(...args: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(['node', 'latchkey', ...args], { print: (t) => out.push(t), error: (t) => err.push(t), env, readStdin: async () => '' });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-registry-cli-'));
    let databaseUrl = `sqlite:${join(dir, 'cli.db')}`;
    if (dialect === 'postgres') {
      const db = await createTestDatabase('postgres');
      databaseUrl = db.url;
      dropDatabase = db.drop;
    }
    env = { LATCHKEY_DATA_DIR: dir, LATCHKEY_SECRET: SECRET, DATABASE_URL: databaseUrl, LATCHKEY_LOG_LEVEL: 'silent', LATCHKEY_REGISTRY_ISSUER: 'acme-latchkey' };
  });
  afterAll(async () => {
    await dropDatabase();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('prints the same PEM certificate every time, the one the service signs with', async () => {
    const first = await cli('registry', 'cert');
    expect(first, first.err).toMatchObject({ code: 0, err: '' });
    expect(first.out).toMatch(/^-----BEGIN CERTIFICATE-----\n[^]+\n-----END CERTIFICATE-----$/);
    const cert = new X509Certificate(first.out);
    expect(cert.subject).toBe('CN=Latchkey registry token signer');
    expect((await cli('registry', 'cert')).out).toBe(first.out);

    const json = await cli('registry', 'cert', '--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.out)).toEqual({ certificate: `${first.out}\n`, kid: libtrustKeyId(cert.publicKey), algorithm: 'ES256', service: 'container_registry', issuer: 'acme-latchkey' });

    // The service on the same store signs with that certificate's key.
    const app = await buildApp(loadConfig(env));
    try {
      const res = await app.http.inject({ method: 'GET', url: '/jwt/auth?service=container_registry&scope=repository:a/b:pull' });
      expect(res.statusCode).toBe(200);
      expect(decodeProtectedHeader(JSON.parse(res.body).token)).toMatchObject({ kid: libtrustKeyId(cert.publicKey), x5c: [cert.raw.toString('base64')] });
    } finally {
      await app.close();
    }
  });

  it('fails with one line when the server secret cannot open the stored key', async () => {
    const saved = env;
    env = { ...env, LATCHKEY_SECRET: 'a-different-secret-0123456789abcdef0123456' };
    try {
      const run = await cli('registry', 'cert');
      expect(run.code).toBe(1);
      expect(run.out).toBe('');
      expect(run.err).toMatch(/^latchkey: the registry signing key cannot be decrypted: LATCHKEY_SECRET differs/);
    } finally {
      env = saved;
    }
  });
});
