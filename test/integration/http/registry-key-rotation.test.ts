/**
 * Registry signing-key rotation against the clock, on both stores: a running node switches to the
 * activated key within its reload interval (10 s), JWTs it signs verify against the bundled
 * certificate of their `kid`, and a retired certificate leaves the bundle once every JWT it signed has
 * expired (activation + reload interval + JWT lifetime).
 */
import { decodeProtectedHeader, importX509, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { startTestApp, type TestApp } from '../../support/test-app.js';

describe.each(DIALECTS)('registry signing-key rotation on %s', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(dialect, { env: { LATCHKEY_REGISTRY_TOKEN_LIFETIME: '300' } });
  });
  afterAll(async () => t?.close());

  async function jwt(): Promise<{ kid: string; token: string }> {
    const res = await t.request('GET', '/jwt/auth?service=container_registry&scope=repository:a/b:pull');
    expect(res.status).toBe(200);
    return { kid: decodeProtectedHeader(res.body.token).kid!, token: res.body.token };
  }
  async function verifiesAgainstBundle(token: string): Promise<boolean> {
    const kid = decodeProtectedHeader(token).kid;
    const cert = (await t.app.services.registry.keys.bundle()).find((c) => c.kid === kid);
    if (!cert) return false;
    await jwtVerify(token, await importX509(cert.certificatePem, 'ES256'), { currentDate: t.clock.now() });
    return true;
  }

  it('switches a running node within 10 s, and drops the old certificate after the last old JWT expired', async () => {
    const keys = t.app.services.registry.keys;
    const before = await jwt();
    expect(await verifiesAgainstBundle(before.token)).toBe(true);

    // Another node stages and activates (same store): this node's cached key is not told.
    const staged = await keys.stage();
    expect((await keys.bundle()).map((c) => c.role)).toEqual(['current', 'next']);
    const other = await startOtherNode();
    try {
      await other.app.services.registry.keys.activate();
    } finally {
      await other.close();
    }
    t.clock.advance(9_000);
    expect((await jwt()).kid).toBe(before.kid);
    t.clock.advance(1_000);
    const after = await jwt();
    expect(after.kid).toBe(staged.kid);
    expect(await verifiesAgainstBundle(after.token)).toBe(true);

    // The old key's last JWT (signed just now, up to the reload) is valid for 300 s: its certificate stays until then.
    const bundle = await keys.bundle();
    expect(bundle.map((c) => [c.role, c.kid])).toEqual([['current', staged.kid], ['retired', before.kid]]);
    t.clock.advance(299_000);
    await expect(verifiesAgainstBundle(before.token)).rejects.toThrow(/"exp" claim/); // expired anyway (issued + 300 s)
    expect((await keys.bundle()).map((c) => c.kid)).toContain(before.kid);
    t.clock.advance(1_000);
    expect((await keys.bundle()).map((c) => c.kid)).toEqual([staged.kid]);
  });

  // A second app on the same database, as another node would be.
  async function startOtherNode() {
    const { buildApp } = await import('../../../src/app.js');
    const { loadConfig } = await import('../../../src/config.js');
    const app = await buildApp(loadConfig({ LATCHKEY_SECRET: 'test-secret-0123456789abcdef0123456789abcdef', LATCHKEY_LOG_LEVEL: 'silent', LATCHKEY_DATA_DIR: '/nonexistent-latchkey-test' }), { store: t.app.store, clock: t.clock });
    return { app, close: () => app.close() };
  }
});
