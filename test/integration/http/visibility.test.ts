/**
 * Project and group visibility (issue 11, item 5), as GitLab has it: private (the default: members),
 * internal (anyone signed in), public (anyone, without a token). GitLab's validations (a project never
 * more visible than its group, a sub-group than its parent, a group never less than its children), the
 * API reads without a token (GET /projects, /projects/:id, /groups, /groups/:id), and what a non-member
 * may read through the protocols — git fetch, generic package download, registry pull — while nothing of
 * a private project leaks and writes keep needing membership.
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Group, Project } from '../../../src/namespaces/namespace.js';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, tableCounts, type TestApp, type World } from '../../support/test-app.js';

const enc = encodeURIComponent;
const basic = (username: string, secret: string) => `Basic ${Buffer.from(`${username}:${secret}`).toString('base64')}`;

describe.each(DIALECTS)('visibility on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  /** open (public) → open/inner (internal); open/pub (public), open/inner/int (internal), open/priv (private). */
  let open: Group;
  let inner: Group;
  let pub: Project;
  let int: Project;
  let priv: Project;
  /** A Developer of `open` (the group's members write there); the world's outsider is a member of nothing. */
  let dev: { username: string; token: string };
  /** Service accounts, external users as GitLab creates them: one a member of nothing, one a Reporter of `inner`. */
  let robot: { username: string; token: string };
  let memberRobot: { username: string; token: string };

  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
    const { namespaces, personalTokens } = t.app.services;
    open = await namespaces.createGroup(w.admin, { name: 'Open', path: 'open', visibility: 'public' });
    inner = await namespaces.createGroup(w.admin, { name: 'Inner', path: 'inner', parentId: open.id, visibility: 'internal' });
    pub = await namespaces.createProject(w.admin, { name: 'Pub', path: 'pub', namespaceId: open.id, visibility: 'public' });
    int = await namespaces.createProject(w.admin, { name: 'Int', path: 'int', namespaceId: inner.id, visibility: 'internal' });
    priv = await namespaces.createProject(w.admin, { name: 'Priv', path: 'priv', namespaceId: open.id });
    const user = await namespaces.createUser(w.admin, { username: 'open-dev', name: 'Open dev', email: 'open-dev@example.com' });
    await namespaces.addMember(w.admin, { type: 'group', group: open }, { userId: user.id, accessLevel: 30, expiresAt: null });
    dev = { username: user.username, token: (await personalTokens.createFor(user, { name: 'dev', scopes: ['api'], expiresAt: '2027-06-01' }, null)).secret };
    const serviceAccount = async (username: string) => {
      const account = await t.app.services.serviceAccounts.createInstance(w.admin, { username });
      return { account, username, token: (await personalTokens.createFor(account, { name: 'robot', scopes: ['api'], expiresAt: '2027-06-01' }, null)).secret };
    };
    robot = await serviceAccount('robot-sa');
    const member = await serviceAccount('member-robot-sa');
    await namespaces.addMember(w.admin, { type: 'group', group: inner }, { userId: member.account.id, accessLevel: 20, expiresAt: null });
    memberRobot = member;
  });
  afterAll(() => t?.close());

  const paths = (body: { path_with_namespace?: string; full_path?: string }[]) => body.map((x) => x.path_with_namespace ?? x.full_path).sort();

  describe('create, show and update, with GitLab’s validations', () => {
    it('projects and groups are private unless asked, and show their visibility', async () => {
      const g = await t.request('POST', '/api/v4/groups', { token: w.adminToken, body: { name: 'Dflt', path: 'dflt' } });
      expect(g).toMatchObject({ status: 201, body: { visibility: 'private' } });
      const p = await t.request('POST', '/api/v4/projects', { token: w.adminToken, body: { name: 'dp', namespace_id: g.body.id } });
      expect(p).toMatchObject({ status: 201, body: { visibility: 'private' } });
      expect((await t.request('GET', `/api/v4/projects/${pub.id}`, { token: w.adminToken })).body.visibility).toBe('public');
      expect((await t.request('GET', `/api/v4/groups/${inner.id}`, { token: w.adminToken })).body.visibility).toBe('internal');
    });

    it('refuses a project more visible than its group, a sub-group more visible than its parent; nothing written', async () => {
      const before = await tableCounts(t);
      expect(await t.request('POST', '/api/v4/projects', { token: w.adminToken, body: { name: 'x', namespace_id: inner.id, visibility: 'public' } })).toMatchObject({
        status: 400,
        body: { message: { visibility_level: ['public is not allowed in a internal group.'] } },
      });
      expect(await t.request('POST', '/api/v4/groups', { token: w.adminToken, body: { name: 'x', path: 'x', parent_id: inner.id, visibility: 'public' } })).toMatchObject({
        status: 400,
        body: { message: { visibility_level: ['public is not allowed since the parent group has a internal visibility.'] } },
      });
      expect(await t.request('POST', '/api/v4/projects', { token: w.adminToken, body: { name: 'x', namespace_id: w.sub.id, visibility: 'internal' } })).toMatchObject({ status: 400 });
      expect((await t.request('POST', '/api/v4/projects', { token: w.adminToken, body: { name: 'x', namespace_id: open.id, visibility: 'secret' } })).status).toBe(400);
      expect(await tableCounts(t)).toEqual(before);
    });

    it('PUT /groups/:id: Owner only; never below its projects and sub-groups, never above its parent', async () => {
      expect((await t.request('PUT', `/api/v4/groups/${open.id}`, { token: dev.token, body: { visibility: 'internal' } })).status).toBe(403);
      const down = await t.request('PUT', `/api/v4/groups/${open.id}`, { token: w.adminToken, body: { visibility: 'private' } });
      expect(down).toMatchObject({
        status: 400,
        body: {
          message: {
            visibility_level: ['private is not allowed since this group contains projects with higher visibility.', 'private is not allowed since there are sub-groups with higher visibility.'],
          },
        },
      });
      const child = await t.request('POST', '/api/v4/groups', { token: w.adminToken, body: { name: 'Child', path: 'child', parent_id: w.sub.id } });
      expect(await t.request('PUT', `/api/v4/groups/${child.body.id}`, { token: w.adminToken, body: { visibility: 'internal' } })).toMatchObject({
        status: 400,
        body: { message: { visibility_level: ['internal is not allowed since the parent group has a private visibility.'] } },
      });
      expect((await t.request('GET', `/api/v4/groups/${open.id}`, { token: w.adminToken })).body.visibility).toBe('public');
      // A group with nothing more visible inside may go private, and back.
      const g = await t.request('POST', '/api/v4/groups', { token: w.adminToken, body: { name: 'Flip', path: 'flip', visibility: 'public' } });
      expect(await t.request('PUT', `/api/v4/groups/${g.body.id}`, { token: w.adminToken, body: { visibility: 'private', description: 'now private' } })).toMatchObject({
        status: 200,
        body: { visibility: 'private', description: 'now private' },
      });
    });

    it('PUT /projects/:id: Maintainer+ edits the description, visibility and name take an Owner, never above the group', async () => {
      const maintainer = w.users.maintainer.token;
      expect(await t.request('PUT', `/api/v4/projects/${w.project.id}`, { token: maintainer, body: { description: 'edited' } })).toMatchObject({ status: 200, body: { description: 'edited', visibility: 'private' } });
      expect(await t.request('PUT', `/api/v4/projects/${w.project.id}`, { token: maintainer, body: { visibility: 'private' } })).toMatchObject({ status: 403 });
      expect((await t.request('PUT', `/api/v4/projects/${w.project.id}`, { token: w.users.developer.token, body: { description: 'x' } })).status).toBe(403);
      expect(await t.request('PUT', `/api/v4/projects/${w.project.id}`, { token: w.users.owner.token, body: { visibility: 'internal' } })).toMatchObject({
        status: 400,
        body: { message: { visibility_level: ['internal is not allowed in a private group.'] } },
      });
      expect(await t.request('PUT', `/api/v4/projects/${w.project.id}`, { token: w.adminToken, body: {} })).toMatchObject({ status: 400, body: { error: expect.stringContaining('at least one parameter must be provided') } });
      const p = await t.request('POST', '/api/v4/projects', { token: w.adminToken, body: { name: 'toggle', namespace_id: open.id, visibility: 'public' } });
      expect(await t.request('PUT', `/api/v4/projects/${p.body.id}`, { token: w.adminToken, body: { visibility: 'internal' } })).toMatchObject({ status: 200, body: { visibility: 'internal' } });
      expect((await t.request('GET', `/api/v4/projects/${p.body.id}`)).status).toBe(404);
    });
  });

  describe('API reads without a token: the public ones only', () => {
    it('GET /projects answers 200 with the public projects', async () => {
      const res = await t.request('GET', '/api/v4/projects?per_page=100');
      expect(res.status).toBe(200);
      expect(res.body.every((p: { visibility: string }) => p.visibility === 'public')).toBe(true);
      expect(paths(res.body)).toContain('open/pub');
      for (const hidden of ['open/priv', 'open/inner/int', 'acme/platform/web', 'acme/other/site']) expect(paths(res.body)).not.toContain(hidden);
      expect(res.headers['x-total']).toBe(String(res.body.length));
      expect(paths((await t.request('GET', '/api/v4/projects?search=pub')).body)).toEqual(['open/pub']);
    });

    it('GET /projects/:id shows a public project by id or path; internal, private and unknown ones are the same 404', async () => {
      expect(await t.request('GET', `/api/v4/projects/${enc('open/pub')}`)).toMatchObject({ status: 200, body: { id: pub.id, visibility: 'public', namespace: { full_path: 'open' } } });
      for (const id of [int.id, priv.id, w.project.id, 999_999]) {
        expect(await t.request('GET', `/api/v4/projects/${id}`)).toMatchObject({ status: 404, body: { message: '404 Project Not Found' } });
      }
    });

    it('GET /groups and /groups/:id: public groups only', async () => {
      const res = await t.request('GET', '/api/v4/groups?per_page=100');
      expect(res.status).toBe(200);
      expect(paths(res.body)).toContain('open');
      expect(paths(res.body)).not.toContain('open/inner');
      expect(paths(res.body)).not.toContain('acme');
      expect((await t.request('GET', '/api/v4/groups/open')).status).toBe(200);
      expect((await t.request('GET', `/api/v4/groups/${enc('open/inner')}`)).status).toBe(404);
    });

    it('a token that does not verify is still a 401; writes and other resources still need one', async () => {
      expect((await t.request('GET', '/api/v4/projects', { token: 'glpat-notARealTokenAtAll00000000000' })).status).toBe(401);
      expect((await t.request('GET', `/api/v4/projects/${pub.id}/deploy_tokens`)).status).toBe(401);
      expect((await t.request('POST', '/api/v4/projects', { body: { name: 'x', namespace_id: open.id } })).status).toBe(401);
    });
  });

  describe('API reads signed in: internal ones too, private ones by membership', () => {
    it('GET /projects lists public, internal and member projects; membership=true only the member ones', async () => {
      const seen = paths((await t.request('GET', '/api/v4/projects?per_page=100', { token: w.users.outsider.token })).body);
      expect(seen).toEqual(expect.arrayContaining(['open/pub', 'open/inner/int']));
      expect(seen).not.toContain('open/priv');
      expect(seen).not.toContain('acme/platform/web');
      expect(paths((await t.request('GET', '/api/v4/projects?membership=true', { token: w.users.outsider.token })).body)).toEqual([]);
      expect(paths((await t.request('GET', '/api/v4/projects?per_page=100', { token: dev.token })).body)).toEqual(expect.arrayContaining(['open/priv', 'open/pub', 'open/inner/int']));
    });

    it('GET /groups: member groups; all_available adds internal and public ones', async () => {
      expect(paths((await t.request('GET', '/api/v4/groups', { token: w.users.outsider.token })).body)).toEqual([]);
      const all = paths((await t.request('GET', '/api/v4/groups?all_available=true&per_page=100', { token: w.users.outsider.token })).body);
      expect(all).toEqual(expect.arrayContaining(['open', 'open/inner']));
      expect(all).not.toContain('acme');
    });

    it('a service account is an external user (GitLab creates them so): public ones and its memberships only, never internal ones', async () => {
      expect((await t.request('GET', `/api/v4/projects/${int.id}`, { token: robot.token })).status).toBe(404);
      expect((await t.request('GET', `/api/v4/projects/${pub.id}`, { token: robot.token })).status).toBe(200);
      const seen = paths((await t.request('GET', '/api/v4/projects?per_page=100', { token: robot.token })).body);
      expect(seen).toContain('open/pub');
      expect(seen).not.toContain('open/inner/int');
      const groups = paths((await t.request('GET', '/api/v4/groups?all_available=true&per_page=100', { token: robot.token })).body);
      expect(groups).toContain('open');
      expect(groups).not.toContain('open/inner');
      // Membership still counts.
      expect((await t.request('GET', `/api/v4/projects/${int.id}`, { token: memberRobot.token })).status).toBe(200);
      expect(paths((await t.request('GET', '/api/v4/projects?per_page=100', { token: memberRobot.token })).body)).toContain('open/inner/int');
    });

    it('an internal project is shown to anyone signed in; what needs a role is 403 there, not 404', async () => {
      expect((await t.request('GET', `/api/v4/projects/${int.id}`, { token: w.users.outsider.token })).status).toBe(200);
      expect((await t.request('GET', `/api/v4/projects/${priv.id}`, { token: w.users.outsider.token })).status).toBe(404);
      expect((await t.request('GET', `/api/v4/projects/${int.id}/deploy_tokens`, { token: w.users.outsider.token })).status).toBe(403);
      expect((await t.request('POST', `/api/v4/projects/${pub.id}/deploy_tokens`, { token: w.users.outsider.token, body: { name: 'x', scopes: ['read_repository'] } })).status).toBe(403);
      expect((await t.request('GET', `/api/v4/projects/${priv.id}/deploy_tokens`, { token: w.users.outsider.token })).status).toBe(404);
    });
  });

  describe('generic packages: a public project’s files download without a token', () => {
    const file = (p: Project, name = 'tool.txt') => `/api/v4/projects/${p.id}/packages/generic/tool/1.0.0/${name}`;
    beforeAll(async () => {
      for (const p of [pub, int, priv]) {
        const up = await t.request('PUT', file(p), { token: dev.token, rawBody: `bytes of ${p.path}`, headers: { 'content-type': 'application/octet-stream' } });
        expect(up.status, up.text).toBe(201);
      }
    });

    it('anyone downloads from a public project; internal and private ones answer 401 without a token, whether or not they exist', async () => {
      const res = await t.request('GET', file(pub));
      expect(res.status).toBe(200);
      expect(res.text).toBe('bytes of pub');
      for (const url of [file(int), file(priv), `/api/v4/projects/999999/packages/generic/tool/1.0.0/tool.txt`]) {
        expect(await t.request('GET', url)).toMatchObject({ status: 401, body: { message: '401 Unauthorized' } });
      }
      expect((await t.request('GET', file(pub, 'missing.txt'))).status).toBe(404);
    });

    it('anyone signed in downloads from an internal project; a private one stays 404 for non-members', async () => {
      expect((await t.request('GET', file(int), { token: w.users.outsider.token })).text).toBe('bytes of int');
      expect((await t.request('GET', file(priv), { token: w.users.outsider.token })).status).toBe(404);
      expect((await t.request('GET', file(priv), { token: dev.token })).text).toBe('bytes of priv');
    });

    it('a service account downloads from a public project, from an internal one only as a member', async () => {
      expect((await t.request('GET', file(pub), { token: robot.token })).text).toBe('bytes of pub');
      expect((await t.request('GET', file(int), { token: robot.token })).status).toBe(404);
      expect((await t.request('GET', file(int), { token: memberRobot.token })).text).toBe('bytes of int');
    });

    it('a deploy token of another project downloads a public project’s file, and nothing else of it', async () => {
      const { secret } = await t.app.services.deployTokens.create(w.admin, { type: 'project', project: w.project }, { name: 'pkg', scopes: ['read_package_registry', 'write_package_registry'] });
      expect((await t.request('GET', file(pub), { headers: { 'deploy-token': secret } })).status).toBe(200);
      expect((await t.request('GET', file(int), { headers: { 'deploy-token': secret } })).status).toBe(404);
      expect((await t.request('PUT', file(pub, 'x.txt'), { headers: { 'deploy-token': secret, 'content-type': 'application/octet-stream' }, rawBody: 'x' })).status).toBe(404);
    });

    it('uploading needs a credential and membership, public or not', async () => {
      expect((await t.request('PUT', file(pub, 'anon.txt'), { rawBody: 'x', headers: { 'content-type': 'application/octet-stream' } })).status).toBe(401);
      expect((await t.request('PUT', file(pub, 'outsider.txt'), { token: w.users.outsider.token, rawBody: 'x', headers: { 'content-type': 'application/octet-stream' } })).status).toBe(403);
      expect((await t.request('GET', file(pub, 'outsider.txt'))).status).toBe(404);
    });
  });

  describe('git over HTTP (the nginx auth_request endpoint)', () => {
    const ask = (method: string, uri: string, authorization?: string) =>
      t.request('GET', '/api/v4/latchkey/git/auth', { headers: { 'x-original-method': method, 'x-original-uri': uri, ...(authorization ? { authorization } : {}) } });
    const fetchOf = (path: string) => ['GET', `/${path}.git/info/refs?service=git-upload-pack`] as const;
    const pushOf = (path: string) => ['GET', `/${path}.git/info/refs?service=git-receive-pack`] as const;

    it('fetches a public project without credentials (empty REMOTE_USER); pushing asks for them', async () => {
      for (const [method, uri] of [fetchOf('open/pub'), ['POST', '/open/pub.git/git-upload-pack'] as const]) {
        const res = await ask(method, uri);
        expect(res.status).toBe(200);
        expect(res.headers['x-latchkey-user']).toBe('');
      }
      const push = await ask(...pushOf('open/pub'));
      expect(push.status).toBe(401);
      expect(push.headers['www-authenticate']).toMatch(/^Basic /);
    });

    it('without credentials, internal, private and unknown projects all get the same challenge', async () => {
      for (const path of ['open/inner/int', 'open/priv', 'acme/platform/web', 'no/such']) {
        const res = await ask(...fetchOf(path));
        expect(res.status, path).toBe(401);
        expect(res.headers['www-authenticate']).toMatch(/^Basic /);
      }
    });

    it('any signed-in user with a fetch scope fetches an internal project; a push needs a role (403)', async () => {
      const outsider = basic('outsider-user', w.users.outsider.token);
      expect((await ask(...fetchOf('open/inner/int'), outsider)).status).toBe(200);
      expect(await ask(...pushOf('open/pub'), outsider)).toMatchObject({ status: 403, body: { message: 'You are not allowed to push code to this project.' } });
      expect((await ask(...fetchOf('open/priv'), outsider)).status).toBe(404);
      expect((await ask(...pushOf('open/priv'), basic(dev.username, dev.token))).status).toBe(200);
    });

    it('a service account fetches a public project, an internal one only as a member', async () => {
      expect((await ask(...fetchOf('open/pub'), basic(robot.username, robot.token))).status).toBe(200);
      expect((await ask(...fetchOf('open/inner/int'), basic(robot.username, robot.token))).status).toBe(404);
      expect((await ask(...fetchOf('open/inner/int'), basic(memberRobot.username, memberRobot.token))).status).toBe(200);
    });

    it('a credential never fetches less than nobody: a public project, whatever its scopes', async () => {
      const { secret } = await t.app.services.personalTokens.createFor(w.users.outsider.user, { name: 'only user', scopes: ['read_user'], expiresAt: '2027-06-01' }, null);
      expect((await ask(...fetchOf('open/pub'), basic('outsider-user', secret))).status).toBe(200);
      expect((await ask(...fetchOf('open/inner/int'), basic('outsider-user', secret))).status).toBe(403);
      // A wrong secret is still refused, public project or not.
      expect((await ask(...fetchOf('open/pub'), basic('outsider-user', 'glpat-wrongwrongwrongwrongwrong0000'))).status).toBe(401);
    });
  });

  describe('registry token service: anonymous pull of a public project’s images', () => {
    async function granted(authorization: string | null, repo: string, actions = 'pull,push'): Promise<string[]> {
      const q = new URLSearchParams({ service: 'container_registry', scope: `repository:${repo}:${actions}` });
      const res = await t.request('GET', `/jwt/auth?${q}`, { headers: authorization ? { authorization } : {} });
      expect(res.status, res.text).toBe(200);
      return (decodeJwt(res.body.token) as { access: { actions: string[] }[] }).access[0]!.actions;
    }

    it('grants anonymous pull on a public project (and an image below it), nothing on internal or private ones', async () => {
      expect(await granted(null, 'open/pub')).toEqual(['pull']);
      expect(await granted(null, 'open/pub/tools')).toEqual(['pull']);
      expect(await granted(null, 'open/inner/int')).toEqual([]);
      expect(await granted(null, 'open/priv')).toEqual([]);
    });

    it('any signed-in user with a pull scope pulls an internal project; pushing needs Developer+', async () => {
      const outsider = basic('outsider-user', w.users.outsider.token);
      expect(await granted(outsider, 'open/inner/int')).toEqual(['pull']);
      expect(await granted(outsider, 'open/pub')).toEqual(['pull']);
      expect(await granted(outsider, 'open/priv')).toEqual([]);
      expect(await granted(basic(dev.username, dev.token), 'open/priv')).toEqual(['pull', 'push']);
    });

    it('a service account pulls a public project, an internal one only as a member', async () => {
      expect(await granted(basic(robot.username, robot.token), 'open/pub')).toEqual(['pull']);
      expect(await granted(basic(robot.username, robot.token), 'open/inner/int')).toEqual([]);
      expect(await granted(basic(memberRobot.username, memberRobot.token), 'open/inner/int')).toEqual(['pull']);
    });
  });
});
