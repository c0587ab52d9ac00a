/**
 * The OAuth2 provider's pages in a real browser (issue 17 items 1, 4 and 6): chromium (playwright-core)
 * signs a person in and approves on the consent page while openid-client, a certified OIDC client, runs
 * the authorization code + PKCE flow around it (discovery, the token request, ID token validation against
 * the JWKS) and the token calls the API; the person then registers an application on User settings →
 * Applications (the secret shown once) and revokes what they authorised. Debian's python3-authlib runs the
 * same flow with its browser step in chromium too. axe-core finds no serious or
 * critical violation on any of these pages. Markup does not depend on the store: first store only.
 */
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import * as client from 'openid-client';
import { promisify } from 'node:util';
import { DIALECTS } from '../support/dialects.js';
import { requireProgram } from '../support/programs.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../support/test-app.js';
import { BROWSER_TEST_TIMEOUT, chromiumAvailable, launchBrowser, listen, seriousAxeViolations, signedIn, type BrowserUser } from '../support/browser.js';

const PASSWORD = 'correct horse battery';
const available = chromiumAvailable();
const authlib = available && requireProgram('python3-authlib', { command: '/usr/bin/python3', args: ['-c', 'import authlib.integrations.requests_client'], hint: 'apt-get install python3-authlib' });

/**
 * authlib's side of code + PKCE, in two steps around the browser. argv: step, server URL, client id, redirect
 * URI, then for "start" nothing (prints the authorization URL, its state and the PKCE verifier), for
 * "finish" the state, the verifier and the callback URL the browser landed on (prints what it saw).
 */
const AUTHLIB_SCRIPT = String.raw`
import json, sys
from authlib.integrations.requests_client import OAuth2Session
from authlib.common.security import generate_token

step, url, client_id, redirect = sys.argv[1:5]
if step == "start":
    client = OAuth2Session(client_id, redirect_uri=redirect, scope="api read_user", code_challenge_method="S256", token_endpoint_auth_method="none")
    verifier = generate_token(64)
    auth_url, state = client.create_authorization_url(url + "/oauth/authorize", code_verifier=verifier)
    print(json.dumps({"url": auth_url, "state": state, "verifier": verifier}))
else:
    state, verifier, callback = sys.argv[5:8]
    client = OAuth2Session(client_id, redirect_uri=redirect, scope="api read_user", state=state, token_endpoint_auth_method="none")
    token = client.fetch_token(url + "/oauth/token", authorization_response=callback, code_verifier=verifier)
    out = {"scope": token.get("scope"), "expires_in": token.get("expires_in"), "user": client.get(url + "/api/v4/user").json()["username"]}
    new = client.refresh_token(url + "/oauth/token", refresh_token=token["refresh_token"])
    out["rotated"] = new["refresh_token"] != token["refresh_token"]
    out["user_after_refresh"] = client.get(url + "/api/v4/user").json()["username"]
    print(json.dumps(out))
`;

describe.skipIf(!available)('OAuth2 pages in chromium', { timeout: BROWSER_TEST_TIMEOUT }, () => {
  let browser: Browser;
  let t: TestApp;
  let w: World;
  let base: string;
  let dev: BrowserUser;
  /** The relying party's callback: a server of the test's, which keeps the URLs the browser lands on. */
  let rp: Server;
  let REDIRECT: string;
  const callbacks: URL[] = [];

  beforeAll(async () => {
    browser = await launchBrowser();
    // openid-client checks the ID token's iat/exp against the real time: the test clock starts at it.
    t = await startTestApp(DIALECTS[0]!, { now: new Date().toISOString() });
    w = await seedWorld(t);
    await t.app.services.accounts.setPasswordByUsername('developer-user', PASSWORD);
    base = await listen(t);
    dev = await signedIn(browser, base, 'developer-user', PASSWORD);
    rp = createServer((req, res) => {
      const url = new URL(req.url!, REDIRECT);
      if (url.pathname === '/callback') callbacks.push(url);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!DOCTYPE html><html lang="en"><title>RP</title><p>signed in</p></html>');
    });
    await new Promise<void>((resolve) => rp.listen(0, '127.0.0.1', resolve));
    REDIRECT = `http://127.0.0.1:${(rp.address() as AddressInfo).port}/callback`;
  });
  afterAll(async () => {
    await dev?.context.close();
    await browser?.close();
    await t?.close();
    await new Promise((resolve) => rp?.close(resolve));
  });

  it('code + PKCE: openid-client builds the request, the person approves in chromium, the ID token validates and the token calls the API', async () => {
    // A public client: PKCE is its only proof.
    const { application } = await t.app.services.oauthApplications.create(w.admin, { name: 'Browser RP', redirectUri: REDIRECT, scopes: 'openid profile read_user', confidential: false });
    const config = await client.discovery(new URL(base), application.uid, undefined, client.None(), { execute: [client.allowInsecureRequests] });
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid profile read_user', state, nonce, code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });

    const { page } = dev;
    await page.goto(url.href);
    await page.getByText('wants to use your account').waitFor();
    expect(await page.locator('ul.scopes code').allTextContents()).toEqual(['openid', 'profile', 'read_user']);
    expect(await seriousAxeViolations(page)).toEqual([]);
    await Promise.all([page.waitForURL((u) => u.href.startsWith(REDIRECT)), page.getByRole('button', { name: 'Authorize' }).click()]);
    const callback = callbacks.at(-1)!;
    expect(callback.searchParams.get('state')).toBe(state);

    const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({ iss: base, aud: application.uid, sub: String(w.users.developer.user.id), nickname: 'developer-user', nonce });
    const me = await fetch(`${base}/api/v4/user`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { username: string }).username).toBe('developer-user');

    // Authorized applications: listed, revoked in the page, and the token stops.
    await page.goto('/-/user_settings/applications');
    const authorized = page.getByRole('region', { name: 'Authorized applications' });
    await expect.poll(() => authorized.getByRole('rowheader').allTextContents()).toEqual(['Browser RP']);
    expect(await seriousAxeViolations(page)).toEqual([]);
    await Promise.all([page.waitForURL(/notice=revoked/), authorized.getByRole('button', { name: 'Revoke Browser RP' }).click()]);
    await page.getByText('The authorization was revoked').waitFor();
    expect((await fetch(`${base}/api/v4/user`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).status).toBe(401);
  });

  it.skipIf(!authlib)('authlib runs code + PKCE with its browser step in chromium: the person approves on the consent page, authlib redeems, refreshes and calls the API', async () => {
    const { application } = await t.app.services.oauthApplications.create(w.admin, { name: 'authlib RP', redirectUri: REDIRECT, scopes: 'api read_user', confidential: false });
    const python = async (...args: string[]) => JSON.parse((await promisify(execFile)('/usr/bin/python3', ['-c', AUTHLIB_SCRIPT, ...args], { timeout: 60_000 })).stdout) as Record<string, string>;
    const start = await python('start', base, application.uid, REDIRECT);

    const { page } = dev;
    await page.goto(start.url!);
    await page.getByText('wants to use your account').waitFor();
    expect(await page.locator('ul.scopes code').allTextContents()).toEqual(['api', 'read_user']);
    await Promise.all([page.waitForURL((u) => u.href.startsWith(REDIRECT)), page.getByRole('button', { name: 'Authorize' }).click()]);
    const callback = callbacks.at(-1)!;
    expect(callback.searchParams.get('state')).toBe(start.state);

    const seen = await python('finish', base, application.uid, REDIRECT, start.state!, start.verifier!, callback.href);
    expect(seen).toEqual({ scope: 'api read_user', expires_in: 7200, user: 'developer-user', rotated: true, user_after_refresh: 'developer-user' });
  });

  it('registers an application on User settings → Applications: the secret shown once; a refused form explains itself', async () => {
    const { page } = dev;
    await page.goto('/-/user_settings/applications');
    await page.getByLabel('Name').fill('no-scopes');
    await page.getByLabel('Redirect URI').fill('https://app.example.com/cb');
    await page.getByRole('button', { name: 'Save application' }).click();
    await page.getByText("Scopes can't be blank").waitFor();
    expect(await seriousAxeViolations(page)).toEqual([]);

    await page.getByLabel('Name').fill('My dashboard');
    await page.getByRole('checkbox', { name: 'read_user' }).check();
    await page.getByRole('button', { name: 'Save application' }).click();
    const secret = await page.locator('#new-token').inputValue();
    expect(secret).toMatch(/^gloas-/);
    const clientId = await page.locator('#new-application-id').textContent();
    expect(await seriousAxeViolations(page)).toEqual([]);
    expect((await t.app.services.oauthApplications.list(w.users.developer.user, 'own')).map((a) => a.uid)).toContain(clientId);
    await page.goto('/-/user_settings/applications');
    expect(await page.content()).not.toContain(secret);
    expect(await page.getByRole('region', { name: 'Your applications' }).getByRole('rowheader').allTextContents()).toEqual(['My dashboard']);
  });

  it('the device page passes axe', async () => {
    await dev.page.goto('/oauth/device');
    expect(await seriousAxeViolations(dev.page)).toEqual([]);
  });
});
