/**
 * @gitbeaker/rest, a real GitLab client, against the real service process on each store: personal
 * access tokens (Users.createPersonalAccessToken, PersonalAccessTokens.create/all/show/rotate/remove,
 * `self`), project and group access tokens (ProjectAccessTokens / GroupAccessTokens create/all/show/
 * rotate/revoke). Every secret a call hands out is then used for real: it authenticates GET /user (as
 * the token's bot user for resource tokens), a revoked or rotated-away one gets 401, the rotated-in one
 * works. GitLab's doc/api/{personal,project,group}_access_tokens.md and users.md are the contract.
 */
import { Gitlab } from '@gitbeaker/rest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../support/dialects.js';
import { refusal } from '../support/gitbeaker.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

/** A date `days` from today (UTC), as GitLab's expires_at takes it. */
function inDays(days: number): string {
  return new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
}

describe.each(DIALECTS)('gitbeaker access tokens against `latchkey serve` on %s', (dialect) => {
  let server: ServerProcess;
  let api: Gitlab;
  let alice: { id: number; username: string };
  let group: { id: number; full_path: string };
  let project: { id: number; path_with_namespace: string };
  const expiresAt = inDays(30);

  /** GET /api/v4/user with this secret in PRIVATE-TOKEN: who it authenticates, or how it is refused. */
  async function whoami(secret: string): Promise<{ status: number; body: any }> {
    const res = await fetch(`${server.apiUrl}/user`, { headers: { 'private-token': secret } });
    return { status: res.status, body: await res.json() };
  }

  async function expectRefused(secret: string) {
    const seen = await whoami(secret);
    expect(seen.status).toBe(401);
    // GitLab's shape for a revoked or rotated-away token; nothing about the secret in it.
    expect(seen.body).toMatchObject({ error: 'invalid_token' });
    expect(JSON.stringify(seen.body)).not.toContain(secret);
  }

  beforeAll(async () => {
    server = await startServer({ dialect });
    api = new Gitlab({ host: server.url, token: server.adminToken });
    alice = await api.Users.create({ username: 'alice', name: 'Alice', email: 'alice@example.com' });
    const top = await api.Groups.create('Acme', 'acme');
    group = await api.Groups.create('Platform', 'platform', { parentId: top.id });
    project = await api.Projects.create({ name: 'Web', path: 'web', namespaceId: group.id });
  });
  afterAll(async () => {
    await server?.stop();
  });

  describe('personal access tokens', () => {
    it('Users.createPersonalAccessToken: a glpat- secret that authenticates as the user', async () => {
      const created = await api.Users.createPersonalAccessToken(alice.id, 'laptop', ['read_user'], { expiresAt });
      expect(created).toMatchObject({ name: 'laptop', user_id: alice.id, scopes: ['read_user'], revoked: false, active: true });
      expect(created.expires_at).toMatch(new RegExp(`^${expiresAt}`));
      expect(created.token).toMatch(/^glpat-[A-Za-z0-9_-]{20,}$/);
      expect(await whoami(created.token)).toMatchObject({ status: 200, body: { id: alice.id, username: 'alice' } });
    });

    it('PersonalAccessTokens.create/all/show: listed and shown without the secret', async () => {
      const created = await api.PersonalAccessTokens.create(alice.id, 'scripts', ['read_api'], { expiresAt });
      expect(created.token).toMatch(/^glpat-/);

      const listed = await api.PersonalAccessTokens.all({ userId: alice.id });
      const entry = listed.find((t) => t.id === created.id);
      expect(entry).toMatchObject({ name: 'scripts', user_id: alice.id, scopes: ['read_api'], active: true, revoked: false });
      expect(entry).not.toHaveProperty('token');
      // user_id filters: the admin's own bootstrap token is not in alice's list.
      for (const t of listed) expect(t.user_id).toBe(alice.id);

      const shown = await api.PersonalAccessTokens.show({ tokenId: created.id });
      expect(shown).toMatchObject({ id: created.id, name: 'scripts', user_id: alice.id, active: true });
      expect(shown).not.toHaveProperty('token');
    });

    it('PersonalAccessTokens.show() without an id is the calling token (`self`)', async () => {
      const created = await api.Users.createPersonalAccessToken(alice.id, 'self-look', ['api'], { expiresAt });
      const asAlice = new Gitlab({ host: server.url, token: created.token });
      const self = await asAlice.PersonalAccessTokens.show();
      expect(self).toMatchObject({ id: created.id, name: 'self-look', user_id: alice.id, active: true });
    });

    it('PersonalAccessTokens.rotate: new secret works, the old one is refused at once', async () => {
      const created = await api.Users.createPersonalAccessToken(alice.id, 'to-rotate', ['read_user'], { expiresAt });
      const rotated = await api.PersonalAccessTokens.rotate(created.id, { expiresAt: inDays(60) });
      expect(rotated).toMatchObject({ name: 'to-rotate', user_id: alice.id, scopes: ['read_user'], active: true, revoked: false });
      expect(rotated.id).not.toBe(created.id);
      expect(rotated.expires_at).toMatch(new RegExp(`^${inDays(60)}`));
      expect(rotated.token).toMatch(/^glpat-/);
      expect(rotated.token).not.toBe(created.token);

      expect(await whoami(rotated.token)).toMatchObject({ status: 200, body: { id: alice.id } });
      await expectRefused(created.token);
      const old = await api.PersonalAccessTokens.show({ tokenId: created.id });
      expect(old).toMatchObject({ id: created.id, revoked: true, active: false });
      // Presented on a plain request the rotated-away secret is only refused (a stale consumer must
      // not take the new token down) ...
      expect(await whoami(rotated.token)).toMatchObject({ status: 200, body: { id: alice.id } });
      // ... but presented to a rotate endpoint it is reuse, as GitLab limits it: the family is revoked.
      const asOld = new Gitlab({ host: server.url, token: created.token });
      expect((await refusal(asOld.PersonalAccessTokens.rotate('self'))).status).toBe(401);
      await expectRefused(rotated.token);
      expect(await api.PersonalAccessTokens.show({ tokenId: rotated.id })).toMatchObject({ id: rotated.id, revoked: true, active: false });
    });

    it('rotate with grace_period (Latchkey extension): both secrets work until the grace ends', async () => {
      const created = await api.Users.createPersonalAccessToken(alice.id, 'graceful', ['read_user'], { expiresAt });
      // gitbeaker passes unknown options through as body fields.
      const rotated = await api.PersonalAccessTokens.rotate(created.id, { expiresAt, grace_period: 3600 } as { expiresAt: string });
      expect((await whoami(rotated.token)).status).toBe(200);
      expect((await whoami(created.token)).status).toBe(200);
      const old = await api.PersonalAccessTokens.show({ tokenId: created.id });
      expect(Date.parse(String(old.grace_until)) - Date.now()).toBeGreaterThan(3500_000);
      expect(Date.parse(String(old.grace_until)) - Date.now()).toBeLessThanOrEqual(3600_000);
    });

    it('PersonalAccessTokens.rotate("self"): a token rotates itself', async () => {
      const created = await api.Users.createPersonalAccessToken(alice.id, 'self-rotate', ['api'], { expiresAt });
      const asAlice = new Gitlab({ host: server.url, token: created.token });
      const rotated = await asAlice.PersonalAccessTokens.rotate('self');
      expect(rotated).toMatchObject({ name: 'self-rotate', user_id: alice.id, active: true });
      expect(rotated.token).not.toBe(created.token);
      expect(await whoami(rotated.token)).toMatchObject({ status: 200, body: { id: alice.id } });
      await expectRefused(created.token);
    });

    it('PersonalAccessTokens.remove: the admin revokes a token by id; its secret gets 401', async () => {
      const created = await api.Users.createPersonalAccessToken(alice.id, 'to-revoke', ['read_user'], { expiresAt });
      expect((await whoami(created.token)).status).toBe(200);
      await api.PersonalAccessTokens.remove({ tokenId: created.id });
      await expectRefused(created.token);
      expect(await api.PersonalAccessTokens.show({ tokenId: created.id })).toMatchObject({ id: created.id, revoked: true, active: false });
      const active = await api.PersonalAccessTokens.all({ userId: alice.id, state: 'active' });
      expect(active.map((t) => t.id)).not.toContain(created.id);
    });

    it('PersonalAccessTokens.remove() without an id revokes the calling token (`self`)', async () => {
      const created = await api.Users.createPersonalAccessToken(alice.id, 'self-revoke', ['api'], { expiresAt });
      await new Gitlab({ host: server.url, token: created.token }).PersonalAccessTokens.remove();
      await expectRefused(created.token);
    });

    it('PersonalAccessTokens.remove() (self) works with a token of any scope, e.g. read_user (GitLab 15.4+)', async () => {
      const created = await api.Users.createPersonalAccessToken(alice.id, 'narrow-self-revoke', ['read_user'], { expiresAt });
      await new Gitlab({ host: server.url, token: created.token }).PersonalAccessTokens.remove();
      await expectRefused(created.token);
    });

    it("PersonalAccessTokens.show/rotate of another user's token: 401 for a user; an unknown id is 404 only to an admin", async () => {
      const bobUser = await api.Users.create({ username: 'bob-gb', name: 'Bob', email: 'bob-gb@example.com' });
      const bob = new Gitlab({ host: server.url, token: (await api.Users.createPersonalAccessToken(bobUser.id, 'bob', ['api'], { expiresAt })).token });
      const alices = await api.Users.createPersonalAccessToken(alice.id, 'not-bobs', ['api'], { expiresAt });
      expect((await refusal(bob.PersonalAccessTokens.show({ tokenId: alices.id }))).status).toBe(401);
      expect((await refusal(bob.PersonalAccessTokens.rotate(alices.id))).status).toBe(401);
      expect((await refusal(bob.PersonalAccessTokens.show({ tokenId: 987_654 }))).status).toBe(401);
      expect((await refusal(api.PersonalAccessTokens.show({ tokenId: 987_654 }))).status).toBe(404);
      expect((await refusal(bob.PersonalAccessTokens.remove({ tokenId: alices.id }))).status).toBe(400);
      expect(await whoami(alices.token)).toMatchObject({ status: 200 });
    });

    it('PersonalAccessTokens.all: every documented filter and sort reaches the server', async () => {
      for (const name of ['gb-sort-b', 'gb-sort-a', 'gb-sort-c']) await api.Users.createPersonalAccessToken(alice.id, name, ['read_user'], { expiresAt });
      const names = async (options: Record<string, unknown>) => (await api.PersonalAccessTokens.all({ userId: alice.id, search: 'gb-sort', ...options })).map((t) => t.name);
      expect(await names({ sort: 'name_asc' })).toEqual(['gb-sort-a', 'gb-sort-b', 'gb-sort-c']);
      expect(await names({ sort: 'name_desc' })).toEqual(['gb-sort-c', 'gb-sort-b', 'gb-sort-a']);
      expect(await names({ sort: 'created_desc', state: 'active', revoked: false })).toHaveLength(3);
      expect(await names({ createdAfter: inDays(1) })).toEqual([]);
      expect(await names({ expiresBefore: inDays(1) } as Record<string, unknown>)).toEqual([]);
    });

    it('refuses a scope personal tokens do not have with 400, and an unknown user with 404', async () => {
      expect((await refusal(api.Users.createPersonalAccessToken(alice.id, 'bad', ['not_a_scope'], { expiresAt }))).status).toBe(400);
      expect((await refusal(api.Users.createPersonalAccessToken(999_999, 'ghost', ['read_user'], { expiresAt }))).status).toBe(404);
    });
  });

  describe.each([
    { kind: 'project', resource: () => project.id, byPath: () => project.path_with_namespace, client: (g: Gitlab) => g.ProjectAccessTokens },
    { kind: 'group', resource: () => group.id, byPath: () => group.full_path, client: (g: Gitlab) => g.GroupAccessTokens },
  ] as const)('$kind access tokens', ({ kind, resource, byPath, client }) => {
    it('create: a secret that authenticates as a new bot user, with the access level asked for', async () => {
      const created = await client(api).create(resource(), `${kind}-reader`, ['read_api'], expiresAt, { accessLevel: 30 });
      expect(created).toMatchObject({ name: `${kind}-reader`, scopes: ['read_api'], access_level: 30, active: true, revoked: false });
      expect(created.expires_at).toMatch(new RegExp(`^${expiresAt}`));
      expect(created.token).toMatch(/^glpat-/);

      const me = await whoami(created.token);
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ id: created.user_id, bot: true });
      expect(me.body.username).not.toBe('root');

      // The bot is a member at that level: it can read the resource through the API.
      const asBot = new Gitlab({ host: server.url, token: created.token });
      if (kind === 'project') expect(await asBot.Projects.show(project.id)).toMatchObject({ id: project.id });
      else expect(await asBot.Groups.show(group.id)).toMatchObject({ id: group.id });

      // Each token gets its own bot user.
      const second = await client(api).create(resource(), `${kind}-second`, ['read_api'], expiresAt);
      expect(second.user_id).not.toBe(created.user_id);
      expect((await whoami(second.token)).body.id).toBe(second.user_id);
    });

    it('all/show: listed and shown without the secret, the resource addressed by its full path', async () => {
      const created = await client(api).create(resource(), `${kind}-listed`, ['read_repository'], expiresAt, { accessLevel: 20 });
      const listed = await client(api).all(byPath());
      const entry = listed.find((t) => t.id === created.id);
      expect(entry).toMatchObject({ name: `${kind}-listed`, scopes: ['read_repository'], access_level: 20, user_id: created.user_id, active: true });
      expect(entry).not.toHaveProperty('token');
      const shown = await client(api).show(byPath(), created.id);
      expect(shown).toMatchObject({ id: created.id, name: `${kind}-listed`, access_level: 20, user_id: created.user_id });
      expect(shown).not.toHaveProperty('token');
    });

    it('rotate: new secret for the same bot user; the old secret is refused at once', async () => {
      const created = await client(api).create(resource(), `${kind}-rotated`, ['read_api'], expiresAt, { accessLevel: 30 });
      const rotated = await client(api).rotate(resource(), created.id, { expiresAt: inDays(45) });
      expect(rotated).toMatchObject({ name: `${kind}-rotated`, user_id: created.user_id, scopes: ['read_api'], access_level: 30, active: true, revoked: false });
      expect(rotated.id).not.toBe(created.id);
      expect(rotated.expires_at).toMatch(new RegExp(`^${inDays(45)}`));
      expect(rotated.token).toMatch(/^glpat-/);
      expect(rotated.token).not.toBe(created.token);

      expect(await whoami(rotated.token)).toMatchObject({ status: 200, body: { id: created.user_id } });
      await expectRefused(created.token);
    });

    it('revoke: the secret gets 401 and the token is never reported active again', async () => {
      const created = await client(api).create(resource(), `${kind}-revoked`, ['read_api'], expiresAt);
      expect((await whoami(created.token)).status).toBe(200);
      await client(api).revoke(resource(), created.id);
      await expectRefused(created.token);
      // GitLab lists (and shows) inactive tokens too in current versions; if it is there, it is inactive.
      const entry = (await client(api).all(resource())).find((t) => t.id === created.id);
      if (entry) expect(entry).toMatchObject({ active: false, revoked: true });
    });

    it('all: filters and sort (search, state, sort=name_desc)', async () => {
      for (const name of [`${kind}-flt-b`, `${kind}-flt-a`]) await client(api).create(resource(), name, ['read_api'], expiresAt);
      const listed = await client(api).all(resource(), { search: `${kind}-flt`, state: 'active', sort: 'name_desc' } as Record<string, unknown>);
      expect(listed.map((t) => t.name)).toEqual([`${kind}-flt-b`, `${kind}-flt-a`]);
    });

    it('show(self): the token reads itself; rotate of a sibling by id with a bot token is 401', async () => {
      const bot = await client(api).create(resource(), `${kind}-self-reader`, ['api'], expiresAt);
      const sibling = await client(api).create(resource(), `${kind}-sibling`, ['api'], expiresAt);
      const asBot = new Gitlab({ host: server.url, token: bot.token });
      expect(await client(asBot).show(resource(), 'self')).toMatchObject({ id: bot.id, name: `${kind}-self-reader`, resource_type: kind });
      expect((await refusal(client(asBot).rotate(resource(), sibling.id))).status).toBe(401);
      expect(await whoami(sibling.token)).toMatchObject({ status: 200 });
    });

    it('refuses a bad scope with 400 and an unknown resource with 404', async () => {
      expect((await refusal(client(api).create(resource(), 'bad', ['not_a_scope' as 'api'], expiresAt))).status).toBe(400);
      expect((await refusal(client(api).create(`${byPath()}-nope`, 'ghost', ['read_api'], expiresAt))).status).toBe(404);
    });
  });
});
