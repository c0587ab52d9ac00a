/**
 * GET /api/v4/latchkey/expiring (Latchkey extension) on both stores: windows (`Nd`, `Nw`, bare days,
 * default 30d), every token kind, grouping by project/group/user and ordering by expiry, what admins,
 * maintainers, developers and outsiders see, revoked/expired/no-expiry tokens left out, and bad input.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedExpiringTokens, type ExpiringFixture } from '../../support/expiring-fixture.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';

interface Section {
  type: string;
  id: number;
  full_path: string;
  tokens: { id: number; kind: string; name: string; scopes: string[]; expires_at: string; days_left: number }[];
}

const flat = (body: { namespaces: Section[] }) => body.namespaces.flatMap((s) => s.tokens.map((tk) => ({ ...tk, path: s.full_path, type: s.type })));

describe.each(DIALECTS)('GET /latchkey/expiring on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let fx: ExpiringFixture;

  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
    fx = await seedExpiringTokens(t, w);
  });
  afterAll(async () => t?.close());

  const get = (query: string, token: string) => t.request('GET', `/api/v4/latchkey/expiring${query}`, { token });

  it('defaults to 30 days and lists every kind, grouped by project/group/user, soonest first', async () => {
    const res = await get('', w.adminToken);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ within_days: 30, until: '2026-12-23', generated_at: '2026-11-23T10:00:00.000Z' });
    const sections = res.body.namespaces as Section[];
    expect(sections.map((s) => [s.type, s.full_path])).toEqual([
      ['user', 'maintainer-user'],
      ['project', 'acme/platform/web'],
      ['project', 'acme/other/site'],
      ['group', 'acme'],
      ['group', 'acme/platform'],
    ]);
    expect(sections[1]!.tokens).toEqual([
      { id: fx.ids.ciBot, kind: 'project', name: 'ci-bot', scopes: ['read_repository'], expires_at: '2026-11-30', days_left: 7 },
      { id: fx.ids.registryPull, kind: 'deploy', name: 'registry-pull', scopes: ['read_registry'], expires_at: '2026-12-01', days_left: 8 },
    ]);
    expect(sections[0]!.tokens).toEqual([{ id: fx.ids.laptop, kind: 'personal', name: 'laptop', scopes: ['read_api'], expires_at: '2026-11-25', days_left: 2 }]);
    expect(sections[3]!.tokens).toEqual([{ id: fx.ids.saToken, kind: 'service_account', name: 'release', scopes: ['api'], expires_at: '2026-12-05', days_left: 12 }]);
    expect(sections[4]!.tokens).toEqual([{ id: fx.ids.groupDeploy, kind: 'deploy', name: 'group-deploy', scopes: ['read_package_registry'], expires_at: '2026-12-20', days_left: 27 }]);
    const all = flat(res.body);
    // No-expiry and revoked tokens never appear; every listed token is inside the window.
    expect(all.map((x) => x.id)).not.toContain(fx.ids.forever);
    expect(all.map((x) => x.id)).not.toContain(fx.ids.revoked);
    expect(all.every((x) => x.days_left >= 1 && x.days_left <= 30)).toBe(true);
    // No secrets or digests anywhere in the answer.
    expect(res.text).not.toMatch(/glpat-|gldt-|digest/);
  });

  it.each([
    ['?within=7d', 7, ['laptop', 'ci-bot']],
    ['?within=1w', 7, ['laptop', 'ci-bot']],
    ['?within=10', 10, ['laptop', 'ci-bot', 'registry-pull', 'site-deploy']],
    ['?within=8d', 8, ['laptop', 'ci-bot', 'registry-pull']],
    ['?within=60d', 60, ['laptop', 'ci-bot', 'registry-pull', 'site-deploy', 'release', 'group-deploy', 'top-bot']],
  ])('%s lists exactly the tokens expiring within %i days, by expiry', async (query, days, names) => {
    const res = await get(query, w.adminToken);
    expect(res.status).toBe(200);
    expect(res.body.within_days).toBe(days);
    const byExpiry = flat(res.body).sort((a, b) => a.expires_at.localeCompare(b.expires_at) || a.id - b.id);
    expect(byExpiry.map((x) => x.name)).toEqual(names);
  });

  it('a year-long window also lists the seeded personal tokens (190 days), one section per user', async () => {
    const res = await get('?within=52w', w.adminToken);
    expect(res.status).toBe(200);
    const personal = flat(res.body).filter((x) => x.kind === 'personal' && x.name === 'test');
    expect(personal).toHaveLength(8);
    expect(personal.every((x) => x.days_left === 190 && x.type === 'user')).toBe(true);
    expect((res.body.namespaces as Section[]).at(-1)!.tokens.at(-1)!.expires_at).toBe('2027-06-01');
  });

  it('a maintainer sees the tokens of projects/groups they maintain (inherited) and their own tokens only', async () => {
    const res = await get('?within=60d', w.users.maintainer.token);
    expect(res.status).toBe(200);
    expect((res.body.namespaces as Section[]).map((s) => s.full_path)).toEqual(['maintainer-user', 'acme/platform/web', 'acme/platform']);
    expect(flat(res.body).map((x) => x.name)).toEqual(['laptop', 'ci-bot', 'registry-pull', 'group-deploy']);
  });

  it('an owner of the sub-group sees its tree but not the parent group or a sibling project; nobody else sees personal tokens', async () => {
    const owner = flat((await get('?within=60d', w.users.owner.token)).body).map((x) => x.name);
    expect(owner).toEqual(['ci-bot', 'registry-pull', 'group-deploy']);
    for (const role of ['developer', 'reporter', 'guest', 'outsider'] as const) {
      const res = await get('?within=60d', w.users[role].token);
      expect(res.status, role).toBe(200);
      expect(res.body.namespaces, role).toEqual([]);
    }
    // Their own personal tokens appear once the window reaches them.
    const dev = await get('?within=365d', w.users.developer.token);
    expect((dev.body.namespaces as Section[]).map((s) => [s.type, s.full_path])).toEqual([['user', 'developer-user']]);
  });

  it('moves with the clock: an expired token leaves the report, days_left counts down, a revoked token leaves at once', async () => {
    try {
      t.clock.set('2026-11-25T00:00:00.000Z'); // laptop stops working now
      let names = flat((await get('?within=7d', w.adminToken)).body).map((x) => `${x.name}:${x.days_left}`);
      expect(names).toEqual(['ci-bot:5', 'registry-pull:6']);
      t.clock.set('2026-11-24T23:59:59.999Z');
      names = flat((await get('?within=1d', w.adminToken)).body).map((x) => `${x.name}:${x.days_left}`);
      expect(names).toEqual(['laptop:1']);
    } finally {
      t.clock.set('2026-11-23T10:00:00.000Z');
    }
  });

  it('a repeated within is invalid too', async () => {
    const res = await t.request('GET', '/api/v4/latchkey/expiring?within=30d&within=7d', { token: w.adminToken });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'within is invalid' });
  });

  it.each(['0', '0d', 'abc', '30x', '-5d', '3651d', '522w', '1.5d', '30 days', '', '99999999999'])('within=%j answers 400 {"error": "within is invalid"}', async (within) => {
    const res = await get(`?within=${encodeURIComponent(within)}`, w.adminToken);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'within is invalid' });
  });

  it('requires authentication and refuses deploy tokens', async () => {
    expect((await t.request('GET', '/api/v4/latchkey/expiring')).status).toBe(401);
  });
});
