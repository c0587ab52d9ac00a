/**
 * GET /projects/:id/latchkey/ci_variables on every store: CI_DEPLOY_USER / CI_DEPLOY_PASSWORD from the
 * project's own active gitlab-deploy-token, else from its immediate parent group's, never a
 * grandparent's; revoked, deleted and expired tokens are not handed out; only a project access token of
 * that project may ask. The password handed out really verifies, and the stored rows never hold it.
 */
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { Resource } from '../../../src/namespaces/namespace.js';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';

describe.each(DIALECTS)('CI deploy variables on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let project: Resource;
  let ciToken: string;
  const apps: TestApp[] = [];

  // A fresh instance per test: which gitlab-deploy-tokens exist is what each test is about.
  beforeEach(async () => {
    t = await startTestApp(dialect);
    apps.push(t);
    w = await seedWorld(t);
    project = { type: 'project', project: w.project };
    ciToken = (await t.app.services.resourceTokens.create(w.admin, project, { name: 'ci', scopes: ['read_api'], accessLevel: 30 })).secret;
  });
  afterAll(async () => {
    for (const a of apps) await a.close();
  });

  const ask = (token: string = ciToken, id: number | string = w.project.id) => t.request('GET', `/api/v4/projects/${id}/latchkey/ci_variables`, { token });
  const gitlabDeployToken = (resource: Resource, extra: { expiresAt?: string } = {}) =>
    t.app.services.deployTokens.create(w.admin, resource, { name: 'gitlab-deploy-token', scopes: ['read_registry', 'read_package_registry'], ...extra });
  const NOT_FOUND = { message: '404 gitlab-deploy-token Not Found: create an active deploy token named gitlab-deploy-token in this project or its parent group' };

  it("hands out the project's own gitlab-deploy-token, whose password verifies as that token", async () => {
    await gitlabDeployToken({ type: 'group', group: w.sub });
    const own = await gitlabDeployToken(project);
    const res = await ask();
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({ CI_DEPLOY_USER: own.token.username, CI_DEPLOY_PASSWORD: own.secret });
    const verified = await t.app.services.verifier.verify(res.body.CI_DEPLOY_PASSWORD);
    expect(verified.ok && verified.token.id).toBe(own.token.id);
  });

  it("falls back to the immediate parent group's token, with a custom username", async () => {
    const group = await t.app.services.deployTokens.create(w.admin, { type: 'group', group: w.sub }, { name: 'gitlab-deploy-token', scopes: ['read_registry'], username: 'ci-puller' });
    expect((await ask()).body).toEqual({ CI_DEPLOY_USER: 'ci-puller', CI_DEPLOY_PASSWORD: group.secret });
  });

  it("never uses a grandparent group's token, nor another name", async () => {
    await gitlabDeployToken({ type: 'group', group: w.top });
    await t.app.services.deployTokens.create(w.admin, project, { name: 'gitlab-deploy-token-2', scopes: ['read_registry'] });
    const res = await ask();
    expect(res.status).toBe(404);
    expect(res.body).toEqual(NOT_FOUND);
  });

  it('does not hand out a deleted token: the parent group one, then none', async () => {
    const own = await gitlabDeployToken(project);
    const group = await gitlabDeployToken({ type: 'group', group: w.sub });
    await t.app.services.deployTokens.remove(w.admin, project, own.token.id);
    expect((await ask()).body.CI_DEPLOY_PASSWORD).toBe(group.secret);
    await t.app.services.deployTokens.remove(w.admin, { type: 'group', group: w.sub }, group.token.id);
    expect((await ask()).status).toBe(404);
  });

  it('does not hand out a token revoked by value (admin) or expired', async () => {
    const own = await gitlabDeployToken(project, { expiresAt: '2026-12-01' });
    expect((await ask()).status).toBe(200);
    t.clock.set('2026-12-01T00:00:00.000Z');
    expect((await ask()).status).toBe(404);
    t.clock.set('2026-11-23T10:00:00.000Z');
    expect((await ask()).status).toBe(200);
    expect((await t.request('DELETE', '/api/v4/admin/token', { token: w.adminToken, body: { token: own.secret } })).status).toBe(204);
    expect((await ask()).status).toBe(404);
  });

  it('answers only a project access token of this project', async () => {
    await gitlabDeployToken(project);
    // A Maintainer's personal token, a token of another project's bot (cannot see this project), a group token.
    expect((await ask(w.users.maintainer.token)).status).toBe(403);
    expect((await ask(w.users.maintainer.token)).body).toEqual({ message: '403 Forbidden' });
    const other = (await t.app.services.resourceTokens.create(w.admin, { type: 'project', project: w.otherProject }, { name: 'ci', scopes: ['api'] })).secret;
    expect((await ask(other)).status).toBe(404);
    const groupToken = (await t.app.services.resourceTokens.create(w.admin, { type: 'group', group: w.sub }, { name: 'ci', scopes: ['api'] })).secret;
    expect((await ask(groupToken)).status).toBe(403);
    // A Guest-level project token is below Reporter; a deploy token never reaches the API.
    const guest = (await t.app.services.resourceTokens.create(w.admin, project, { name: 'guest', scopes: ['read_api'], accessLevel: 10 })).secret;
    expect((await ask(guest)).status).toBe(403);
    const deploy = (await t.app.services.deployTokens.create(w.admin, project, { name: 'd', scopes: ['read_package_registry'] })).secret;
    expect((await t.request('GET', `/api/v4/projects/${w.project.id}/latchkey/ci_variables`, { headers: { 'deploy-token': deploy } })).status).toBe(401);
    expect((await t.request('GET', `/api/v4/projects/${w.project.id}/latchkey/ci_variables`)).status).toBe(401);
    // The path form of :id works for the right token.
    expect((await ask(ciToken, 'acme%2Fplatform%2Fweb')).status).toBe(200);
  });

  it('stores the gitlab-deploy-token secret only sealed, and nothing for other deploy tokens', async () => {
    const own = await gitlabDeployToken(project);
    const plain = await t.app.services.deployTokens.create(w.admin, project, { name: 'other', scopes: ['read_registry'] });
    const rows = await t.app.store.db.selectFrom('deploy_token_secrets').selectAll().execute();
    expect(rows.map((r) => r.token_id)).toEqual([own.token.id]);
    const dump = JSON.stringify([rows, await t.app.store.db.selectFrom('tokens').selectAll().execute()]);
    expect(dump).not.toContain(own.secret);
    expect(dump).not.toContain(own.secret.slice(5, 25));
    expect(dump).not.toContain(plain.secret);
    expect(rows[0]!.secret_encrypted).toMatch(/^v1:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+$/);
  });
});
