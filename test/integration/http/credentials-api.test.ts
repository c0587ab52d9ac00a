/**
 * The credential inventory API (issue 14) on both stores: entries for outside credentials with every
 * field, placements as data, renewal rules and the due date they give, fingerprints that are never
 * stored as values nor returned, GitLab-shaped 400s naming the field, permissions (Maintainer+ of the
 * owning group manage, Reporter+ read, admins all, others 404), audit entries for every change, and
 * refused writes that change nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenDigester } from '../../../src/tokens/token-digest.js';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, TEST_SECRET, type TestApp, type World } from '../../support/test-app.js';

const URL = '/api/v4/latchkey/credentials';

const npm = {
  slug: 'npm-publish',
  name: 'NPM',
  kind: 'npm_token',
  provider: 'npm',
  owner: 'acme/platform',
  scopes: ['publish'],
  purpose: 'Publishes npm packages.',
  renewal: { every_days: 90 },
  procedure: 'Every 90 days (the maximum lifetime of npm write tokens).',
};

const dependencyProxy = {
  slug: 'tocco-client-dependency-proxy',
  name: 'tocco_client_dependency_proxy',
  kind: 'gitlab_group_token',
  provider: 'gitlab.com',
  resource: 'toccoag',
  owner: 'acme/platform',
  scopes: ['read_virtual_registry', 'write_virtual_registry'],
  role: 'guest',
  purpose: 'Pulling OCI images through the dependency proxy bypasses rate limits.',
  renewal: { expires_at: '2027-03-31' },
  procedure: 'Create a new group access token, then encode DOCKER_AUTH_CONFIG:\n\n    python3 - <API_KEY>\n',
  placements: [
    { kind: 'ci_variable', instance: 'gitlab.com', project: 'tocco-client', key: 'DOCKER_AUTH_CONFIG', format: 'docker_auth_config', registry: 'gitlab.com:443' },
    { kind: 'file', path: 'secrets2.yml', key: 'git_backend_repository_source' },
    { kind: 'kubernetes_secret', namespace: 'ci', name: 'pull-secret', key: '.dockerconfigjson' },
    { kind: 'manual', where: 'SonarQube DevOps Platform Integrations: gitlab.com Backend' },
  ],
};

async function inventoryCounts(t: TestApp) {
  const out: Record<string, number> = {};
  for (const table of ['inventory_credentials', 'inventory_placements', 'inventory_renewals'] as const) {
    const r = await (t.app.store.db as any).selectFrom(table).select((eb: any) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    out[table] = Number(r.n);
  }
  return out;
}

async function auditEvents(t: TestApp, adminToken: string, event: string) {
  await t.app.services.auditWriter.flush();
  const res = await t.request('GET', `/api/v4/latchkey/audit_events?event=${event}&per_page=100`, { token: adminToken });
  expect(res.status).toBe(200);
  return res.body as { event: string; actor_username: string; details: Record<string, unknown> }[];
}

describe.each(DIALECTS)('credential inventory API on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let maintainer: string;

  beforeAll(async () => {
    t = await startTestApp(dialect, { now: '2026-12-03T10:00:00.000Z' });
    w = await seedWorld(t);
    maintainer = w.users.maintainer.token;
  });
  afterAll(() => t?.close());

  describe('create, show, list, update, delete', () => {
    it('creates an outside credential with a renewal rule and answers its due date', async () => {
      const res = await t.request('POST', URL, { token: maintainer, body: npm });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        slug: 'npm-publish', name: 'NPM', kind: 'npm_token', provider: 'npm', resource: null, owner: { id: w.sub.id, full_path: 'acme/platform' },
        scopes: ['publish'], role: null, purpose: 'Publishes npm packages.', renewal: { every_days: 90 }, renewed_on: null,
        // every 90 days from creation (2026-12-03)
        due_on: '2027-03-03', fingerprint_set: false, token_id: null, placements: [],
      });
      expect(res.body.renewal).toEqual({ every_days: 90 });
    });

    it('keeps placements as data, in order, each with only its kind\'s fields', async () => {
      const res = await t.request('POST', URL, { token: maintainer, body: dependencyProxy });
      expect(res.status).toBe(201);
      expect(res.body.due_on).toBe('2027-03-31');
      expect(res.body.renewal).toEqual({ expires_at: '2027-03-31' });
      const placements = res.body.placements.map(({ id, ...p }: { id: number }) => (expect(id).toBeGreaterThan(0), p));
      expect(placements).toEqual([
        { kind: 'ci_variable', instance: 'gitlab.com', project: 'tocco-client', key: 'DOCKER_AUTH_CONFIG', format: 'docker_auth_config', registry: 'gitlab.com:443', description: 'CI variable DOCKER_AUTH_CONFIG of project tocco-client on gitlab.com (docker_auth_config)' },
        { kind: 'file', path: 'secrets2.yml', key: 'git_backend_repository_source', format: 'raw', description: 'key git_backend_repository_source in secrets2.yml' },
        { kind: 'kubernetes_secret', namespace: 'ci', name: 'pull-secret', key: '.dockerconfigjson', description: 'Kubernetes secret ci/pull-secret, key .dockerconfigjson' },
        { kind: 'manual', where: 'SonarQube DevOps Platform Integrations: gitlab.com Backend', description: 'SonarQube DevOps Platform Integrations: gitlab.com Backend' },
      ]);
      expect(res.body.procedure).toBe(dependencyProxy.procedure);
    });

    it('an event rule is due its review interval after creation; the slug defaults from the name', async () => {
      const res = await t.request('POST', URL, { token: maintainer, body: { name: 'Crowdin Integration!', kind: 'gitlab_project_token', owner: String(w.sub.id), renewal: { event: 'new release task (crowdin)', review_every_days: 90 } } });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ slug: 'crowdin-integration', renewal: { event: 'new release task (crowdin)', review_every_days: 90 }, due_on: '2027-03-03' });
    });

    it('shows by id and by slug', async () => {
      const bySlug = await t.request('GET', `${URL}/npm-publish`, { token: maintainer });
      expect(bySlug.status).toBe(200);
      const byId = await t.request('GET', `${URL}/${bySlug.body.id}`, { token: maintainer });
      expect(byId.body).toEqual(bySlug.body);
    });

    it('lists with GitLab pagination headers and filters', async () => {
      const page1 = await t.request('GET', `${URL}?source=outside&per_page=2`, { token: maintainer });
      expect(page1.status).toBe(200);
      expect(page1.body.map((c: { slug: string }) => c.slug)).toEqual(['npm-publish', 'tocco-client-dependency-proxy']);
      expect(page1.headers['x-total']).toBe('3');
      expect(page1.headers['x-total-pages']).toBe('2');
      expect(page1.headers['x-next-page']).toBe('2');
      expect(String(page1.headers.link)).toContain('rel="next"');
      const page2 = await t.request('GET', `${URL}?source=outside&per_page=2&page=2`, { token: maintainer });
      expect(page2.body.map((c: { slug: string }) => c.slug)).toEqual(['crowdin-integration']);
      const byKind = await t.request('GET', `${URL}?kind=npm_token`, { token: maintainer });
      expect(byKind.body.map((c: { slug: string }) => c.slug)).toEqual(['npm-publish']);
      const bySearch = await t.request('GET', `${URL}?source=outside&search=PROXY`, { token: maintainer });
      expect(bySearch.body.map((c: { slug: string }) => c.slug)).toEqual(['tocco-client-dependency-proxy']);
      const due = await t.request('GET', `${URL}?source=outside&due_before=2027-03-10`, { token: maintainer });
      expect(due.body.map((c: { slug: string }) => c.slug).sort()).toEqual(['crowdin-integration', 'npm-publish']);
      const byOwner = await t.request('GET', `${URL}?source=outside&owner=${encodeURIComponent('acme/platform')}`, { token: maintainer });
      expect(byOwner.headers['x-total']).toBe('3');
    });

    it('updates the given fields only; a new rule recomputes the due date; placements replace the list', async () => {
      const res = await t.request('PUT', `${URL}/npm-publish`, { token: maintainer, body: { renewal: { every_days: 30 }, purpose: 'Publishes @acme packages.', placements: [{ kind: 'ci_variable', instance: 'gitlab.com', group: 'acme', key: 'NPM_TOKEN' }] } });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ slug: 'npm-publish', name: 'NPM', purpose: 'Publishes @acme packages.', renewal: { every_days: 30 }, due_on: '2027-01-02', procedure: npm.procedure });
      expect(res.body.placements).toHaveLength(1);
      expect(res.body.placements[0]).toMatchObject({ kind: 'ci_variable', group: 'acme', key: 'NPM_TOKEN', format: 'raw', description: 'CI variable NPM_TOKEN of group acme on gitlab.com' });
      const cleared = await t.request('PUT', `${URL}/npm-publish`, { token: maintainer, body: { purpose: null } });
      expect(cleared.body.purpose).toBeNull();
      expect(cleared.body.placements).toHaveLength(1);
    });

    it('adds, replaces and removes single placements', async () => {
      const add = await t.request('POST', `${URL}/npm-publish/placements`, { token: maintainer, body: { kind: 'file', host: 'build-1', path: '/home/ci/.npmrc', format: 'raw' } });
      expect(add.status).toBe(201);
      expect(add.body).toMatchObject({ kind: 'file', host: 'build-1', path: '/home/ci/.npmrc', description: 'key (whole file) in /home/ci/.npmrc on build-1' });
      const put = await t.request('PUT', `${URL}/npm-publish/placements/${add.body.id}`, { token: maintainer, body: { kind: 'kubernetes_secret', cluster: 'prod', namespace: 'web', name: 'npm', key: 'token' } });
      expect(put.status).toBe(200);
      expect(put.body).toMatchObject({ id: add.body.id, kind: 'kubernetes_secret', cluster: 'prod', namespace: 'web', name: 'npm', key: 'token' });
      expect(put.body.path).toBeUndefined();
      const list = await t.request('GET', `${URL}/npm-publish/placements`, { token: w.users.reporter.token });
      expect(list.body.map((p: { kind: string }) => p.kind)).toEqual(['ci_variable', 'kubernetes_secret']);
      expect((await t.request('DELETE', `${URL}/npm-publish/placements/${add.body.id}`, { token: maintainer })).status).toBe(204);
      const gone = await t.request('DELETE', `${URL}/npm-publish/placements/${add.body.id}`, { token: maintainer });
      expect(gone.status).toBe(404);
      expect(gone.body).toEqual({ message: '404 Placement Not Found' });
    });

    it('deletes an entry with its placements', async () => {
      const created = await t.request('POST', URL, { token: maintainer, body: { ...npm, slug: 'to-delete', placements: [{ kind: 'manual', where: 'somewhere' }] } });
      expect(created.status).toBe(201);
      const before = await inventoryCounts(t);
      expect((await t.request('DELETE', `${URL}/to-delete`, { token: maintainer })).status).toBe(204);
      expect(await inventoryCounts(t)).toMatchObject({ inventory_credentials: before.inventory_credentials! - 1, inventory_placements: before.inventory_placements! - 1 });
      const res = await t.request('GET', `${URL}/to-delete`, { token: maintainer });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ message: '404 Credential Not Found' });
    });
  });

  describe('fingerprints', () => {
    it('keeps only the HMAC of a pasted value and never returns either', async () => {
      const value = 'npm_Abc123SecretValueThatMustNotBeStored';
      const res = await t.request('POST', URL, { token: maintainer, body: { ...npm, slug: 'npm-fingerprinted', value } });
      expect(res.status).toBe(201);
      expect(res.body.fingerprint_set).toBe(true);
      expect(res.text).not.toContain(value);
      const digest = createTokenDigester(TEST_SECRET).digest(value);
      expect(res.text).not.toContain(digest);
      const row = await (t.app.store.db as any).selectFrom('inventory_credentials').selectAll().where('slug', '=', 'npm-fingerprinted').executeTakeFirstOrThrow();
      expect(row.fingerprint).toBe(digest);
      expect(JSON.stringify(row)).not.toContain(value);
      const shown = await t.request('GET', `${URL}/npm-fingerprinted`, { token: maintainer });
      expect(shown.text).not.toContain(digest);
      expect((await t.app.services.inventory.recogniseValue(value)).map((c) => c.slug)).toEqual(['npm-fingerprinted']);
      expect(await t.app.services.inventory.recogniseValue('something else')).toEqual([]);
      // Leak response: the admin token look-up recognises the value and answers the entry with its placements.
      await t.request('POST', `${URL}/npm-fingerprinted/placements`, { token: maintainer, body: { kind: 'ci_variable', instance: 'gitlab.com', project: 'web', key: 'NPM_TOKEN' } });
      const leak = await t.request('POST', '/api/v4/admin/token', { token: w.adminToken, body: { token: value } });
      expect(leak.status).toBe(200);
      expect(leak.body.credential_inventory.map((c: { slug: string }) => c.slug)).toEqual(['npm-fingerprinted']);
      expect(leak.body.credential_inventory[0].placements[0]).toMatchObject({ key: 'NPM_TOKEN', project: 'web' });
      expect((await t.request('POST', '/api/v4/admin/token', { token: maintainer, body: { token: value } })).status).toBe(403);
      expect((await t.request('POST', '/api/v4/admin/token', { token: w.adminToken, body: { token: 'unknown-value' } })).status).toBe(404);
      const cleared = await t.request('PUT', `${URL}/npm-fingerprinted`, { token: maintainer, body: { value: null } });
      expect(cleared.body.fingerprint_set).toBe(false);
      expect(await t.app.services.inventory.recogniseValue(value)).toEqual([]);
      const events = await auditEvents(t, w.adminToken, 'credential.created');
      expect(JSON.stringify(events)).not.toContain(value);
    });
  });

  describe('bad input: 400 naming the field, nothing written', () => {
    const cases: [string, unknown, Record<string, string[]>][] = [
      ['missing name, kind, owner, renewal', {}, { name: ['is missing'], kind: ['is missing'], owner: ['is missing'], renewal: ['is missing'] }],
      ['two renewal rules', { ...npm, renewal: { every_days: 30, expires_at: '2027-01-01' } }, { renewal: ['must have only one of expires_at, every_days, or event (got expires_at, every_days)'] }],
      ['a bad date', { ...npm, renewal: { expires_at: '2027-02-30' } }, { 'renewal.expires_at': ['must be a date (YYYY-MM-DD)'] }],
      ['zero days', { ...npm, renewal: { every_days: 0 } }, { 'renewal.every_days': ['must be a whole number of days from 1 to 3650'] }],
      ['an event without review interval', { ...npm, renewal: { event: 'release' } }, { 'renewal.review_every_days': ['is missing'] }],
      ['a placement without key', { ...npm, slug: 'x1', placements: [{ kind: 'manual', where: 'w' }, { kind: 'ci_variable', instance: 'gitlab.com', project: 'p' }] }, { 'placements[1].key': ['is missing'] }],
      ['an unknown placement kind', { ...npm, slug: 'x2', placements: [{ kind: 'vault' }] }, { 'placements[0].kind': ['must be one of ci_variable, file, kubernetes_secret, manual'] }],
      ['a field of another kind', { ...npm, slug: 'x3', placements: [{ kind: 'manual', where: 'w', key: 'K' }] }, { 'placements[0].key': ['is not used by a manual placement'] }],
      ['docker_auth_config without registry', { ...npm, slug: 'x4', placements: [{ kind: 'ci_variable', instance: 'gitlab.com', key: 'K', format: 'docker_auth_config' }] }, { 'placements[0].registry': ["can't be blank when format is docker_auth_config"] }],
      ['a bad slug', { ...npm, slug: 'Not A Slug' }, { slug: ["can contain only lower-case letters, digits, '.', '_' and '-', and must start with a letter or digit"] }],
      ['an unknown field', { ...npm, slug: 'x5', expires: '2027-01-01' }, { expires: ['is not a credential field'] }],
      ['a NUL in the purpose', { ...npm, slug: 'x6', purpose: 'a\u0000b' }, { purpose: ['is not valid text'] }],
      ['a taken slug', npm, { slug: ['(npm-publish) has already been taken'] }],
      ['an unknown owner', { ...npm, slug: 'x7', owner: 'nope/nothing' }, { owner: ['(nope/nothing) is not a group you are a member of'] }],
    ];
    for (const [what, body, fields] of cases) {
      it(what, async () => {
        const before = await inventoryCounts(t);
        const res = await t.request('POST', URL, { token: maintainer, body });
        expect(res.status).toBe(400);
        expect(res.body).toEqual({ message: fields });
        expect(await inventoryCounts(t)).toEqual(before);
      });
    }

    it('a bad update changes nothing, placements included', async () => {
      const before = await t.request('GET', `${URL}/tocco-client-dependency-proxy`, { token: maintainer });
      const res = await t.request('PUT', `${URL}/tocco-client-dependency-proxy`, { token: maintainer, body: { name: 'changed', placements: [{ kind: 'manual' }] } });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ message: { 'placements[0].where': ['is missing'] } });
      expect((await t.request('GET', `${URL}/tocco-client-dependency-proxy`, { token: maintainer })).body).toEqual(before.body);
    });

    it('a rename onto a taken slug is refused and rolls back', async () => {
      const res = await t.request('PUT', `${URL}/crowdin-integration`, { token: maintainer, body: { slug: 'npm-publish', name: 'Renamed' } });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ message: { slug: ['(npm-publish) has already been taken'] } });
      expect((await t.request('GET', `${URL}/crowdin-integration`, { token: maintainer })).body.name).toBe('Crowdin Integration!');
    });

    it('a malformed body or query is a 400, never a 500', async () => {
      expect((await t.request('POST', URL, { token: maintainer, rawBody: '{"name":', headers: { 'content-type': 'application/json' } })).status).toBe(400);
      expect((await t.request('POST', URL, { token: maintainer, body: [1, 2] })).status).toBe(400);
      expect((await t.request('GET', `${URL}?due_before=tomorrow`, { token: maintainer })).body).toEqual({ error: 'due_before is invalid' });
      expect((await t.request('GET', `${URL}?search=%00`, { token: maintainer })).status).toBe(400);
      expect((await t.request('GET', `${URL}/%00`, { token: maintainer })).status).toBe(400);
      expect((await t.request('GET', `${URL}/99999999999999`, { token: maintainer })).status).toBe(404);
    });
  });

  describe('permissions', () => {
    it('Reporters read; Guests, Developers and outsiders see nothing (404), lists leave them out', async () => {
      expect((await t.request('GET', `${URL}/npm-publish`, { token: w.users.reporter.token })).status).toBe(200);
      for (const role of ['guest', 'planner', 'outsider'] as const) {
        const res = await t.request('GET', `${URL}/npm-publish`, { token: w.users[role].token });
        expect(res.status).toBe(404);
        expect(res.body).toEqual({ message: '404 Credential Not Found' });
        const list = await t.request('GET', `${URL}?source=outside`, { token: w.users[role].token });
        expect(list.body).toEqual([]);
        expect(list.headers['x-total']).toBe('0');
        expect((await t.request('PUT', `${URL}/npm-publish`, { token: w.users[role].token, body: { name: 'x' } })).status).toBe(404);
        expect((await t.request('DELETE', `${URL}/npm-publish`, { token: w.users[role].token })).status).toBe(404);
      }
      expect((await t.request('GET', `${URL}?source=outside`, { token: w.users.developer.token })).headers['x-total']).toBe((await t.request('GET', `${URL}?source=outside`, { token: w.users.reporter.token })).headers['x-total']);
    });

    it('Reporters and Developers may not change entries (403); Owners and admins may', async () => {
      for (const role of ['reporter', 'developer'] as const) {
        const token = w.users[role].token;
        expect((await t.request('PUT', `${URL}/npm-publish`, { token, body: { name: 'x' } })).status).toBe(403);
        expect((await t.request('DELETE', `${URL}/npm-publish`, { token })).status).toBe(403);
        expect((await t.request('POST', `${URL}/npm-publish/placements`, { token, body: { kind: 'manual', where: 'x' } })).status).toBe(403);
        expect((await t.request('POST', URL, { token, body: { ...npm, slug: `by-${role}` } })).status).toBe(403);
      }
      expect((await t.request('PUT', `${URL}/npm-publish`, { token: w.users.owner.token, body: { role: 'publisher' } })).body.role).toBe('publisher');
      expect((await t.request('PUT', `${URL}/npm-publish`, { token: w.adminToken, body: { role: null } })).body.role).toBeNull();
    });

    it('membership in an ancestor group counts; a sibling group\'s members see nothing', async () => {
      const { namespaces } = t.app.services;
      const topMaintainer = await namespaces.createUser(w.admin, { username: 'top-maintainer', name: 'Top', email: 'top@example.com' });
      await namespaces.addMember(w.admin, { type: 'group', group: w.top }, { userId: topMaintainer.id, accessLevel: 40, expiresAt: null });
      const topToken = (await t.app.services.personalTokens.createFor(topMaintainer, { name: 't', scopes: ['api'], expiresAt: '2027-06-01' }, null)).secret;
      expect((await t.request('PUT', `${URL}/npm-publish`, { token: topToken, body: { role: 'inherited' } })).status).toBe(200);
      const other = await namespaces.findGroup(w.admin, 'acme/other');
      const sibling = await namespaces.createUser(w.admin, { username: 'sibling', name: 'Sibling', email: 'sibling@example.com' });
      await namespaces.addMember(w.admin, { type: 'group', group: other.group }, { userId: sibling.id, accessLevel: 50, expiresAt: null });
      const siblingToken = (await t.app.services.personalTokens.createFor(sibling, { name: 't', scopes: ['api'], expiresAt: '2027-06-01' }, null)).secret;
      expect((await t.request('GET', `${URL}/npm-publish`, { token: siblingToken })).status).toBe(404);
      expect((await t.request('GET', URL, { token: siblingToken })).body.map((c: { slug: string }) => c.slug)).toEqual([`token-${(await t.app.store.db.selectFrom('tokens').select('id').where('user_id', '=', sibling.id).executeTakeFirstOrThrow()).id}`]);
      // …and may own entries of their own group, which acme/platform members do not see.
      const own = await t.request('POST', URL, { token: siblingToken, body: { ...npm, slug: 'other-npm', owner: 'acme/other' } });
      expect(own.status).toBe(201);
      expect((await t.request('GET', `${URL}/other-npm`, { token: maintainer })).status).toBe(404);
      expect((await t.request('GET', `${URL}/other-npm`, { token: topToken })).status).toBe(200);
      // Moving an entry needs Maintainer+ on the new owner too.
      expect((await t.request('PUT', `${URL}/other-npm`, { token: siblingToken, body: { owner: 'acme/platform' } })).status).toBe(400);
      expect((await t.request('GET', `${URL}?owner=acme%2Fother`, { token: maintainer })).status).toBe(404);
    });

    it('read_api tokens read but do not write', async () => {
      const readOnly = (await t.app.services.personalTokens.createFor(w.users.maintainer.user, { name: 'ro', scopes: ['read_api'], expiresAt: '2027-06-01' }, null)).secret;
      expect((await t.request('GET', `${URL}/npm-publish`, { token: readOnly })).status).toBe(200);
      expect((await t.request('PUT', `${URL}/npm-publish`, { token: readOnly, body: { name: 'x' } })).status).toBe(403);
      expect((await t.request('GET', URL)).status).toBe(401);
    });
  });

  describe('renewal and reverse look-up', () => {
    it('marks renewed: who, when, the new expiry, the placements updated; the history is kept', async () => {
      const proxy = (await t.request('GET', `${URL}/tocco-client-dependency-proxy`, { token: maintainer })).body;
      const missing = await t.request('POST', `${URL}/tocco-client-dependency-proxy/renewals`, { token: maintainer, body: {} });
      expect(missing.status).toBe(400);
      expect(missing.body).toEqual({ message: { expires_at: ['is missing (the rule is a fixed expiry date: give the new one)'] } });
      const bad = await t.request('POST', `${URL}/tocco-client-dependency-proxy/renewals`, { token: maintainer, body: { expires_at: '2026-12-01', renewed_on: '2027-01-01', placements_updated: [999999] } });
      expect(bad.body).toEqual({ message: { renewed_on: ['cannot be in the future'], expires_at: ['must be after the renewal date'], placements_updated: ['(999999) is not a placement of this credential'] } });
      expect((await t.request('POST', `${URL}/tocco-client-dependency-proxy/renewals`, { token: w.users.reporter.token, body: { expires_at: '2027-09-30' } })).status).toBe(403);
      const first = await t.request('POST', `${URL}/tocco-client-dependency-proxy/renewals`, { token: maintainer, body: { expires_at: '2027-09-30', placements_updated: [proxy.placements[0].id], note: 'new group token' } });
      expect(first.status).toBe(201);
      expect(first.body).toMatchObject({ renewed_on: '2026-12-03', renewed_by: 'maintainer-user', previous_due_on: '2027-03-31', due_on: '2027-09-30', note: 'new group token', placements_updated: [{ id: proxy.placements[0].id, description: proxy.placements[0].description }] });
      expect(first.body.credential).toMatchObject({ renewal: { expires_at: '2027-09-30' }, due_on: '2027-09-30', renewed_on: '2026-12-03' });
      t.clock.set('2027-01-10T09:00:00.000Z');
      const second = await t.request('POST', `${URL}/tocco-client-dependency-proxy/renewals`, { token: w.users.owner.token, body: { expires_at: '2028-01-10' } });
      expect(second.body.placements_updated).toHaveLength(4);
      const history = await t.request('GET', `${URL}/tocco-client-dependency-proxy/renewals`, { token: w.users.reporter.token });
      expect(history.status).toBe(200);
      expect(history.headers['x-total']).toBe('2');
      expect(history.body.map((r: { renewed_by: string; due_on: string }) => `${r.renewed_by} ${r.due_on}`)).toEqual(['owner-user 2028-01-10', 'maintainer-user 2027-09-30']);
      // A rule of days counts from the renewal; an expiry date is refused there.
      const npmRenewed = await t.request('POST', `${URL}/npm-publish/renewals`, { token: maintainer, body: { renewed_on: '2027-01-05' } });
      expect(npmRenewed.body).toMatchObject({ renewed_on: '2027-01-05', due_on: '2027-02-04' });
      expect((await t.request('POST', `${URL}/npm-publish/renewals`, { token: maintainer, body: { expires_at: '2027-06-01' } })).body).toEqual({ message: { expires_at: ['is only used when the renewal rule is a fixed date (this one is every_days)'] } });
      const events = (await auditEvents(t, w.adminToken, 'credential.renewed')).filter((e) => e.details.slug === 'tocco-client-dependency-proxy');
      expect(events).toHaveLength(2);
      expect(events.find((e) => e.actor_username === 'maintainer-user')!.details).toMatchObject({ previous_due_on: '2027-03-31', due_on: '2027-09-30', placements_updated: [proxy.placements[0].id] });
      t.clock.set('2026-12-03T10:00:00.000Z');
    });

    it('answers "what is configured in CI variable X of project Y?" only with entries the caller may read', async () => {
      const res = await t.request('GET', '/api/v4/latchkey/placements?kind=ci_variable&project=tocco-client&key=DOCKER_AUTH_CONFIG', { token: w.users.reporter.token });
      expect(res.status).toBe(200);
      expect(res.headers['x-total']).toBe('1');
      expect(res.body).toEqual([expect.objectContaining({ kind: 'ci_variable', project: 'tocco-client', key: 'DOCKER_AUTH_CONFIG', credential: expect.objectContaining({ slug: 'tocco-client-dependency-proxy', owner: { id: w.sub.id, full_path: 'acme/platform' } }) })]);
      expect((await t.request('GET', '/api/v4/latchkey/placements?kind=ci_variable&project=tocco-client&key=OTHER', { token: maintainer })).body).toEqual([]);
      expect((await t.request('GET', '/api/v4/latchkey/placements?key=DOCKER_AUTH_CONFIG', { token: w.users.outsider.token })).body).toEqual([]);
      expect((await t.request('GET', '/api/v4/latchkey/placements', { token: maintainer })).status).toBe(400);
      expect((await t.request('GET', '/api/v4/latchkey/placements?kind=vault', { token: maintainer })).status).toBe(400);
    });
  });

  describe('audit', () => {
    it('every change is an audit entry naming the actor, the entry and what changed, never a value', async () => {
      const created = await t.request('POST', URL, { token: maintainer, body: { ...npm, slug: 'audited', value: 'audited-secret-value-123' } });
      await t.request('PUT', `${URL}/audited`, { token: maintainer, body: { name: 'Audited', value: 'another-secret-value-456' } });
      const placement = await t.request('POST', `${URL}/audited/placements`, { token: maintainer, body: { kind: 'manual', where: 'Crowdin' } });
      await t.request('PUT', `${URL}/audited/placements/${placement.body.id}`, { token: maintainer, body: { kind: 'manual', where: 'Crowdin (new)' } });
      await t.request('DELETE', `${URL}/audited/placements/${placement.body.id}`, { token: maintainer });
      await t.request('DELETE', `${URL}/audited`, { token: w.users.owner.token });
      const mine = async (event: string) => (await auditEvents(t, w.adminToken, event)).filter((e) => e.details.slug === 'audited');
      const [c] = await mine('credential.created');
      expect(c).toMatchObject({ actor_username: 'maintainer-user', details: { by: 'maintainer-user', credential_id: created.body.id, owner: 'acme/platform', kind: 'npm_token', fingerprint: true } });
      const [u] = await mine('credential.updated');
      expect(u!.details).toMatchObject({ changed: ['name', 'fingerprint'], fingerprint: true });
      expect((await mine('credential.placement_added'))[0]!.details).toMatchObject({ placement: 'Crowdin' });
      expect((await mine('credential.placement_updated'))[0]!.details).toMatchObject({ from: 'Crowdin', placement: 'Crowdin (new)' });
      expect(await mine('credential.placement_removed')).toHaveLength(1);
      expect((await mine('credential.deleted'))[0]).toMatchObject({ actor_username: 'owner-user' });
      const all = JSON.stringify(await auditEvents(t, w.adminToken, 'credential.updated'));
      expect(all).not.toContain('another-secret-value-456');
    });

    it('a refused change records nothing', async () => {
      const before = (await auditEvents(t, w.adminToken, 'credential.updated')).length;
      await t.request('PUT', `${URL}/npm-publish`, { token: w.users.reporter.token, body: { name: 'x' } });
      await t.request('PUT', `${URL}/npm-publish`, { token: maintainer, body: { renewal: {} } });
      expect((await auditEvents(t, w.adminToken, 'credential.updated')).length).toBe(before);
    });
  });
});
