/**
 * Who may do what with deploy tokens. Project tokens: Maintainer and Owner (and admins) list, show,
 * create and delete. Group tokens: Maintainers list and show; only Owners (and admins) create and
 * delete (GitLab's doc/api/deploy_tokens.md). Members below Maintainer get 403; people who cannot see
 * the resource get GitLab's 404; no or a bad credential gets 401. Membership is inherited down the
 * group tree.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Group, Resource, User } from '../../../src/namespaces/namespace.js';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';

const ENDPOINTS = ['project list', 'project create', 'project show', 'project delete', 'group list', 'group create', 'group show', 'group delete', 'instance list'] as const;
type Endpoint = (typeof ENDPOINTS)[number];
type Actor = 'guest' | 'planner' | 'reporter' | 'developer' | 'maintainer' | 'owner' | 'admin' | 'outsider' | 'anonymous';
type Outcome = 'ok' | 401 | 403 | 404;

// The members are members of the sub-group acme/platform; the project is acme/platform/web.
// prettier-ignore
const MATRIX: Array<[Actor, ...Outcome[]]> = [
  //              project:  list   create show   delete  group: list  create show   delete  instance
  ['guest',                 403,   403,   403,   403,           403,  403,   403,   403,    403],
  ['planner',               403,   403,   403,   403,           403,  403,   403,   403,    403],
  ['reporter',              403,   403,   403,   403,           403,  403,   403,   403,    403],
  ['developer',             403,   403,   403,   403,           403,  403,   403,   403,    403],
  ['maintainer',            'ok',  'ok',  'ok',  'ok',          'ok', 403,   'ok',  403,    403],
  ['owner',                 'ok',  'ok',  'ok',  'ok',          'ok', 'ok',  'ok',  'ok',   403],
  ['admin',                 'ok',  'ok',  'ok',  'ok',          'ok', 'ok',  'ok',  'ok',   'ok'],
  ['outsider',              404,   404,   404,   404,           404,  404,   404,   404,    403],
  ['anonymous',             401,   401,   401,   401,           401,  401,   401,   401,    401],
];

const CELLS = MATRIX.flatMap(([actor, ...outcomes]) => ENDPOINTS.map((endpoint, i) => ({ actor, endpoint, outcome: outcomes[i]! })));

const SUCCESS_STATUS: Record<'list' | 'create' | 'show' | 'delete', number> = { list: 200, create: 201, show: 200, delete: 204 };

describe.each(DIALECTS)('deploy token permissions on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let project: Resource;
  let group: Resource;
  /** One token per resource, made by the admin, that show/list cells look for. */
  const fixture = { project: 0, group: 0 };

  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
    project = { type: 'project', project: w.project };
    group = { type: 'group', group: w.sub };
    fixture.project = (await t.app.services.deployTokens.create(w.admin, project, { name: 'fixture', scopes: ['read_repository'] })).token.id;
    fixture.group = (await t.app.services.deployTokens.create(w.admin, group, { name: 'fixture', scopes: ['read_repository'] })).token.id;
  });
  afterAll(() => t?.close());

  const tokenOf = (actor: Actor): string | null => (actor === 'anonymous' ? null : actor === 'admin' ? w.adminToken : w.users[actor].token);
  const baseOf = (kind: 'project' | 'group') => (kind === 'project' ? `/api/v4/projects/${w.project.id}/deploy_tokens` : `/api/v4/groups/${w.sub.id}/deploy_tokens`);
  const asAdmin = (method: string, url: string) => t.request(method, url, { token: w.adminToken });

  function deniedBody(outcome: 401 | 403 | 404, kind: 'project' | 'group' | 'instance') {
    if (outcome === 401) return { message: '401 Unauthorized' };
    if (outcome === 403) return { message: '403 Forbidden' };
    return { message: kind === 'project' ? '404 Project Not Found' : '404 Group Not Found' };
  }

  describe('matrix: role × endpoint', () => {
    it.each(CELLS)('$actor → $endpoint: $outcome', async ({ actor, endpoint, outcome }) => {
      const token = tokenOf(actor);
      if (endpoint === 'instance list') {
        const res = await t.request('GET', '/api/v4/deploy_tokens', { token });
        if (outcome === 'ok') {
          expect(res.status).toBe(200);
          expect(res.body.map((x: any) => x.id)).toEqual(expect.arrayContaining([fixture.project, fixture.group]));
        } else {
          expect(res.status).toBe(outcome);
          expect(res.body).toEqual(deniedBody(outcome, 'instance'));
        }
        return;
      }

      const [kind, action] = endpoint.split(' ') as ['project' | 'group', 'list' | 'create' | 'show' | 'delete'];
      const base = baseOf(kind);
      const resource = kind === 'project' ? project : group;
      let res;
      let victim = 0;
      const name = `matrix ${actor} ${endpoint}`;
      if (action === 'list') res = await t.request('GET', base, { token });
      else if (action === 'create') res = await t.request('POST', base, { token, body: { name, scopes: ['read_registry'] } });
      else if (action === 'show') res = await t.request('GET', `${base}/${fixture[kind]}`, { token });
      else {
        victim = (await t.app.services.deployTokens.create(w.admin, resource, { name, scopes: ['read_repository'] })).token.id;
        res = await t.request('DELETE', `${base}/${victim}`, { token });
      }

      if (outcome === 'ok') {
        expect(res.status).toBe(SUCCESS_STATUS[action]);
        if (action === 'list') expect(res.body.map((x: any) => x.id)).toContain(fixture[kind]);
        if (action === 'show') expect(res.body).toMatchObject({ id: fixture[kind], name: 'fixture' });
        if (action === 'create') expect(res.body).toMatchObject({ name, scopes: ['read_registry'], token: expect.stringMatching(/^gldt-/) });
        if (action === 'delete') expect((await asAdmin('GET', `${base}/${victim}`)).status).toBe(404);
        return;
      }

      expect(res.status).toBe(outcome);
      expect(res.body).toEqual(deniedBody(outcome, kind));
      // A refused write leaves no trace: no token created, the victim still there.
      if (action === 'create') {
        const all = await asAdmin('GET', `${base}?per_page=100`);
        expect(all.body.map((x: any) => x.name)).not.toContain(name);
      }
      if (action === 'delete') {
        const still = await asAdmin('GET', `${base}/${victim}`);
        expect(still.status).toBe(200);
        expect(still.body.revoked).toBe(false);
      }
    });
  });

  describe('credentials', () => {
    it('a bad or unknown token gets 401 {"message":"401 Unauthorized"} on every endpoint', async () => {
      for (const [method, url] of [
        ['GET', '/api/v4/deploy_tokens'],
        ['GET', baseOf('project')],
        ['POST', baseOf('project')],
        ['GET', `${baseOf('group')}/${fixture.group}`],
        ['DELETE', `${baseOf('group')}/${fixture.group}`],
      ] as const) {
        for (const token of ['glpat-not-a-real-token-000000000000', 'x'.repeat(5000)]) {
          const res = await t.request(method, url, { token, body: method === 'POST' ? { name: 'x', scopes: ['read_repository'] } : undefined });
          expect({ method, url, status: res.status, body: res.body }).toEqual({ method, url, status: 401, body: { message: '401 Unauthorized' } });
        }
      }
      expect((await asAdmin('GET', `${baseOf('group')}/${fixture.group}`)).status).toBe(200);
    });

    it('a deploy token cannot call the deploy token API (it is not an API credential)', async () => {
      const { secret } = await t.app.services.deployTokens.create(w.admin, project, { name: 'not-for-api', scopes: ['read_repository', 'read_registry'] });
      for (const headers of [{ 'private-token': secret }, { authorization: `Bearer ${secret}` }] as Array<Record<string, string>>) {
        const res = await t.request('GET', baseOf('project'), { headers });
        expect(res.status).toBe(401);
        expect(res.body).toEqual({ message: '401 Unauthorized' });
      }
    });

    it('a read_api token of a Maintainer may list but not create (403 insufficient_scope)', async () => {
      const { secret } = await t.app.services.personalTokens.createFor(w.users.maintainer.user, { name: 'read only', scopes: ['read_api'], expiresAt: '2027-01-01' }, null);
      const list = await t.request('GET', baseOf('project'), { token: secret });
      expect(list.status).toBe(200);
      const create = await t.request('POST', baseOf('project'), { token: secret, body: { name: 'read-api-create', scopes: ['read_repository'] } });
      expect(create.status).toBe(403);
      expect(create.body).toMatchObject({ error: 'insufficient_scope', scope: 'api' });
      const all = await asAdmin('GET', `${baseOf('project')}?per_page=100`);
      expect(all.body.map((x: any) => x.name)).not.toContain('read-api-create');
    });
  });

  describe('inheritance down the group tree', () => {
    let parentMaintainer: string;
    let parentOwner: string;
    let otherGroup: Group;

    beforeAll(async () => {
      const { namespaces, personalTokens } = t.app.services;
      const member = async (username: string, accessLevel: number): Promise<string> => {
        const user: User = await namespaces.createUser(w.admin, { username, name: username, email: `${username}@example.com` });
        await namespaces.addMember(w.admin, { type: 'group', group: w.top }, { userId: user.id, accessLevel, expiresAt: null });
        return (await personalTokens.createFor(user, { name: 'api', scopes: ['api'], expiresAt: '2027-06-01' }, null)).secret;
      };
      parentMaintainer = await member('acme-maintainer', 40);
      parentOwner = await member('acme-owner', 50);
      otherGroup = (await namespaces.findGroup(w.admin, 'acme/other')).group;
    });

    it('a Maintainer of acme manages the deploy tokens of acme/platform/web', async () => {
      const base = baseOf('project');
      const created = await t.request('POST', base, { token: parentMaintainer, body: { name: 'inherited', scopes: ['read_repository'] } });
      expect(created.status).toBe(201);
      expect((await t.request('GET', base, { token: parentMaintainer })).body.map((x: any) => x.id)).toContain(created.body.id);
      expect((await t.request('GET', `${base}/${created.body.id}`, { token: parentMaintainer })).status).toBe(200);
      expect((await t.request('DELETE', `${base}/${created.body.id}`, { token: parentMaintainer })).status).toBe(204);
      expect((await asAdmin('GET', `${base}/${created.body.id}`)).status).toBe(404);
    });

    it('a Maintainer of acme lists and shows the tokens of sub-group acme/platform, but creating and deleting stay with Owners', async () => {
      const base = baseOf('group');
      const list = await t.request('GET', base, { token: parentMaintainer });
      expect(list.status).toBe(200);
      expect(list.body.map((x: any) => x.id)).toContain(fixture.group);
      expect((await t.request('GET', `${base}/${fixture.group}`, { token: parentMaintainer })).status).toBe(200);
      const create = await t.request('POST', base, { token: parentMaintainer, body: { name: 'inherited-group', scopes: ['read_repository'] } });
      expect(create.status).toBe(403);
      expect(create.body).toEqual({ message: '403 Forbidden' });
      const del = await t.request('DELETE', `${base}/${fixture.group}`, { token: parentMaintainer });
      expect(del.status).toBe(403);
      expect((await asAdmin('GET', `${base}/${fixture.group}`)).status).toBe(200);
    });

    it('an Owner of acme creates and deletes the tokens of sub-group acme/platform', async () => {
      const base = baseOf('group');
      const created = await t.request('POST', base, { token: parentOwner, body: { name: 'owner-inherited', scopes: ['read_registry'] } });
      expect(created.status).toBe(201);
      expect((await t.request('DELETE', `${base}/${created.body.id}`, { token: parentOwner })).status).toBe(204);
      expect((await asAdmin('GET', `${base}/${created.body.id}`)).status).toBe(404);
    });

    it('a Maintainer of acme also manages acme/other/site, a sibling branch', async () => {
      const res = await t.request('GET', `/api/v4/projects/${w.otherProject.id}/deploy_tokens`, { token: parentMaintainer });
      expect(res.status).toBe(200);
    });

    it('a Maintainer of acme/platform has no rights on acme/other/site or acme/other: 404 for every endpoint', async () => {
      const token = w.users.maintainer.token;
      const site = `/api/v4/projects/${w.otherProject.id}/deploy_tokens`;
      const sitePath = `/api/v4/projects/${encodeURIComponent('acme/other/site')}/deploy_tokens`;
      const other = `/api/v4/groups/${otherGroup.id}/deploy_tokens`;
      const siteToken = (await t.app.services.deployTokens.create(w.admin, { type: 'project', project: w.otherProject }, { name: 'site', scopes: ['read_repository'] })).token.id;
      const otherToken = (await t.app.services.deployTokens.create(w.admin, { type: 'group', group: otherGroup }, { name: 'other', scopes: ['read_repository'] })).token.id;
      const cases: Array<[string, string, string]> = [
        ['GET', site, '404 Project Not Found'],
        ['GET', sitePath, '404 Project Not Found'],
        ['POST', site, '404 Project Not Found'],
        ['GET', `${site}/${siteToken}`, '404 Project Not Found'],
        ['DELETE', `${site}/${siteToken}`, '404 Project Not Found'],
        ['GET', other, '404 Group Not Found'],
        ['POST', other, '404 Group Not Found'],
        ['GET', `${other}/${otherToken}`, '404 Group Not Found'],
        ['DELETE', `${other}/${otherToken}`, '404 Group Not Found'],
      ];
      for (const [method, url, message] of cases) {
        const res = await t.request(method, url, { token, body: method === 'POST' ? { name: 'sneaky', scopes: ['read_repository'] } : undefined });
        expect({ method, url, status: res.status, body: res.body }).toEqual({ method, url, status: 404, body: { message } });
      }
      expect((await asAdmin('GET', `${site}/${siteToken}`)).status).toBe(200);
      expect((await asAdmin('GET', `${other}/${otherToken}`)).status).toBe(200);
      expect((await asAdmin('GET', `${site}?per_page=100`)).body.map((x: any) => x.name)).not.toContain('sneaky');
      expect((await asAdmin('GET', `${other}?per_page=100`)).body.map((x: any) => x.name)).not.toContain('sneaky');
    });
  });
});
