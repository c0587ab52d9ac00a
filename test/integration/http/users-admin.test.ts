/**
 * PUT /users/:id (admin; GitLab's "Modify a user", with `password` for the web UI and `admin`), and
 * POST /users/:id/block|unblock, on both stores. A new password, a block or a lost admin flag ends the
 * user's web sessions; a blocked user's tokens stop working.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';
import { webClient } from '../../support/web-client.js';

describe.each(DIALECTS)('user administration API on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
  });
  afterAll(() => t.close());

  it('an admin sets a password; the user signs in to the web UI with it', async () => {
    const id = w.users.developer.user.id;
    const res = await t.request('PUT', `/api/v4/users/${id}`, { token: w.adminToken, body: { password: 'a fine password' } });
    expect(res.status).toBe(200);
    expect(res.body.username).toBe('developer-user');
    expect(res.body).not.toHaveProperty('password');
    expect((await webClient(t).signIn('developer-user', 'a fine password')).status).toBe(303);
  });

  it('refuses a short password, a password for a bot, non-admins, and unknown users, changing nothing', async () => {
    const id = w.users.developer.user.id;
    expect((await t.request('PUT', `/api/v4/users/${id}`, { token: w.adminToken, body: { password: 'short' } })).body).toEqual({ message: { password: ['is too short (minimum is 8 characters)'] } });
    const bot = (await t.app.services.resourceTokens.create(w.admin, { type: 'project', project: w.project }, { name: 'b', scopes: ['read_api'] })).bot;
    const botRes = await t.request('PUT', `/api/v4/users/${bot.id}`, { token: w.adminToken, body: { password: 'a fine password' } });
    expect(botRes.status).toBe(400);
    expect(botRes.body.message.password[0]).toMatch(/bot/);
    expect((await t.request('PUT', `/api/v4/users/${id}`, { token: w.users.owner.token, body: { password: 'another password' } })).status).toBe(403);
    expect((await t.request('PUT', `/api/v4/users/999999`, { token: w.adminToken, body: { name: 'x' } })).status).toBe(404);
    expect((await webClient(t).signIn('developer-user', 'another password')).status).toBe(401);
  });

  it('sets and clears the admin flag, but never one\'s own', async () => {
    const id = w.users.guest.user.id;
    expect((await t.request('PUT', `/api/v4/users/${id}`, { token: w.adminToken, body: { admin: true } })).body.is_admin).toBe(true);
    expect((await t.request('GET', '/api/v4/users', { token: w.users.guest.token })).status).toBe(200);
    expect((await t.request('PUT', `/api/v4/users/${id}`, { token: w.adminToken, body: { admin: false } })).body.is_admin).toBe(false);
    t.clock.advance(2000); // past the verifier's cache of the token's user
    expect((await t.request('GET', '/api/v4/users', { token: w.users.guest.token })).status).toBe(403);
    expect((await t.request('PUT', `/api/v4/users/${w.admin.id}`, { token: w.adminToken, body: { admin: false } })).status).toBe(400);
  });

  it('block answers 201 true; the user\'s tokens and sessions stop; unblock restores the tokens', async () => {
    const id = w.users.reporter.user.id;
    await t.request('PUT', `/api/v4/users/${id}`, { token: w.adminToken, body: { password: 'reporter password' } });
    const c = webClient(t);
    await c.signIn('reporter-user', 'reporter password');
    expect((await c.get('/')).status).toBe(200);
    const blocked = await t.request('POST', `/api/v4/users/${id}/block`, { token: w.adminToken });
    expect(blocked.status).toBe(201);
    expect(blocked.body).toBe(true);
    expect((await c.get('/')).status).toBe(303);
    t.clock.advance(2000); // past the verifier's cache
    expect((await t.request('GET', '/api/v4/user', { token: w.users.reporter.token })).status).toBe(403);
    expect((await t.request('POST', `/api/v4/users/${id}/unblock`, { token: w.adminToken })).status).toBe(201);
    t.clock.advance(2000);
    expect((await t.request('GET', '/api/v4/user', { token: w.users.reporter.token })).status).toBe(200);
    expect((await t.request('POST', `/api/v4/users/${w.admin.id}/block`, { token: w.adminToken })).status).toBe(403);
    expect((await t.request('POST', `/api/v4/users/${id}/block`, { token: w.users.owner.token })).status).toBe(403);
  });
});
