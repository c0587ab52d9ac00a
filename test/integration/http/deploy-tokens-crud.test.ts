/**
 * Deploy token endpoints end to end, as GitLab's doc/api/deploy_tokens.md describes them: create, list,
 * show and delete under /projects/:id and /groups/:id (numeric id or URL-encoded full path), the
 * admin-only instance list, the exact response fields, JSON and form bodies, and isolation between
 * resources.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';

/** GitLab's DeployToken entity; DeployTokenWithToken adds `token`. */
// GitLab's fields plus Latchkey's usage fields (last_used_at, last_used_ips, reuse_flagged, reuse_flagged_at).
const ENTITY_FIELDS = ['expired', 'expires_at', 'id', 'last_used_at', 'last_used_ips', 'name', 'reuse_flagged', 'reuse_flagged_at', 'revoked', 'scopes', 'username'];
const WITH_TOKEN_FIELDS = [...ENTITY_FIELDS, 'token'].sort();
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

const PROJECT_PATH = encodeURIComponent('acme/platform/web');
const GROUP_PATH = encodeURIComponent('acme/platform');

describe.each(DIALECTS)('deploy token endpoints on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let maintainer: string;
  let owner: string;
  let admin: string;

  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
    maintainer = w.users.maintainer.token;
    owner = w.users.owner.token;
    admin = w.adminToken;
  });
  afterAll(() => t?.close());

  const projectUrl = (id: string | number = w.project.id) => `/api/v4/projects/${id}/deploy_tokens`;
  const groupUrl = (id: string | number = w.sub.id) => `/api/v4/groups/${id}/deploy_tokens`;
  const idsOf = (body: Array<{ id: number }>) => body.map((x) => x.id);

  describe('project deploy tokens', () => {
    it('POST answers 201 with exactly GitLab fields, the default username and a working gldt- secret', async () => {
      const res = await t.request('POST', projectUrl(), { token: maintainer, body: { name: 'ci pull', scopes: ['read_repository', 'read_registry'], expires_at: '2027-01-01' } });
      expect(res.status).toBe(201);
      expect(Object.keys(res.body).sort()).toEqual(WITH_TOKEN_FIELDS);
      expect(res.body).toEqual({
        id: expect.any(Number),
        name: 'ci pull',
        username: `gitlab+deploy-token-${res.body.id}`,
        expires_at: '2027-01-01T00:00:00.000Z',
        token: expect.stringMatching(/^gldt-[A-Za-z0-9_-]{20,}$/),
        revoked: false,
        expired: false,
        scopes: ['read_repository', 'read_registry'],
        last_used_at: null,
        last_used_ips: [],
        reuse_flagged: false,
        reuse_flagged_at: null,
      });
      const verified = await t.app.services.verifier.verify(res.body.token);
      expect(verified.ok).toBe(true);
      expect(verified.ok && verified.token.id).toBe(res.body.id);
      expect(verified.ok && verified.token.projectId).toBe(w.project.id);
    });

    it('honours a custom username and keeps it on show and list', async () => {
      const created = await t.request('POST', projectUrl(), { token: maintainer, body: { name: 'custom', username: 'k8s-puller.web+ci_1', scopes: ['read_registry'] } });
      expect(created.status).toBe(201);
      expect(created.body.username).toBe('k8s-puller.web+ci_1');
      const shown = await t.request('GET', `${projectUrl()}/${created.body.id}`, { token: maintainer });
      expect(shown.body.username).toBe('k8s-puller.web+ci_1');
      const list = await t.request('GET', projectUrl(), { token: maintainer });
      expect(list.body.find((x: any) => x.id === created.body.id).username).toBe('k8s-puller.web+ci_1');
    });

    it('an omitted expires_at means never expires: expires_at null', async () => {
      const created = await t.request('POST', projectUrl(), { token: maintainer, body: { name: 'forever', scopes: ['read_repository'] } });
      expect(created.status).toBe(201);
      expect(created.body.expires_at).toBeNull();
      expect(created.body.expired).toBe(false);
    });

    it('GET list and GET show carry exactly the entity fields and never the token', async () => {
      const created = await t.request('POST', projectUrl(), { token: maintainer, body: { name: 'no-secret-on-read', scopes: ['read_repository'] } });
      const list = await t.request('GET', projectUrl(), { token: maintainer });
      expect(list.status).toBe(200);
      expect(list.body.length).toBeGreaterThan(0);
      for (const item of list.body) expect(Object.keys(item).sort()).toEqual(ENTITY_FIELDS);
      expect(list.text).not.toContain(created.body.token);
      const shown = await t.request('GET', `${projectUrl()}/${created.body.id}`, { token: maintainer });
      expect(shown.status).toBe(200);
      expect(shown.body).toEqual({ id: created.body.id, name: 'no-secret-on-read', username: `gitlab+deploy-token-${created.body.id}`, expires_at: null, revoked: false, expired: false, scopes: ['read_repository'], last_used_at: null, last_used_ips: [], reuse_flagged: false, reuse_flagged_at: null });
      expect(shown.text).not.toContain(created.body.token);
    });

    it('every endpoint accepts the URL-encoded full path as :id', async () => {
      const created = await t.request('POST', projectUrl(PROJECT_PATH), { token: maintainer, body: { name: 'by-path', scopes: ['read_repository'] } });
      expect(created.status).toBe(201);
      const byPath = await t.request('GET', projectUrl(PROJECT_PATH), { token: maintainer });
      const byId = await t.request('GET', projectUrl(), { token: maintainer });
      expect(byPath.status).toBe(200);
      expect(idsOf(byPath.body)).toEqual(idsOf(byId.body));
      expect(idsOf(byPath.body)).toContain(created.body.id);
      const shown = await t.request('GET', `${projectUrl(PROJECT_PATH)}/${created.body.id}`, { token: maintainer });
      expect(shown.status).toBe(200);
      expect(shown.body.name).toBe('by-path');
      const deleted = await t.request('DELETE', `${projectUrl(PROJECT_PATH)}/${created.body.id}`, { token: maintainer });
      expect(deleted.status).toBe(204);
      expect(deleted.text).toBe('');
      expect((await t.request('GET', `${projectUrl()}/${created.body.id}`, { token: maintainer })).status).toBe(404);
    });

    it('DELETE answers 204 with no body and the token is gone from show and list', async () => {
      const created = await t.request('POST', projectUrl(), { token: maintainer, body: { name: 'to-delete', scopes: ['read_repository'] } });
      const deleted = await t.request('DELETE', `${projectUrl()}/${created.body.id}`, { token: maintainer });
      expect(deleted.status).toBe(204);
      expect(deleted.text).toBe('');
      const shown = await t.request('GET', `${projectUrl()}/${created.body.id}`, { token: maintainer });
      expect(shown.status).toBe(404);
      expect(shown.body).toEqual({ message: '404 Not found' });
      const list = await t.request('GET', projectUrl(), { token: maintainer });
      expect(idsOf(list.body)).not.toContain(created.body.id);
    });
  });

  describe('group deploy tokens', () => {
    it('an Owner creates one (201, GitLab fields, default username) by numeric id', async () => {
      const res = await t.request('POST', groupUrl(), { token: owner, body: { name: 'group pull', scopes: ['read_registry'], expires_at: '2027-02-01' } });
      expect(res.status).toBe(201);
      expect(Object.keys(res.body).sort()).toEqual(WITH_TOKEN_FIELDS);
      expect(res.body).toMatchObject({ name: 'group pull', username: `gitlab+deploy-token-${res.body.id}`, expires_at: '2027-02-01T00:00:00.000Z', revoked: false, expired: false, scopes: ['read_registry'] });
      const verified = await t.app.services.verifier.verify(res.body.token);
      expect(verified.ok && verified.token.groupId).toBe(w.sub.id);
    });

    it('list, show and delete work by URL-encoded full path and never show the token', async () => {
      const created = await t.request('POST', groupUrl(GROUP_PATH), { token: owner, body: { name: 'group by path', username: 'group-bot', scopes: ['read_repository'] } });
      expect(created.status).toBe(201);
      expect(created.body.username).toBe('group-bot');
      const list = await t.request('GET', groupUrl(GROUP_PATH), { token: owner });
      expect(list.status).toBe(200);
      expect(idsOf(list.body)).toContain(created.body.id);
      for (const item of list.body) expect(Object.keys(item).sort()).toEqual(ENTITY_FIELDS);
      const shown = await t.request('GET', `${groupUrl(GROUP_PATH)}/${created.body.id}`, { token: owner });
      expect(shown.status).toBe(200);
      expect(shown.body).toEqual({ id: created.body.id, name: 'group by path', username: 'group-bot', expires_at: null, revoked: false, expired: false, scopes: ['read_repository'], last_used_at: null, last_used_ips: [], reuse_flagged: false, reuse_flagged_at: null });
      const deleted = await t.request('DELETE', `${groupUrl(GROUP_PATH)}/${created.body.id}`, { token: owner });
      expect(deleted.status).toBe(204);
      const after = await t.request('GET', groupUrl(), { token: owner });
      expect(idsOf(after.body)).not.toContain(created.body.id);
    });
  });

  describe('request bodies', () => {
    it('accepts a form-encoded body with scopes[]=a&scopes[]=b, as curl sends it', async () => {
      const res = await t.request('POST', projectUrl(), {
        token: maintainer,
        rawBody: 'name=form+token&scopes[]=read_repository&scopes[]=read_registry&expires_at=2027-05-01&username=form-user',
        headers: FORM,
      });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ name: 'form token', username: 'form-user', expires_at: '2027-05-01T00:00:00.000Z', scopes: ['read_repository', 'read_registry'] });
    });

    it('accepts the bracket-encoded form (scopes%5B%5D) that HTML forms and many clients send', async () => {
      const res = await t.request('POST', groupUrl(), { token: owner, rawBody: 'name=encoded&scopes%5B%5D=write_registry&scopes%5B%5D=read_registry', headers: FORM });
      expect(res.status).toBe(201);
      expect(res.body.scopes).toEqual(['read_registry', 'write_registry']);
    });

    it("accepts scopes as a comma-separated string, as GitLab's CommaSeparatedToArray does", async () => {
      const form = await t.request('POST', projectUrl(), { token: maintainer, rawBody: 'name=csv&scopes=read_repository,read_package_registry', headers: FORM });
      expect(form.status).toBe(201);
      expect(form.body.scopes).toEqual(['read_repository', 'read_package_registry']);
      const json = await t.request('POST', projectUrl(), { token: maintainer, body: { name: 'csv-json', scopes: 'read_registry' } });
      expect(json.status).toBe(201);
      expect(json.body.scopes).toEqual(['read_registry']);
    });

    it('presents scopes once each and in GitLab order, whatever order was sent', async () => {
      const res = await t.request('POST', projectUrl(), { token: maintainer, body: { name: 'order', scopes: ['write_registry', 'read_repository', 'write_registry', 'read_registry'] } });
      expect(res.status).toBe(201);
      expect(res.body.scopes).toEqual(['read_repository', 'read_registry', 'write_registry']);
      const shown = await t.request('GET', `${projectUrl()}/${res.body.id}`, { token: maintainer });
      expect(shown.body.scopes).toEqual(['read_repository', 'read_registry', 'write_registry']);
    });
  });

  describe('GET /deploy_tokens (instance, admin only)', () => {
    it('lists project and group tokens of every resource to an admin, without secrets', async () => {
      const p = await t.request('POST', projectUrl(), { token: maintainer, body: { name: 'instance-p', scopes: ['read_repository'] } });
      const site = await t.request('POST', projectUrl(w.otherProject.id), { token: admin, body: { name: 'instance-site', scopes: ['read_repository'] } });
      const g = await t.request('POST', groupUrl(), { token: owner, body: { name: 'instance-g', scopes: ['read_registry'] } });
      const res = await t.request('GET', '/api/v4/deploy_tokens?per_page=100', { token: admin });
      expect(res.status).toBe(200);
      expect(idsOf(res.body)).toEqual(expect.arrayContaining([p.body.id, site.body.id, g.body.id]));
      for (const item of res.body) expect(Object.keys(item).sort()).toEqual(ENTITY_FIELDS);
      for (const secret of [p.body.token, site.body.token, g.body.token]) expect(res.text).not.toContain(secret);
      expect(res.headers['x-total']).toBe(String(res.body.length));
    });

    it('active=true keeps only active tokens; active=false filters nothing (GitLab: `params[:active] ? items.active : items`)', async () => {
      const fresh = await t.request('POST', projectUrl(), { token: maintainer, body: { name: 'instance-active', scopes: ['read_repository'], expires_at: '2027-01-01' } });
      const active = await t.request('GET', '/api/v4/deploy_tokens?active=true&per_page=100', { token: admin });
      expect(active.status).toBe(200);
      expect(idsOf(active.body)).toContain(fresh.body.id);
      expect(active.body.every((x: any) => !x.revoked && !x.expired)).toBe(true);
      const unfiltered = await t.request('GET', '/api/v4/deploy_tokens?active=false&per_page=100', { token: admin });
      expect(unfiltered.status).toBe(200);
      expect(idsOf(unfiltered.body)).toContain(fresh.body.id);
      const all = await t.request('GET', '/api/v4/deploy_tokens?per_page=100', { token: admin });
      expect(idsOf(unfiltered.body)).toEqual(idsOf(all.body));
    });

    it('answers 403 {"message":"403 Forbidden"} to a non-admin, even a group Owner', async () => {
      for (const token of [owner, maintainer, w.users.outsider.token]) {
        const res = await t.request('GET', '/api/v4/deploy_tokens', { token });
        expect(res.status).toBe(403);
        expect(res.body).toEqual({ message: '403 Forbidden' });
      }
    });
  });

  describe('isolation between resources', () => {
    it("a project's token is neither visible nor deletable through another project or a group", async () => {
      const web = await t.request('POST', projectUrl(), { token: admin, body: { name: 'web-only', scopes: ['read_repository'] } });
      const id = web.body.id;
      const attempts: Array<[string, string]> = [
        ['GET', `${projectUrl(w.otherProject.id)}/${id}`],
        ['DELETE', `${projectUrl(w.otherProject.id)}/${id}`],
        ['GET', `${groupUrl()}/${id}`],
        ['DELETE', `${groupUrl()}/${id}`],
        ['GET', `${groupUrl(w.top.id)}/${id}`],
        ['DELETE', `${groupUrl(w.top.id)}/${id}`],
      ];
      for (const [method, url] of attempts) {
        const res = await t.request(method, url, { token: admin });
        expect({ method, url, status: res.status, body: res.body }).toEqual({ method, url, status: 404, body: { message: '404 Not found' } });
      }
      const siteList = await t.request('GET', projectUrl(w.otherProject.id), { token: admin });
      expect(idsOf(siteList.body)).not.toContain(id);
      const groupList = await t.request('GET', groupUrl(), { token: admin });
      expect(idsOf(groupList.body)).not.toContain(id);
      const still = await t.request('GET', `${projectUrl()}/${id}`, { token: admin });
      expect(still.status).toBe(200);
      expect((await t.app.services.verifier.verify(web.body.token)).ok).toBe(true);
    });

    it("a group's token is neither visible nor deletable through a project of that group or another group", async () => {
      const g = await t.request('POST', groupUrl(), { token: owner, body: { name: 'group-only', scopes: ['read_registry'] } });
      const id = g.body.id;
      for (const [method, url] of [
        ['GET', `${projectUrl()}/${id}`],
        ['DELETE', `${projectUrl()}/${id}`],
        ['GET', `${groupUrl(w.top.id)}/${id}`],
        ['DELETE', `${groupUrl(w.top.id)}/${id}`],
      ] as const) {
        const res = await t.request(method, url, { token: admin });
        expect({ method, url, status: res.status, body: res.body }).toEqual({ method, url, status: 404, body: { message: '404 Not found' } });
      }
      const projectList = await t.request('GET', projectUrl(), { token: admin });
      expect(idsOf(projectList.body)).not.toContain(id);
      expect((await t.request('GET', `${groupUrl()}/${id}`, { token: owner })).status).toBe(200);
    });

    it('a personal access token id is not a deploy token id', async () => {
      const pat = await t.app.services.personalTokens.createFor(w.users.developer.user, { name: 'pat', scopes: ['read_api'], expiresAt: '2027-01-01' }, null);
      const res = await t.request('GET', `${projectUrl()}/${pat.token.id}`, { token: admin });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ message: '404 Not found' });
      const del = await t.request('DELETE', `${projectUrl()}/${pat.token.id}`, { token: admin });
      expect(del.status).toBe(404);
      expect((await t.app.services.verifier.verify(pat.secret)).ok).toBe(true);
    });
  });
});
