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
    expect(JSON.parse(json.out)).toMatchObject({ certificate: `${first.out}\n`, kid: libtrustKeyId(cert.publicKey), algorithm: 'ES256', service: 'container_registry', issuer: 'acme-latchkey', bundle: `${first.out}\n` });
    expect(JSON.parse(json.out).keys).toEqual([expect.objectContaining({ role: 'current', kid: libtrustKeyId(cert.publicKey), retired_at: null })]);

    // The service on the same store signs with that certificate's key.
    await h.withApp(async (app) => {
      const res = await app.http.inject({ method: 'GET', url: '/jwt/auth?service=container_registry&scope=repository:a/b:pull' });
      expect(res.statusCode).toBe(200);
      expect(decodeProtectedHeader(JSON.parse(res.body).token)).toMatchObject({ kid: libtrustKeyId(cert.publicKey), x5c: [cert.raw.toString('base64')] });
    });
  });

  it('rotates the key without downtime: rotate-key stages one in the bundle, activate-key switches signing and keeps the old certificate', async () => {
    const kidOf = (pem: string) => libtrustKeyId(new X509Certificate(pem).publicKey);
    const certsOf = (bundle: string) => bundle.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
    const jwtKid = () => h.withApp(async (app) => decodeProtectedHeader(JSON.parse((await app.http.inject({ method: 'GET', url: '/jwt/auth?service=container_registry&scope=repository:a/b:pull' })).body).token).kid);
    const old = kidOf((await cli('registry', 'cert')).out);

    const staged = await cli('registry', 'rotate-key', '--json');
    expect(staged, staged.err).toMatchObject({ code: 0 });
    const next = JSON.parse(staged.out).staged as string;
    expect(next).not.toBe(old);
    // Both certificates are published; the old key still signs until activation.
    const during = certsOf((await cli('registry', 'cert')).out);
    expect(during.map(kidOf)).toEqual([old, next]);
    expect(await jwtKid()).toBe(old);
    // Staging again keeps the staged key.
    expect(JSON.parse((await cli('registry', 'rotate-key', '--json')).out).staged).toBe(next);

    const activated = await cli('registry', 'activate-key');
    expect(activated, activated.err).toMatchObject({ code: 0 });
    expect(activated.out).toContain(`Signing with ${next}`);
    expect(await jwtKid()).toBe(next);
    // The retired key stays in the bundle (its JWTs may still be valid), after the current one.
    const after = JSON.parse((await cli('registry', 'cert', '--json')).out);
    expect(after.kid).toBe(next);
    expect(certsOf(after.bundle).map(kidOf)).toEqual([next, old]);
    expect(after.keys.map((k: { role: string }) => k.role)).toEqual(['current', 'retired']);

    // Nothing staged now: activate-key refuses and changes nothing.
    const again = await cli('registry', 'activate-key');
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/no registry signing key is staged/);
    expect(await jwtKid()).toBe(next);
  }, 90_000);

  it('fails with one line when the server secret cannot open the stored key', async () => {
    const run = await h.cliWithEnv({ LATCHKEY_SECRET: 'a-different-secret-0123456789abcdef0123456' })('registry', 'cert');
    expect(run.code).toBe(1);
    expect(run.out).toBe('');
    expect(run.err).toMatch(/^latchkey: the registry signing key cannot be decrypted: LATCHKEY_SECRET differs/);
  });
});
