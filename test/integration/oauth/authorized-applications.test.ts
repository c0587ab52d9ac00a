/**
 * "Authorized applications" (issue 17 item 4, Latchkey extension): a user lists the OAuth2 grants they
 * gave that still work and revokes one; its tokens stop at once; nobody else's grants are reachable.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';

const URL_ = '/api/v4/user/latchkey/authorized_applications';

describe.each(DIALECTS)('authorized applications on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
  });
  afterAll(() => t?.close());

  /** A grant of the developer to a new confidential application, through the services (the flow has its own tests). */
  async function grant(name: string, scope: string) {
    const { oauthApplications, oauth } = t.app.services;
    const redirectUri = 'https://app.example.com/cb';
    const { application, secret } = await oauthApplications.create(w.admin, { name, redirectUri, scopes: scope, confidential: true });
    const check = await oauth.checkAuthorization({ client_id: application.uid, redirect_uri: redirectUri, response_type: 'code', scope });
    if (check.kind !== 'ok') throw new Error('refused');
    const code = new URL(await oauth.approve(w.users.developer.user, check.request)).searchParams.get('code')!;
    return oauth.token({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: application.uid, client_secret: secret }, undefined, 'http://x');
  }

  it('lists live grants and revokes one: its tokens stop working; others stay', async () => {
    const a = await grant('Alpha', 'read_user');
    const b = await grant('Beta', 'api');
    const dev = w.users.developer.token;
    const list = await t.request('GET', URL_, { token: dev });
    expect(list.status).toBe(200);
    expect(list.body.map((g: { application_name: string; scopes: string[] }) => [g.application_name, g.scopes])).toEqual([['Alpha', ['read_user']], ['Beta', ['api']]]);
    expect(list.text).not.toContain(a.access_token);
    const alpha = list.body[0];
    expect((await t.request('GET', URL_, { token: w.users.maintainer.token })).body).toEqual([]);
    expect((await t.request('DELETE', `${URL_}/${alpha.id}`, { token: w.users.maintainer.token })).status).toBe(404);
    expect((await t.request('GET', '/api/v4/user', { headers: { authorization: `Bearer ${a.access_token}` } })).status).toBe(200);
    expect((await t.request('DELETE', `${URL_}/${alpha.id}`, { token: dev })).status).toBe(204);
    expect((await t.request('GET', '/api/v4/user', { headers: { authorization: `Bearer ${a.access_token}` } })).status).toBe(401);
    expect((await t.request('GET', '/api/v4/user', { headers: { authorization: `Bearer ${b.access_token}` } })).status).toBe(200);
    const refreshed = await t.request('POST', '/oauth/token', { body: { grant_type: 'refresh_token', refresh_token: a.refresh_token, client_id: alpha.application_id } });
    expect(refreshed.status).toBe(401); // no secret: invalid_client before the grant is even looked at
    expect((await t.request('GET', URL_, { token: dev })).body.map((g: { application_name: string }) => g.application_name)).toEqual(['Beta']);
    const again = await t.request('DELETE', `${URL_}/${alpha.id}`, { token: dev });
    expect(again.status).toBe(404);
    expect(again.body).toEqual({ message: '404 Authorization Not Found' });
  });
});
