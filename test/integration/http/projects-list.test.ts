/**
 * GET /projects (what the user is a member of — every project here is private, visibility.test.ts has
 * the internal and public ones; admins everything, unless `membership`) with search,
 * ordering and pagination, and GET /projects|groups/:id/members/all (direct and inherited members,
 * each user once with the highest level), as GitLab's projects.md and members.md describe them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { LEVEL, seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';

const enc = encodeURIComponent;

describe.each(DIALECTS)('project list and inherited members on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let soloProjectId: number;

  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
    // A top-level group of the owner-user's own, which the admin is not a member of.
    const solo = await t.request('POST', '/api/v4/groups', { token: w.users.owner.token, body: { name: 'Solo', path: 'solo' } });
    expect(solo.status).toBe(201);
    t.clock.advance(1000);
    const p = await t.request('POST', '/api/v4/projects', { token: w.users.owner.token, body: { name: 'Tools_100%', path: 'tools', namespace_id: solo.body.id } });
    expect(p.status).toBe(201);
    soloProjectId = p.body.id;
  });
  afterAll(() => t?.close());

  const paths = async (token: string, query = '') => {
    const res = await t.request('GET', `/api/v4/projects${query}`, { token });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.map((p: any) => p.path_with_namespace);
  };

  it('shows admins every project, newest first, and members only theirs (through any ancestor group)', async () => {
    expect(await paths(w.adminToken)).toEqual(['solo/tools', 'acme/other/site', 'acme/platform/web']);
    expect(await paths(w.adminToken, '?membership=true')).toEqual(['acme/other/site', 'acme/platform/web']);
    expect(await paths(w.users.guest.token)).toEqual(['acme/platform/web']);
    expect(await paths(w.users.owner.token)).toEqual(['solo/tools', 'acme/platform/web']);
    expect(await paths(w.users.outsider.token)).toEqual([]);
    const one = await t.request('GET', '/api/v4/projects?per_page=1&page=2', { token: w.adminToken });
    expect(one.body.map((p: any) => p.path_with_namespace)).toEqual(['acme/other/site']);
    expect(one.headers['x-total']).toBe('3');
    expect(one.body[0]).toMatchObject({ id: w.otherProject.id, path: 'site', namespace: { full_path: 'acme/other' } });
  });

  it('counts direct project memberships, and not ones that have ended', async () => {
    const add = await t.request('POST', `/api/v4/projects/${enc('acme/other/site')}/members`, { token: w.adminToken, body: { user_id: w.users.outsider.user.id, access_level: 20, expires_at: '2026-11-25' } });
    expect(add.status).toBe(201);
    expect(await paths(w.users.outsider.token)).toEqual(['acme/other/site']);
    t.clock.advance(2 * 86_400_000);
    expect(await paths(w.users.outsider.token)).toEqual([]);
  });

  it('searches names and paths case-insensitively, with % and _ taken literally, and orders as asked', async () => {
    expect(await paths(w.adminToken, '?search=WE')).toEqual(['acme/platform/web']);
    expect(await paths(w.adminToken, `?search=${enc('platform/w')}`)).toEqual(['acme/platform/web']);
    expect(await paths(w.adminToken, `?search=${enc('100%')}`)).toEqual(['solo/tools']);
    expect(await paths(w.adminToken, `?search=${enc('s_te')}`)).toEqual([]);
    expect(await paths(w.adminToken, '?order_by=name&sort=asc')).toEqual(['acme/other/site', 'solo/tools', 'acme/platform/web']);
    expect(await paths(w.adminToken, '?order_by=id&sort=asc')).toEqual(['acme/platform/web', 'acme/other/site', 'solo/tools']);
    expect(await paths(w.adminToken, '?order_by=path&sort=desc&simple=true')).toEqual(['solo/tools', 'acme/platform/web', 'acme/other/site']);
  });

  it('refuses bad query parameters with 400', async () => {
    for (const query of ['?search=%00', `?search=${'x'.repeat(256)}`, '?order_by=stars', '?sort=up', '?per_page=0', '?membership=maybe']) {
      const res = await t.request('GET', `/api/v4/projects${query}`, { token: w.adminToken });
      expect([res.status, typeof res.body?.error], query).toEqual([400, 'string']);
    }
    // Without a token GitLab answers the public projects (none here), not a 401.
    expect(await t.request('GET', '/api/v4/projects')).toMatchObject({ status: 200, body: [] });
  });

  it('lists inherited members once each, at their highest level, nearest membership on a tie', async () => {
    // reporter-user: Reporter in acme/platform, also Guest in acme and Maintainer directly in the project.
    expect((await t.request('POST', `/api/v4/groups/acme/members`, { token: w.adminToken, body: { user_id: w.users.reporter.user.id, access_level: 10 } })).status).toBe(201);
    const all = async (url: string) => {
      const res = await t.request('GET', `${url}?per_page=100`, { token: w.users.guest.token });
      expect(res.status).toBe(200);
      return Object.fromEntries(res.body.map((m: any) => [m.username, m.access_level]));
    };
    const platformMembers = Object.fromEntries(Object.entries(LEVEL).map(([role, level]) => [`${role}-user`, level]));
    expect(await all(`/api/v4/groups/${enc('acme/platform')}/members/all`)).toEqual({ root: 50, ...platformMembers });
    expect(await all(`/api/v4/projects/${enc('acme/platform/web')}/members/all`)).toEqual({ root: 50, ...platformMembers });
    expect((await t.request('POST', `/api/v4/projects/${enc('acme/platform/web')}/members`, { token: w.adminToken, body: { user_id: w.users.reporter.user.id, access_level: 40 } })).status).toBe(201);
    expect(await all(`/api/v4/projects/${enc('acme/platform/web')}/members/all`)).toEqual({ root: 50, ...platformMembers, 'reporter-user': 40 });
    // Only members of acme itself count for acme.
    const top = await t.request('GET', '/api/v4/groups/acme/members/all', { token: w.adminToken });
    expect(top.body.map((m: any) => [m.username, m.access_level])).toEqual([
      ['root', 50],
      ['reporter-user', 10],
    ]);
    // Direct members stay direct.
    expect((await t.request('GET', '/api/v4/groups/acme/members', { token: w.adminToken })).body).toHaveLength(2);
    const paged = await t.request('GET', `/api/v4/groups/${enc('acme/platform')}/members/all?per_page=2&page=2`, { token: w.adminToken });
    expect(paged.body).toHaveLength(2);
    expect(paged.headers['x-total']).toBe(String(Object.keys(platformMembers).length + 1));
  });

  it('hides the members of what the user cannot see', async () => {
    expect((await t.request('GET', `/api/v4/projects/${soloProjectId}/members/all`, { token: w.users.guest.token })).body).toEqual({ message: '404 Project Not Found' });
    expect((await t.request('GET', '/api/v4/groups/solo/members/all', { token: w.users.outsider.token })).status).toBe(404);
  });
});
