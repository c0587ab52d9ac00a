/**
 * GitLab's token list filters and sorts (PersonalAccessTokensFinder, `access_token_params`) on every
 * list that documents them — GET /personal_access_tokens, /projects/:id/access_tokens,
 * /groups/:id/access_tokens, a service account's personal_access_tokens — on both stores, with
 * GitLab's bounds (created/last-used before and after inclusive, expires_before exclusive,
 * expires_after inclusive) and orders (NULLs last ascending, first descending; id breaks ties).
 * Also: bots' tokens are PersonalAccessTokens (an admin's list and look-up find them), GET
 * …/access_tokens/self for projects and groups, and a bot may not rotate a sibling by id.
 *
 * @see issue 11 items 2 and 3
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';

const START = '2026-11-23T10:00:00.000Z';

interface Made {
  id: number;
  token: string;
  name: string;
}

describe.each(DIALECTS)('token lists on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  /** Four tokens of one owner per list, made at 10:00, 11:00, 12:00, 13:00 with these names and dates. */
  const SPECS = [
    { name: 'Bravo', expires_at: '2027-03-01', lastUsed: '2026-11-25T08:00:00.000Z' },
    { name: 'alpha', expires_at: '2027-01-01', lastUsed: null },
    { name: 'Delta', expires_at: '2027-03-01', lastUsed: '2026-11-24T08:00:00.000Z' },
    { name: 'charlie', expires_at: '2027-02-01', lastUsed: '2026-11-25T08:00:00.000Z' },
  ];
  const lists: Record<'personal' | 'project' | 'group' | 'service', { url: string; made: Made[]; token: string }> = {} as never;

  async function makeFour(create: (spec: (typeof SPECS)[number]) => Promise<Made>): Promise<Made[]> {
    const made: Made[] = [];
    for (const [i, spec] of SPECS.entries()) {
      t.clock.set(`2026-11-23T1${i}:00:00.000Z`);
      made.push(await create(spec));
    }
    t.clock.set(START);
    for (const [i, spec] of SPECS.entries()) {
      if (spec.lastUsed) await t.app.store.db.updateTable('tokens').set({ last_used_at: spec.lastUsed }).where('id', '=', made[i]!.id).execute();
    }
    // The last one is revoked, so state/revoked filters have something to separate.
    return made;
  }

  beforeAll(async () => {
    t = await startTestApp(dialect, { now: START });
    w = await seedWorld(t);
    const post = async (url: string, body: object): Promise<Made> => {
      const res = await t.request('POST', url, { token: w.adminToken, body });
      expect(res.status, res.text).toBe(201);
      return { id: res.body.id, token: res.body.token, name: res.body.name };
    };
    const dev = w.users.developer.user.id;
    lists.personal = {
      url: `/api/v4/personal_access_tokens?user_id=${dev}`,
      token: w.adminToken,
      made: await makeFour((s) => post(`/api/v4/users/${dev}/personal_access_tokens`, { name: s.name, scopes: ['api'], expires_at: s.expires_at })),
    };
    lists.project = {
      url: `/api/v4/projects/${w.project.id}/access_tokens?`,
      token: w.users.maintainer.token,
      made: await makeFour((s) => post(`/api/v4/projects/${w.project.id}/access_tokens`, { name: s.name, scopes: ['read_api'], expires_at: s.expires_at, access_level: 30 })),
    };
    lists.group = {
      url: `/api/v4/groups/${w.sub.id}/access_tokens?`,
      token: w.users.owner.token,
      made: await makeFour((s) => post(`/api/v4/groups/${w.sub.id}/access_tokens`, { name: s.name, scopes: ['read_api'], expires_at: s.expires_at, access_level: 30 })),
    };
    const account = await t.request('POST', `/api/v4/groups/${w.top.id}/service_accounts`, { token: w.adminToken, body: {} });
    lists.service = {
      url: `/api/v4/groups/${w.top.id}/service_accounts/${account.body.id}/personal_access_tokens?`,
      token: w.adminToken,
      made: await makeFour((s) => post(`/api/v4/groups/${w.top.id}/service_accounts/${account.body.id}/personal_access_tokens`, { name: s.name, scopes: ['api'], expires_at: s.expires_at })),
    };
    // The fourth of each list is revoked (through the lifecycle, as a user would).
    expect((await t.request('DELETE', `/api/v4/personal_access_tokens/${lists.personal.made[3]!.id}`, { token: w.adminToken })).status).toBe(204);
    expect((await t.request('DELETE', `/api/v4/projects/${w.project.id}/access_tokens/${lists.project.made[3]!.id}`, { token: w.adminToken })).status).toBe(204);
    expect((await t.request('DELETE', `/api/v4/groups/${w.sub.id}/access_tokens/${lists.group.made[3]!.id}`, { token: w.adminToken })).status).toBe(204);
    expect((await t.request('DELETE', `${lists.service.url.replace('?', '')}/${lists.service.made[3]!.id}`, { token: w.adminToken })).status).toBe(204);
  });
  afterAll(() => t?.close());

  describe.each(['personal', 'project', 'group', 'service'] as const)('%s list', (which) => {
    /** The names a list request returns, in order. */
    const names = async (query: string) => {
      const { url, token } = lists[which];
      const res = await t.request('GET', `${url}&${query}`, { token });
      expect(res.status, res.text).toBe(200);
      // The personal list of the developer holds the fixture's own token too; only ours count here.
      return (res.body as { name: string }[]).map((e) => e.name).filter((n) => SPECS.some((s) => s.name === n));
    };

    it.each([
      ['sort=name_asc', ['alpha', 'Bravo', 'charlie', 'Delta']],
      ['sort=name_desc', ['Delta', 'charlie', 'Bravo', 'alpha']],
      ['sort=created_asc', ['Bravo', 'alpha', 'Delta', 'charlie']],
      ['sort=created_desc', ['charlie', 'Delta', 'alpha', 'Bravo']],
      ['sort=created_at_desc', ['charlie', 'Delta', 'alpha', 'Bravo']],
      // Ties by id descending, as GitLab's order_expires_at_asc_id_desc.
      ['sort=expires_asc', ['alpha', 'charlie', 'Delta', 'Bravo']],
      ['sort=expires_desc', ['Delta', 'Bravo', 'charlie', 'alpha']],
      // Never used: last ascending, first descending (PostgreSQL's NULL order, on both stores).
      ['sort=last_used_asc', ['Delta', 'charlie', 'Bravo', 'alpha']],
      ['sort=last_used_desc', ['alpha', 'charlie', 'Bravo', 'Delta']],
      ['sort=id_desc', ['charlie', 'Delta', 'alpha', 'Bravo']],
      // An unknown order is ignored, as GitLab's finder does.
      ['sort=shoe_size', ['Bravo', 'alpha', 'Delta', 'charlie']],
    ])('%s', async (query, expected) => {
      expect(await names(query)).toEqual(expected);
    });

    it.each([
      ['search=LT', ['Delta']],
      ['search=a', ['Bravo', 'alpha', 'Delta', 'charlie']],
      ['search=%25', []],
      ['state=active', ['Bravo', 'alpha', 'Delta']],
      ['state=inactive', ['charlie']],
      ['revoked=true', ['charlie']],
      ['revoked=false', ['Bravo', 'alpha', 'Delta']],
      // Grape's Boolean spellings (python-gitlab sends `revoked=True`).
      ['revoked=True', ['charlie']],
      ['revoked=1', ['charlie']],
      ['revoked=yes', ['charlie']],
      ['revoked=False', ['Bravo', 'alpha', 'Delta']],
      ['revoked=0', ['Bravo', 'alpha', 'Delta']],
      ['revoked=off', ['Bravo', 'alpha', 'Delta']],
      // An empty one is Grape's nil: no filter.
      ['revoked=', ['Bravo', 'alpha', 'Delta', 'charlie']],
      // Bounds: created_* and last_used_* include the bound, expires_before excludes it, expires_after includes it.
      ['created_before=2026-11-23T11:00:00Z', ['Bravo', 'alpha']],
      ['created_after=2026-11-23T11:00:00Z', ['alpha', 'Delta', 'charlie']],
      ['created_after=2026-11-23T11:00:00.001Z', ['Delta', 'charlie']],
      ['last_used_before=2026-11-24T08:00:00Z', ['Delta']],
      ['last_used_after=2026-11-25T08:00:00Z', ['Bravo', 'charlie']],
      ['expires_before=2027-02-01', ['alpha']],
      ['expires_after=2027-02-01', ['Bravo', 'Delta', 'charlie']],
      ['expires_after=2027-01-02&expires_before=2027-03-01', ['charlie']],
      ['state=active&sort=name_desc&search=a', ['Delta', 'Bravo', 'alpha']],
    ])('%s', async (query, expected) => {
      expect(await names(query)).toEqual(expected);
    });

    it.each([
      ['created_before=yesterday', 'created_before is invalid'],
      ['expires_after=2027-13-01', 'expires_after is invalid'],
      ['state=gone', 'state does not have a valid value'],
      ['revoked=maybe', 'revoked is invalid'],
    ])('%s is a 400 with Grape\'s message', async (query, message) => {
      const { url, token } = lists[which];
      const res = await t.request('GET', `${url}&${query}`, { token });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: message });
    });
  });

  describe('bots\' tokens are personal access tokens (GitLab)', () => {
    it("an admin's GET /personal_access_tokens lists project and group bots' tokens; user_id narrows to one bot", async () => {
      const all = await t.request('GET', '/api/v4/personal_access_tokens?per_page=100&search=alpha', { token: w.adminToken });
      const ids = (all.body as { id: number }[]).map((e) => e.id);
      expect(ids).toEqual(expect.arrayContaining([lists.personal.made[1]!.id, lists.project.made[1]!.id, lists.group.made[1]!.id, lists.service.made[1]!.id]));
      const botId = (await t.request('GET', `/api/v4/personal_access_tokens/${lists.project.made[0]!.id}`, { token: w.adminToken })).body.user_id;
      const ofBot = await t.request('GET', `/api/v4/personal_access_tokens?user_id=${botId}`, { token: w.adminToken });
      expect((ofBot.body as { id: number }[]).map((e) => e.id)).toEqual([lists.project.made[0]!.id]);
    });

    it('a bot sees its own token through /personal_access_tokens and /personal_access_tokens/:id, not a sibling', async () => {
      const [mine, sibling] = lists.project.made;
      const own = await t.request('GET', '/api/v4/personal_access_tokens', { token: mine!.token });
      expect((own.body as { id: number }[]).map((e) => e.id)).toEqual([mine!.id]);
      expect((await t.request('GET', `/api/v4/personal_access_tokens/${mine!.id}`, { token: mine!.token })).status).toBe(200);
      expect((await t.request('GET', `/api/v4/personal_access_tokens/${sibling!.id}`, { token: mine!.token })).status).toBe(401);
    });

    it('an admin naming a user that does not exist gets 404; a non-admin naming another user 401', async () => {
      const unknown = await t.request('GET', '/api/v4/personal_access_tokens?user_id=987654', { token: w.adminToken });
      expect(unknown.status).toBe(404);
      expect(unknown.body).toEqual({ message: '404 Not Found' });
      const other = await t.request('GET', `/api/v4/personal_access_tokens?user_id=${w.users.owner.user.id}`, { token: w.users.developer.token });
      expect(other.status).toBe(401);
    });

    it('a deploy token id is not a personal access token: 404 for an admin, 401 for others', async () => {
      const deploy = await t.request('POST', `/api/v4/projects/${w.project.id}/deploy_tokens`, { token: w.adminToken, body: { name: 'd', scopes: ['read_registry'] } });
      expect((await t.request('GET', `/api/v4/personal_access_tokens/${deploy.body.id}`, { token: w.adminToken })).status).toBe(404);
      expect((await t.request('GET', `/api/v4/personal_access_tokens/${deploy.body.id}`, { token: w.users.developer.token })).status).toBe(401);
      expect((await t.request('DELETE', `/api/v4/personal_access_tokens/${deploy.body.id}`, { token: w.adminToken })).status).toBe(404);
    });
  });

  describe('GET …/access_tokens/self', () => {
    it.each(['project', 'group'] as const)('a %s access token reads itself, with any scope; another credential or resource is 404', async (kind) => {
      const base = kind === 'project' ? `/api/v4/projects/${w.project.id}/access_tokens` : `/api/v4/groups/${w.sub.id}/access_tokens`;
      const created = await t.request('POST', base, { token: w.adminToken, body: { name: `${kind}-self`, scopes: ['read_repository'], expires_at: '2027-01-01', access_level: 20 } });
      expect(created.status).toBe(201);
      const self = await t.request('GET', `${base}/self`, { token: created.body.token });
      expect(self.status).toBe(200);
      expect(self.body).toMatchObject({ id: created.body.id, name: `${kind}-self`, scopes: ['read_repository'], access_level: 20, resource_type: kind, active: true });
      expect(self.body.token).toBeUndefined();
      const human = await t.request('GET', `${base}/self`, { token: w.adminToken });
      expect(human.status).toBe(404);
      expect(human.body).toEqual({ message: `404 ${kind} Access Token Not Found` });
      const elsewhere = kind === 'project' ? `/api/v4/projects/${w.otherProject.id}/access_tokens/self` : `/api/v4/groups/${w.top.id}/access_tokens/self`;
      expect((await t.request('GET', elsewhere, { token: created.body.token })).status).toBe(404);
    });
  });

  describe('a resource access token rotates only itself', () => {
    it.each(['project', 'group'] as const)('%s: rotating a sibling by id with a bot token is 401 and changes nothing; self/rotate works', async (kind) => {
      const base = kind === 'project' ? `/api/v4/projects/${w.project.id}/access_tokens` : `/api/v4/groups/${w.sub.id}/access_tokens`;
      const make = async (name: string) => (await t.request('POST', base, { token: w.adminToken, body: { name, scopes: ['api'], expires_at: '2027-01-01', access_level: 50 } })).body;
      const bot = await make(`${kind}-rotator`);
      const sibling = await make(`${kind}-sibling`);
      const refused = await t.request('POST', `${base}/${sibling.id}/rotate`, { token: bot.token });
      expect(refused.status).toBe(401);
      expect(refused.body).toEqual({ message: '401 Unauthorized' });
      // Not even itself by id: GitLab points bots at self/rotate.
      expect((await t.request('POST', `${base}/${bot.id}/rotate`, { token: bot.token })).status).toBe(401);
      expect((await t.request('GET', '/api/v4/user', { token: sibling.token })).status).toBe(200);
      const own = await t.request('POST', `${base}/self/rotate`, { token: bot.token });
      expect(own.status).toBe(200);
    });
  });
});
