/**
 * @gitbeaker/rest, a real GitLab client, against the real service process on each store: namespaces
 * through the Groups/Projects API, then project and group deploy tokens created, listed, shown and
 * deleted through DeployTokens, and the instance-wide admin list.
 */
import { Gitlab } from '@gitbeaker/rest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../support/dialects.js';
import { refusal } from '../support/gitbeaker.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

describe.each(DIALECTS)('gitbeaker against `latchkey serve` on %s', (dialect) => {
  let server: ServerProcess;
  let api: Gitlab;
  let top: { id: number; full_path: string };
  let sub: { id: number; full_path: string };
  let project: { id: number; path_with_namespace: string };

  beforeAll(async () => {
    server = await startServer({ dialect });
    api = new Gitlab({ host: server.url, token: server.adminToken });
    top = await api.Groups.create('Acme', 'acme');
    sub = await api.Groups.create('Platform', 'platform', { parentId: top.id });
    project = await api.Projects.create({ name: 'Web', path: 'web', namespaceId: sub.id });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('created the namespaces through the Groups and Projects API', () => {
    expect(top).toMatchObject({ name: 'Acme', path: 'acme', full_path: 'acme' });
    expect(sub).toMatchObject({ name: 'Platform', path: 'platform', full_path: 'acme/platform', parent_id: top.id });
    expect(project).toMatchObject({ name: 'Web', path: 'web', path_with_namespace: 'acme/platform/web' });
  });

  it('creates, lists, shows and deletes a project deploy token', async () => {
    const created = await api.DeployTokens.create('registry-pull', ['read_repository', 'read_registry'], {
      projectId: project.id,
      expires_at: '2099-01-31',
      username: 'puller',
    });
    expect(created).toMatchObject({ name: 'registry-pull', username: 'puller', scopes: ['read_repository', 'read_registry'], revoked: false, expired: false });
    expect(created.expires_at).toMatch(/^2099-01-31/);
    expect(created.token).toMatch(/^gldt-[A-Za-z0-9_-]{20,}/);

    const listed = await api.DeployTokens.all({ projectId: project.id });
    const entry = listed.find((t) => t.id === created.id);
    expect(entry).toMatchObject({ name: 'registry-pull', username: 'puller', revoked: false, expired: false });
    expect(entry).not.toHaveProperty('token');

    // The project addressed by its full path (gitbeaker URL-encodes the slashes).
    const shown = await api.DeployTokens.show(created.id, { projectId: project.path_with_namespace });
    expect(shown).toMatchObject({ id: created.id, name: 'registry-pull', scopes: ['read_repository', 'read_registry'] });
    expect(shown).not.toHaveProperty('token');

    await api.DeployTokens.remove(created.id, { projectId: project.id });
    const after = await api.DeployTokens.all({ projectId: project.id });
    expect(after.map((t) => t.id)).not.toContain(created.id);
    expect((await refusal(api.DeployTokens.show(created.id, { projectId: project.id }))).status).toBe(404);
  });

  it('gives a token without username the default gitlab+deploy-token-{id} and no expiry', async () => {
    const created = await api.DeployTokens.create('no-frills', ['read_repository'], { projectId: project.id });
    expect(created.username).toBe(`gitlab+deploy-token-${created.id}`);
    expect(created.expires_at).toBeNull();
    expect(created.token.startsWith('gldt-')).toBe(true);
  });

  it('creates, lists and deletes a group deploy token, addressing the group by path', async () => {
    const created = await api.DeployTokens.create('packages', ['read_package_registry'], { groupId: sub.full_path });
    expect(created).toMatchObject({ name: 'packages', scopes: ['read_package_registry'], revoked: false, expired: false });
    expect(created.token.startsWith('gldt-')).toBe(true);

    const listed = await api.DeployTokens.all({ groupId: sub.id });
    expect(listed.map((t) => t.id)).toContain(created.id);
    // A group token belongs to that group only, not to its parent or to projects below it.
    expect((await api.DeployTokens.all({ groupId: top.id })).map((t) => t.id)).not.toContain(created.id);
    expect((await api.DeployTokens.all({ projectId: project.id })).map((t) => t.id)).not.toContain(created.id);

    await api.DeployTokens.remove(created.id, { groupId: sub.full_path });
    expect((await api.DeployTokens.all({ groupId: sub.id })).map((t) => t.id)).not.toContain(created.id);
  });

  it('lists every deploy token of the instance for the admin, and follows pagination', async () => {
    const names = ['page-a', 'page-b', 'page-c'];
    const ids: number[] = [];
    for (const name of names) ids.push((await api.DeployTokens.create(name, ['read_registry'], { groupId: top.id })).id);
    const projectToken = await api.DeployTokens.create('admin-visible', ['read_registry'], { projectId: project.id });

    const all = await api.DeployTokens.all();
    expect(all.map((t) => t.id)).toEqual(expect.arrayContaining([...ids, projectToken.id]));
    for (const t of all) expect(t).not.toHaveProperty('token');

    // perPage 2 over 3 tokens: gitbeaker follows the next-page headers and gathers every page…
    const paged = await api.DeployTokens.all({ groupId: top.id, perPage: 2 });
    expect(paged.map((t) => t.name).sort()).toEqual(names);
    // …and reads the pagination headers into paginationInfo.
    const first = await api.DeployTokens.all({ groupId: top.id, perPage: 2, maxPages: 1, showExpanded: true });
    expect(first.data).toHaveLength(2);
    expect(first.paginationInfo).toMatchObject({ total: 3, totalPages: 2, current: 1, next: 2, perPage: 2 });
  });

  it('refuses a scope that deploy tokens do not have with 400', async () => {
    const refused = await refusal(api.DeployTokens.create('bad', ['api' as 'read_registry'], { projectId: project.id }));
    expect(refused.status).toBe(400);
  });

  it('answers with Content-Type exactly application/json, as GitLab does (python-gitlab compares it)', async () => {
    const ok = await fetch(`${server.apiUrl}/deploy_tokens`, { headers: { 'private-token': server.adminToken } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('application/json');
    const refused = await fetch(`${server.apiUrl}/deploy_tokens`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('content-type')).toBe('application/json');
  });

  it('refuses a wrong token with 401 and an unknown project with 404', async () => {
    const stranger = new Gitlab({ host: server.url, token: 'glpat-not-a-real-token-000000000000' });
    expect((await refusal(stranger.DeployTokens.all({ projectId: project.id }))).status).toBe(401);
    expect((await refusal(api.DeployTokens.all({ projectId: 'acme/nope' }))).status).toBe(404);
  });
});
