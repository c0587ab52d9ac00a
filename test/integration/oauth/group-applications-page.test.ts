/**
 * A group's Settings → Applications (issue 17 item 1: "group Owners register their own applications in
 * the UI"): an Owner registers an application (the secret shown once), renews its secret and deletes it;
 * the application completes the authorization-code + PKCE flow like any other. A Maintainer, and anyone
 * else, gets the 404 page; every change needs the CSRF token.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';
import { csrfOf, webClient } from '../../support/web-client.js';
import { clientIdOn, secretOn } from '../../support/application-page.js';

const PASSWORD = 'correct horse battery';
const PAGE = '/groups/acme/platform/-/settings/applications';
const OWN_PAGE = '/-/user_settings/applications';
const REDIRECT = 'https://team.example.com/cb';
const idOn = (html: string, name: string) => new RegExp(`applications/(\\d+)/delete"[^>]*><input[^>]*/><button[^>]*>Delete ${name}<`).exec(html)?.[1];

describe.each(DIALECTS)('group applications page on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let owner: ReturnType<typeof webClient>;
  let maintainer: ReturnType<typeof webClient>;
  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
    for (const u of ['owner-user', 'maintainer-user', 'developer-user']) await t.app.services.accounts.setPasswordByUsername(u, PASSWORD);
    owner = webClient(t);
    maintainer = webClient(t);
    expect((await owner.signIn('owner-user', PASSWORD)).status).toBe(303);
    expect((await maintainer.signIn('maintainer-user', PASSWORD)).status).toBe(303);
  });
  afterAll(() => t?.close());

  /** The developer signs in and authorises the application through the consent page, with PKCE (S256). */
  async function authorise(clientId: string, challenge: string): Promise<string> {
    const dev = webClient(t);
    expect((await dev.signIn('developer-user', PASSWORD)).status).toBe(303);
    const consent = await dev.get(`/oauth/authorize?client_id=${clientId}&redirect_uri=${encodeURIComponent(REDIRECT)}&response_type=code&scope=read_user&state=s1&code_challenge=${challenge}&code_challenge_method=S256`);
    expect(consent.status).toBe(200);
    const fields = Object.fromEntries([...consent.html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!.replace(/&amp;/g, '&')]));
    const approved = await dev.post('/oauth/authorize', { ...fields, _csrf: csrfOf(consent.html), decision: 'approve' });
    expect(approved.status).toBe(302);
    return new URL(approved.location!).searchParams.get('code')!;
  }

  it('the start page links an Owner, not a Maintainer, to the group applications', async () => {
    expect((await owner.get('/')).html).toContain(`href="${PAGE}"`);
    expect((await maintainer.get('/')).html).not.toContain(`href="${PAGE}"`);
  });

  it('an Owner registers a public application (secret shown once) that completes the code + PKCE flow', async () => {
    const created = await owner.submit(PAGE, { name: 'Team <i>dashboard</i>', redirect_uri: REDIRECT, 'scopes[]': ['read_user'] });
    expect(created.status).toBe(200);
    expect(created.headers['cache-control']).toBe('no-store');
    expect(created.html).toContain('Team &lt;i>dashboard&lt;/i>');
    const clientId = clientIdOn(created.html)!;
    expect(clientId).toMatch(/^[0-9a-f]{64}$/);
    expect(secretOn(created.html)).toBeDefined();
    const listed = await owner.get(PAGE);
    expect(listed.html).toContain(clientId);
    expect(listed.html).not.toContain(secretOn(created.html)!);
    // The group's, not the Owner's own nor an instance application.
    expect((await owner.get(OWN_PAGE)).html).not.toContain(clientId);
    expect((await t.request('GET', '/api/v4/applications', { token: w.adminToken })).text).not.toContain(clientId);

    const verifier = randomBytes(32).toString('base64url');
    const code = await authorise(clientId, createHash('sha256').update(verifier).digest('base64url'));
    const exchanged = await t.request('POST', '/oauth/token', { body: { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: clientId, code_verifier: verifier } });
    expect(exchanged.status).toBe(200);
    const me = await t.request('GET', '/api/v4/user', { headers: { authorization: `Bearer ${(exchanged.body as { access_token: string }).access_token}` } });
    expect(me.status).toBe(200);
    expect((me.body as { username: string }).username).toBe('developer-user');
  });

  it('an Owner renews the secret (the old one stops) and deletes the application (its tokens stop)', async () => {
    const created = await owner.submit(PAGE, { name: 'Renewed', redirect_uri: REDIRECT, 'scopes[]': ['read_user'], confidential: '1' });
    const clientId = clientIdOn(created.html)!;
    const secret = secretOn(created.html)!;
    const id = idOn(created.html, 'Renewed')!;
    const exchange = (code: string, clientSecret: string, verifier: string) =>
      t.request('POST', '/oauth/token', { body: { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: clientId, client_secret: clientSecret, code_verifier: verifier } });
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');

    const renewed = await owner.submit(PAGE, {}, `${PAGE}/${id}/renew`);
    expect(renewed.status).toBe(200);
    const newSecret = secretOn(renewed.html)!;
    expect(newSecret).not.toBe(secret);
    const code = await authorise(clientId, challenge);
    expect((await exchange(code, secret, verifier)).status).toBe(401);
    const tokens = await exchange(code, newSecret, verifier);
    expect(tokens.status).toBe(200);
    const bearer = { headers: { authorization: `Bearer ${(tokens.body as { access_token: string }).access_token}` } };
    expect((await t.request('GET', '/api/v4/user', bearer)).status).toBe(200);

    const deleted = await owner.submit(PAGE, {}, `${PAGE}/${id}/delete`);
    expect(deleted.status).toBe(303);
    expect((await owner.get(deleted.location!)).html).toContain('The application was deleted');
    expect((await owner.get(PAGE)).html).not.toContain(clientId);
    expect((await t.request('GET', '/api/v4/user', bearer)).status).toBe(401);
  });

  it('a Maintainer gets the 404 page: no list, no registering, no renewing or deleting', async () => {
    const created = await owner.submit(PAGE, { name: 'Guarded', redirect_uri: REDIRECT, 'scopes[]': ['read_user'] });
    const clientId = clientIdOn(created.html)!;
    const id = idOn(created.html, 'Guarded')!;
    const shown = await maintainer.get(PAGE);
    expect(shown.status).toBe(404);
    expect(shown.html).not.toContain(clientId);
    // A valid CSRF token (from the Maintainer's own page) does not help.
    const registered = await maintainer.submit(OWN_PAGE, { name: 'Sneaky', redirect_uri: REDIRECT, 'scopes[]': ['api'] }, PAGE);
    expect(registered.status).toBe(404);
    expect((await maintainer.submit(OWN_PAGE, {}, `${PAGE}/${id}/renew`)).status).toBe(404);
    expect((await maintainer.submit(OWN_PAGE, {}, `${PAGE}/${id}/delete`)).status).toBe(404);
    const listed = (await owner.get(PAGE)).html;
    expect(listed).toContain(clientId);
    expect(listed).not.toContain('Sneaky');
    // Nor through the Maintainer's own page.
    expect((await maintainer.submit(OWN_PAGE, {}, `${OWN_PAGE}/${id}/delete`)).status).toBe(404);
    expect((await webClient(t).get(PAGE)).location).toContain('/users/sign_in');
  });

  it('refuses a change without the CSRF token, and bad input with the reason', async () => {
    expect((await owner.post(PAGE, { name: 'No token', redirect_uri: REDIRECT, 'scopes[]': ['api'] })).status).toBe(403);
    expect((await owner.get(PAGE)).html).not.toContain('No token');
    const refused = await owner.submit(PAGE, { name: 'Kept name', redirect_uri: 'not a uri', 'scopes[]': ['api'] });
    expect(refused.status).toBe(400);
    expect(refused.html).toContain('Redirect uri must be an absolute URI.');
    expect(refused.html).toContain('value="Kept name"');
    expect(secretOn(refused.html)).toBeUndefined();
  });
});
