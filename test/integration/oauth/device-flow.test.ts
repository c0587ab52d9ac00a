/**
 * The device authorization grant (RFC 8628, issue 17 item 2) on both stores: /oauth/authorize_device,
 * polling answers (authorization_pending, slow_down, access_denied, expired_token), the person's
 * /oauth/device page behind sign-in and CSRF, single-use device codes, tokens that work on the API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';
import { csrfOf, webClient } from '../../support/web-client.js';

const PASSWORD = 'correct horse battery staple 42';
const GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

describe.each(DIALECTS)('OAuth2 device flow on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let cli: { application_id: string };

  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
    await t.app.services.accounts.setPasswordByUsername('developer-user', PASSWORD);
    cli = (await t.request('POST', '/api/v4/applications', { token: w.adminToken, body: { name: 'Terminal CLI', redirect_uri: 'http://127.0.0.1/unused', scopes: 'api read_user', confidential: false } })).body;
  });
  afterAll(() => t?.close());

  const post = (url: string, fields: Record<string, string>) => t.request('POST', url, { headers: { 'content-type': 'application/x-www-form-urlencoded' }, rawBody: new URLSearchParams(fields).toString() });
  const start = async (scope = 'read_user') => {
    const res = await post('/oauth/authorize_device', { client_id: cli.application_id, scope });
    expect(res.status).toBe(200);
    return res.body;
  };
  const poll = (deviceCode: string) => post('/oauth/token', { grant_type: GRANT, device_code: deviceCode, client_id: cli.application_id });
  async function decide(userCode: string, decision: 'approve' | 'deny') {
    const c = webClient(t);
    await c.signIn('developer-user', PASSWORD);
    const page = await c.get(`/oauth/device?user_code=${encodeURIComponent(userCode)}`);
    expect(page.status).toBe(200);
    expect(page.html).toContain('Terminal CLI');
    return c.post('/oauth/device', { user_code: userCode, decision, _csrf: csrfOf(page.html) });
  }

  it('a device gets codes; the person approves on /oauth/device; the device polls and gets tokens once', async () => {
    const d = await start();
    expect(d).toEqual({
      device_code: expect.stringMatching(/^lkodc-/), user_code: expect.stringMatching(/^[B-Z]{4}-[B-Z]{4}$/), verification_uri: 'http://localhost:80/oauth/device',
      verification_uri_complete: `http://localhost:80/oauth/device?user_code=${d.user_code}`, expires_in: 600, interval: 5,
    });
    const pending = await poll(d.device_code);
    expect(pending.status).toBe(400);
    expect(pending.body.error).toBe('authorization_pending');
    expect((await poll(d.device_code)).body.error).toBe('slow_down');
    const decided = await decide(d.user_code.toLowerCase().replace('-', ' '), 'approve');
    expect(decided.status).toBe(200);
    expect(decided.html).toContain('The device is authorized');
    t.clock.advance(5000);
    const tokens = await poll(d.device_code);
    expect(tokens.status).toBe(200);
    expect(tokens.body).toMatchObject({ token_type: 'Bearer', expires_in: 7200, scope: 'read_user' });
    const me = await t.request('GET', '/api/v4/user', { headers: { authorization: `Bearer ${tokens.body.access_token}` } });
    expect(me.body.username).toBe('developer-user');
    expect((await poll(d.device_code)).body.error).toBe('invalid_grant');
    // The user code is spent: the page refuses it.
    const c = webClient(t);
    await c.signIn('developer-user', PASSWORD);
    expect((await c.get(`/oauth/device?user_code=${d.user_code}`)).status).toBe(400);
  });

  it('denied and expired requests; unknown codes; scopes beyond the application', async () => {
    const denied = await start();
    expect((await decide(denied.user_code, 'deny')).html).toContain('denied');
    expect((await poll(denied.device_code)).body.error).toBe('access_denied');
    const late = await start();
    t.clock.advance(601_000);
    expect((await poll(late.device_code)).body.error).toBe('expired_token');
    expect((await poll('lkodc-nope')).body.error).toBe('invalid_grant');
    expect((await post('/oauth/token', { grant_type: GRANT, client_id: cli.application_id })).body.error).toBe('invalid_request');
    const wide = await post('/oauth/authorize_device', { client_id: cli.application_id, scope: 'write_repository' });
    expect(wide.status).toBe(400);
    expect(wide.body.error).toBe('invalid_scope');
    expect((await post('/oauth/authorize_device', { client_id: 'nope' })).status).toBe(401);
  });

  it('the device page needs sign-in and the CSRF token', async () => {
    const d = await start();
    const c = webClient(t);
    const anonymous = await c.get(`/oauth/device?user_code=${d.user_code}`);
    expect(anonymous.status).toBe(303);
    expect(anonymous.location).toMatch(/^\/users\/sign_in\?redirect_to=/);
    await c.signIn('developer-user', PASSWORD);
    expect((await c.post('/oauth/device', { user_code: d.user_code, decision: 'approve' })).status).toBe(403);
    expect((await poll(d.device_code)).body.error).toBe('authorization_pending');
  });
});
