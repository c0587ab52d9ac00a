import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';

describe.each(DIALECTS)('smoke on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
  });
  afterAll(() => t?.close());

  it('creates, lists, shows and deletes a project deploy token', async () => {
    const created = await t.request('POST', `/api/v4/projects/${encodeURIComponent('acme/platform/web')}/deploy_tokens`, {
      token: w.adminToken,
      body: { name: 'ci', scopes: ['read_repository'], expires_at: '2027-01-01' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'ci', username: `gitlab+deploy-token-${created.body.id}`, expires_at: '2027-01-01T00:00:00.000Z', revoked: false, expired: false, scopes: ['read_repository'] });
    expect(created.body.token).toMatch(/^gldt-/);
    const list = await t.request('GET', `/api/v4/projects/${w.project.id}/deploy_tokens`, { token: w.users.maintainer.token });
    expect(list.status).toBe(200);
    expect(list.body.map((x: any) => x.id)).toEqual([created.body.id]);
    expect(list.body[0].token).toBeUndefined();
    expect(list.headers['x-total']).toBe('1');
    const del = await t.request('DELETE', `/api/v4/projects/${w.project.id}/deploy_tokens/${created.body.id}`, { token: w.users.maintainer.token });
    expect(del.status).toBe(204);
    const gone = await t.request('GET', `/api/v4/projects/${w.project.id}/deploy_tokens/${created.body.id}`, { token: w.users.maintainer.token });
    expect(gone.status).toBe(404);
    expect(gone.body).toEqual({ message: '404 Not found' });
  });

  it('answers 401 without credentials and 403 to a developer', async () => {
    expect((await t.request('GET', `/api/v4/projects/${w.project.id}/deploy_tokens`)).body).toEqual({ message: '401 Unauthorized' });
    const dev = await t.request('GET', `/api/v4/projects/${w.project.id}/deploy_tokens`, { token: w.users.developer.token });
    expect(dev.status).toBe(403);
    expect(dev.body).toEqual({ message: '403 Forbidden' });
    const outsider = await t.request('GET', `/api/v4/projects/${w.project.id}/deploy_tokens`, { token: w.users.outsider.token });
    expect(outsider.status).toBe(404);
    expect(outsider.body).toEqual({ message: '404 Project Not Found' });
  });
});
