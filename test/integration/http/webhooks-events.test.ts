/**
 * Every token producer publishes to the webhook outbox: token.created from deploy, personal, project,
 * group and service-account tokens; token.rotated; token.revoked from revoke, deploy-token delete,
 * resource-token delete, service-account delete and reuse detection. Read back through the deliveries
 * API (no sending needed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';

const INSTANCE = '/api/v4/latchkey/webhooks';
const enc = encodeURIComponent;

describe.each(DIALECTS)('token events reach the webhook outbox on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let hookId: number;
  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
    const hook = await t.request('POST', INSTANCE, { token: w.adminToken, body: { url: 'http://127.0.0.1:9/unused', events: ['token.created', 'token.rotated', 'token.revoked', 'token.expiring', 'token.expired'] } });
    hookId = hook.body.id;
  });
  afterAll(() => t?.close());

  /** (event, token id, kind, data) of every delivery recorded since `since` (a delivery id). */
  const recorded = async (since = 0) => {
    const list = (await t.request('GET', `${INSTANCE}/${hookId}/deliveries?per_page=100`, { token: w.adminToken })).body as any[];
    const rows = await t.app.store.db.selectFrom('webhook_deliveries').select(['id', 'payload']).where('hook_id', '=', hookId).where('id', '>', since).orderBy('id').execute();
    expect(list.filter((d) => d.id > since)).toHaveLength(rows.length);
    return rows.map((r) => {
      const p = JSON.parse(r.payload);
      return { id: r.id, event: p.event as string, token: p.token.id as number, kind: p.token.kind as string, project: p.token.project, group: p.token.group, data: p.data };
    });
  };
  const lastId = async () => (await recorded()).at(-1)?.id ?? 0;

  it('records token.created for every kind of token', async () => {
    const since = await lastId();
    const deploy = await t.request('POST', `/api/v4/groups/${enc('acme/platform')}/deploy_tokens`, { token: w.adminToken, body: { name: 'd', scopes: ['read_registry'] } });
    const personal = await t.request('POST', `/api/v4/users/${w.users.developer.user.id}/personal_access_tokens`, { token: w.adminToken, body: { name: 'p', scopes: ['read_api'], expires_at: '2027-01-01' } });
    const project = await t.request('POST', `/api/v4/projects/${enc('acme/platform/web')}/access_tokens`, { token: w.adminToken, body: { name: 'pr', scopes: ['read_api'], expires_at: '2027-01-01' } });
    const group = await t.request('POST', `/api/v4/groups/${enc('acme/platform')}/access_tokens`, { token: w.adminToken, body: { name: 'gr', scopes: ['read_api'], expires_at: '2027-01-01' } });
    const account = await t.request('POST', `/api/v4/groups/acme/service_accounts`, { token: w.adminToken, body: { name: 'robot' } });
    const sat = await t.request('POST', `/api/v4/groups/acme/service_accounts/${account.body.id}/personal_access_tokens`, { token: w.adminToken, body: { name: 'sa', scopes: ['read_api'], expires_at: '2027-01-01' } });
    for (const r of [deploy, personal, project, group, sat]) expect(r.status).toBe(201);
    const events = await recorded(since);
    expect(events.map((e) => [e.event, e.token, e.kind, e.project, e.group])).toEqual([
      ['token.created', deploy.body.id, 'deploy', null, 'acme/platform'],
      ['token.created', personal.body.id, 'personal', null, null],
      ['token.created', project.body.id, 'project', 'acme/platform/web', null],
      ['token.created', group.body.id, 'group', null, 'acme/platform'],
      ['token.created', sat.body.id, 'service_account', null, 'acme'],
    ]);
    expect(JSON.stringify(events)).not.toContain(personal.body.token);

    // Deleting the service account and the project token revokes their tokens.
    const before = await lastId();
    expect((await t.request('DELETE', `/api/v4/groups/acme/service_accounts/${account.body.id}`, { token: w.adminToken })).status).toBe(204);
    expect((await t.request('DELETE', `/api/v4/projects/${enc('acme/platform/web')}/access_tokens/${project.body.id}`, { token: w.adminToken })).status).toBe(204);
    expect((await recorded(before)).map((e) => [e.event, e.token, e.data.reason])).toEqual([
      ['token.revoked', sat.body.id, 'revoked'],
      ['token.revoked', project.body.id, 'revoked'],
    ]);
  });

  it('records token.rotated and token.revoked from the lifecycle, and the chain revoked by reuse detection', async () => {
    const created = await t.request('POST', `/api/v4/users/${w.users.developer.user.id}/personal_access_tokens`, { token: w.adminToken, body: { name: 'rot', scopes: ['api'], expires_at: '2027-01-01' } });
    const since = await lastId();
    const rotated = await t.request('POST', `/api/v4/personal_access_tokens/${created.body.id}/rotate`, { token: w.adminToken });
    expect(rotated.status).toBe(200);
    // The rotated-away secret presented to a rotate endpoint: reuse, which revokes the new token too.
    expect((await t.request('POST', '/api/v4/personal_access_tokens/self/rotate', { token: created.body.token })).status).toBe(401);
    let events = await recorded(since);
    for (let i = 0; i < 50 && events.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 20));
      events = await recorded(since);
    }
    expect(events.map((e) => [e.event, e.token, e.data.reason ?? null])).toEqual([
      ['token.rotated', created.body.id, null],
      ['token.revoked', rotated.body.id, 'reuse_detected'],
    ]);
    expect(events[0]!.data).toMatchObject({ new_token_id: rotated.body.id, grace_until: null, by: 'root' });

    const other = await t.request('POST', `/api/v4/users/${w.users.developer.user.id}/personal_access_tokens`, { token: w.adminToken, body: { name: 'rev', scopes: ['api'], expires_at: '2027-01-01' } });
    const before = await lastId();
    expect((await t.request('DELETE', `/api/v4/personal_access_tokens/${other.body.id}`, { token: w.adminToken })).status).toBe(204);
    expect((await t.request('DELETE', `/api/v4/personal_access_tokens/${other.body.id}`, { token: w.adminToken })).status).not.toBe(500);
    expect((await recorded(before)).map((e) => [e.event, e.token, e.data.reason])).toEqual([['token.revoked', other.body.id, 'revoked']]);
  });
});
