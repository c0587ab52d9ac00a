/**
 * Group service accounts (GitLab's service_accounts.md, group part): created, listed and deleted by
 * Owners of a top-level group (and admins); their personal access tokens created, listed, revoked and
 * rotated by the same people; the account acts with the memberships it is given, like a human.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, tableCounts, type TestApp, type World } from '../../support/test-app.js';

describe.each(DIALECTS)('group service accounts on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  /** Owner of the top-level group acme. */
  let topOwner: string;

  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
    const user = await t.app.services.namespaces.createUser(w.admin, { username: 'acme-owner', name: 'Acme owner', email: 'acme-owner@example.com' });
    await t.app.services.namespaces.addMember(w.admin, { type: 'group', group: w.top }, { userId: user.id, accessLevel: 50, expiresAt: null });
    topOwner = (await t.app.services.personalTokens.createFor(user, { name: 't', scopes: ['api'], expiresAt: '2027-06-01' }, null)).secret;
  });
  afterAll(() => t?.close());

  const base = () => `/api/v4/groups/${w.top.id}/service_accounts`;
  const asOwner = (method: string, url: string, body?: unknown) => t.request(method, url, { token: topOwner, body });

  async function newAccount(body: Record<string, unknown> = {}) {
    const res = await asOwner('POST', base(), body);
    expect(res.status).toBe(201);
    return res.body as { id: number; username: string; name: string; email: string };
  }

  it('creates a service account with GitLab’s defaults', async () => {
    const account = await newAccount();
    expect(account).toEqual({
      id: expect.any(Number),
      username: expect.stringMatching(new RegExp(`^service_account_group_${w.top.id}_[0-9a-f]{32}$`)),
      name: 'Service account user',
      email: expect.stringMatching(/@noreply\.localhost$/),
      external: true,
    });
    expect(account.email).toBe(`${account.username}@noreply.localhost`);
    const user = await t.app.store.namespaces.findUserById(account.id);
    expect(user).toMatchObject({ botKind: 'service_account', isAdmin: false, state: 'active' });
  });

  it('takes name, username and email; a taken username is 400', async () => {
    const account = await newAccount({ name: 'Deployer', username: 'deployer-sa', email: 'deployer@example.com' });
    expect(account).toMatchObject({ name: 'Deployer', username: 'deployer-sa', email: 'deployer@example.com' });
    const before = await tableCounts(t);
    const taken = await asOwner('POST', base(), { username: 'deployer-sa' });
    expect(taken.status).toBe(400);
    expect(taken.body).toEqual({ message: '400 Bad request - Username has already been taken' });
    const bad = await asOwner('POST', base(), { username: 'no spaces' });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/^400 Bad request - Username can contain only/);
    expect((await asOwner('POST', base(), { email: 'not-an-email' })).body).toEqual({ message: '400 Bad request - Email is invalid' });
    expect((await asOwner('POST', base(), { name: ['x'] })).status).toBe(400);
    expect(await tableCounts(t)).toEqual(before);
  });

  it('PATCH changes name, username and email with the rules of creation; tokens keep working', async () => {
    const account = await newAccount({ name: 'Builder', username: 'builder-sa', email: 'builder@example.com' });
    const url = `${base()}/${account.id}`;
    const token = await asOwner('POST', `${url}/personal_access_tokens`, { name: 'ci', scopes: ['read_api'], expires_at: '2027-01-01' });
    expect(token.status).toBe(201);
    const renamed = await asOwner('PATCH', url, { name: 'Release bot', username: 'release-bot' });
    expect([renamed.status, renamed.body]).toEqual([200, { id: account.id, name: 'Release bot', username: 'release-bot', email: 'builder@example.com', external: true }]);
    // Its own current values are not "taken"; the token authenticates as the renamed account.
    expect((await asOwner('PATCH', url, { username: 'RELEASE-BOT', email: 'builder@example.com' })).body).toMatchObject({ username: 'RELEASE-BOT' });
    expect((await t.request('GET', '/api/v4/user', { token: token.body.token })).body).toMatchObject({ id: account.id, username: 'RELEASE-BOT', name: 'Release bot' });
    expect((await asOwner('PATCH', url, { email: 'release@example.com' })).body.email).toBe('release@example.com');
    // Nothing to change is no error: GitLab answers the account as it is.
    expect([(await asOwner('PATCH', url, {})).body, (await asOwner('PATCH', url)).status]).toEqual([{ id: account.id, name: 'Release bot', username: 'RELEASE-BOT', email: 'release@example.com', external: true }, 200]);

    const before = await tableCounts(t);
    const cases: [unknown, number, unknown][] = [
      [{ username: 'deployer-sa' }, 400, { message: '400 Bad request - Username has already been taken' }],
      [{ email: 'owner@example.com' }, 400, { message: '400 Bad request - Email has already been taken' }],
      [{ username: 'no spaces' }, 400, { message: expect.stringMatching(/^400 Bad request - Username can contain only/) }],
      [{ email: 'nope' }, 400, { message: '400 Bad request - Email is invalid' }],
      [{ name: '' }, 400, { message: expect.stringMatching(/^400 Bad request - Name /) }],
      [{ name: { a: 1 } }, 400, { error: 'name is invalid' }],
    ];
    for (const [body, status, expected] of cases) {
      const res = await asOwner('PATCH', url, body);
      expect([res.status, res.body], JSON.stringify(body)).toEqual([status, expected]);
    }
    expect(await tableCounts(t)).toEqual(before);
    expect((await t.app.store.namespaces.findUserById(account.id))).toMatchObject({ username: 'RELEASE-BOT', email: 'release@example.com' });

    // Owners of the group and admins only; not another group's account, not a human user.
    expect((await t.request('PATCH', url, { token: w.users.maintainer.token, body: { name: 'x' } })).status).toBe(404);
    expect((await t.request('PATCH', `/api/v4/groups/${w.top.id}/service_accounts/${w.users.guest.user.id}`, { token: w.adminToken, body: { name: 'x' } })).status).toBe(404);
    expect((await t.request('PATCH', url, { body: { name: 'x' } })).status).toBe(401);
    expect((await t.request('PATCH', url, { token: w.adminToken, body: { name: 'By admin' } })).body.name).toBe('By admin');
  });

  it('only on top-level groups', async () => {
    const res = await t.request('POST', `/api/v4/groups/${w.sub.id}/service_accounts`, { token: w.adminToken, body: {} });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ message: '400 Bad request - User does not have permission to create a service account in this namespace.' });
  });

  it('lists the group’s accounts, newest first by default, with order_by and pagination', async () => {
    const a = await newAccount({ username: 'aaa-sa' });
    const z = await newAccount({ username: 'zzz-sa' });
    const res = await asOwner('GET', `${base()}?per_page=100`);
    expect(res.status).toBe(200);
    const ids = res.body.map((x: any) => x.id);
    expect(ids).toEqual([...ids].sort((p: number, q: number) => q - p));
    expect(ids).toEqual(expect.arrayContaining([a.id, z.id]));
    expect(res.headers['x-total']).toBe(String(res.body.length));
    const byName = await asOwner('GET', `${base()}?order_by=username&sort=asc&per_page=100`);
    const names = byName.body.map((x: any) => x.username);
    expect(names.indexOf('aaa-sa')).toBeLessThan(names.indexOf('zzz-sa'));
    expect((await asOwner('GET', `${base()}?order_by=email`)).body).toEqual({ error: 'order_by does not have a valid value' });
    // Nothing leaks into other groups' lists.
    expect((await t.request('GET', `/api/v4/groups/${w.sub.id}/service_accounts`, { token: w.adminToken })).body).toEqual([]);
  });

  it('permissions: Owners of the group and admins; 403 for other members, 404 for outsiders, 401 without a credential', async () => {
    expect((await t.request('GET', base(), { token: w.adminToken })).status).toBe(200);
    // The seeded members belong to the sub-group: the top group is not visible to them.
    expect((await t.request('GET', base(), { token: w.users.owner.token })).status).toBe(404);
    const maintainer = await t.app.services.namespaces.createUser(w.admin, { username: 'acme-maint', name: 'Acme maintainer', email: 'acme-maint@example.com' });
    await t.app.services.namespaces.addMember(w.admin, { type: 'group', group: w.top }, { userId: maintainer.id, accessLevel: 40, expiresAt: null });
    const token = (await t.app.services.personalTokens.createFor(maintainer, { name: 't', scopes: ['api'], expiresAt: '2027-01-01' }, null)).secret;
    const account = await newAccount();
    const before = await tableCounts(t);
    for (const [method, url, body] of [
      ['GET', base(), undefined],
      ['POST', base(), {}],
      ['DELETE', `${base()}/${account.id}`, undefined],
      ['GET', `${base()}/${account.id}/personal_access_tokens`, undefined],
      ['POST', `${base()}/${account.id}/personal_access_tokens`, { name: 'x', scopes: ['api'] }],
    ] as const) {
      const res = await t.request(method, url, { token, body });
      expect({ url, method, status: res.status, body: res.body }).toEqual({ url, method, status: 403, body: { message: '403 Forbidden' } });
      expect((await t.request(method, url, { token: null, body })).status).toBe(401);
      expect((await t.request(method, url, { token: w.users.outsider.token, body })).status).toBe(404);
    }
    expect(await tableCounts(t)).toEqual(before);
  });

  describe('tokens of a service account', () => {
    it('creates, lists, authenticates as the account with its memberships, revokes at once', async () => {
      const account = await newAccount();
      const tokens = `${base()}/${account.id}/personal_access_tokens`;
      const created = await asOwner('POST', tokens, { name: 'sa-token', scopes: ['api'], expires_at: '2027-01-01' });
      expect(created.status).toBe(201);
      expect(created.body).toEqual({
        id: expect.any(Number),
        name: 'sa-token',
        revoked: false,
        created_at: '2026-11-23T10:00:00.000Z',
        description: null,
        scopes: ['api'],
        user_id: account.id,
        last_used_at: null,
        active: true,
        expires_at: '2027-01-01',
        grace_until: null,
        last_used_ips: [],
        reuse_flagged: false,
        reuse_flagged_at: null,
        token: expect.stringMatching(/^glpat-/),
      });
      const secret = created.body.token;
      expect((await t.request('GET', '/api/v4/user', { token: secret })).body).toMatchObject({ id: account.id, bot: true });
      // No membership yet: the project is invisible. Added as Maintainer of the project, it acts there.
      expect((await t.request('GET', `/api/v4/projects/${w.project.id}`, { token: secret })).status).toBe(404);
      const added = await t.request('POST', `/api/v4/projects/${w.project.id}/members`, { token: w.adminToken, body: { user_id: account.id, access_level: 40 } });
      expect(added.status).toBe(201);
      expect((await t.request('POST', `/api/v4/projects/${w.project.id}/deploy_tokens`, { token: secret, body: { name: 'by-sa', scopes: ['read_repository'] } })).status).toBe(201);

      // An impersonation token an admin made for the account is not one of its personal access tokens (GitLab's `impersonation: false`).
      const impersonation = await t.request('POST', `/api/v4/users/${account.id}/impersonation_tokens`, { token: w.adminToken, body: { name: 'imp', scopes: ['api'], expires_at: '2027-01-01' } });
      expect(impersonation.status).toBe(201);
      const list = await asOwner('GET', tokens);
      expect(list.status).toBe(200);
      expect(list.body.map((x: any) => x.id)).toEqual([created.body.id]);
      expect(list.body[0].token).toBeUndefined();

      expect((await asOwner('DELETE', `${tokens}/${created.body.id}`)).status).toBe(204);
      expect((await t.request('GET', '/api/v4/user', { token: secret })).status).toBe(401);
      expect((await asOwner('GET', `${tokens}?state=inactive`)).body.map((x: any) => x.id)).toEqual([created.body.id]);
      expect((await asOwner('GET', `${tokens}?state=active`)).body).toEqual([]);
      expect((await asOwner('DELETE', `${tokens}/${created.body.id}`)).status).toBe(400);
      expect((await asOwner('DELETE', `${tokens}/999999`)).body).toEqual({ message: '404 Personal Access Token Not Found' });
    });

    it('defaults expires_at to the maximum lifetime; refuses bad input and writes nothing', async () => {
      const account = await newAccount();
      const tokens = `${base()}/${account.id}/personal_access_tokens`;
      const res = await asOwner('POST', tokens, { name: 'default', scopes: 'read_user,read_api' });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ expires_at: '2027-11-23', scopes: ['read_api', 'read_user'] });
      const before = await tableCounts(t);
      expect((await asOwner('POST', tokens, { scopes: ['api'] })).body).toEqual({ error: 'name is missing' });
      expect((await asOwner('POST', tokens, { name: 'x', scopes: ['nope'] })).body).toEqual({ error: 'scopes does not have a valid value' });
      // Refused records: GitLab's `render_api_error!(response.message, :unprocessable_entity)`.
      for (const [body, message] of [
        [{ name: 'x', scopes: ['api'], expires_at: '2029-01-01' }, 'Expires at must be before 2027-11-24 (maximum lifetime 365 days)'],
        [{ name: 'x', scopes: [] }, "Scopes can't be blank"],
        [{ name: ' ', scopes: ['api'] }, "Name can't be blank"],
      ] as const) {
        const res = await asOwner('POST', tokens, body);
        expect([res.status, res.body]).toEqual([422, { message }]);
      }
      expect((await asOwner('POST', `${base()}/${w.users.guest.user.id}/personal_access_tokens`, { name: 'x', scopes: ['api'] })).body).toEqual({ message: '404 User Not Found' });
      expect(await tableCounts(t)).toEqual(before);
    });

    it('rotates: new secret at once by default, or after a grace period; tokens of other users are 404', async () => {
      const account = await newAccount();
      const tokens = `${base()}/${account.id}/personal_access_tokens`;
      const old = (await asOwner('POST', tokens, { name: 'rot', scopes: ['read_api'], expires_at: '2027-01-01' })).body;
      const rotated = await asOwner('POST', `${tokens}/${old.id}/rotate`);
      expect(rotated.status).toBe(200);
      expect(rotated.body).toMatchObject({ name: 'rot', user_id: account.id, expires_at: '2026-11-30', active: true });
      expect((await t.request('GET', '/api/v4/user', { token: rotated.body.token })).status).toBe(200);

      const graceful = await asOwner('POST', `${tokens}/${rotated.body.id}/rotate`, { grace_period: '2h', expires_at: '2027-02-01' });
      expect(graceful.status).toBe(200);
      expect((await t.request('GET', '/api/v4/user', { token: rotated.body.token })).status).toBe(200);
      expect((await t.request('GET', '/api/v4/user', { token: graceful.body.token })).status).toBe(200);
      t.clock.advance(2 * 3600_000);
      try {
        expect((await t.request('GET', '/api/v4/user', { token: graceful.body.token })).status).toBe(200);
      } finally {
        t.clock.set('2026-11-23T10:00:00.000Z');
      }

      const someoneElses = (await t.app.services.personalTokens.createFor(w.users.guest.user, { name: 'g', scopes: ['api'], expiresAt: '2027-01-01' }, null)).token;
      expect((await asOwner('POST', `${tokens}/${someoneElses.id}/rotate`)).body).toEqual({ message: '404 Not Found' });
      expect((await asOwner('DELETE', `${tokens}/${someoneElses.id}`)).status).toBe(404);
    });
  });

  it('deleting an account revokes its tokens and removes it from the list', async () => {
    const account = await newAccount();
    const secret = (await asOwner('POST', `${base()}/${account.id}/personal_access_tokens`, { name: 'x', scopes: ['api'], expires_at: '2027-01-01' })).body.token;
    expect((await t.request('GET', '/api/v4/user', { token: secret })).status).toBe(200);
    expect((await asOwner('DELETE', `${base()}/${account.id}?hard_delete=maybe`)).body).toEqual({ error: 'hard_delete is invalid' });
    expect((await t.request('GET', '/api/v4/user', { token: secret })).status).toBe(200);
    expect((await asOwner('DELETE', `${base()}/${account.id}?hard_delete=true`)).status).toBe(204);
    expect((await t.request('GET', '/api/v4/user', { token: secret })).status).toBe(401);
    expect((await asOwner('GET', `${base()}?per_page=100`)).body.map((x: any) => x.id)).not.toContain(account.id);
    expect((await asOwner('DELETE', `${base()}/${account.id}`)).body).toEqual({ message: '404 User Not Found' });
    // Human users are not service accounts of the group.
    expect((await asOwner('DELETE', `${base()}/${w.users.guest.user.id}`)).status).toBe(404);
  });

  describe('instance service accounts (admin only)', () => {
    const asAdmin = (method: string, url: string, body?: unknown) => t.request(method, url, { token: w.adminToken, body });

    it('POST /service_accounts: GitLab’s defaults, owned by no group; name, username and email with the rules of users', async () => {
      const res = await asAdmin('POST', '/api/v4/service_accounts');
      expect(res.status).toBe(201);
      expect(res.body).toEqual({ id: expect.any(Number), username: expect.stringMatching(/^service_account_[0-9a-f]{32}$/), name: 'Service account user', email: `${res.body.username}@noreply.localhost`, external: true });
      const row = await t.app.store.db.selectFrom('users').select(['bot_kind', 'provisioned_by_group_id', 'is_admin', 'state']).where('id', '=', res.body.id).executeTakeFirstOrThrow();
      expect({ ...row, is_admin: Boolean(row.is_admin) }).toEqual({ bot_kind: 'service_account', provisioned_by_group_id: null, is_admin: false, state: 'active' });

      const named = await asAdmin('POST', '/api/v4/service_accounts', { name: 'Backup robot', username: 'backup-robot', email: 'backup@example.com' });
      expect([named.status, named.body]).toEqual([201, { id: expect.any(Number), name: 'Backup robot', username: 'backup-robot', email: 'backup@example.com', external: true }]);
      const before = await tableCounts(t);
      expect((await asAdmin('POST', '/api/v4/service_accounts', { username: 'backup-robot' })).body).toEqual({ message: '400 Bad request - Username has already been taken' });
      expect((await asAdmin('POST', '/api/v4/service_accounts', { email: 'BACKUP@example.com' })).body).toEqual({ message: '400 Bad request - Email has already been taken' });
      expect((await asAdmin('POST', '/api/v4/service_accounts', { email: 'nope' })).body).toEqual({ message: '400 Bad request - Email is invalid' });
      expect((await asAdmin('POST', '/api/v4/service_accounts', { username: ['x'] })).body).toEqual({ error: 'username is invalid' });
      expect(await tableCounts(t)).toEqual(before);
    });

    it('everyone but admins: 403 before the input is read; no credential 401; nothing written', async () => {
      const account = (await asAdmin('POST', '/api/v4/service_accounts')).body;
      const before = await tableCounts(t);
      for (const [method, url, body] of [
        ['GET', '/api/v4/service_accounts?order_by=nope', undefined],
        ['POST', '/api/v4/service_accounts', { username: ['not', 'valid'] }],
        ['PATCH', `/api/v4/service_accounts/${account.id}`, { name: 'x' }],
      ] as const) {
        for (const token of [topOwner, w.users.owner.token]) {
          const res = await t.request(method, url, { token, body });
          expect({ method, url, status: res.status, body: res.body }).toEqual({ method, url, status: 403, body: { message: '403 Forbidden' } });
        }
        const anonymous = await t.request(method, url, { body });
        expect({ method, url, status: anonymous.status, body: anonymous.body }).toEqual({ method, url, status: 401, body: { message: '401 Unauthorized' } });
      }
      expect(await tableCounts(t)).toEqual(before);
    });

    it('GET /service_accounts: every active service account, group ones too, newest first; order_by, sort, pagination', async () => {
      const a = (await asAdmin('POST', '/api/v4/service_accounts', { username: 'aaa-instance-sa' })).body;
      const groupOne = await newAccount({ username: 'mmm-group-sa' });
      const gone = await newAccount({ username: 'deleted-group-sa' });
      expect((await asOwner('DELETE', `${base()}/${gone.id}`)).status).toBe(204);
      const all = await asAdmin('GET', '/api/v4/service_accounts?per_page=100');
      expect(all.status).toBe(200);
      const ids: number[] = all.body.map((x: { id: number }) => x.id);
      expect(ids).toEqual([...ids].sort((p, q) => q - p));
      expect(ids).toEqual(expect.arrayContaining([a.id, groupOne.id]));
      expect(ids).not.toContain(gone.id);
      expect(ids).not.toContain(w.users.guest.user.id);
      const serviceAccounts = await t.app.store.db.selectFrom('users').select((eb) => eb.fn.countAll().as('n')).where('bot_kind', '=', 'service_account').where('state', '=', 'active').executeTakeFirstOrThrow();
      expect(all.headers['x-total']).toBe(String(serviceAccounts.n));
      expect(all.body.find((x: { id: number }) => x.id === groupOne.id)).toEqual(groupOne);

      const byName = (await asAdmin('GET', '/api/v4/service_accounts?order_by=username&sort=asc&per_page=100')).body.map((x: { username: string }) => x.username);
      expect(byName).toEqual([...byName].sort((p: string, q: string) => p.toLowerCase().localeCompare(q.toLowerCase())));
      expect(byName.indexOf('aaa-instance-sa')).toBeLessThan(byName.indexOf('mmm-group-sa'));
      const second = await asAdmin('GET', '/api/v4/service_accounts?order_by=id&sort=asc&per_page=1&page=2');
      expect([second.body.map((x: { id: number }) => x.id), second.headers['x-page']]).toEqual([[[...ids].reverse()[1]], '2']);
      expect((await asAdmin('GET', '/api/v4/service_accounts?order_by=email')).body).toEqual({ error: 'order_by does not have a valid value' });
      expect((await asAdmin('GET', '/api/v4/service_accounts?sort=up')).body).toEqual({ error: 'sort does not have a valid value' });
    });

    it('PATCH /service_accounts/:user_id: any service account; a human is 400, an unknown id 404', async () => {
      const account = (await asAdmin('POST', '/api/v4/service_accounts', { username: 'patch-me' })).body;
      const url = `/api/v4/service_accounts/${account.id}`;
      expect((await asAdmin('PATCH', url, { name: 'Patched', email: 'patched@example.com' })).body).toEqual({ id: account.id, username: 'patch-me', name: 'Patched', email: 'patched@example.com', external: true });
      expect((await asAdmin('PATCH', url, {})).body).toEqual({ id: account.id, username: 'patch-me', name: 'Patched', email: 'patched@example.com', external: true });
      const groupOne = await newAccount();
      expect((await asAdmin('PATCH', `/api/v4/service_accounts/${groupOne.id}`, { username: 'renamed-by-admin' })).body).toMatchObject({ id: groupOne.id, username: 'renamed-by-admin' });
      const before = await tableCounts(t);
      const cases: [string, unknown, number, unknown][] = [
        [url, { username: 'renamed-by-admin' }, 400, { message: '400 Bad request - Username has already been taken' }],
        [url, { email: 'bad' }, 400, { message: '400 Bad request - Email is invalid' }],
        [url, { name: { x: 1 } }, 400, { error: 'name is invalid' }],
        [`/api/v4/service_accounts/${w.users.guest.user.id}`, { name: 'x' }, 400, { message: 'User is not a service account' }],
        ['/api/v4/service_accounts/999999', { name: 'x' }, 404, { message: '404 Not found' }],
        ['/api/v4/service_accounts/0', { name: 'x' }, 400, { error: 'user_id does not have a valid value' }],
      ];
      for (const [target, body, status, expected] of cases) {
        const res = await asAdmin('PATCH', target, body);
        expect([target, res.status, res.body]).toEqual([target, status, expected]);
      }
      expect(await tableCounts(t)).toEqual(before);
      expect(await t.app.store.namespaces.findUserById(w.users.guest.user.id)).toMatchObject({ name: 'guest user' });
    });

    it('its tokens are personal access tokens the admin manages; the account acts with its memberships; blocking it stops them', async () => {
      const account = (await asAdmin('POST', '/api/v4/service_accounts', { username: 'instance-deployer' })).body;
      const created = await asAdmin('POST', `/api/v4/users/${account.id}/personal_access_tokens`, { name: 'deploy', scopes: ['api'], expires_at: '2027-01-01' });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ user_id: account.id, name: 'deploy', scopes: ['api'], active: true, token: expect.stringMatching(/^glpat-/) });
      const secret = created.body.token;
      expect((await t.request('GET', '/api/v4/user', { token: secret })).body).toMatchObject({ id: account.id, username: 'instance-deployer', bot: true });
      expect((await t.request('GET', `/api/v4/projects/${w.project.id}`, { token: secret })).status).toBe(404);
      expect((await asAdmin('POST', `/api/v4/projects/${w.project.id}/members`, { user_id: account.id, access_level: 30 })).status).toBe(201);
      expect((await t.request('GET', `/api/v4/projects/${w.project.id}`, { token: secret })).status).toBe(200);
      expect((await asAdmin('GET', `/api/v4/personal_access_tokens?user_id=${account.id}`)).body.map((x: { id: number }) => x.id)).toEqual([created.body.id]);
      expect((await asAdmin('POST', '/api/v4/admin/token', { token: secret })).body).toMatchObject({ kind: 'service_account', user_id: account.id });

      const rotated = await asAdmin('POST', `/api/v4/personal_access_tokens/${created.body.id}/rotate`);
      expect(rotated.status).toBe(200);
      expect((await t.request('GET', '/api/v4/user', { token: rotated.body.token })).status).toBe(200);
      expect((await asAdmin('POST', `/api/v4/users/${account.id}/block`)).status).toBe(201);
      t.clock.advance(2000); // past the verifier's cache
      try {
        expect((await t.request('GET', '/api/v4/user', { token: rotated.body.token })).status).toBe(403);
      } finally {
        t.clock.set('2026-11-23T10:00:00.000Z');
      }
      expect((await asAdmin('GET', '/api/v4/service_accounts?per_page=100')).body.map((x: { id: number }) => x.id)).not.toContain(account.id);
    });
  });
});
