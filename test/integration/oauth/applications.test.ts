/**
 * GitLab's Applications API (issue 17 item 1): admin-only create/list/delete/renew-secret, GitLab's
 * fields and validation bodies, the secret shown once and stored only as a digest.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';

describe.each(DIALECTS)('applications API on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
  });
  afterAll(() => t?.close());

  const create = (body: unknown, token = w.adminToken) => t.request('POST', '/api/v4/applications', { token, body });

  it('creates an application with GitLab fields, the secret once, stored only as a digest', async () => {
    const res = await create({ name: 'CI dashboard', redirect_uri: 'https://dash.example.com/callback', scopes: 'read_user openid' });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(Number),
      application_id: expect.stringMatching(/^[0-9a-f]{64}$/),
      application_name: 'CI dashboard',
      callback_url: 'https://dash.example.com/callback',
      confidential: true,
      secret: expect.stringMatching(/^gloas-[0-9A-Za-z]{34}$/),
    });
    const list = await t.request('GET', '/api/v4/applications', { token: w.adminToken });
    expect(list.status).toBe(200);
    expect(list.body).toContainEqual({ id: res.body.id, application_id: res.body.application_id, application_name: 'CI dashboard', callback_url: 'https://dash.example.com/callback', confidential: true });
    expect(list.text).not.toContain(res.body.secret);
    const rows = await t.app.store.db.selectFrom('oauth_applications').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(res.body.secret);
    expect(JSON.stringify(rows)).not.toContain(res.body.secret.slice(6));
  });

  it('takes a form body with confidential=false (a public client)', async () => {
    const res = await t.request('POST', '/api/v4/applications', {
      token: w.adminToken,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      rawBody: 'name=CLI&redirect_uri=http%3A%2F%2F127.0.0.1%3A7777%2Fcb&scopes=api+read_user&confidential=false',
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ application_name: 'CLI', callback_url: 'http://127.0.0.1:7777/cb', confidential: false });
  });

  it('renews the secret: a new one, once', async () => {
    const app = (await create({ name: 'renew me', redirect_uri: 'https://r.example.com/cb', scopes: 'api' })).body;
    const renewed = await t.request('POST', `/api/v4/applications/${app.id}/renew-secret`, { token: w.adminToken });
    expect(renewed.status).toBe(200);
    expect(renewed.body).toMatchObject({ id: app.id, application_id: app.application_id, application_name: 'renew me' });
    expect(renewed.body.secret).toMatch(/^gloas-/);
    expect(renewed.body.secret).not.toBe(app.secret);
    const digest = t.app.store.db.selectFrom('oauth_applications').select('secret_digest').where('id', '=', app.id);
    expect((await digest.executeTakeFirstOrThrow()).secret_digest).not.toContain(renewed.body.secret);
    expect((await t.request('POST', '/api/v4/applications/999999/renew-secret', { token: w.adminToken })).body).toEqual({ message: '404 Application Not Found' });
  });

  it('deletes an application: 204, then 404', async () => {
    const app = (await create({ name: 'gone', redirect_uri: 'https://g.example.com/cb', scopes: 'api' })).body;
    expect((await t.request('DELETE', `/api/v4/applications/${app.id}`, { token: w.adminToken })).status).toBe(204);
    const again = await t.request('DELETE', `/api/v4/applications/${app.id}`, { token: w.adminToken });
    expect(again.status).toBe(404);
    expect(again.body).toEqual({ message: '404 Application Not Found' });
    expect((await t.request('GET', '/api/v4/applications', { token: w.adminToken })).body.map((a: { id: number }) => a.id)).not.toContain(app.id);
  });

  it('is for admins only', async () => {
    const app = (await create({ name: 'admins', redirect_uri: 'https://a.example.com/cb', scopes: 'api' })).body;
    const owner = w.users.owner.token;
    for (const [method, url] of [['GET', '/api/v4/applications'], ['POST', '/api/v4/applications'], ['DELETE', `/api/v4/applications/${app.id}`], ['POST', `/api/v4/applications/${app.id}/renew-secret`]] as const) {
      const res = await t.request(method, url, { token: owner, body: method === 'POST' ? { name: 'x', redirect_uri: 'https://x.example.com', scopes: 'api' } : undefined });
      expect(res.status, `${method} ${url}`).toBe(403);
      expect(res.body).toEqual({ message: '403 Forbidden' });
    }
    expect((await t.request('GET', '/api/v4/applications', {})).status).toBe(401);
  });

  it('refuses bad input with GitLab bodies and writes nothing', async () => {
    const before = (await t.app.store.db.selectFrom('oauth_applications').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n;
    const cases: [unknown, unknown][] = [
      [{ redirect_uri: 'https://x.example.com', scopes: 'api' }, { error: 'name is missing' }],
      [{ name: 'x', scopes: 'api' }, { error: 'redirect_uri is missing' }],
      [{ name: 'x', redirect_uri: 'https://x.example.com' }, { error: 'scopes is missing' }],
      [{ name: 'x', redirect_uri: '/relative', scopes: 'api' }, { message: { redirect_uri: ['must be an absolute URI.'] } }],
      [{ name: 'x', redirect_uri: 'https://x.example.com/cb#frag', scopes: 'api' }, { message: { redirect_uri: ['cannot contain a fragment.'] } }],
      [{ name: 'x', redirect_uri: 'javascript:alert(1)', scopes: 'api' }, { message: { redirect_uri: ['is forbidden by the server.'] } }],
      [{ name: 'x', redirect_uri: 'https://x.example.com', scopes: 'api sudo' }, { message: { scopes: ["doesn't match configured on the server."] } }],
      [{ name: 'x', redirect_uri: 'https://x.example.com', scopes: ' ' }, { message: { scopes: ["can't be blank"] } }],
      [{ name: ' ', redirect_uri: 'https://x.example.com', scopes: 'api' }, { message: { name: ["can't be blank"] } }],
      [{ name: 'x', redirect_uri: 'https://x.example.com', scopes: 'api', confidential: 'maybe' }, { error: 'confidential is invalid' }],
    ];
    for (const [body, expected] of cases) {
      const res = await create(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body, JSON.stringify(body)).toEqual(expected);
    }
    expect((await t.request('DELETE', '/api/v4/applications/abc', { token: w.adminToken })).status).toBe(400);
    const after = (await t.app.store.db.selectFrom('oauth_applications').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n;
    expect(after).toBe(before);
  });
});
