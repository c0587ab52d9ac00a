/**
 * GitLab's personal access token API on both stores: create (admin for a user; self with limited
 * scopes), list with filters and pagination, show, /self, revoke; permissions own vs others vs admin;
 * the expiry policy; bad input never a 500 nor a partial write.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, tableCounts, type TestApp, type World } from '../../support/test-app.js';

const START = '2026-11-23T10:00:00.000Z';

describe.each(DIALECTS)('personal access tokens on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  beforeAll(async () => {
    t = await startTestApp(dialect, { now: START });
    w = await seedWorld(t);
  });
  afterAll(() => t?.close());
  beforeEach(() => t.clock.set(START));

  const createFor = (userId: number, body: unknown, token = w.adminToken) => t.request('POST', `/api/v4/users/${userId}/personal_access_tokens`, { token, body });

  describe('POST /users/:user_id/personal_access_tokens', () => {
    it('creates a token for a user (admin), shows the secret once, with GitLab fields', async () => {
      const res = await createFor(w.users.developer.user.id, { name: 'ci', scopes: ['read_api'], expires_at: '2027-01-01', description: 'for CI' });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ name: 'ci', revoked: false, active: true, scopes: ['read_api'], user_id: w.users.developer.user.id, expires_at: '2027-01-01', description: 'for CI', last_used_at: null, grace_until: null });
      expect(res.body.token).toMatch(/^glpat-/);
      expect(Object.keys(res.body).sort()).toEqual(['active', 'created_at', 'description', 'expires_at', 'grace_until', 'id', 'last_used_at', 'last_used_ips', 'name', 'reuse_flagged', 'reuse_flagged_at', 'revoked', 'scopes', 'token', 'user_id']);
      const shown = await t.request('GET', `/api/v4/personal_access_tokens/${res.body.id}`, { token: w.adminToken });
      expect(shown.status).toBe(200);
      expect(shown.body.token).toBeUndefined();
      const me = await t.request('GET', '/api/v4/user', { token: res.body.token });
      expect(me.body.id).toBe(w.users.developer.user.id);
    });

    it('defaults expires_at to the maximum lifetime (365 days) when omitted', async () => {
      const res = await createFor(w.users.developer.user.id, { name: 'default', scopes: ['read_user'] });
      expect(res.status).toBe(201);
      expect(res.body.expires_at).toBe('2027-11-23');
    });

    it('refuses an expiry beyond the maximum lifetime with the reason, writing nothing', async () => {
      const before = await tableCounts(t);
      const res = await createFor(w.users.developer.user.id, { name: 'long', scopes: ['api'], expires_at: '2027-11-24' });
      expect(res.status).toBe(422);
      expect(res.body.message).toMatch(/^Expires at must be before 2027-11-24 \(maximum lifetime 365 days\)$/);
      expect(await tableCounts(t)).toEqual(before);
      expect((await createFor(w.users.developer.user.id, { name: 'edge', scopes: ['api'], expires_at: '2027-11-23' })).status).toBe(201);
    });

    it.each([
      [{ scopes: ['api'] }, { error: 'name is missing' }],
      [{ name: 'x' }, { error: 'scopes is missing' }],
      [{ name: 'x', scopes: ['nope'] }, { error: 'scopes does not have a valid value' }],
      [{ name: 'x', scopes: [] }, { message: "Scopes can't be blank" }],
      [{ name: ' ', scopes: ['api'] }, { message: "Name can't be blank" }],
      [{ name: 'x', scopes: ['api'], expires_at: 'tomorrow' }, { error: 'expires_at is invalid' }],
      [{ name: 'x', scopes: ['api'], expires_at: '2026-11-23' }, { message: 'Expires at must be a date in the future' }],
      [{ name: { a: 1 }, scopes: ['api'] }, { error: 'name is invalid' }],
      [{ name: 'x', scopes: 'api,read_user', expires_at: [1] }, { error: 'expires_at is invalid' }],
    ])('refuses %j: a parameter error 400, a refused record GitLab\'s render_api_error! 422', async (body, expected) => {
      const before = await tableCounts(t);
      const res = await createFor(w.users.developer.user.id, body);
      expect(res.status).toBe('message' in expected ? 422 : 400);
      expect(res.body).toEqual(expected);
      expect(await tableCounts(t)).toEqual(before);
    });

    it('403 for a non-admin, 404 for an unknown user, 401 without a token', async () => {
      expect((await createFor(w.users.developer.user.id, { name: 'x', scopes: ['api'] }, w.users.owner.token)).status).toBe(403);
      const unknown = await createFor(999999, { name: 'x', scopes: ['api'] });
      expect(unknown.status).toBe(404);
      expect(unknown.body).toEqual({ message: '404 User Not Found' });
      expect((await t.request('POST', `/api/v4/users/${w.admin.id}/personal_access_tokens`, { body: { name: 'x', scopes: ['api'] } })).status).toBe(401);
    });

    it('accepts comma-separated and form-encoded scopes', async () => {
      const res = await t.request('POST', `/api/v4/users/${w.users.guest.user.id}/personal_access_tokens`, {
        token: w.adminToken,
        rawBody: 'name=form&scopes[]=read_api&scopes[]=read_user&expires_at=2027-01-01',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(res.status).toBe(201);
      expect(res.body.scopes).toEqual(['read_api', 'read_user']);
    });
  });

  describe('POST /user/personal_access_tokens', () => {
    it('creates a self_rotate token for the caller', async () => {
      const res = await t.request('POST', '/api/v4/user/personal_access_tokens', { token: w.users.reporter.token, body: { name: 'rotator', scopes: ['self_rotate'], expires_at: '2027-01-01' } });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ user_id: w.users.reporter.user.id, scopes: ['self_rotate'] });
    });
    it('refuses other scopes as GitLab does', async () => {
      const res = await t.request('POST', '/api/v4/user/personal_access_tokens', { token: w.users.reporter.token, body: { name: 'x', scopes: ['api'] } });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'scopes does not have a valid value' });
    });
    it('answers a refused record with GitLab\'s 422 and the sentence, writing nothing', async () => {
      const before = await tableCounts(t);
      for (const [body, message] of [
        [{ name: 'x', scopes: [] }, "Scopes can't be blank"],
        [{ name: 'x', scopes: ['self_rotate'], expires_at: '2026-11-23' }, 'Expires at must be a date in the future'],
      ] as const) {
        const res = await t.request('POST', '/api/v4/user/personal_access_tokens', { token: w.users.reporter.token, body });
        expect([res.status, res.body]).toEqual([422, { message }]);
      }
      expect(await tableCounts(t)).toEqual(before);
    });
  });

  describe('listing', () => {
    let mine: number[];
    beforeAll(async () => {
      const u = w.users.planner.user.id;
      mine = [];
      for (const [name, expires_at] of [['alpha', '2027-01-01'], ['beta', '2026-12-01'], ['gamma-ci', '2027-06-01']] as const) {
        mine.push((await createFor(u, { name, scopes: ['read_api'], expires_at })).body.id);
      }
      await t.request('DELETE', `/api/v4/personal_access_tokens/${mine[1]}`, { token: w.adminToken });
    });

    it('shows a user only their own tokens; with pagination headers', async () => {
      const res = await t.request('GET', '/api/v4/personal_access_tokens?per_page=2', { token: w.users.planner.token });
      expect(res.status).toBe(200);
      expect(res.headers['x-total']).toBe('4'); // seeded token + three
      expect(res.headers['x-total-pages']).toBe('2');
      expect(res.body).toHaveLength(2);
      expect(res.body.every((x: any) => x.user_id === w.users.planner.user.id)).toBe(true);
    });

    it('401 for a non-admin filtering on another user; own user_id is fine', async () => {
      const res = await t.request('GET', `/api/v4/personal_access_tokens?user_id=${w.admin.id}`, { token: w.users.planner.token });
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ message: '401 Unauthorized' });
      expect((await t.request('GET', `/api/v4/personal_access_tokens?user_id=${w.users.planner.user.id}`, { token: w.users.planner.token })).status).toBe(200);
    });

    it('admins see all and filter by user_id, revoked, state, search and dates', async () => {
      const q = async (query: string) => {
        const res = await t.request('GET', `/api/v4/personal_access_tokens?user_id=${w.users.planner.user.id}&${query}`, { token: w.adminToken });
        expect(res.status).toBe(200);
        return res.body.map((x: any) => x.id).filter((id: number) => mine.includes(id));
      };
      const all = await t.request('GET', '/api/v4/personal_access_tokens?per_page=100', { token: w.adminToken });
      expect(new Set(all.body.map((x: any) => x.user_id)).size).toBeGreaterThan(3);
      expect(await q('revoked=true')).toEqual([mine[1]]);
      expect(await q('revoked=false')).toEqual([mine[0], mine[2]]);
      expect(await q('state=inactive')).toEqual([mine[1]]);
      expect(await q('state=active')).toEqual([mine[0], mine[2]]);
      expect(await q('search=GAMMA')).toEqual([mine[2]]);
      expect(await q('search=%25')).toEqual([]);
      expect(await q('expires_before=2027-02-01')).toEqual([mine[0], mine[1]]);
      expect(await q('expires_after=2027-02-01')).toEqual([mine[2]]);
      expect(await q('created_after=2026-11-23T09:00:00Z')).toEqual(mine);
      expect(await q('created_before=2026-11-23T09:00:00Z')).toEqual([]);
      expect(await q('last_used_after=2020-01-01')).toEqual([]);
    });

    it.each(['state=nope', 'revoked=maybe', 'created_before=yesterday', 'expires_after=2027-13-01', 'user_id=abc', 'per_page=0'])('400 for %s', async (query) => {
      const res = await t.request('GET', `/api/v4/personal_access_tokens?${query}`, { token: w.adminToken });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatch(/is invalid|does not have a valid value/);
    });

    it('last_used_at is recorded when a token is used', async () => {
      const created = await createFor(w.users.planner.user.id, { name: 'used', scopes: ['read_user'], expires_at: '2027-01-01' });
      await t.request('GET', '/api/v4/user', { token: created.body.token });
      // The write is not awaited by the request; wait for it (real I/O, bounded), not for the clock.
      let shown;
      for (let i = 0; i < 100; i++) {
        shown = await t.request('GET', `/api/v4/personal_access_tokens/${created.body.id}`, { token: w.adminToken });
        if (shown.body.last_used_at !== null) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(shown!.body.last_used_at).toBe(START);
      const res = await t.request('GET', `/api/v4/personal_access_tokens?user_id=${w.users.planner.user.id}&last_used_after=2026-11-23T09:00:00Z`, { token: w.adminToken });
      expect(res.body.map((x: any) => x.id)).toContain(created.body.id);
    });
  });

  describe('show, self and revoke', () => {
    it("own or admin; another user's or an unknown id is 401, and only an admin learns it does not exist (404), as GitLab", async () => {
      const created = await createFor(w.users.maintainer.user.id, { name: 's', scopes: ['api'], expires_at: '2027-01-01' });
      const url = `/api/v4/personal_access_tokens/${created.body.id}`;
      expect((await t.request('GET', url, { token: created.body.token })).status).toBe(200);
      expect((await t.request('GET', url, { token: w.adminToken })).status).toBe(200);
      const other = await t.request('GET', url, { token: w.users.owner.token });
      expect(other.status).toBe(401);
      expect(other.body).toEqual({ message: '401 Unauthorized' });
      const unknown = await t.request('GET', '/api/v4/personal_access_tokens/999999', { token: w.users.owner.token });
      expect(unknown.status).toBe(401);
      expect(unknown.body).toEqual({ message: '401 Unauthorized' });
      const unknownToAdmin = await t.request('GET', '/api/v4/personal_access_tokens/999999', { token: w.adminToken });
      expect(unknownToAdmin.status).toBe(404);
      expect(unknownToAdmin.body).toEqual({ message: '404 Not Found' });
      expect((await t.request('GET', '/api/v4/personal_access_tokens/abc', { token: w.adminToken })).status).toBe(400);
    });

    it('GET /self shows the token in use', async () => {
      const created = await createFor(w.users.maintainer.user.id, { name: 'me', scopes: ['read_api'], expires_at: '2027-01-01' });
      const res = await t.request('GET', '/api/v4/personal_access_tokens/self', { token: created.body.token });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: created.body.id, name: 'me' });
    });

    it('DELETE /:id revokes at once (own, admin); another user gets 400; unknown 404', async () => {
      const a = await createFor(w.users.maintainer.user.id, { name: 'r', scopes: ['api'], expires_at: '2027-01-01' });
      const url = `/api/v4/personal_access_tokens/${a.body.id}`;
      const other = await t.request('DELETE', url, { token: w.users.owner.token });
      expect(other.status).toBe(400);
      expect(other.body).toEqual({ message: '400 Bad request' });
      expect((await t.request('GET', '/api/v4/user', { token: a.body.token })).status).toBe(200);
      expect((await t.request('DELETE', url, { token: w.users.maintainer.token })).status).toBe(204);
      const after = await t.request('GET', '/api/v4/user', { token: a.body.token });
      expect(after.status).toBe(401);
      expect(after.body.error).toBe('invalid_token');
      const shown = await t.request('GET', url, { token: w.adminToken });
      expect(shown.body).toMatchObject({ revoked: true, active: false });
      const unknown = await t.request('DELETE', '/api/v4/personal_access_tokens/999999', { token: w.adminToken });
      expect(unknown.status).toBe(404);
      // ActiveRecord::RecordNotFound, as GitLab's API renders it.
      expect(unknown.body).toEqual({ message: '404 Not found' });
      expect((await t.request('DELETE', '/api/v4/personal_access_tokens/999999', { token: w.users.owner.token })).status).toBe(404);
    });

    it.each([['api'], ['read_api'], ['read_user'], ['read_repository'], ['read_registry'], ['self_rotate']])(
      'GET and DELETE /self work with a token of any scope (GitLab since 15.4): %s',
      async (scope) => {
        const a = await createFor(w.users.maintainer.user.id, { name: `self-${scope}`, scopes: [scope], expires_at: '2027-01-01' });
        const shown = await t.request('GET', '/api/v4/personal_access_tokens/self', { token: a.body.token });
        expect(shown.status).toBe(200);
        expect(shown.body).toMatchObject({ id: a.body.id, scopes: [scope], active: true });
        expect((await t.request('DELETE', '/api/v4/personal_access_tokens/self', { token: a.body.token })).status).toBe(204);
        expect((await t.request('GET', '/api/v4/personal_access_tokens/self', { token: a.body.token })).status).toBe(401);
        expect((await t.request('GET', `/api/v4/personal_access_tokens/${a.body.id}`, { token: w.adminToken })).body).toMatchObject({ revoked: true, active: false });
      },
    );

    it('a narrow scope still reaches nothing else: read_user cannot DELETE another token, read_repository cannot GET /user', async () => {
      const ru = await createFor(w.users.maintainer.user.id, { name: 'ru', scopes: ['read_user'], expires_at: '2027-01-01' });
      const victim = await createFor(w.users.maintainer.user.id, { name: 'victim', scopes: ['api'], expires_at: '2027-01-01' });
      const refused = await t.request('DELETE', `/api/v4/personal_access_tokens/${victim.body.id}`, { token: ru.body.token });
      expect(refused.status).toBe(403);
      expect(refused.body.error).toBe('insufficient_scope');
      const rr = await createFor(w.users.maintainer.user.id, { name: 'rr', scopes: ['read_repository'], expires_at: '2027-01-01' });
      expect((await t.request('GET', '/api/v4/user', { token: rr.body.token })).status).toBe(403);
      expect((await t.request('GET', '/api/v4/personal_access_tokens', { token: rr.body.token })).status).toBe(403);
    });
  });

  it("POST /personal_access_tokens/self/rotate with an OAuth token is GitLab's 405 (`not_allowed!` unless a PersonalAccessToken); nothing is rotated", async () => {
    const { oauth } = t.app.services;
    const app = (await t.request('POST', '/api/v4/applications', { token: w.adminToken, body: { name: 'rotate-cli', redirect_uri: 'http://127.0.0.1/unused', scopes: 'api', confidential: false } })).body;
    const device = await oauth.authorizeDevice({ client_id: app.application_id, scope: 'api' }, undefined, 'http://127.0.0.1');
    expect(await oauth.decideDevice(w.users.developer.user, device.user_code, true)).toBe(true);
    const grant = await oauth.token({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: device.device_code, client_id: app.application_id }, undefined, 'http://127.0.0.1');
    const bearer = { headers: { authorization: `Bearer ${grant.access_token}` } };
    expect((await t.request('GET', '/api/v4/user', bearer)).status).toBe(200);
    const before = await tableCounts(t);
    const res = await t.request('POST', '/api/v4/personal_access_tokens/self/rotate', { ...bearer, body: {} });
    expect(res).toMatchObject({ status: 405, body: { message: '405 Method Not Allowed' } });
    expect(await tableCounts(t)).toEqual(before);
    expect((await t.request('GET', '/api/v4/user', bearer)).status).toBe(200);
  });
});

describe.each(DIALECTS)('expiry policy configuration on %s', (dialect) => {
  it('LATCHKEY_REQUIRE_TOKEN_EXPIRY=false allows no expiry; LATCHKEY_MAX_TOKEN_LIFETIME_DAYS narrows the maximum', async () => {
    const t = await startTestApp(dialect, { now: START, env: { LATCHKEY_REQUIRE_TOKEN_EXPIRY: 'false', LATCHKEY_MAX_TOKEN_LIFETIME_DAYS: '30' } });
    try {
      const w = await seedWorld(t).catch(() => null);
      expect(w).toBeNull(); // the fixture's 2027-06-01 tokens exceed 30 days
      const { namespaces, personalTokens } = t.app.services;
      const { admin } = await namespaces.ensureFirstAdmin('root', 'root@example.com');
      const { secret } = await personalTokens.createFor(admin, { name: 'a', scopes: ['api'], expiresAt: '2026-12-01' }, null);
      const none = await t.request('POST', `/api/v4/users/${admin.id}/personal_access_tokens`, { token: secret, body: { name: 'forever', scopes: ['read_api'] } });
      expect(none.status).toBe(201);
      expect(none.body.expires_at).toBeNull();
      const long = await t.request('POST', `/api/v4/users/${admin.id}/personal_access_tokens`, { token: secret, body: { name: 'long', scopes: ['read_api'], expires_at: '2026-12-24' } });
      expect(long.status).toBe(422);
      expect(long.body.message).toBe('Expires at must be before 2026-12-24 (maximum lifetime 30 days)');
    } finally {
      await t.close();
    }
  });
});
