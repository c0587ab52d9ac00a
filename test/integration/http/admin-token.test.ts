/** POST /admin/token identifies any token from its value; DELETE /admin/token revokes it. Admins only. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, tableCounts, type TestApp, type World } from '../../support/test-app.js';

describe.each(DIALECTS)('admin token look-up on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  beforeAll(async () => {
    t = await startTestApp(dialect, { env: { LATCHKEY_VERIFY_CACHE_MS: '60000' } });
    w = await seedWorld(t);
  });
  afterAll(() => t?.close());

  const identify = (token: unknown, as = w.adminToken) => t.request('POST', '/api/v4/admin/token', { token: as, body: { token } });
  const revoke = (token: unknown, as = w.adminToken) => t.request('DELETE', '/api/v4/admin/token', { token: as, body: { token } });

  it('identifies a personal access token: kind, owner, scopes, state; never the secret', async () => {
    const res = await identify(w.users.developer.token);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ kind: 'personal', user_id: w.users.developer.user.id, scopes: ['api'], revoked: false, active: true, expires_at: '2027-06-01', owner: { id: w.users.developer.user.id, username: 'developer-user', bot: false } });
    // GitLab's record fields (doc/api/admin/token.md's example) are there too.
    expect(res.body).toMatchObject({ impersonation: false, previous_personal_access_token_id: null });
    expect(JSON.stringify(res.body)).not.toContain(w.users.developer.token);
    expect(res.body.digest).toBeUndefined();
  });

  it('names an impersonation token and the token a rotation replaced as GitLab\'s record does', async () => {
    const imp = await t.request('POST', `/api/v4/users/${w.users.guest.user.id}/impersonation_tokens`, { token: w.adminToken, body: { name: 'support', scopes: ['api'], expires_at: '2027-01-01' } });
    expect((await identify(imp.body.token)).body).toMatchObject({ kind: 'impersonation', impersonation: true, user_id: w.users.guest.user.id });
    const pat = await t.request('POST', `/api/v4/users/${w.users.guest.user.id}/personal_access_tokens`, { token: w.adminToken, body: { name: 'rot', scopes: ['api'], expires_at: '2027-01-01' } });
    const rotated = await t.request('POST', `/api/v4/personal_access_tokens/${pat.body.id}/rotate`, { token: w.adminToken });
    expect((await identify(rotated.body.token)).body).toMatchObject({ impersonation: false, previous_personal_access_token_id: pat.body.id, previous_token_id: pat.body.id });
  });

  it('identifies and revokes a deploy token', async () => {
    const dt = await t.request('POST', `/api/v4/projects/${w.project.id}/deploy_tokens`, { token: w.adminToken, body: { name: 'pull', scopes: ['read_registry'] } });
    const res = await identify(dt.body.token);
    expect(res.body).toMatchObject({ kind: 'deploy', username: dt.body.username, project_id: w.project.id, scopes: ['read_registry'], revoked: false, owner: null });
    expect((await revoke(dt.body.token)).status).toBe(204);
    expect((await identify(dt.body.token)).body).toMatchObject({ revoked: true, revoke_reason: 'admin' });
    const shown = await t.request('GET', `/api/v4/projects/${w.project.id}/deploy_tokens/${dt.body.id}`, { token: w.adminToken });
    expect(shown.body.revoked).toBe(true);
  });

  it('DELETE revokes a leaked personal token at once, even when cached', async () => {
    const created = await t.request('POST', `/api/v4/users/${w.users.guest.user.id}/personal_access_tokens`, { token: w.adminToken, body: { name: 'leak', scopes: ['read_user'] } });
    expect((await t.request('GET', '/api/v4/user', { token: created.body.token })).status).toBe(200);
    expect((await revoke(created.body.token)).status).toBe(204);
    expect((await t.request('GET', '/api/v4/user', { token: created.body.token })).status).toBe(401);
  });

  it('404 for an unknown value, 400 for a missing or empty one, 403 for non-admins', async () => {
    const before = await tableCounts(t);
    expect(await identify('glpat-unknownunknownunknown')).toMatchObject({ status: 404, body: { message: '404 Not Found' } });
    expect((await revoke('x'.repeat(10_000))).status).toBe(404);
    expect((await t.request('POST', '/api/v4/admin/token', { token: w.adminToken })).body).toEqual({ error: 'token is missing' });
    expect((await identify('')).status).toBe(400);
    expect((await identify({ a: 1 })).body).toEqual({ error: 'token is invalid' });
    expect((await identify(w.users.owner.token, w.users.owner.token)).status).toBe(403);
    expect((await revoke(w.users.owner.token, w.users.owner.token)).status).toBe(403);
    expect((await identify(w.adminToken, null as unknown as string)).status).toBe(401);
    expect(await tableCounts(t)).toEqual(before);
    expect((await t.request('GET', '/api/v4/user', { token: w.users.owner.token })).status).toBe(200);
  });
});
