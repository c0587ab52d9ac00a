/**
 * OAuth2 authorization code + PKCE (issue 17 items 2 and 5) on both stores, through the real consent
 * page (signed in with the web UI's session, CSRF) and /oauth/token: single-use short-lived codes,
 * exact redirect URIs, refresh rotation with reuse detection, RFC 6749/7009 errors, and the access
 * token accepted where personal tokens are (API Bearer, git `oauth2:<token>`) with the same scope rules.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';
import { csrfOf, webClient } from '../../support/web-client.js';

const PASSWORD = 'correct horse battery staple 42';
const REDIRECT = 'https://client.example.com/callback';

const pkce = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};

describe.each(DIALECTS)('OAuth2 authorization code flow on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let publicApp: { application_id: string; secret: string; id: number };
  let confidentialApp: { application_id: string; secret: string; id: number };

  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
    await t.app.services.accounts.setPasswordByUsername('developer-user', PASSWORD);
    const make = async (body: Record<string, unknown>) => (await t.request('POST', '/api/v4/applications', { token: w.adminToken, body })).body;
    publicApp = await make({ name: 'CLI tool', redirect_uri: `${REDIRECT} http://127.0.0.1:9999/cb`, scopes: 'api read_api read_user read_repository openid profile email', confidential: false });
    confidentialApp = await make({ name: 'Dashboard', redirect_uri: REDIRECT, scopes: 'read_user read_repository', confidential: true });
  });
  afterAll(() => t?.close());

  const form = (fields: Record<string, string>) => ({ headers: { 'content-type': 'application/x-www-form-urlencoded' }, rawBody: new URLSearchParams(fields).toString() });
  const token = (fields: Record<string, string>, headers: Record<string, string> = {}) =>
    t.request('POST', '/oauth/token', { headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, rawBody: new URLSearchParams(fields).toString() });
  const authorizeUrl = (params: Record<string, string>) => `/oauth/authorize?${new URLSearchParams(params).toString()}`;

  /** Signs in, opens the consent page and approves; returns the redirect's query. */
  async function authorize(params: Record<string, string>, decision = 'approve') {
    const c = webClient(t);
    await c.signIn('developer-user', PASSWORD);
    const page = await c.get(authorizeUrl(params));
    expect(page.status).toBe(200);
    const hidden = Object.fromEntries([...page.html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!.replace(/&amp;/g, '&')]));
    const res = await c.post('/oauth/authorize', { ...hidden, decision, _csrf: csrfOf(page.html) });
    expect(res.status).toBe(302);
    const location = new URL(res.location!);
    return { location, page, query: Object.fromEntries(location.searchParams) };
  }

  async function codeFlow(scope = 'api read_user') {
    const p = pkce();
    const { query } = await authorize({ client_id: publicApp.application_id, redirect_uri: REDIRECT, response_type: 'code', scope, state: 'st-1', code_challenge: p.challenge, code_challenge_method: 'S256' });
    const res = await token({ grant_type: 'authorization_code', code: query.code!, redirect_uri: REDIRECT, client_id: publicApp.application_id, code_verifier: p.verifier });
    return { res, code: query.code!, verifier: p.verifier };
  }

  it('sends the signed-out to sign in and back; the consent page lists the scopes asked for', async () => {
    const c = webClient(t);
    const url = authorizeUrl({ client_id: publicApp.application_id, redirect_uri: REDIRECT, response_type: 'code', scope: 'read_user openid', code_challenge: pkce().challenge, code_challenge_method: 'S256' });
    const first = await c.get(url);
    expect(first.status).toBe(303);
    expect(first.location).toBe(`/users/sign_in?redirect_to=${encodeURIComponent(url)}`);
    const shown = await c.get(first.location!);
    const signedIn = await c.post('/users/sign_in', { login: 'developer-user', password: PASSWORD, redirect_to: url, _csrf: csrfOf(shown.html) });
    expect(signedIn.location).toBe(url);
    const page = await c.get(url);
    expect(page.status).toBe(200);
    expect(page.html).toContain('CLI tool');
    expect(page.html).toContain('<code>read_user</code>');
    expect(page.html).toContain('<code>openid</code>');
    expect(page.html).not.toContain('<code>api</code>');
    expect(String(page.headers['content-security-policy'])).toContain("form-action 'self' https://client.example.com");
  });

  it('code + PKCE: tokens that call the API as the user, expire after 2 hours, and are kept as digests', async () => {
    const { res } = await codeFlow();
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({
      access_token: expect.stringMatching(/^lkoat-/), token_type: 'Bearer', expires_in: 7200, refresh_token: expect.stringMatching(/^lkort-/), scope: 'api read_user', created_at: Math.floor(t.clock.now().getTime() / 1000),
    });
    const me = await t.request('GET', '/api/v4/user', { headers: { authorization: `Bearer ${res.body.access_token}` } });
    expect(me.status).toBe(200);
    expect(me.body.username).toBe('developer-user');
    const info = await t.request('GET', '/oauth/token/info', { headers: { authorization: `Bearer ${res.body.access_token}` } });
    expect(info.body).toEqual({ resource_owner_id: w.users.developer.user.id, scope: ['api', 'read_user'], expires_in: 7200, application: { uid: publicApp.application_id }, created_at: res.body.created_at, scopes: ['api', 'read_user'], expires_in_seconds: 7200 });
    const dump = JSON.stringify(await t.app.store.db.selectFrom('tokens').selectAll().execute()) + JSON.stringify(await t.app.store.db.selectFrom('oauth_refresh_tokens').selectAll().execute());
    expect(dump).not.toContain(res.body.access_token);
    expect(dump).not.toContain(res.body.refresh_token);
    // The API's personal token list is not the place of OAuth tokens.
    const pats = await t.request('GET', `/api/v4/personal_access_tokens?user_id=${w.users.developer.user.id}`, { token: w.adminToken });
    expect(pats.body.map((p: { name: string }) => p.name)).not.toContain('CLI tool');

    t.clock.advance(2 * 3600 * 1000 - 1000);
    expect((await t.request('GET', '/api/v4/user', { headers: { authorization: `Bearer ${res.body.access_token}` } })).status).toBe(200);
    t.clock.advance(2000);
    const late = await t.request('GET', '/api/v4/user', { headers: { authorization: `Bearer ${res.body.access_token}` } });
    expect(late.status).toBe(401);
    expect(late.body.error).toBe('invalid_token');
  });

  it('refresh tokens rotate; presenting a used one revokes the grant', async () => {
    const first = (await codeFlow()).res.body;
    const refreshed = await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token, client_id: publicApp.application_id });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).not.toBe(first.refresh_token);
    const bearer = (s: string) => ({ headers: { authorization: `Bearer ${s}` } });
    expect((await t.request('GET', '/api/v4/user', bearer(first.access_token))).status).toBe(401); // replaced
    expect((await t.request('GET', '/api/v4/user', bearer(refreshed.body.access_token))).status).toBe(200);
    // Narrower scope on refresh is fine; wider is not.
    const narrowed = await token({ grant_type: 'refresh_token', refresh_token: refreshed.body.refresh_token, client_id: publicApp.application_id, scope: 'read_user' });
    expect(narrowed.body.scope).toBe('read_user');
    const wider = await token({ grant_type: 'refresh_token', refresh_token: narrowed.body.refresh_token, client_id: publicApp.application_id, scope: 'api openid email' });
    expect(wider.status).toBe(400);
    expect(wider.body.error).toBe('invalid_scope');
    // Replay of a used refresh token: invalid_grant, and the live access token of that grant dies.
    const replay = await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token, client_id: publicApp.application_id });
    expect(replay.status).toBe(400);
    expect(replay.body).toEqual({ error: 'invalid_grant', error_description: expect.stringContaining('authorization grant is invalid') });
    expect((await t.request('GET', '/api/v4/user', bearer(narrowed.body.access_token))).status).toBe(401);
    expect((await token({ grant_type: 'refresh_token', refresh_token: narrowed.body.refresh_token, client_id: publicApp.application_id })).body.error).toBe('invalid_grant');
  });

  it('a code works once: a second redemption fails and revokes the tokens it gave', async () => {
    const { res, code, verifier } = await codeFlow();
    const again = await token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: publicApp.application_id, code_verifier: verifier });
    expect(again.status).toBe(400);
    expect(again.body.error).toBe('invalid_grant');
    expect((await t.request('GET', '/api/v4/user', { headers: { authorization: `Bearer ${res.body.access_token}` } })).status).toBe(401);
    expect((await token({ grant_type: 'refresh_token', refresh_token: res.body.refresh_token, client_id: publicApp.application_id })).body.error).toBe('invalid_grant');
  });

  it('a code expires after 10 minutes; a wrong verifier, redirect URI or client gets invalid_grant', async () => {
    const p = pkce();
    const params = { client_id: publicApp.application_id, redirect_uri: REDIRECT, response_type: 'code', scope: 'read_user', code_challenge: p.challenge, code_challenge_method: 'S256' };
    const exchange = (code: string, extra: Record<string, string> = {}) => token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: publicApp.application_id, code_verifier: p.verifier, ...extra });
    const late = (await authorize(params)).query.code!;
    t.clock.advance(600_000);
    expect((await exchange(late)).body.error).toBe('invalid_grant');
    const code = (await authorize(params)).query.code!;
    expect((await exchange(code, { code_verifier: pkce().verifier })).body.error).toBe('invalid_grant');
    expect((await exchange(code, { redirect_uri: 'http://127.0.0.1:9999/cb' })).body.error).toBe('invalid_grant');
    expect((await exchange(code, { client_id: confidentialApp.application_id, client_secret: confidentialApp.secret })).body.error).toBe('invalid_grant');
    const noVerifier = await token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: publicApp.application_id });
    expect(noVerifier.body.error).toBe('invalid_request');
    expect((await exchange(code)).status).toBe(200);
  });

  it('never redirects to an unregistered URI; errors after that go back to the client', async () => {
    const c = webClient(t);
    await c.signIn('developer-user', PASSWORD);
    for (const uri of ['https://client.example.com/callback/../evil', 'https://client.example.com/callbackx', 'https://evil.example.com/callback', 'https://client.example.com/callback?x=1']) {
      const res = await c.get(authorizeUrl({ client_id: publicApp.application_id, redirect_uri: uri, response_type: 'code', code_challenge: pkce().challenge, code_challenge_method: 'S256' }));
      expect(res.status, uri).toBe(400);
      expect(res.location).toBeUndefined();
      expect(res.html).toContain('invalid_redirect_uri');
    }
    const unknown = await c.get(authorizeUrl({ client_id: 'nope', redirect_uri: REDIRECT, response_type: 'code' }));
    expect(unknown.status).toBe(400);
    const errorOf = async (params: Record<string, string>) => {
      const res = await c.get(authorizeUrl({ client_id: publicApp.application_id, redirect_uri: REDIRECT, state: 'xyz', ...params }));
      expect(res.status).toBe(302);
      const url = new URL(res.location!);
      expect(url.origin + url.pathname).toBe(REDIRECT);
      expect(url.searchParams.get('state')).toBe('xyz');
      return url.searchParams.get('error');
    };
    const challenge = pkce().challenge;
    expect(await errorOf({ response_type: 'token', code_challenge: challenge, code_challenge_method: 'S256' })).toBe('unsupported_response_type');
    expect(await errorOf({ response_type: 'code', scope: 'sudo', code_challenge: challenge, code_challenge_method: 'S256' })).toBe('invalid_scope');
    expect(await errorOf({ response_type: 'code', scope: 'write_repository', code_challenge: challenge, code_challenge_method: 'S256' })).toBe('invalid_scope');
    expect(await errorOf({ response_type: 'code' })).toBe('invalid_request'); // public client without PKCE
    expect(await errorOf({ response_type: 'code', code_challenge: challenge, code_challenge_method: 'plain' })).toBe('invalid_request');
    const denied = await authorize({ client_id: publicApp.application_id, redirect_uri: REDIRECT, response_type: 'code', state: 's', code_challenge: challenge, code_challenge_method: 'S256' }, 'deny');
    expect(denied.query).toMatchObject({ error: 'access_denied', state: 's' });
    expect(denied.query.code).toBeUndefined();
  });

  it('the consent form is refused without the CSRF token', async () => {
    const c = webClient(t);
    await c.signIn('developer-user', PASSWORD);
    const res = await c.post('/oauth/authorize', { client_id: publicApp.application_id, redirect_uri: REDIRECT, response_type: 'code', scope: 'api', code_challenge: pkce().challenge, code_challenge_method: 'S256', decision: 'approve' });
    expect(res.status).toBe(403);
    expect(res.location).toBeUndefined();
  });

  it('confidential clients authenticate with their secret (Basic or body); RFC 6749 errors otherwise', async () => {
    const { query } = await authorize({ client_id: confidentialApp.application_id, redirect_uri: REDIRECT, response_type: 'code', scope: 'read_user' });
    const fields = { grant_type: 'authorization_code', code: query.code!, redirect_uri: REDIRECT };
    const basic = (id: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` });
    const wrong = await token(fields, basic(confidentialApp.application_id, 'gloas-wrong'));
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('invalid_client');
    expect(wrong.headers['www-authenticate']).toMatch(/^Basic /);
    expect((await token({ ...fields, client_id: confidentialApp.application_id })).body.error).toBe('invalid_client'); // no secret
    const ok = await token(fields, basic(confidentialApp.application_id, confidentialApp.secret));
    expect(ok.status).toBe(200);
    expect(ok.body.scope).toBe('read_user');
    // read_user reads the user and nothing else: the personal token rules.
    const bearer = { authorization: `Bearer ${ok.body.access_token}` };
    expect((await t.request('GET', '/api/v4/user', { headers: bearer })).status).toBe(200);
    const projects = await t.request('GET', '/api/v4/projects', { headers: bearer });
    expect(projects.status).toBe(403);
    expect(projects.body.error).toBe('insufficient_scope');
    const refreshed = await token({ grant_type: 'refresh_token', refresh_token: ok.body.refresh_token, client_id: confidentialApp.application_id, client_secret: confidentialApp.secret });
    expect(refreshed.status).toBe(200);

    expect((await token({ client_id: publicApp.application_id })).body).toEqual({ error: 'invalid_request', error_description: 'Missing required parameter: grant_type.' });
    expect((await token({ grant_type: 'password', username: 'x', password: 'y', client_id: publicApp.application_id })).body.error).toBe('unsupported_grant_type');
    expect((await token({ grant_type: 'authorization_code', client_id: 'unknown' })).body.error).toBe('invalid_client');
    const json = await t.request('POST', '/oauth/token', { body: { grant_type: 'authorization_code', code: 'lkoac-nope', redirect_uri: REDIRECT, client_id: publicApp.application_id } });
    expect(json.status).toBe(400);
    expect(json.body.error).toBe('invalid_grant');
    const garbage = await t.request('POST', '/oauth/token', { headers: { 'content-type': 'application/json' }, rawBody: '{"grant_type":' });
    expect(garbage.status).toBe(400);
  });

  it('git over HTTP takes the token as oauth2:<token>, with the scope rules of personal tokens', async () => {
    const git = (secret: string, method: string, uri: string) =>
      t.request('GET', '/api/v4/latchkey/git/auth', { headers: { 'x-original-method': method, 'x-original-uri': uri, authorization: `Basic ${Buffer.from(`oauth2:${secret}`).toString('base64')}` } });
    const fetch = ['GET', '/acme/platform/web.git/info/refs?service=git-upload-pack'] as const;
    const push = ['POST', '/acme/platform/web.git/git-receive-pack'] as const;
    const readRepo = (await codeFlow('read_repository')).res.body.access_token;
    expect((await git(readRepo, ...fetch)).status).toBe(200);
    expect((await git(readRepo, ...push)).status).toBe(403);
    const userOnly = (await codeFlow('read_user')).res.body.access_token;
    expect((await git(userOnly, ...fetch)).status).toBe(403);
  });

  it('revocation (RFC 7009): an access token stops; a refresh token ends its grant; unknown tokens get 200', async () => {
    const a = (await codeFlow()).res.body;
    const revoke = (fields: Record<string, string>) => t.request('POST', '/oauth/revoke', form(fields));
    expect((await revoke({ token: a.access_token, client_id: publicApp.application_id })).status).toBe(200);
    expect((await t.request('GET', '/api/v4/user', { headers: { authorization: `Bearer ${a.access_token}` } })).status).toBe(401);
    const b = (await codeFlow()).res.body;
    expect((await revoke({ token: b.refresh_token, token_type_hint: 'refresh_token', client_id: publicApp.application_id })).body).toEqual({});
    expect((await t.request('GET', '/api/v4/user', { headers: { authorization: `Bearer ${b.access_token}` } })).status).toBe(401);
    expect((await token({ grant_type: 'refresh_token', refresh_token: b.refresh_token, client_id: publicApp.application_id })).body.error).toBe('invalid_grant');
    expect((await revoke({ token: 'lkoat-unknown', client_id: publicApp.application_id })).status).toBe(200);
    expect((await revoke({ client_id: publicApp.application_id })).body.error).toBe('invalid_request');
    // Another client cannot revoke it.
    const c = (await codeFlow()).res.body;
    await t.request('POST', '/oauth/revoke', form({ token: c.access_token, client_id: confidentialApp.application_id, client_secret: confidentialApp.secret }));
    expect((await t.request('GET', '/api/v4/user', { headers: { authorization: `Bearer ${c.access_token}` } })).status).toBe(200);
    const bad = await t.request('GET', '/oauth/token/info', { headers: { authorization: 'Bearer lkoat-nope' } });
    expect(bad.status).toBe(401);
    expect(bad.body).toEqual({ error: 'invalid_token', error_description: 'The access token is invalid' });
    expect((await t.request('GET', '/oauth/token/info', { headers: { authorization: `Bearer ${w.users.developer.token}` } })).status).toBe(401);
  });

  it('deleting the application ends its tokens', async () => {
    const make = await t.request('POST', '/api/v4/applications', { token: w.adminToken, body: { name: 'Doomed', redirect_uri: REDIRECT, scopes: 'read_user', confidential: false } });
    const p = pkce();
    const { query } = await authorize({ client_id: make.body.application_id, redirect_uri: REDIRECT, response_type: 'code', code_challenge: p.challenge, code_challenge_method: 'S256' });
    const issued = (await token({ grant_type: 'authorization_code', code: query.code!, redirect_uri: REDIRECT, client_id: make.body.application_id, code_verifier: p.verifier })).body;
    expect((await t.request('GET', '/api/v4/user', { headers: { authorization: `Bearer ${issued.access_token}` } })).status).toBe(200);
    expect((await t.request('DELETE', `/api/v4/applications/${make.body.id}`, { token: w.adminToken })).status).toBe(204);
    expect((await t.request('GET', '/api/v4/user', { headers: { authorization: `Bearer ${issued.access_token}` } })).status).toBe(401);
  });
});
