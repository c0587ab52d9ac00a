/**
 * `latchkey registry cert` in-process on SQLite and PostgreSQL: prints the PEM certificate of the
 * signing key (generated on first use, the same on every later call and for the running service),
 * `--json` with the kid, service and issuer the registry config needs.
 */
import { X509Certificate } from 'node:crypto';
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { libtrustKeyId } from '../../src/protocols/registry/libtrust-kid.js';
import { createCliHarness } from '../support/cli-harness.js';
import { DIALECTS } from '../support/dialects.js';

describe.each(DIALECTS)('latchkey registry cert on %s', (dialect) => {
  const h = createCliHarness(dialect, { prefix: 'latchkey-registry-cli-', env: { LATCHKEY_REGISTRY_ISSUER: 'acme-latchkey' } });
  const { cli } = h;

  beforeAll(() => h.setUp());
  afterAll(() => h.tearDown());

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
    await h.withApp(async (app) => {
      const res = await app.http.inject({ method: 'GET', url: '/jwt/auth?service=container_registry&scope=repository:a/b:pull' });
      expect(res.statusCode).toBe(200);
      expect(decodeProtectedHeader(JSON.parse(res.body).token)).toMatchObject({ kid: libtrustKeyId(cert.publicKey), x5c: [cert.raw.toString('base64')] });
    });
  });

  it('fails with one line when the server secret cannot open the stored key', async () => {
    const run = await h.cliWithEnv({ LATCHKEY_SECRET: 'a-different-secret-0123456789abcdef0123456' })('registry', 'cert');
    expect(run.code).toBe(1);
    expect(run.out).toBe('');
    expect(run.err).toMatch(/^latchkey: the registry signing key cannot be decrypted: LATCHKEY_SECRET differs/);
  });
});
