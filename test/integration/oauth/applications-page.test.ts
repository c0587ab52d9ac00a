/**
 * User settings → Applications (issue 17 item 1 and 4, web UI): a user registers an application (the
 * secret shown once, then only its digest), renews the secret and deletes it; the "Authorized
 * applications" list shows what the user authorised and revokes it. Nobody reaches another's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';
import { csrfOf, webClient } from '../../support/web-client.js';
import { clientIdOn, secretOn } from '../../support/application-page.js';

const PASSWORD = 'correct horse battery';
const PAGE = '/-/user_settings/applications';
const REDIRECT = 'https://app.example.com/cb';

describe.each(DIALECTS)('applications page on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let dev: ReturnType<typeof webClient>;
  let other: ReturnType<typeof webClient>;
  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
    for (const u of ['developer-user', 'maintainer-user']) await t.app.services.accounts.setPasswordByUsername(u, PASSWORD);
    dev = webClient(t);
    other = webClient(t);
    expect((await dev.signIn('developer-user', PASSWORD)).status).toBe(303);
    expect((await other.signIn('maintainer-user', PASSWORD)).status).toBe(303);
  });
  afterAll(() => t?.close());

  const tokenFor = (clientId: string, secret: string, code: string) =>
    t.request('POST', '/oauth/token', { body: { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: clientId, client_secret: secret } });
  /** The developer authorises an application through the consent page, as a browser would. */
  async function authorise(clientId: string, scope: string) {
    const consent = await dev.get(`/oauth/authorize?client_id=${clientId}&redirect_uri=${encodeURIComponent(REDIRECT)}&response_type=code&scope=${scope}&state=s1`);
    expect(consent.status).toBe(200);
    const fields = Object.fromEntries([...consent.html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!.replace(/&amp;/g, '&')]));
    const approved = await dev.post('/oauth/authorize', { ...fields, _csrf: csrfOf(consent.html), decision: 'approve' });
    expect(approved.status).toBe(302);
    return new URL(approved.location!).searchParams.get('code')!;
  }

  it('registers an application: client id and secret shown once; the secret works at /oauth/token; renewing replaces it', async () => {
    const created = await dev.submit(PAGE, { name: 'My <b>CLI</b>', redirect_uri: REDIRECT, 'scopes[]': ['read_user', 'openid'], confidential: '1' });
    expect(created.status).toBe(200);
    expect(created.headers['cache-control']).toBe('no-store');
    expect(created.html).toContain('My &lt;b>CLI&lt;/b>');
    const secret = secretOn(created.html)!;
    const clientId = clientIdOn(created.html)!;
    expect(secret).toBeDefined();
    expect(clientId).toMatch(/^[0-9a-f]{64}$/);
    const listed = await dev.get(PAGE);
    expect(listed.html).toContain(clientId);
    expect(listed.html).not.toContain(secret);
    // Not an instance application, not another user's.
    expect((await t.request('GET', '/api/v4/applications', { token: w.adminToken })).text).not.toContain(clientId);
    expect((await other.get(PAGE)).html).not.toContain(clientId);

    const code = await authorise(clientId, 'read_user');
    expect((await tokenFor(clientId, secret, code)).status).toBe(200);

    const id = /applications\/(\d+)\/renew/.exec(listed.html)![1]!;
    expect((await other.submit(PAGE, {}, `${PAGE}/${id}/renew`)).status).toBe(404);
    const renewed = await dev.submit(PAGE, {}, `${PAGE}/${id}/renew`);
    expect(renewed.status).toBe(200);
    const newSecret = secretOn(renewed.html)!;
    expect(newSecret).not.toBe(secret);
    const code2 = await authorise(clientId, 'read_user');
    expect((await tokenFor(clientId, secret, code2)).status).toBe(401);
    expect((await tokenFor(clientId, newSecret, code2)).status).toBe(200);
  });

  it('refuses bad input with the reason, keeping what was typed', async () => {
    const refused = await dev.submit(PAGE, { name: 'Kept name', redirect_uri: 'not a uri', 'scopes[]': ['api'] });
    expect(refused.status).toBe(400);
    expect(refused.html).toContain('Redirect uri must be an absolute URI.');
    expect(refused.html).toContain('value="Kept name"');
    expect(secretOn(refused.html)).toBeUndefined();
    const noScope = await dev.submit(PAGE, { name: 'x', redirect_uri: REDIRECT });
    expect(noScope.status).toBe(400);
    expect(noScope.html).toContain("Scopes can't be blank");
    expect((await dev.post(PAGE, { name: 'x', redirect_uri: REDIRECT, 'scopes[]': ['api'] })).status).toBe(403); // no CSRF token
  });

  it('lists authorized applications and revokes one: its tokens stop; deleting an own application ends its grants', async () => {
    const created = await dev.submit(PAGE, { name: 'Revocable', redirect_uri: REDIRECT, 'scopes[]': ['read_user'], confidential: '1' });
    const clientId = clientIdOn(created.html)!;
    const secret = secretOn(created.html)!;
    const tokens = (await tokenFor(clientId, secret, await authorise(clientId, 'read_user'))).body as { access_token: string };
    const bearer = { headers: { authorization: `Bearer ${tokens.access_token}` } };
    expect((await t.request('GET', '/api/v4/user', bearer)).status).toBe(200);

    const page = await dev.get(PAGE);
    const section = page.html.slice(page.html.indexOf('id="authorized-heading"'));
    expect(section).toContain('Revocable');
    const grantId = /authorized\/(\d+)\/revoke"[^>]*><input[^>]*\/><button[^>]*>Revoke Revocable</.exec(section)![1]!;
    expect((await other.submit(PAGE, {}, `${PAGE}/authorized/${grantId}/revoke`)).status).toBe(404);
    const revoked = await dev.submit(PAGE, {}, `${PAGE}/authorized/${grantId}/revoke`);
    expect(revoked.status).toBe(303);
    expect((await t.request('GET', '/api/v4/user', bearer)).status).toBe(401);
    const after = await dev.get(revoked.location!);
    expect(after.html).toContain('The authorization was revoked');
    expect(after.html.slice(after.html.indexOf('id="authorized-heading"'))).not.toContain('Revocable');

    const again = (await tokenFor(clientId, secret, await authorise(clientId, 'read_user'))).body as { access_token: string };
    const appId = /applications\/(\d+)\/delete"[^>]*><input[^>]*\/><button[^>]*>Delete Revocable</.exec(after.html)![1]!;
    expect((await other.submit(PAGE, {}, `${PAGE}/${appId}/delete`)).status).toBe(404);
    expect((await dev.submit(PAGE, {}, `${PAGE}/${appId}/delete`)).status).toBe(303);
    expect((await t.request('GET', '/api/v4/user', { headers: { authorization: `Bearer ${again.access_token}` } })).status).toBe(401);
    expect((await dev.get(PAGE)).html).not.toContain(clientId);
  });

  it('sends the signed-out to sign in', async () => {
    const res = await webClient(t).get(PAGE);
    expect(res.status).toBe(303);
    expect(res.location).toContain('/users/sign_in');
  });
});
