/**
 * Impersonation tokens (GitLab's doc/api/user_tokens.md, lib/api/users.rb, spec/requests/api/users_spec.rb):
 * GET|POST /users/:user_id/impersonation_tokens, GET|DELETE …/:impersonation_token_id, admins only; and
 * their place among the other kinds: the user's own PAT list (hidden, as GitLab), the admin's (shown),
 * the admin look-up, the expiring report, the metrics and the audit log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { parseExposition, sampleValue } from '../../support/prometheus-exposition.js';
import { seedWorld, startTestApp, tableCounts, type TestApp, type World } from '../../support/test-app.js';

describe.each(DIALECTS)('impersonation tokens on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let alice: World['users']['developer'];
  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
    alice = w.users.developer;
  });
  afterAll(() => t?.close());

  const base = (userId: number) => `/api/v4/users/${userId}/impersonation_tokens`;
  const create = (userId: number, body: unknown, token: string | null = w.adminToken) => t.request('POST', base(userId), { token, body });

  describe('201/200/204: the admin issues, lists, shows and revokes', () => {
    it('creates a token that acts as the user, with GitLab’s fields and the secret once', async () => {
      const res = await create(alice.user.id, { name: 'support', scopes: ['read_api', 'read_user'], expires_at: '2027-01-01', description: 'ticket 42' });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        name: 'support',
        description: 'ticket 42',
        scopes: ['read_api', 'read_user'],
        user_id: alice.user.id,
        impersonation: true,
        active: true,
        revoked: false,
        expires_at: '2027-01-01',
        last_used_at: null,
        last_used_ips: [],
      });
      expect(res.body.token).toMatch(/^glpat-/);
      const me = await t.request('GET', '/api/v4/user', { token: res.body.token });
      expect(me).toMatchObject({ status: 200, body: { id: alice.user.id, username: alice.user.username } });
      // Read-only scopes: the user's writes stay refused.
      expect((await t.request('POST', '/api/v4/groups', { token: res.body.token, body: { name: 'x', path: 'x' } })).status).toBe(403);

      const shown = await t.request('GET', `${base(alice.user.id)}/${res.body.id}`, { token: w.adminToken });
      expect(shown.status).toBe(200);
      expect(shown.body).toMatchObject({ id: res.body.id, impersonation: true, active: true });
      expect(shown.body.token).toBeUndefined();
    });

    it('takes form bodies with comma-separated scopes, and defaults the expiry to the maximum lifetime', async () => {
      const res = await t.request('POST', base(alice.user.id), {
        token: w.adminToken,
        rawBody: 'name=form&scopes=read_user,read_repository',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(res.status).toBe(201);
      expect(res.body.scopes).toEqual(['read_user', 'read_repository']);
      expect(res.body.expires_at).toBe('2027-11-23');
    });

    it('lists a user’s impersonation tokens only, with state all|active|inactive and pagination headers', async () => {
      const bob = w.users.reporter.user;
      const a = await create(bob.id, { name: 'a', scopes: ['api'] });
      const b = await create(bob.id, { name: 'b', scopes: ['api'] });
      expect((await t.request('DELETE', `${base(bob.id)}/${b.body.id}`, { token: w.adminToken })).status).toBe(204);
      const all = await t.request('GET', base(bob.id), { token: w.adminToken });
      expect(all.status).toBe(200);
      // Not bob's own personal token (seeded by the world), nor alice's impersonation tokens.
      expect(all.body.map((x: { id: number }) => x.id)).toEqual([a.body.id, b.body.id]);
      expect(all.headers['x-total']).toBe('2');
      for (const x of all.body) expect(x).toMatchObject({ impersonation: true, user_id: bob.id });
      expect((await t.request('GET', `${base(bob.id)}?state=active`, { token: w.adminToken })).body.map((x: { id: number }) => x.id)).toEqual([a.body.id]);
      const inactive = await t.request('GET', `${base(bob.id)}?state=inactive`, { token: w.adminToken });
      expect(inactive.body).toHaveLength(1);
      expect(inactive.body[0]).toMatchObject({ id: b.body.id, active: false, revoked: true });
      const paged = await t.request('GET', `${base(bob.id)}?per_page=1&page=2`, { token: w.adminToken });
      expect(paged.body.map((x: { id: number }) => x.id)).toEqual([b.body.id]);
      expect(paged.headers['x-total-pages']).toBe('2');
      expect(await t.request('GET', `${base(bob.id)}?state=revoked`, { token: w.adminToken })).toMatchObject({ status: 400, body: { error: 'state does not have a valid value' } });
    });

    it('DELETE revokes at once: the secret stops working, the token shows revoked, a second DELETE is still 204', async () => {
      const res = await create(alice.user.id, { name: 'short', scopes: ['read_user'] });
      expect((await t.request('GET', '/api/v4/user', { token: res.body.token })).status).toBe(200);
      expect((await t.request('DELETE', `${base(alice.user.id)}/${res.body.id}`, { token: w.adminToken })).status).toBe(204);
      expect((await t.request('GET', '/api/v4/user', { token: res.body.token })).status).toBe(401);
      expect((await t.request('GET', `${base(alice.user.id)}/${res.body.id}`, { token: w.adminToken })).body).toMatchObject({ revoked: true, active: false });
      expect((await t.request('DELETE', `${base(alice.user.id)}/${res.body.id}`, { token: w.adminToken })).status).toBe(204);
    });

    it('a rotated impersonation token stays one (PAT rotate by the admin), and only the new secret works', async () => {
      const res = await create(alice.user.id, { name: 'rotating', scopes: ['read_user'] });
      const rotated = await t.request('POST', `/api/v4/personal_access_tokens/${res.body.id}/rotate`, { token: w.adminToken });
      expect(rotated.status).toBe(200);
      const shown = await t.request('GET', `${base(alice.user.id)}/${rotated.body.id}`, { token: w.adminToken });
      expect(shown.body).toMatchObject({ impersonation: true, name: 'rotating', active: true });
      expect((await t.request('GET', '/api/v4/user', { token: rotated.body.token })).body.id).toBe(alice.user.id);
      expect((await t.request('GET', '/api/v4/user', { token: res.body.token })).status).toBe(401);
    });
  });

  describe('400: GitLab’s validation answers, nothing written', () => {
    it.each([
      ['no name', { scopes: ['api'] }, { error: 'name is missing' }],
      ['a blank name', { name: ' ', scopes: ['api'] }, { message: { name: ["can't be blank"] } }],
      ['no scopes', { name: 'x' }, { message: { scopes: ["can't be blank"] } }],
      ['empty scopes', { name: 'x', scopes: [] }, { message: { scopes: ["can't be blank"] } }],
      ['an unknown scope', { name: 'x', scopes: ['api', 'sudo'] }, { message: { scopes: ['can only contain available scopes'] } }],
      ['an expiry beyond the maximum lifetime', { name: 'x', scopes: ['api'], expires_at: '2030-01-01' }, { message: { expires_at: ['must be before 2027-11-24 (maximum lifetime 365 days)'] } }],
      ['an expiry in the past', { name: 'x', scopes: ['api'], expires_at: '2020-01-01' }, { message: { expires_at: [expect.stringContaining('future')] } }],
      ['a non-string name', { name: { a: 1 }, scopes: ['api'] }, { error: 'name is invalid' }],
    ])('%s', async (_label, body, answer) => {
      const before = await tableCounts(t);
      const res = await create(alice.user.id, body);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(answer);
      expect(await tableCounts(t)).toEqual(before);
    });

    it('a user id that is not a number', async () => {
      expect(await t.request('GET', '/api/v4/users/abc/impersonation_tokens', { token: w.adminToken })).toMatchObject({ status: 400, body: { error: 'user_id is invalid' } });
    });
  });

  describe('403/401: admins only, refused before the input is read', () => {
    it('every endpoint answers a non-admin 403, whatever the body', async () => {
      const before = await tableCounts(t);
      const owner = w.users.owner.token;
      expect(await create(alice.user.id, { name: 'x', scopes: ['api'] }, owner)).toMatchObject({ status: 403, body: { message: '403 Forbidden' } });
      expect((await create(alice.user.id, {}, owner)).status).toBe(403);
      expect((await create(alice.user.id, { name: 'x', scopes: ['api'] }, alice.token)).status).toBe(403);
      expect((await t.request('GET', base(alice.user.id), { token: owner })).status).toBe(403);
      expect((await t.request('GET', `${base(alice.user.id)}/1`, { token: owner })).status).toBe(403);
      expect((await t.request('DELETE', `${base(alice.user.id)}/1`, { token: owner })).status).toBe(403);
      expect(await tableCounts(t)).toEqual(before);
    });

    it('no credential is 401', async () => {
      expect((await t.request('GET', base(alice.user.id), { token: null })).status).toBe(401);
    });
  });

  describe('404: GitLab’s messages', () => {
    it('an unknown user', async () => {
      for (const [method, url] of [['GET', base(999_999)], ['GET', `${base(999_999)}/1`], ['DELETE', `${base(999_999)}/1`]] as const) {
        expect(await t.request(method, url, { token: w.adminToken })).toMatchObject({ status: 404, body: { message: '404 User Not Found' } });
      }
      expect(await create(999_999, { name: 'x', scopes: ['api'] })).toMatchObject({ status: 404, body: { message: '404 User Not Found' } });
    });

    it('an unknown token, a personal token that is not an impersonation token, another user’s impersonation token', async () => {
      const other = await create(w.users.guest.user.id, { name: 'other', scopes: ['read_user'] });
      const own = await t.request('GET', '/api/v4/personal_access_tokens/self', { token: alice.token });
      for (const id of [999_999, own.body.id, other.body.id]) {
        for (const method of ['GET', 'DELETE'] as const) {
          expect(await t.request(method, `${base(alice.user.id)}/${id}`, { token: w.adminToken })).toMatchObject({ status: 404, body: { message: '404 Impersonation Token Not Found' } });
        }
      }
      // The refused DELETE did not revoke the other user's token.
      expect((await t.request('GET', '/api/v4/user', { token: other.body.token })).status).toBe(200);
    });
  });

  describe('among the other kinds', () => {
    let imp: { id: number; token: string };
    beforeAll(async () => {
      const res = await create(alice.user.id, { name: 'everywhere', scopes: ['read_user'], expires_at: '2026-12-01' });
      imp = res.body;
    });

    it('the user does not see it in their own personal token list; the admin does', async () => {
      const own = await t.request('GET', '/api/v4/personal_access_tokens', { token: alice.token });
      expect(own.body.map((x: { id: number }) => x.id)).not.toContain(imp.id);
      expect(own.body.length).toBeGreaterThan(0);
      const admin = await t.request('GET', `/api/v4/personal_access_tokens?user_id=${alice.user.id}&per_page=100`, { token: w.adminToken });
      expect(admin.body.map((x: { id: number }) => x.id)).toContain(imp.id);
    });

    it('the admin look-up names it an impersonation token of the user', async () => {
      const res = await t.request('POST', '/api/v4/admin/token', { token: w.adminToken, body: { token: imp.token } });
      expect(res.body).toMatchObject({ id: imp.id, kind: 'impersonation', user_id: alice.user.id, owner: { id: alice.user.id, username: alice.user.username, bot: false } });
    });

    it('the expiring report lists it for admins only', async () => {
      const admin = await t.request('GET', '/api/v4/latchkey/expiring?within=30d', { token: w.adminToken });
      const listed = admin.body.namespaces.flatMap((n: { type: string; full_path: string; tokens: { id: number; kind: string }[] }) => n.tokens.map((x) => ({ ...x, ns: `${n.type}:${n.full_path}` })));
      expect(listed.find((x: { id: number }) => x.id === imp.id)).toMatchObject({ kind: 'impersonation', ns: `user:${alice.user.username}`, days_left: 8 });
      const own = await t.request('GET', '/api/v4/latchkey/expiring?within=30d', { token: alice.token });
      const ids = own.body.namespaces.flatMap((n: { tokens: { id: number }[] }) => n.tokens.map((x) => x.id));
      expect(ids).not.toContain(imp.id);
    });

    it('the metrics count and time it as kind="impersonation"', async () => {
      const m = parseExposition((await t.request('GET', '/metrics')).text);
      expect(sampleValue(m, 'latchkey_token_expiry_days', { token_id: String(imp.id), kind: 'impersonation' })).toBe(8);
      const active = await t.request('GET', `${base(alice.user.id)}?state=active&per_page=100`, { token: w.adminToken });
      const activeEverywhere = (await Promise.all(Object.values(w.users).map((u) => t.request('GET', `${base(u.user.id)}?state=active&per_page=100`, { token: w.adminToken })))).reduce((n, r) => n + r.body.length, 0);
      expect(active.body.length).toBeGreaterThan(0);
      expect(sampleValue(m, 'latchkey_tokens', { kind: 'impersonation', state: 'active' })).toBe(activeEverywhere);
      expect(sampleValue(m, 'latchkey_tokens', { kind: 'impersonation', state: 'revoked' })).toBeGreaterThan(0);
    });

    it('webhook payloads name the kind `impersonation` and the user it acts as', async () => {
      const hook = await t.request('POST', '/api/v4/latchkey/webhooks', { token: w.adminToken, body: { url: 'http://127.0.0.1:9/hook', events: ['token.created'] } });
      expect(hook.status).toBe(201);
      const res = await create(alice.user.id, { name: 'hooked', scopes: ['read_user'] });
      const row = await t.app.store.db.selectFrom('webhook_deliveries').select('payload').where('hook_id', '=', hook.body.id).where('token_id', '=', res.body.id).executeTakeFirstOrThrow();
      expect(JSON.parse(row.payload)).toMatchObject({ event: 'token.created', token: { id: res.body.id, kind: 'impersonation', user: alice.user.username, project: null, group: null } });
      expect(row.payload).not.toContain(res.body.token);
    });

    it('the audit log records who issued it for whom, and marks the requests it makes', async () => {
      await t.request('GET', '/api/v4/user', { token: imp.token });
      await t.app.services.auditWriter.flush();
      const created = await t.request('GET', `/api/v4/latchkey/audit_events?token_id=${imp.id}&event=token.created`, { token: w.adminToken });
      expect(created.body).toHaveLength(1);
      expect(created.body[0]).toMatchObject({ actor_username: 'root', details: { by: 'root', impersonation: true, user: alice.user.username } });
      const used = await t.request('GET', `/api/v4/latchkey/audit_events?token_id=${imp.id}&event=http.request`, { token: w.adminToken });
      expect(used.body.length).toBeGreaterThan(0);
      expect(used.body[0]).toMatchObject({ actor_username: alice.user.username, details: { impersonation: true, impersonated_by_id: w.admin.id } });
    });
  });
});
