/**
 * Project and group access tokens (GitLab's project_access_tokens.md / group_access_tokens.md): create
 * with a bot user, list, show, revoke, rotate (with and without Latchkey's grace_period), the bot
 * authenticating with its membership and scopes, and input errors that never write anything.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, tableCounts, type TestApp, type World } from '../../support/test-app.js';

const DAY = 86_400_000;

describe.each(DIALECTS)('project and group access tokens on %s', (dialect) => {
  let t: TestApp;
  let w: World;

  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
  });
  afterAll(() => t?.close());

  const projectBase = () => `/api/v4/projects/${w.project.id}/access_tokens`;
  const groupBase = () => `/api/v4/groups/${w.sub.id}/access_tokens`;
  const asOwner = (method: string, url: string, body?: unknown) => t.request(method, url, { token: w.users.owner.token, body });

  describe.each(['project', 'group'] as const)('%s tokens', (kind) => {
    const base = () => (kind === 'project' ? projectBase() : groupBase());
    const resourceId = () => (kind === 'project' ? w.project.id : w.sub.id);

    it('creates a token with its bot user and membership, and shows the secret once', async () => {
      const res = await asOwner('POST', base(), { name: 'ci', scopes: ['read_api', 'api'], access_level: 30, expires_at: '2027-01-01', description: 'for CI' });
      expect(res.status).toBe(201);
      expect(res.body).toEqual({
        id: expect.any(Number),
        name: 'ci',
        description: 'for CI',
        revoked: false,
        created_at: '2026-11-23T10:00:00.000Z',
        last_used_at: null,
        scopes: ['api', 'read_api'],
        user_id: expect.any(Number),
        active: true,
        expires_at: '2027-01-01',
        access_level: 30,
        resource_type: kind,
        resource_id: resourceId(),
        grace_until: null,
        last_used_ips: [],
        reuse_flagged: false,
        reuse_flagged_at: null,
        token: expect.stringMatching(/^glpat-/),
      });
      const bot = await t.app.store.namespaces.findUserById(res.body.user_id);
      expect(bot).toMatchObject({ name: 'ci', botKind: kind === 'project' ? 'project_bot' : 'group_bot', state: 'active', isAdmin: false });
      expect(bot!.username).toMatch(new RegExp(`^${kind}_${resourceId()}_bot_[0-9a-f]{32}$`));
      expect(bot!.email).toBe(`${bot!.username}@noreply.localhost`);
      const members = await t.request('GET', `/api/v4/${kind}s/${resourceId()}/members?per_page=100`, { token: w.adminToken });
      expect(members.body.find((m: any) => m.id === bot!.id)).toMatchObject({ access_level: 30 });

      const shown = await asOwner('GET', `${base()}/${res.body.id}`);
      expect(shown.status).toBe(200);
      expect(shown.body.token).toBeUndefined();
      expect(shown.body).toMatchObject({ id: res.body.id, name: 'ci', access_level: 30, user_id: bot!.id });
    });

    it('defaults access_level to 40 and expires_at to the maximum lifetime (365 days)', async () => {
      const res = await asOwner('POST', base(), { name: 'defaults', scopes: ['read_repository'] });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ access_level: 40, expires_at: '2027-11-23', description: null });
    });

    it('accepts form-encoded bodies with scopes[] and a comma-separated scopes string', async () => {
      const form = await t.request('POST', base(), {
        token: w.users.owner.token,
        rawBody: 'name=form&scopes[]=read_api&scopes[]=read_repository&access_level=20&expires_at=2027-02-01',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(form.status).toBe(201);
      expect(form.body).toMatchObject({ scopes: ['read_api', 'read_repository'], access_level: 20 });
      const comma = await asOwner('POST', base(), { name: 'comma', scopes: 'read_api,read_registry', expires_at: '2027-02-01' });
      expect(comma.status).toBe(201);
      expect(comma.body.scopes).toEqual(['read_api', 'read_registry']);
    });

    it('lists the tokens with pagination headers and the state filter', async () => {
      const created = await asOwner('POST', base(), { name: 'to-revoke', scopes: ['read_api'], expires_at: '2027-01-01' });
      expect((await asOwner('DELETE', `${base()}/${created.body.id}`)).status).toBe(204);
      const all = await asOwner('GET', `${base()}?per_page=100`);
      expect(all.status).toBe(200);
      expect(all.headers['x-total']).toBe(String(all.body.length));
      expect(all.body.map((x: any) => x.id)).toContain(created.body.id);
      const active = await asOwner('GET', `${base()}?state=active&per_page=100`);
      expect(active.body.every((x: any) => x.active && !x.revoked)).toBe(true);
      expect(active.body.map((x: any) => x.id)).not.toContain(created.body.id);
      const inactive = await asOwner('GET', `${base()}?state=inactive`);
      expect(inactive.body.map((x: any) => x.id)).toEqual([created.body.id]);
      expect(inactive.body[0]).toMatchObject({ revoked: true, active: false });
      expect((await asOwner('GET', `${base()}?state=bogus`)).body).toEqual({ error: 'state does not have a valid value' });
    });

    it('keeps tokens of other resources apart: 404 with GitLab’s body', async () => {
      const other = kind === 'project' ? `/api/v4/projects/${w.otherProject.id}/access_tokens` : `/api/v4/groups/${w.top.id}/access_tokens`;
      const created = await t.request('POST', other, { token: w.adminToken, body: { name: 'elsewhere', scopes: ['read_api'], expires_at: '2027-01-01' } });
      expect(created.status).toBe(201);
      for (const [method, url] of [['GET', `${base()}/${created.body.id}`], ['DELETE', `${base()}/${created.body.id}`]] as const) {
        const res = await t.request(method, url, { token: w.adminToken });
        expect(res.status).toBe(404);
        // lib/api/resource_access_tokens.rb: not_found!("Could not find #{source_type} access token with token_id: …").
        expect(res.body).toEqual({ message: `404 Could not find ${kind} access token with token_id: ${created.body.id} Not Found` });
      }
      const rotate = await t.request('POST', `${base()}/${created.body.id}/rotate`, { token: w.adminToken });
      expect(rotate.status).toBe(404);
      expect(rotate.body).toEqual({ message: '404 Not Found' });
      const rotateOwner = await asOwner('POST', `${base()}/999999/rotate`);
      expect(rotateOwner.status).toBe(401);
      expect(rotateOwner.body).toEqual({ message: '401 Unauthorized' });
    });

    it('refuses bad input with GitLab’s answers and writes nothing', async () => {
      const before = await tableCounts(t);
      const cases: Array<[unknown, number, unknown]> = [
        [{ scopes: ['api'] }, 400, { error: 'name is missing' }],
        [{ name: 'x' }, 400, { error: 'scopes is missing' }],
        [{ name: 'x', scopes: ['read_user'] }, 400, { error: 'scopes does not have a valid value' }],
        [{ name: 'x', scopes: ['sudo'] }, 400, { error: 'scopes does not have a valid value' }],
        [{ name: 'x', scopes: [] }, 400, { message: "400 Bad request - Scopes can't be blank" }],
        [{ name: '   ', scopes: ['api'] }, 400, { message: "400 Bad request - Name can't be blank" }],
        [{ name: { a: 1 }, scopes: ['api'] }, 400, { error: 'name is invalid' }],
        [{ name: 'x', scopes: ['api'], access_level: 35 }, 400, { error: 'access_level does not have a valid value' }],
        [{ name: 'x', scopes: ['api'], access_level: 'high' }, 400, { error: 'access_level is invalid' }],
        [{ name: 'x', scopes: ['api'], expires_at: 'tomorrow' }, 400, { error: 'expires_at is invalid' }],
        [{ name: 'x', scopes: ['api'], expires_at: '2026-11-23' }, 400, { message: '400 Bad request - Expires at must be a date in the future' }],
        [{ name: 'x', scopes: ['api'], expires_at: '2028-01-01' }, 400, { message: expect.stringMatching(/^400 Bad request - Expires at must be before 2027-11-24/) }],
        [{ name: 'x'.repeat(256), scopes: ['api'] }, 400, { message: '400 Bad request - Name is too long (maximum is 255 characters)' }],
        [{ name: 'x\u0000', scopes: ['api'] }, 400, { message: '400 Bad request - Name cannot contain control characters' }],
      ];
      for (const [body, status, answer] of cases) {
        const res = await asOwner('POST', base(), body);
        expect({ body, status: res.status, answer: res.body }).toEqual({ body, status, answer });
      }
      const noBody = await t.request('POST', base(), { token: w.users.owner.token });
      expect(noBody.status).toBe(400);
      expect(noBody.body).toEqual({ error: 'name is missing' });
      const badJson = await t.request('POST', base(), { token: w.users.owner.token, rawBody: '{"name":', headers: { 'content-type': 'application/json' } });
      expect(badJson.status).toBe(400);
      expect(await tableCounts(t)).toEqual(before);
    });

    it('never leaves a bot or membership behind when the token insert fails', async () => {
      const before = await tableCounts(t);
      const tokens = t.app.store.tokens;
      const original = tokens.insert;
      // Fail the last write of the transaction: the bot user and membership must roll back with it.
      const spy = t.app.store.transaction;
      (t.app.store as any).transaction = (fn: any) =>
        spy((ports: any) => fn({ ...ports, tokens: { ...ports.tokens, insert: async () => Promise.reject(new Error('disk full')) } }));
      try {
        const res = await asOwner('POST', base(), { name: 'doomed', scopes: ['api'], expires_at: '2027-01-01' });
        expect(res.status).toBe(500);
        expect(res.body).toEqual({ message: '500 Internal Server Error' });
      } finally {
        (t.app.store as any).transaction = spy;
        tokens.insert = original;
      }
      expect(await tableCounts(t)).toEqual(before);
    });
  });

  describe('access levels', () => {
    it('nobody creates a token above their own level; Owner-level tokens only by Owners', async () => {
      const maintainerOwnerLevel = await t.request('POST', projectBase(), { token: w.users.maintainer.token, body: { name: 'x', scopes: ['api'], access_level: 50 } });
      expect(maintainerOwnerLevel.status).toBe(400);
      expect(maintainerOwnerLevel.body).toEqual({ message: '400 Bad request - Access level of the token contains permissions not held by the creating user' });
      const maintainerOk = await t.request('POST', projectBase(), { token: w.users.maintainer.token, body: { name: 'x', scopes: ['api'], access_level: 40 } });
      expect(maintainerOk.status).toBe(201);
      const ownerOwnerLevel = await asOwner('POST', projectBase(), { name: 'x', scopes: ['api'], access_level: 50 });
      expect(ownerOwnerLevel.status).toBe(201);
      expect(ownerOwnerLevel.body.access_level).toBe(50);
    });

    it('a Maintainer cannot rotate an Owner-level token (GitLab: not eligible)', async () => {
      const owners = await asOwner('POST', projectBase(), { name: 'owner-level', scopes: ['api'], access_level: 50 });
      const res = await t.request('POST', `${projectBase()}/${owners.body.id}/rotate`, { token: w.users.maintainer.token });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ message: '400 Bad request - Not eligible to rotate tokens with permissions not held by the user' });
    });

    it('a Maintainer cannot revoke an Owner-level token either; nothing changes; an Owner can (@see issue 12 item 9)', async () => {
      const owners = await asOwner('POST', projectBase(), { name: 'owner-level-keep', scopes: ['api'], access_level: 50 });
      const before = await tableCounts(t);
      const res = await t.request('DELETE', `${projectBase()}/${owners.body.id}`, { token: w.users.maintainer.token });
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(/^400 Bad request - maintainer user cannot delete /);
      expect(await tableCounts(t)).toEqual(before);
      expect((await t.request('GET', '/api/v4/user', { token: owners.body.token })).status).toBe(200);
      expect((await asOwner('GET', `${projectBase()}/${owners.body.id}`)).body).toMatchObject({ revoked: false, active: true });
      // At or below their own level a Maintainer still may.
      const maintainers = await asOwner('POST', projectBase(), { name: 'maintainer-level', scopes: ['api'], access_level: 40 });
      expect((await t.request('DELETE', `${projectBase()}/${maintainers.body.id}`, { token: w.users.maintainer.token })).status).toBe(204);
      expect((await asOwner('DELETE', `${projectBase()}/${owners.body.id}`)).status).toBe(204);
      expect((await t.request('GET', '/api/v4/user', { token: owners.body.token })).status).toBe(401);
    });
  });

  describe('the bot authenticates as itself, limited by its membership and scopes', () => {
    async function tokenFor(base: string, body: Record<string, unknown>): Promise<{ secret: string; userId: number; id: number }> {
      const res = await t.request('POST', base, { token: w.adminToken, body: { expires_at: '2027-06-01', ...body } });
      expect(res.status).toBe(201);
      return { secret: res.body.token, userId: res.body.user_id, id: res.body.id };
    }

    it('GET /user answers the bot', async () => {
      const { secret, userId } = await tokenFor(projectBase(), { name: 'who', scopes: ['read_api'], access_level: 30 });
      const me = await t.request('GET', '/api/v4/user', { token: secret });
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ id: userId, bot: true, name: 'who' });
      const bearer = await t.request('GET', '/api/v4/user', { headers: { authorization: `Bearer ${secret}` } });
      expect(bearer.body.id).toBe(userId);
    });

    it('a Maintainer-level project bot with api manages deploy tokens; a Developer-level one may not; read_api cannot write', async () => {
      const maintainer = await tokenFor(projectBase(), { name: 'm', scopes: ['api'], access_level: 40 });
      const developer = await tokenFor(projectBase(), { name: 'd', scopes: ['api'], access_level: 30 });
      const readOnly = await tokenFor(projectBase(), { name: 'r', scopes: ['read_api'], access_level: 40 });
      const url = `/api/v4/projects/${w.project.id}/deploy_tokens`;
      const body = { name: 'from-bot', scopes: ['read_repository'] };
      expect((await t.request('POST', url, { token: maintainer.secret, body })).status).toBe(201);
      const dev = await t.request('POST', url, { token: developer.secret, body });
      expect(dev.status).toBe(403);
      expect(dev.body).toEqual({ message: '403 Forbidden' });
      const ro = await t.request('POST', url, { token: readOnly.secret, body });
      expect(ro.status).toBe(403);
      expect(ro.body).toMatchObject({ error: 'insufficient_scope', scope: 'api' });
      expect((await t.request('GET', url, { token: readOnly.secret })).status).toBe(200);
      expect((await t.request('GET', `/api/v4/projects/${w.project.id}`, { token: developer.secret })).status).toBe(200);
    });

    it('a project bot sees nothing outside its project; a group bot acts in the group tree', async () => {
      const projectBot = await tokenFor(projectBase(), { name: 'p', scopes: ['api'], access_level: 50 });
      expect((await t.request('GET', `/api/v4/projects/${w.otherProject.id}`, { token: projectBot.secret })).status).toBe(404);
      expect((await t.request('GET', `/api/v4/groups/${w.sub.id}`, { token: projectBot.secret })).status).toBe(404);
      const groupBot = await tokenFor(groupBase(), { name: 'g', scopes: ['api'], access_level: 30 });
      const created = await t.request('POST', '/api/v4/projects', { token: groupBot.secret, body: { name: 'made-by-bot', namespace_id: w.sub.id } });
      expect(created.status).toBe(201);
      expect((await t.request('GET', `/api/v4/projects/${w.project.id}`, { token: groupBot.secret })).status).toBe(200);
      expect((await t.request('GET', `/api/v4/projects/${w.otherProject.id}`, { token: groupBot.secret })).status).toBe(404);
    });

    it('bots never create access tokens (GitLab: bots cannot), whatever their level', async () => {
      const bot = await tokenFor(projectBase(), { name: 'b', scopes: ['api'], access_level: 50 });
      const res = await t.request('POST', projectBase(), { token: bot.secret, body: { name: 'child', scopes: ['api'] } });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ message: '400 Bad request - User does not have permission to create project access token' });
    });

    it('revoking stops the secret at once and blocks the bot', async () => {
      const { secret, id, userId } = await tokenFor(projectBase(), { name: 'short-lived', scopes: ['api'], access_level: 30 });
      expect((await t.request('GET', '/api/v4/user', { token: secret })).status).toBe(200);
      expect((await asOwner('DELETE', `${projectBase()}/${id}`)).status).toBe(204);
      const after = await t.request('GET', '/api/v4/user', { token: secret });
      expect(after.status).toBe(401);
      expect(after.body).toMatchObject({ error: 'invalid_token' });
      expect((await t.app.store.namespaces.findUserById(userId))!.state).toBe('blocked');
      expect((await asOwner('GET', `${projectBase()}/${id}`)).body).toMatchObject({ revoked: true, active: false });
    });

    it('an expired token stops at 00:00 UTC of its date', async () => {
      const { secret } = await tokenFor(projectBase(), { name: 'soon', scopes: ['read_api'], expires_at: '2026-11-25' });
      expect((await t.request('GET', '/api/v4/user', { token: secret })).status).toBe(200);
      t.clock.set('2026-11-25T00:00:00.000Z');
      try {
        const res = await t.request('GET', '/api/v4/user', { token: secret });
        expect(res.status).toBe(401);
        expect(res.body).toMatchObject({ error: 'invalid_token' });
      } finally {
        t.clock.set('2026-11-23T10:00:00.000Z');
      }
    });
  });

  describe('rotation', () => {
    async function create(name: string) {
      const res = await asOwner('POST', projectBase(), { name, scopes: ['api'], access_level: 30, expires_at: '2027-06-01', description: 'd' });
      expect(res.status).toBe(201);
      return res.body;
    }

    it('without grace: a new token and secret for the same bot; the old secret stops at once', async () => {
      const old = await create('rotate-now');
      const res = await asOwner('POST', `${projectBase()}/${old.id}/rotate`, { expires_at: '2027-03-01' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ name: 'rotate-now', description: 'd', scopes: ['api'], access_level: 30, user_id: old.user_id, expires_at: '2027-03-01', active: true, revoked: false });
      expect(res.body.id).not.toBe(old.id);
      expect(res.body.token).not.toBe(old.token);
      expect((await t.request('GET', '/api/v4/user', { token: res.body.token })).body.id).toBe(old.user_id);
      expect((await asOwner('GET', `${projectBase()}/${old.id}`)).body).toMatchObject({ revoked: true, active: false });
      // The rotated-away secret on a plain request: refused, the new one unharmed.
      expect((await t.request('GET', '/api/v4/user', { token: old.token })).status).toBe(401);
      expect((await t.request('GET', '/api/v4/user', { token: res.body.token })).status).toBe(200);
      // Presented to a rotate endpoint it is reuse: the whole family is revoked.
      expect((await t.request('POST', `${projectBase()}/self/rotate`, { token: old.token })).status).toBe(401);
      expect((await t.request('GET', '/api/v4/user', { token: res.body.token })).status).toBe(401);
      expect((await asOwner('GET', `${projectBase()}/${res.body.id}`)).body).toMatchObject({ revoked: true, active: false });
    });

    it('defaults the new expiry to one week (GitLab)', async () => {
      const old = await create('rotate-default');
      const res = await asOwner('POST', `${projectBase()}/${old.id}/rotate`);
      expect(res.status).toBe(200);
      expect(res.body.expires_at).toBe('2026-11-30');
    });

    it('with grace_period: both secrets work until the grace ends, then only the new one', async () => {
      const old = await create('rotate-grace');
      const res = await asOwner('POST', `${projectBase()}/${old.id}/rotate`, { grace_period: '1h' });
      expect(res.status).toBe(200);
      const shownOld = await asOwner('GET', `${projectBase()}/${old.id}`);
      expect(shownOld.body).toMatchObject({ active: true, revoked: false, grace_until: '2026-11-23T11:00:00.000Z' });
      expect((await t.request('GET', '/api/v4/user', { token: old.token })).status).toBe(200);
      expect((await t.request('GET', '/api/v4/user', { token: res.body.token })).status).toBe(200);
      t.clock.advance(3600_000 + 1);
      try {
        expect((await t.request('GET', '/api/v4/user', { token: res.body.token })).status).toBe(200);
        expect((await asOwner('GET', `${projectBase()}/${old.id}`)).body).toMatchObject({ active: false, revoked: true });
        // The old secret after its grace: refused; only on a rotate endpoint is it reuse.
        expect((await t.request('GET', '/api/v4/user', { token: old.token })).status).toBe(401);
        expect((await t.request('GET', '/api/v4/user', { token: res.body.token })).status).toBe(200);
        expect((await t.request('POST', `${projectBase()}/self/rotate`, { token: old.token })).status).toBe(401);
        expect((await t.request('GET', '/api/v4/user', { token: res.body.token })).status).toBe(401);
      } finally {
        t.clock.set('2026-11-23T10:00:00.000Z');
      }
    });

    it('revoking the new token during the grace also stops the old secret (the bot is blocked)', async () => {
      const old = await create('grace-then-delete');
      const res = await asOwner('POST', `${projectBase()}/${old.id}/rotate`, { grace_period: 3600 });
      expect((await asOwner('DELETE', `${projectBase()}/${res.body.id}`)).status).toBe(204);
      expect((await t.request('GET', '/api/v4/user', { token: old.token })).status).toBe(401);
      expect((await t.request('GET', '/api/v4/user', { token: res.body.token })).status).toBe(401);
    });

    it('rotating a revoked token by id is refused, and revokes nothing (its secret was not presented)', async () => {
      const old = await create('rotate-twice');
      const first = await asOwner('POST', `${projectBase()}/${old.id}/rotate`);
      const again = await asOwner('POST', `${projectBase()}/${old.id}/rotate`);
      expect(again.status).toBe(400);
      expect(again.body.message).toMatch(/^400 Bad request - token already revoked$/i);
      expect((await t.request('GET', '/api/v4/user', { token: first.body.token })).status).toBe(200);
    });

    it('refuses a bad grace_period or expires_at and writes nothing', async () => {
      const old = await create('rotate-bad');
      const before = await tableCounts(t);
      expect((await asOwner('POST', `${projectBase()}/${old.id}/rotate`, { grace_period: 'soon' })).body).toEqual({ error: 'grace_period is invalid' });
      expect((await asOwner('POST', `${projectBase()}/${old.id}/rotate`, { grace_period: '400d' })).status).toBe(400);
      expect((await asOwner('POST', `${projectBase()}/${old.id}/rotate`, { expires_at: 'nope' })).body).toEqual({ error: 'expires_at is invalid' });
      expect((await asOwner('POST', `${projectBase()}/${old.id}/rotate`, { expires_at: '2030-01-01' })).status).toBe(400);
      expect(await tableCounts(t)).toEqual(before);
      expect((await t.request('GET', '/api/v4/user', { token: old.token })).status).toBe(200);
    });

    it('the verifier forgets a rotated secret at once, even when it was cached', async () => {
      const old = await create('cached');
      expect((await t.request('GET', '/api/v4/user', { token: old.token })).status).toBe(200);
      await asOwner('POST', `${projectBase()}/${old.id}/rotate`);
      expect((await t.request('GET', '/api/v4/user', { token: old.token })).status).toBe(401);
    });
  });

  it('rotation moves time forward without sleeping: a week later the default-expiry token is gone', async () => {
    const old = await asOwner('POST', groupBase(), { name: 'weekly', scopes: ['read_api'], expires_at: '2027-01-01' });
    const rotated = await asOwner('POST', `${groupBase()}/${old.body.id}/rotate`);
    expect(rotated.body.expires_at).toBe('2026-11-30');
    t.clock.set('2026-11-30T00:00:00.000Z');
    try {
      expect((await t.request('GET', '/api/v4/user', { token: rotated.body.token })).status).toBe(401);
    } finally {
      t.clock.set('2026-11-23T10:00:00.000Z');
    }
    void DAY;
  });
});
