/**
 * OpenID Connect (issue 17 item 3) on both stores, checked by a real OIDC client library (openid-client):
 * discovery, the code + PKCE flow with nonce, the ID token's signature (JWKS), issuer, audience and
 * claims, userinfo with GitLab's claims, refresh; the signing key sealed in the store and shared by
 * every node; a rotated-away key published until its ID tokens have expired.
 */
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServices } from '../../../src/app.js';
import { loadConfig } from '../../../src/config.js';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, TEST_SECRET, type TestApp, type World } from '../../support/test-app.js';
import { csrfOf, webClient } from '../../support/web-client.js';

const PASSWORD = 'correct horse battery staple 42';
const REDIRECT = 'https://rp.example.com/oidc/callback';

describe.each(DIALECTS)('OpenID Connect on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let base: string;
  let app: { application_id: string; secret: string };

  beforeAll(async () => {
    // openid-client checks iat/exp against the real time: the test clock starts at it.
    t = await startTestApp(dialect, { now: new Date().toISOString() });
    w = await seedWorld(t);
    await t.app.services.accounts.setPasswordByUsername('developer-user', PASSWORD);
    await t.app.http.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(t.app.http.server.address() as AddressInfo).port}`;
    app = (await t.request('POST', '/api/v4/applications', { token: w.adminToken, body: { name: 'Relying party', redirect_uri: REDIRECT, scopes: 'openid profile email read_user', confidential: true } })).body;
  });
  afterAll(() => t?.close());

  /** Signs the developer in and approves on the consent page; returns the callback URL the browser would land on. */
  async function consent(authorizationUrl: URL): Promise<URL> {
    const c = webClient(t);
    await c.signIn('developer-user', PASSWORD);
    const page = await c.get(authorizationUrl.pathname + authorizationUrl.search);
    expect(page.status).toBe(200);
    const hidden = Object.fromEntries([...page.html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!.replace(/&amp;/g, '&')]));
    const res = await c.post('/oauth/authorize', { ...hidden, decision: 'approve', _csrf: csrfOf(page.html) });
    return new URL(res.location!);
  }

  async function discover() {
    return client.discovery(new URL(base), app.application_id, app.secret, undefined, { execute: [client.allowInsecureRequests] });
  }

  async function signInWithOidc(config: client.Configuration) {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid profile email', state, nonce, code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    const callback = await consent(url);
    return client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
  }

  it('openid-client reads the discovery document and validates the ID token against the JWKS', async () => {
    const config = await discover();
    const meta = config.serverMetadata();
    expect(meta).toMatchObject({ issuer: base, authorization_endpoint: `${base}/oauth/authorize`, token_endpoint: `${base}/oauth/token`, userinfo_endpoint: `${base}/oauth/userinfo`, jwks_uri: `${base}/oauth/discovery/keys`, code_challenge_methods_supported: ['S256'] });
    const tokens = await signInWithOidc(config);
    const claims = tokens.claims()!;
    const dev = w.users.developer.user;
    expect(claims).toMatchObject({ iss: base, aud: app.application_id, sub: String(dev.id), nickname: 'developer-user', preferred_username: 'developer-user', name: dev.name, email: dev.email, email_verified: false, groups_direct: ['acme/platform'] });
    expect((claims.exp as number) - (claims.iat as number)).toBe(120);
    expect(tokens.scope).toBe('openid profile email');

    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    expect(info).toMatchObject({ sub: String(dev.id), nickname: 'developer-user', preferred_username: 'developer-user', email: dev.email, groups: ['acme/platform'] });
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.claims()).toMatchObject({ sub: String(dev.id), aud: app.application_id });
  });

  it('userinfo needs an openid token; others get invalid_token or insufficient_scope', async () => {
    expect((await t.request('GET', '/oauth/userinfo', {})).status).toBe(401);
    const pat = await t.request('GET', '/oauth/userinfo', { headers: { authorization: `Bearer ${w.users.developer.token}` } });
    expect(pat.status).toBe(401);
    expect(pat.body.error).toBe('invalid_token');
    const config = await discover();
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'read_user', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state: 's' });
    const tokens = await client.authorizationCodeGrant(config, await consent(url), { pkceCodeVerifier: verifier, expectedState: 's' });
    expect(tokens.id_token).toBeUndefined();
    const res = await t.request('GET', '/oauth/userinfo', { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(res.status).toBe(403);
    expect(res.body.error).toBe('insufficient_scope');
  });

  it('keys are sealed in the store; another node on the same store signs with the same key', async () => {
    const jwks = (await t.request('GET', '/oauth/discovery/keys')).body;
    const rows = await t.app.store.db.selectFrom('oidc_signing_keys').selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.private_key_sealed).toMatch(/^v1:/);
    expect(rows[0]!.private_key_sealed).not.toContain('PRIVATE KEY');
    const other = await buildServices(loadConfig({ LATCHKEY_SECRET: TEST_SECRET, LATCHKEY_LOG_LEVEL: 'silent', LATCHKEY_DATA_DIR: '/nonexistent-latchkey-test' }), { store: t.app.store, clock: t.clock });
    try {
      expect(await other.services.oidc.jwks()).toEqual(jwks);
    } finally {
      await other.close();
    }
  });

  it('a rotated-away key stays in the JWKS for a day, so its ID tokens still verify; new ones use the new key', async () => {
    const config = await discover();
    const before = await signInWithOidc(config);
    const oldKid = decodeProtectedHeader(before.id_token!).kid;
    const newKid = await t.app.services.oidc.rotateKey();
    expect(newKid).not.toBe(oldKid);
    const jwks = (await t.request('GET', '/oauth/discovery/keys')).body;
    expect(jwks.keys.map((k: { kid: string }) => k.kid)).toEqual([newKid, oldKid]);
    await jwtVerify(before.id_token!, createLocalJWKSet(jwks), { issuer: base, audience: app.application_id, currentDate: t.clock.now() });
    const after = await signInWithOidc(await discover());
    expect(decodeProtectedHeader(after.id_token!).kid).toBe(newKid);
    t.clock.advance(25 * 3600 * 1000);
    expect((await t.request('GET', '/oauth/discovery/keys')).body.keys.map((k: { kid: string }) => k.kid)).toEqual([newKid]);
  });
});
