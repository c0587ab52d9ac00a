/**
 * Users, groups, projects and members through the REST API, against GitLab's documented contract
 * (doc/api/users.md, groups.md, projects.md, members.md) on every store.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { LEVEL, ROLES, seedWorld, startTestApp, tableCounts, type TestApp, type World } from '../../support/test-app.js';

const enc = encodeURIComponent;

describe.each(DIALECTS)('users API on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
  });
  afterAll(() => t?.close());

  it('lets an admin create a user and answers 201 with the user entity', async () => {
    const res = await t.request('POST', '/api/v4/users', {
      token: w.adminToken,
      body: { username: 'alice', name: 'Alice Example', email: 'alice@example.com', password: 'correct-horse-battery' },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      username: 'alice',
      name: 'Alice Example',
      email: 'alice@example.com',
      state: 'active',
      is_admin: false,
      bot: false,
      locked: false,
      avatar_url: null,
      created_at: '2026-11-23T10:00:00.000Z',
    });
    expect(res.body.id).toEqual(expect.any(Number));
    expect(res.body.web_url).toMatch(/\/alice$/);
    // The password (or its hash) never comes back.
    expect(res.text).not.toContain('correct-horse-battery');
    expect(res.text).not.toContain('scrypt');

    const shown = await t.request('GET', `/api/v4/users/${res.body.id}`, { token: w.users.developer.token });
    expect(shown.status).toBe(200);
    expect(shown.body).toEqual(res.body);
  });

  it('creates an administrator when admin is true', async () => {
    const res = await t.request('POST', '/api/v4/users', { token: w.adminToken, body: { username: 'second-admin', name: 'Second', email: 'second-admin@example.com', admin: true } });
    expect(res.status).toBe(201);
    expect(res.body.is_admin).toBe(true);
  });

  it('refuses POST /users to every non-admin with 403 and writes nothing', async () => {
    const before = await tableCounts(t);
    for (const role of [...ROLES, 'outsider'] as const) {
      const res = await t.request('POST', '/api/v4/users', { token: w.users[role].token, body: { username: `by-${role}`, name: 'x', email: `by-${role}@example.com` } });
      expect(res.status, role).toBe(403);
      expect(res.body).toEqual({ message: '403 Forbidden' });
    }
    expect(await tableCounts(t)).toEqual(before);
  });

  it('answers 409 "Email has already been taken" for a duplicate email, in any letter case', async () => {
    const before = await tableCounts(t);
    const res = await t.request('POST', '/api/v4/users', { token: w.adminToken, body: { username: 'fresh-name', name: 'x', email: 'DEVELOPER@example.com' } });
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ message: 'Email has already been taken' });
    expect(await tableCounts(t)).toEqual(before);
  });

  it('answers 409 "Username has already been taken" for a duplicate username, in any letter case', async () => {
    const before = await tableCounts(t);
    const res = await t.request('POST', '/api/v4/users', { token: w.adminToken, body: { username: 'Developer-User', name: 'x', email: 'fresh@example.com' } });
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ message: 'Username has already been taken' });
    expect(await tableCounts(t)).toEqual(before);
  });

  it('reports the email first when both email and username are taken, as GitLab checks them in that order', async () => {
    const res = await t.request('POST', '/api/v4/users', { token: w.adminToken, body: { username: 'developer-user', name: 'x', email: 'developer@example.com' } });
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ message: 'Email has already been taken' });
  });

  it.each([
    [{ username: '', name: 'x', email: 'v1@example.com' }, { username: ["can't be blank"] }],
    [{ username: 'has space', name: 'x', email: 'v2@example.com' }, { username: ["can contain only letters, digits, '_', '-' and '.'"] }],
    [{ username: '-leading-dash', name: 'x', email: 'v3@example.com' }, { username: ["can contain only letters, digits, '_', '-' and '.'"] }],
    [{ username: 'v4', name: '   ', email: 'v4@example.com' }, { name: ["can't be blank"] }],
    [{ username: 'v5', name: 'x', email: 'not-an-email' }, { email: ['is invalid'] }],
    [{ username: 'v6', name: 'x', email: 'v6@example.com', password: 'short' }, { password: ['is too short (minimum is 8 characters)'] }],
  ])('rejects invalid user fields with 400 and field messages (%j)', async (body, message) => {
    const before = await tableCounts(t);
    const res = await t.request('POST', '/api/v4/users', { token: w.adminToken, body });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ message });
    expect(await tableCounts(t)).toEqual(before);
  });

  it.each(['username', 'name', 'email'])('answers {"error":"%s is missing"} when that field is absent', async (field) => {
    const body: Record<string, string> = { username: 'missing-case', name: 'Missing', email: 'missing@example.com' };
    delete body[field];
    const res = await t.request('POST', '/api/v4/users', { token: w.adminToken, body });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: `${field} is missing` });
  });

  it('GET /user answers the caller, for every user', async () => {
    for (const role of [...ROLES, 'outsider'] as const) {
      const res = await t.request('GET', '/api/v4/user', { token: w.users[role].token });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: w.users[role].user.id, username: `${role}-user`, email: `${role}@example.com`, is_admin: false });
    }
    const admin = await t.request('GET', '/api/v4/user', { token: w.adminToken });
    expect(admin.body).toMatchObject({ id: w.admin.id, username: 'root', is_admin: true });
  });

  it('GET /users/:id answers 404 "User Not Found" for an unknown id and 400 for a non-number', async () => {
    const missing = await t.request('GET', '/api/v4/users/987654', { token: w.adminToken });
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ message: '404 User Not Found' });
    const bad = await t.request('GET', '/api/v4/users/abc', { token: w.adminToken });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: 'id is invalid' });
  });

  it('GET /users lists every user to an admin with pagination headers', async () => {
    const counts = await tableCounts(t);
    const res = await t.request('GET', '/api/v4/users?per_page=2', { token: w.adminToken });
    expect(res.status).toBe(200);
    expect(res.body).toHaveLength(2);
    expect(res.headers['x-total']).toBe(String(counts.users));
    expect(res.headers['x-total-pages']).toBe(String(Math.ceil(counts.users / 2)));
    expect(res.headers['x-next-page']).toBe('2');
  });
});

describe.each(DIALECTS)('groups API on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
  });
  afterAll(() => t?.close());

  const members = async (groupId: number) => (await t.request('GET', `/api/v4/groups/${groupId}/members?per_page=100`, { token: w.adminToken })).body as Array<{ id: number; access_level: number }>;

  it('lets any user create a top-level group, which they then own', async () => {
    const res = await t.request('POST', '/api/v4/groups', { token: w.users.outsider.token, body: { name: 'Outsider Co', path: 'outsider-co', description: 'mine' } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name: 'Outsider Co',
      path: 'outsider-co',
      full_path: 'outsider-co',
      parent_id: null,
      description: 'mine',
      visibility: 'private',
      created_at: '2026-11-23T10:00:00.000Z',
    });
    expect(res.body.web_url).toMatch(/\/groups\/outsider-co$/);
    expect(await members(res.body.id)).toEqual([expect.objectContaining({ id: w.users.outsider.user.id, access_level: 50 })]);
  });

  it('lets a Maintainer of the parent create a sub-group and makes them its Owner, as GitLab does', async () => {
    const res = await t.request('POST', '/api/v4/groups', { token: w.users.maintainer.token, body: { name: 'Infra', path: 'infra', parent_id: w.sub.id } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: 'Infra', path: 'infra', full_path: 'acme/platform/infra', parent_id: w.sub.id });
    expect(await members(res.body.id)).toEqual([expect.objectContaining({ id: w.users.maintainer.user.id, access_level: 50 })]);
    const shown = await t.request('GET', `/api/v4/groups/${enc('acme/platform/infra')}`, { token: w.users.guest.token });
    expect(shown.status).toBe(200);
    expect(shown.body.id).toBe(res.body.id);
  });

  it.each(['guest', 'planner', 'reporter', 'developer'] as const)('refuses a sub-group to a %s of the parent with 403 and writes nothing', async (role) => {
    const before = await tableCounts(t);
    const res = await t.request('POST', '/api/v4/groups', { token: w.users[role].token, body: { name: 'Nope', path: `nope-${role}`, parent_id: w.sub.id } });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ message: '403 Forbidden' });
    expect(await tableCounts(t)).toEqual(before);
  });

  it('answers 404 for a parent the caller cannot see or that does not exist', async () => {
    const before = await tableCounts(t);
    const hidden = await t.request('POST', '/api/v4/groups', { token: w.users.outsider.token, body: { name: 'Sneaky', path: 'sneaky', parent_id: w.sub.id } });
    expect(hidden.status).toBe(404);
    expect(hidden.body).toEqual({ message: '404 Group Not Found' });
    const missing = await t.request('POST', '/api/v4/groups', { token: w.adminToken, body: { name: 'Orphan', path: 'orphan', parent_id: 777777 } });
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ message: '404 Group Not Found' });
    expect(await tableCounts(t)).toEqual(before);
  });

  it('refuses a path already taken under the same parent (any letter case) with 400, and allows it under another parent', async () => {
    const before = await tableCounts(t);
    const top = await t.request('POST', '/api/v4/groups', { token: w.adminToken, body: { name: 'Acme again', path: 'ACME' } });
    expect(top.status).toBe(400);
    expect(top.body).toEqual({ message: { path: ['has already been taken'] } });
    const sub = await t.request('POST', '/api/v4/groups', { token: w.adminToken, body: { name: 'Platform again', path: 'platform', parent_id: w.top.id } });
    expect(sub.status).toBe(400);
    expect(sub.body).toEqual({ message: { path: ['has already been taken'] } });
    expect(await tableCounts(t)).toEqual(before);

    const elsewhere = await t.request('POST', '/api/v4/groups', { token: w.adminToken, body: { name: 'Platform', path: 'platform', parent_id: (await t.request('GET', `/api/v4/groups/${enc('acme/other')}`, { token: w.adminToken })).body.id } });
    expect(elsewhere.status).toBe(201);
    expect(elsewhere.body.full_path).toBe('acme/other/platform');
  });

  it.each([
    [{ name: 'x', path: '-dash' }, 'path'],
    [{ name: 'x', path: 'ends.' }, 'path'],
    [{ name: 'x', path: 'repo.git' }, 'path'],
    [{ name: 'x', path: 'has/slash' }, 'path'],
    [{ name: 'x', path: 'has space' }, 'path'],
    [{ name: 'x', path: '..' }, 'path'],
    [{ name: 'x', path: '' }, 'path'],
    [{ name: '  ', path: 'blank-name' }, 'name'],
    [{ name: 'tab\there', path: 'ctrl-name' }, 'name'],
  ])('rejects an invalid group %j with a 400 naming the %s field', async (body, field) => {
    const before = await tableCounts(t);
    const res = await t.request('POST', '/api/v4/groups', { token: w.adminToken, body });
    expect(res.status).toBe(400);
    expect(Object.keys(res.body.message)).toEqual([field]);
    expect(res.body.message[field][0]).toEqual(expect.any(String));
    expect(await tableCounts(t)).toEqual(before);
  });

  it('shows a group by number and by URL-encoded full path (case-insensitive), with full_path and parent_id', async () => {
    const byId = await t.request('GET', `/api/v4/groups/${w.sub.id}`, { token: w.users.guest.token });
    expect(byId.status).toBe(200);
    expect(byId.body).toMatchObject({ id: w.sub.id, name: 'Platform', path: 'platform', full_path: 'acme/platform', parent_id: w.top.id, visibility: 'private' });
    const byPath = await t.request('GET', `/api/v4/groups/${enc('acme/platform')}`, { token: w.users.guest.token });
    expect(byPath.status).toBe(200);
    expect(byPath.body).toEqual(byId.body);
    const upper = await t.request('GET', `/api/v4/groups/${enc('ACME/Platform')}`, { token: w.users.guest.token });
    expect(upper.body.id).toBe(w.sub.id);
    const top = await t.request('GET', '/api/v4/groups/acme', { token: w.adminToken });
    expect(top.body).toMatchObject({ id: w.top.id, full_path: 'acme', parent_id: null });
  });

  it('hides a group from non-members with 404 "Group Not Found", whether asked by id or path', async () => {
    for (const id of [String(w.sub.id), enc('acme/platform')]) {
      const res = await t.request('GET', `/api/v4/groups/${id}`, { token: w.users.outsider.token });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ message: '404 Group Not Found' });
    }
    // Membership of acme/platform gives nothing on its sibling acme/other.
    const sibling = await t.request('GET', `/api/v4/groups/${enc('acme/other')}`, { token: w.users.owner.token });
    expect(sibling.status).toBe(404);
    // The same answer as for a group that does not exist: no existence leak.
    const none = await t.request('GET', `/api/v4/groups/${enc('acme/nothing')}`, { token: w.users.owner.token });
    expect(none.body).toEqual(sibling.body);
  });

  it('lists to each user only the groups they are a member of (directly or through an ancestor)', async () => {
    const list = async (token: string) => {
      const res = await t.request('GET', '/api/v4/groups?per_page=100', { token });
      expect(res.status).toBe(200);
      expect(res.headers['x-total']).toBe(String(res.body.length));
      return (res.body as Array<{ full_path: string }>).map((g) => g.full_path).sort();
    };
    const dev = await list(w.users.developer.token);
    expect(dev).toContain('acme/platform');
    expect(dev.every((p) => p === 'acme/platform' || p.startsWith('acme/platform/'))).toBe(true);
    expect(dev).not.toContain('acme');
    expect(dev).not.toContain('acme/other');

    const outsider = await list(w.users.outsider.token);
    expect(outsider.some((p) => p.startsWith('acme'))).toBe(false);

    const admin = await list(w.adminToken);
    const total = (await tableCounts(t)).groups;
    expect(admin).toHaveLength(total);
    expect(admin).toEqual(expect.arrayContaining(['acme', 'acme/platform', 'acme/other']));
  });
});

describe.each(DIALECTS)('projects API on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
  });
  afterAll(() => t?.close());

  it('lets a Developer create a project with a numeric namespace_id (GitLab default: Developers and up)', async () => {
    const res = await t.request('POST', '/api/v4/projects', { token: w.users.developer.token, body: { name: 'API', path: 'api', namespace_id: w.sub.id, description: 'the API' } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name: 'API',
      path: 'api',
      path_with_namespace: 'acme/platform/api',
      description: 'the API',
      visibility: 'private',
      created_at: '2026-11-23T10:00:00.000Z',
      namespace: { id: w.sub.id, name: 'Platform', path: 'platform', kind: 'group', full_path: 'acme/platform', parent_id: w.top.id },
    });
    expect(res.body.web_url).toMatch(/\/acme\/platform\/api$/);
    expect(res.body.namespace.web_url).toMatch(/\/groups\/acme\/platform$/);
  });

  it('accepts namespace_id as a full path and derives the path from the name when only a name is given', async () => {
    const res = await t.request('POST', '/api/v4/projects', { token: w.users.maintainer.token, body: { name: 'My Tool', namespace_id: 'acme/platform' } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: 'My Tool', path: 'my-tool', path_with_namespace: 'acme/platform/my-tool', namespace: { id: w.sub.id } });
    const onlyPath = await t.request('POST', '/api/v4/projects', { token: w.users.maintainer.token, body: { path: 'only-path', namespace_id: w.sub.id } });
    expect(onlyPath.status).toBe(201);
    expect(onlyPath.body).toMatchObject({ name: 'only-path', path: 'only-path' });
  });

  it.each(['guest', 'planner', 'reporter'] as const)('refuses project creation to a %s with 403 and writes nothing', async (role) => {
    const before = await tableCounts(t);
    const res = await t.request('POST', '/api/v4/projects', { token: w.users[role].token, body: { name: 'Nope', namespace_id: w.sub.id } });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ message: '403 Forbidden' });
    expect(await tableCounts(t)).toEqual(before);
  });

  it('answers 404 "Namespace Not Found" for a namespace the caller cannot see or that does not exist', async () => {
    const before = await tableCounts(t);
    for (const [token, ns] of [
      [w.users.outsider.token, w.sub.id],
      [w.users.owner.token, 'acme/other'],
      [w.adminToken, 424242],
      [w.adminToken, 'no/such/group'],
    ] as const) {
      const res = await t.request('POST', '/api/v4/projects', { token, body: { name: 'Ghost', namespace_id: ns } });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ message: '404 Namespace Not Found' });
    }
    expect(await tableCounts(t)).toEqual(before);
  });

  it('refuses a path already taken in the namespace (any letter case) with 400', async () => {
    const before = await tableCounts(t);
    const res = await t.request('POST', '/api/v4/projects', { token: w.adminToken, body: { name: 'Web 2', path: 'WEB', namespace_id: w.sub.id } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ message: { path: ['has already been taken'] } });
    expect(await tableCounts(t)).toEqual(before);
  });

  it('shows a project by number and by URL-encoded path with path_with_namespace and namespace', async () => {
    const byId = await t.request('GET', `/api/v4/projects/${w.project.id}`, { token: w.users.guest.token });
    expect(byId.status).toBe(200);
    expect(byId.body).toMatchObject({
      id: w.project.id,
      name: 'Web',
      path: 'web',
      path_with_namespace: 'acme/platform/web',
      namespace: { id: w.sub.id, kind: 'group', full_path: 'acme/platform', parent_id: w.top.id },
    });
    const byPath = await t.request('GET', `/api/v4/projects/${enc('acme/platform/web')}`, { token: w.users.guest.token });
    expect(byPath.status).toBe(200);
    expect(byPath.body).toEqual(byId.body);
  });

  it('hides projects from non-members and from members of a sibling group with 404 "Project Not Found"', async () => {
    for (const [token, id] of [
      [w.users.outsider.token, String(w.project.id)],
      [w.users.outsider.token, enc('acme/platform/web')],
      [w.users.owner.token, String(w.otherProject.id)],
      [w.users.owner.token, enc('acme/other/site')],
    ] as const) {
      const res = await t.request('GET', `/api/v4/projects/${id}`, { token });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ message: '404 Project Not Found' });
    }
  });
});

describe.each(DIALECTS)('members API on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  /** Users nobody has added anywhere yet, created per test through the API. */
  let n = 0;
  const freshUser = async () => {
    n += 1;
    const res = await t.request('POST', '/api/v4/users', { token: w.adminToken, body: { username: `member-${n}`, name: `Member ${n}`, email: `member-${n}@example.com` } });
    expect(res.status).toBe(201);
    return res.body as { id: number; username: string; name: string };
  };
  const apiTokenFor = async (userId: number) => {
    const user = await t.app.services.namespaces.findUser(w.admin, userId);
    return (await t.app.services.personalTokens.createFor(user, { name: 'test', scopes: ['api'], expiresAt: '2027-06-01' }, null)).secret;
  };
  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
  });
  afterAll(() => t?.close());

  it('lets a Maintainer add a group member and lists it with GitLab member fields', async () => {
    const u = await freshUser();
    const res = await t.request('POST', `/api/v4/groups/${w.sub.id}/members`, { token: w.users.maintainer.token, body: { user_id: u.id, access_level: 30 } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ id: u.id, username: u.username, name: u.name, state: 'active', access_level: 30, expires_at: null, avatar_url: null });
    expect(res.body.web_url).toMatch(new RegExp(`/${u.username}$`));
    const list = await t.request('GET', `/api/v4/groups/${enc('acme/platform')}/members?per_page=100`, { token: w.users.guest.token });
    expect(list.status).toBe(200);
    expect(list.body).toContainEqual(res.body);
    expect(list.headers['x-total']).toBe(String(list.body.length));
    // Direct members only: the six seeded roles plus this one (and the admin who created the group).
    const ids = (list.body as Array<{ id: number }>).map((m) => m.id);
    for (const role of ROLES) expect(ids).toContain(w.users[role].user.id);
    expect(ids).not.toContain(w.users.outsider.user.id);
  });

  it.each([10, 15, 20, 30, 40, 50])('accepts access_level %i on a project from an Owner', async (level) => {
    const u = await freshUser();
    const res = await t.request('POST', `/api/v4/projects/${w.project.id}/members`, { token: w.users.owner.token, body: { user_id: u.id, access_level: level } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ id: u.id, access_level: level });
  });

  it.each([0, 5, 25, 45, 60, -10, 1000])('rejects access_level %i with 400 and writes nothing', async (level) => {
    const u = await freshUser();
    const before = await tableCounts(t);
    const res = await t.request('POST', `/api/v4/groups/${w.sub.id}/members`, { token: w.users.owner.token, body: { user_id: u.id, access_level: level } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'access_level does not have a valid value' });
    expect(await tableCounts(t)).toEqual(before);
  });

  it('accepts the form-encoded body of GitLab\'s curl example', async () => {
    const u = await freshUser();
    const res = await t.request('POST', `/api/v4/projects/${enc('acme/platform/web')}/members`, {
      token: w.users.maintainer.token,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      rawBody: `user_id=${u.id}&access_level=20`,
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ id: u.id, access_level: 20 });
  });

  it.each(['guest', 'planner', 'reporter', 'developer'] as const)('refuses adding members to a %s with 403', async (role) => {
    const u = await freshUser();
    const before = await tableCounts(t);
    for (const path of [`/api/v4/groups/${w.sub.id}/members`, `/api/v4/projects/${w.project.id}/members`]) {
      const res = await t.request('POST', path, { token: w.users[role].token, body: { user_id: u.id, access_level: 10 } });
      expect(res.status).toBe(403);
      expect(res.body).toEqual({ message: '403 Forbidden' });
    }
    expect(await tableCounts(t)).toEqual(before);
  });

  it('answers 404 to an outsider, for the group and its project', async () => {
    const u = await freshUser();
    const group = await t.request('POST', `/api/v4/groups/${w.sub.id}/members`, { token: w.users.outsider.token, body: { user_id: u.id, access_level: 10 } });
    expect(group.status).toBe(404);
    expect(group.body).toEqual({ message: '404 Group Not Found' });
    const project = await t.request('GET', `/api/v4/projects/${w.project.id}/members`, { token: w.users.outsider.token });
    expect(project.status).toBe(404);
    expect(project.body).toEqual({ message: '404 Project Not Found' });
  });

  it('does not let a Maintainer grant more than Maintainer', async () => {
    const u = await freshUser();
    const before = await tableCounts(t);
    const owner = await t.request('POST', `/api/v4/groups/${w.sub.id}/members`, { token: w.users.maintainer.token, body: { user_id: u.id, access_level: 50 } });
    expect(owner.status).toBe(403);
    expect(await tableCounts(t)).toEqual(before);
    const maintainer = await t.request('POST', `/api/v4/groups/${w.sub.id}/members`, { token: w.users.maintainer.token, body: { user_id: u.id, access_level: 40 } });
    expect(maintainer.status).toBe(201);
  });

  it('answers 409 "Member already exists" for a second add of the same user, and keeps the first level', async () => {
    const u = await freshUser();
    const first = await t.request('POST', `/api/v4/projects/${w.project.id}/members`, { token: w.users.maintainer.token, body: { user_id: u.id, access_level: 20 } });
    expect(first.status).toBe(201);
    const before = await tableCounts(t);
    const again = await t.request('POST', `/api/v4/projects/${w.project.id}/members`, { token: w.users.maintainer.token, body: { user_id: u.id, access_level: 30 } });
    expect(again.status).toBe(409);
    expect(again.body).toEqual({ message: 'Member already exists' });
    expect(await tableCounts(t)).toEqual(before);
    const list = await t.request('GET', `/api/v4/projects/${w.project.id}/members?per_page=100`, { token: w.users.maintainer.token });
    expect(list.body.filter((m: { id: number }) => m.id === u.id)).toEqual([expect.objectContaining({ access_level: 20 })]);
  });

  it('answers 404 "User Not Found" for an unknown user_id', async () => {
    const res = await t.request('POST', `/api/v4/groups/${w.sub.id}/members`, { token: w.users.owner.token, body: { user_id: 555555, access_level: 30 } });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ message: '404 User Not Found' });
  });

  it('stores expires_at, refuses one in the past, and ends access at that date', async () => {
    const u = await freshUser();
    const past = await t.request('POST', `/api/v4/groups/${w.sub.id}/members`, { token: w.users.owner.token, body: { user_id: u.id, access_level: 30, expires_at: '2026-11-01' } });
    expect(past.status).toBe(400);
    expect(past.body).toEqual({ message: { expires_at: ['cannot be a date in the past'] } });
    const bad = await t.request('POST', `/api/v4/groups/${w.sub.id}/members`, { token: w.users.owner.token, body: { user_id: u.id, access_level: 30, expires_at: '2026-02-30' } });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: 'expires_at is invalid' });

    const res = await t.request('POST', `/api/v4/groups/${w.sub.id}/members`, { token: w.users.owner.token, body: { user_id: u.id, access_level: 30, expires_at: '2026-12-01' } });
    expect(res.status).toBe(201);
    expect(res.body.expires_at).toBe('2026-12-01');

    const token = await apiTokenFor(u.id);
    expect((await t.request('GET', `/api/v4/projects/${w.project.id}`, { token })).status).toBe(200);
    try {
      t.clock.set('2026-12-01T00:00:00.000Z');
      expect((await t.request('GET', `/api/v4/projects/${w.project.id}`, { token })).status).toBe(404);
    } finally {
      t.clock.set('2026-11-23T10:00:00.000Z');
    }
  });

  it('gives a Maintainer of a top group access to and management of a project two levels down', async () => {
    const lead = await freshUser();
    const added = await t.request('POST', '/api/v4/groups/acme/members', { token: w.adminToken, body: { user_id: lead.id, access_level: 40 } });
    expect(added.status).toBe(201);
    const token = await apiTokenFor(lead.id);

    const project = await t.request('GET', `/api/v4/projects/${enc('acme/platform/web')}`, { token });
    expect(project.status).toBe(200);
    const u = await freshUser();
    const managed = await t.request('POST', `/api/v4/projects/${w.project.id}/members`, { token, body: { user_id: u.id, access_level: 30 } });
    expect(managed.status).toBe(201);
    // Also the sibling branch: acme/other/site is under acme too.
    expect((await t.request('GET', `/api/v4/projects/${w.otherProject.id}`, { token })).status).toBe(200);
    // The project's member list holds only its direct members, not the inherited Maintainer.
    const list = await t.request('GET', `/api/v4/projects/${w.project.id}/members?per_page=100`, { token });
    const ids = (list.body as Array<{ id: number }>).map((m) => m.id);
    expect(ids).toContain(u.id);
    expect(ids).not.toContain(lead.id);
  });

  it('gives members of acme/platform nothing on acme/other/site', async () => {
    const u = await freshUser();
    for (const role of ROLES) {
      const res = await t.request('POST', `/api/v4/projects/${enc('acme/other/site')}/members`, { token: w.users[role].token, body: { user_id: u.id, access_level: 10 } });
      expect(res.status, role).toBe(404);
      expect(res.body).toEqual({ message: '404 Project Not Found' });
    }
  });

  it('lists seeded member levels exactly as granted', async () => {
    const list = await t.request('GET', `/api/v4/groups/${w.sub.id}/members?per_page=100`, { token: w.users.reporter.token });
    for (const role of ROLES) {
      expect(list.body).toContainEqual(expect.objectContaining({ id: w.users[role].user.id, username: `${role}-user`, access_level: LEVEL[role] }));
    }
  });
});

describe.each(DIALECTS)('concurrent creates on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
  });
  afterAll(() => t?.close());

  /** Fires the same write several times at once: exactly one wins, the others get the sequential answer. */
  async function race(url: string, body: unknown, loser: { status: number; body: unknown }) {
    const before = await tableCounts(t);
    const results = await Promise.all(Array.from({ length: 6 }, () => t.request('POST', url, { token: w.adminToken, body })));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([201, ...Array(5).fill(loser.status)].sort());
    for (const r of results.filter((x) => x.status !== 201)) expect(r.body).toEqual(loser.body);
    return { before, after: await tableCounts(t) };
  }

  it('creates a group path once', async () => {
    const { before, after } = await race('/api/v4/groups', { name: 'Raced', path: 'raced' }, { status: 400, body: { message: { path: ['has already been taken'] } } });
    expect(after).toEqual({ ...before, groups: before.groups + 1, members: before.members + 1 });
  });

  it('creates a project path once', async () => {
    const { before, after } = await race('/api/v4/projects', { name: 'Raced', path: 'raced', namespace_id: w.sub.id }, { status: 400, body: { message: { path: ['has already been taken'] } } });
    expect(after).toEqual({ ...before, projects: before.projects + 1 });
  });

  it('adds a member once', async () => {
    const { before, after } = await race(`/api/v4/groups/${w.sub.id}/members`, { user_id: w.users.outsider.user.id, access_level: 20 }, { status: 409, body: { message: 'Member already exists' } });
    expect(after).toEqual({ ...before, members: before.members + 1 });
  });

  it('creates a user once', async () => {
    const { before, after } = await race('/api/v4/users', { username: 'raced-user', name: 'Raced', email: 'raced@example.com' }, { status: 409, body: { message: 'Email has already been taken' } });
    expect(after).toEqual({ ...before, users: before.users + 1 });
  });
});
