/**
 * A group's maximum token lifetime (GET|PUT /groups/:id/token_policy, a Latchkey extension): who may
 * read and set it, and that project, group and service-account tokens of the group's tree obey the
 * strictest limit along their chain while personal tokens and other trees don't.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, tableCounts, type TestApp, type World } from '../../support/test-app.js';

describe.each(DIALECTS)('group token policy on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
  });
  afterAll(() => t?.close());

  const policyUrl = (group: string) => `/api/v4/groups/${encodeURIComponent(group)}/token_policy`;
  const projectToken = (token: string, body: Record<string, unknown>) =>
    t.request('POST', `/api/v4/projects/${encodeURIComponent('acme/platform/web')}/access_tokens`, { token, body: { name: 'bot', scopes: ['read_api'], access_level: 30, ...body } });

  it('shows the instance limit to a Maintainer when the group sets none', async () => {
    const res = await t.request('GET', policyUrl('acme/platform'), { token: w.users.maintainer.token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ group_id: w.sub.id, max_token_lifetime_days: null, effective_max_token_lifetime_days: 365, instance_max_token_lifetime_days: 365, expiry_required: true });
  });

  it('refuses to show it below Maintainer (403) and hides it from outsiders (404)', async () => {
    expect((await t.request('GET', policyUrl('acme/platform'), { token: w.users.developer.token })).body).toEqual({ message: '403 Forbidden' });
    const outsider = await t.request('GET', policyUrl('acme/platform'), { token: w.users.outsider.token });
    expect(outsider.status).toBe(404);
    expect(outsider.body).toEqual({ message: '404 Group Not Found' });
    expect((await t.request('GET', policyUrl('acme/platform'))).status).toBe(401);
  });

  it('lets only an Owner (or admin) change it, and refuses bad values without writing', async () => {
    const before = await tableCounts(t);
    const maint = await t.request('PUT', policyUrl('acme/platform'), { token: w.users.maintainer.token, body: { max_token_lifetime_days: 30 } });
    expect(maint.status).toBe(403);
    for (const bad of [0, -1, 366, 1.5, 'thirty', { days: 30 }]) {
      const res = await t.request('PUT', policyUrl('acme/platform'), { token: w.users.owner.token, body: { max_token_lifetime_days: bad } });
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(JSON.stringify(res.body)).toMatch(/max_token_lifetime_days/);
    }
    const missing = await t.request('PUT', policyUrl('acme/platform'), { token: w.users.owner.token, body: {} });
    expect(missing.status).toBe(400);
    expect(missing.body).toEqual({ error: 'max_token_lifetime_days is missing' });
    expect(await tableCounts(t)).toEqual(before);
    const shown = await t.request('GET', policyUrl('acme/platform'), { token: w.users.owner.token });
    expect(shown.body.max_token_lifetime_days).toBeNull();
  });

  it('applies the strictest limit along the chain to project tokens, with the reason, and not elsewhere', async () => {
    // acme (top) allows 90 days, acme/platform only 30.
    expect((await t.request('PUT', policyUrl('acme'), { token: w.adminToken, body: { max_token_lifetime_days: 90 } })).status).toBe(200);
    const set = await t.request('PUT', policyUrl('acme/platform'), { token: w.users.owner.token, body: { max_token_lifetime_days: 30 } });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ max_token_lifetime_days: 30, effective_max_token_lifetime_days: 30 });
    expect((await t.request('GET', policyUrl('acme/other'), { token: w.adminToken })).body).toMatchObject({ max_token_lifetime_days: null, effective_max_token_lifetime_days: 90 });

    // Today is 2026-11-23: 30 days allows up to 2026-12-23.
    const before = await tableCounts(t);
    const tooLong = await projectToken(w.users.maintainer.token, { expires_at: '2026-12-24' });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.message).toMatch(/maximum lifetime 30 days/);
    expect(await tableCounts(t)).toEqual(before);

    const ok = await projectToken(w.users.maintainer.token, { expires_at: '2026-12-23' });
    expect(ok.status).toBe(201);
    const defaulted = await projectToken(w.users.maintainer.token, {});
    expect(defaulted.status).toBe(201);
    expect(defaulted.body.expires_at).toBe('2026-12-23');

    // A sibling tree only feels the parent's 90 days.
    const sibling = await t.request('POST', `/api/v4/projects/${encodeURIComponent('acme/other/site')}/access_tokens`, {
      token: w.adminToken,
      body: { name: 'bot', scopes: ['read_api'], expires_at: '2027-02-01' },
    });
    expect(sibling.status).toBe(201);
    const siblingTooLong = await t.request('POST', `/api/v4/projects/${encodeURIComponent('acme/other/site')}/access_tokens`, {
      token: w.adminToken,
      body: { name: 'bot', scopes: ['read_api'], expires_at: '2027-02-22' },
    });
    expect(siblingTooLong.status).toBe(400);
    expect(siblingTooLong.body.message).toMatch(/maximum lifetime 90 days/);

    // Personal tokens belong to people, not to the group tree: only the instance limit applies.
    const personal = await t.request('POST', `/api/v4/users/${w.users.maintainer.user.id}/personal_access_tokens`, {
      token: w.adminToken,
      body: { name: 'laptop', scopes: ['read_api'], expires_at: '2027-06-01' },
    });
    expect(personal.status).toBe(201);
  });

  it('takes a form-encoded body too', async () => {
    const res = await t.request('PUT', policyUrl('acme/other'), {
      token: w.adminToken,
      rawBody: 'max_token_lifetime_days=45',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ max_token_lifetime_days: 45, effective_max_token_lifetime_days: 45 });
  });

  it('clearing a limit with null falls back to the parent chain', async () => {
    const res = await t.request('PUT', policyUrl('acme/platform'), { token: w.users.owner.token, body: { max_token_lifetime_days: null } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ max_token_lifetime_days: null, effective_max_token_lifetime_days: 90 });
    expect((await projectToken(w.users.maintainer.token, { expires_at: '2027-01-15' })).status).toBe(201);
  });
});
