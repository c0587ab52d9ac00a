/**
 * Latchkey's own tokens in the credential inventory (issue 14), on both stores, through the API: every
 * listed token is an entry without extra work (core fields read from the token, owner its group), with
 * the inventory's permissions; inventory fields (purpose, procedure, placements; owner for a person's
 * token) are added to it and follow it through rotation; audit entries are filed under the owning
 * group; the reverse look-up and keyset pages include token entries.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';

const URL = '/api/v4/latchkey/credentials';

type Entry = { id: number | null; slug: string; name: string; kind: string; provider: string; resource: string | null; owner: { id: number; full_path: string } | null; scopes: string[]; role: string | null; due_on: string; token_id: number; purpose: string | null; procedure: string | null; placements: { id: number; kind: string; key?: string; description: string }[] };

describe.each(DIALECTS)('Latchkey tokens in the credential inventory on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let maintainer: string;
  let projectToken: { id: number; token: string };

  beforeAll(async () => {
    t = await startTestApp(dialect, { now: '2026-12-03T10:00:00.000Z' });
    w = await seedWorld(t);
    maintainer = w.users.maintainer.token;
    const res = await t.request('POST', `/api/v4/projects/${w.project.id}/access_tokens`, { token: maintainer, body: { name: 'deployer', scopes: ['read_registry', 'read_api'], access_level: 30, expires_at: '2027-02-01' } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    projectToken = res.body;
    // An outside entry too: lists put them first.
    const npm = await t.request('POST', URL, { token: maintainer, body: { slug: 'npm-publish', name: 'NPM', kind: 'npm_token', owner: 'acme/platform', renewal: { every_days: 90 } } });
    expect(npm.status).toBe(201);
  });
  afterAll(() => t?.close());

  it('lists a project access token with its core fields, owned by its project\'s group, for Reporters and admins', async () => {
    const res = await t.request('GET', `${URL}?source=tokens&kind=project_access_token`, { token: w.users.reporter.token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual([
      expect.objectContaining({
        id: null, slug: `token-${projectToken.id}`, name: 'deployer', kind: 'project_access_token', provider: 'latchkey', resource: 'acme/platform/web',
        owner: { id: w.sub.id, full_path: 'acme/platform' }, scopes: ['read_api', 'read_registry'], role: 'developer',
        renewal: { expires_at: '2027-02-01' }, due_on: '2027-02-01', token_id: projectToken.id, fingerprint_set: true, placements: [],
      }),
    ]);
    const shown = await t.request('GET', `${URL}/token-${projectToken.id}`, { token: w.users.reporter.token });
    expect(shown.status).toBe(200);
    expect(shown.body).toEqual(res.body[0]);
    // The default list: outside entries first, then the tokens.
    const all = (await t.request('GET', `${URL}?per_page=100`, { token: w.adminToken })).body as Entry[];
    expect(all[0]!.slug).toBe('npm-publish');
    expect(all.map((e) => e.slug)).toContain(`token-${projectToken.id}`);
    expect(all.filter((e) => e.kind === 'personal_access_token').length).toBe(Object.keys(w.users).length + 1);
  });

  it("a group deploy token and a group service account's token are entries owned by their group", async () => {
    const deploy = await t.request('POST', `/api/v4/groups/${w.sub.id}/deploy_tokens`, { token: w.adminToken, body: { name: 'pull', scopes: ['read_registry'] } });
    expect(deploy.status, JSON.stringify(deploy.body)).toBe(201);
    const sa = await t.request('POST', `/api/v4/groups/${w.top.id}/service_accounts`, { token: w.adminToken, body: { name: 'CI bot' } });
    expect(sa.status, JSON.stringify(sa.body)).toBe(201);
    const saToken = await t.request('POST', `/api/v4/groups/${w.top.id}/service_accounts/${sa.body.id}/personal_access_tokens`, { token: w.adminToken, body: { name: 'ci', scopes: ['api'], expires_at: '2027-01-15' } });
    expect(saToken.status, JSON.stringify(saToken.body)).toBe(201);
    const deployEntry = await t.request('GET', `${URL}/token-${deploy.body.id}`, { token: w.users.reporter.token });
    expect(deployEntry.body).toMatchObject({ kind: 'deploy_token', name: 'pull', resource: 'acme/platform', owner: { id: w.sub.id }, scopes: ['read_registry'], due_on: '9999-12-31', role: null });
    const saEntry = await t.request('GET', `${URL}/token-${saToken.body.id}`, { token: w.adminToken });
    expect(saEntry.body).toMatchObject({ kind: 'service_account_token', name: 'ci', owner: { id: w.top.id, full_path: 'acme' }, due_on: '2027-01-15' });
    // acme/platform's Reporters are not members of acme: its service account's token is not theirs to see.
    expect((await t.request('GET', `${URL}/token-${saToken.body.id}`, { token: w.users.reporter.token })).status).toBe(404);
    const byKind = (await t.request('GET', `${URL}?kind=service_account_token`, { token: w.adminToken })).body as Entry[];
    expect(byKind.map((e) => e.token_id)).toEqual([saToken.body.id]);
  });

  it('nothing of a token leaks to those outside its group (404), lists leave it out', async () => {
    for (const role of ['guest', 'outsider'] as const) {
      const token = w.users[role].token;
      const res = await t.request('GET', `${URL}/token-${projectToken.id}`, { token });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ message: '404 Credential Not Found' });
      expect((await t.request('PUT', `${URL}/token-${projectToken.id}`, { token, body: { purpose: 'x' } })).status).toBe(404);
      // Only their own personal access token.
      const list = (await t.request('GET', URL, { token })).body as Entry[];
      expect(list.map((e) => e.kind)).toEqual(['personal_access_token']);
      expect(list[0]!.resource).toBe(`${role}-user`);
    }
    expect((await t.request('PUT', `${URL}/token-${projectToken.id}`, { token: w.users.reporter.token, body: { purpose: 'x' } })).status).toBe(403);
    expect((await t.request('GET', `${URL}/token-99999`, { token: w.adminToken })).status).toBe(404);
  });

  it('Maintainers add inventory fields; the token\'s own fields are refused, naming them', async () => {
    const refused = await t.request('PUT', `${URL}/token-${projectToken.id}`, { token: maintainer, body: { name: 'renamed', scopes: ['api'], purpose: 'x' } });
    expect(refused.status).toBe(400);
    expect(Object.keys(refused.body.message).sort()).toEqual(['name', 'scopes']);
    expect((await t.request('PUT', `${URL}/token-${projectToken.id}`, { token: maintainer, body: { owner: 'acme/other' } })).body.message).toEqual({ owner: ["is the token's group (acme/platform) and cannot be changed"] });
    const res = await t.request('PUT', `${URL}/token-${projectToken.id}`, {
      token: maintainer,
      body: {
        purpose: 'Pulls images in CI.', procedure: 'Rotate through the API; the placements follow.',
        placements: [{ kind: 'ci_variable', instance: 'gitlab.example.com', project: 'acme/deploy', key: 'REGISTRY_TOKEN' }],
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ slug: `token-${projectToken.id}`, name: 'deployer', purpose: 'Pulls images in CI.', token_id: projectToken.id, placements: [{ kind: 'ci_variable', key: 'REGISTRY_TOKEN' }] });
    expect(res.body.id).toEqual(expect.any(Number));
    const placement = await t.request('POST', `${URL}/token-${projectToken.id}/placements`, { token: maintainer, body: { kind: 'manual', where: 'Grafana data source' } });
    expect(placement.status).toBe(201);
    // The stored id names the same entry.
    expect((await t.request('GET', `${URL}/${res.body.id}`, { token: maintainer })).body.placements).toHaveLength(2);
    // A token is renewed by rotating it.
    const renew = await t.request('POST', `${URL}/token-${projectToken.id}/renewals`, { token: maintainer, body: {} });
    expect(renew.status).toBe(400);
    expect(JSON.stringify(renew.body.message)).toContain('rotate it');
  });

  it('the inventory fields follow the token through rotation', async () => {
    const rotated = await t.request('POST', `/api/v4/projects/${w.project.id}/access_tokens/${projectToken.id}/rotate`, { token: maintainer, body: { expires_at: '2027-05-01' } });
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    const successor = rotated.body.id as number;
    expect(successor).not.toBe(projectToken.id);
    const res = await t.request('GET', `${URL}/token-${successor}`, { token: maintainer });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ slug: `token-${projectToken.id}`, token_id: successor, due_on: '2027-05-01', renewed_on: '2026-12-03', purpose: 'Pulls images in CI.' });
    expect(res.body.placements.map((p: { description: string }) => p.description)).toEqual(['CI variable REGISTRY_TOKEN of project acme/deploy on gitlab.example.com', 'Grafana data source']);
    // The old token's name and the stable slug reach the same entry; the list shows the live token once.
    expect((await t.request('GET', `${URL}/token-${projectToken.id}`, { token: maintainer })).body).toEqual(res.body);
    const list = (await t.request('GET', `${URL}?source=tokens&kind=project_access_token`, { token: maintainer })).body as Entry[];
    expect(list.map((e) => e.token_id)).toEqual([successor]);
    // Rotated again: still there.
    const again = await t.request('POST', `/api/v4/projects/${w.project.id}/access_tokens/${successor}/rotate`, { token: maintainer, body: { expires_at: '2027-06-01' } });
    expect((await t.request('GET', `${URL}/token-${again.body.id}`, { token: maintainer })).body.placements).toHaveLength(2);
    projectToken = { id: again.body.id, token: again.body.token };
  });

  it('the reverse look-up answers with the token\'s entry at its live token', async () => {
    const res = await t.request('GET', '/api/v4/latchkey/placements?project=acme/deploy&key=REGISTRY_TOKEN', { token: w.users.reporter.token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual([expect.objectContaining({ key: 'REGISTRY_TOKEN', credential: expect.objectContaining({ kind: 'project_access_token', name: 'deployer', token_id: projectToken.id, due_on: '2027-06-01', owner: { id: w.sub.id, full_path: 'acme/platform' } }) })]);
    expect((await t.request('GET', '/api/v4/latchkey/placements?project=acme/deploy&key=REGISTRY_TOKEN', { token: w.users.outsider.token })).body).toEqual([]);
  });

  it('audit entries of inventory changes carry the owning group, so group-filtered queries find them', async () => {
    await t.app.services.auditWriter.flush();
    const res = await t.request('GET', `/api/v4/latchkey/audit_events?group=acme/platform&per_page=100`, { token: w.adminToken });
    expect(res.status).toBe(200);
    const inventory = (res.body as { event: string; group_id: number | null; details: Record<string, unknown> }[]).filter((e) => e.event.startsWith('credential.'));
    expect(inventory.map((e) => e.event).sort()).toEqual(['credential.created', 'credential.created', 'credential.placement_added']);
    for (const e of inventory) expect(e.group_id).toBe(w.sub.id);
    expect((await t.request('GET', `/api/v4/latchkey/audit_events?group=acme/other&event=credential.created`, { token: w.adminToken })).body).toEqual([]);
  });

  it("a person's own token: theirs to manage; inventory fields need an owning group, whose Reporters then read it", async () => {
    const developer = w.users.developer;
    const mine = ((await t.request('GET', `${URL}?source=tokens`, { token: developer.token })).body as Entry[])[0]!;
    expect(mine).toMatchObject({ kind: 'personal_access_token', owner: null, resource: 'developer-user' });
    const noOwner = await t.request('PUT', `${URL}/${mine.slug}`, { token: developer.token, body: { purpose: 'my laptop' } });
    expect(noOwner.status).toBe(400);
    expect(Object.keys(noOwner.body.message)).toEqual(['owner']);
    // A Developer of acme/platform may not make it the group's…
    expect((await t.request('PUT', `${URL}/${mine.slug}`, { token: developer.token, body: { purpose: 'x', owner: 'acme/platform' } })).status).toBe(403);
    expect((await t.request('GET', `${URL}/${mine.slug}`, { token: w.users.reporter.token })).status).toBe(404);
    // …a Maintainer's own token may.
    const own = ((await t.request('GET', `${URL}?source=tokens&kind=personal_access_token`, { token: maintainer })).body as Entry[])[0]!;
    const set = await t.request('PUT', `${URL}/${own.slug}`, { token: maintainer, body: { purpose: 'Release scripts', owner: 'acme/platform' } });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    expect(set.body.owner).toEqual({ id: w.sub.id, full_path: 'acme/platform' });
    const asReporter = await t.request('GET', `${URL}?source=tokens&owner=acme/platform&kind=personal_access_token`, { token: w.users.reporter.token });
    expect((asReporter.body as Entry[]).map((e) => e.slug)).toContain(own.slug);
    expect((await t.request('PUT', `${URL}/${own.slug}`, { token: w.users.reporter.token, body: { purpose: 'x' } })).status).toBe(403);
  });

  it('keyset pages walk outside entries then tokens, each once, following Link rel="next"', async () => {
    const all = (await t.request('GET', `${URL}?per_page=100`, { token: w.adminToken })).body as Entry[];
    const seen: string[] = [];
    let next: string | null = `${URL}?pagination=keyset&per_page=2`;
    for (let i = 0; next !== null && i < 50; i++) {
      const res: Awaited<ReturnType<TestApp['request']>> = await t.request('GET', next.replace(/^https?:\/\/[^/]+/, ''), { token: w.adminToken });
      expect(res.status).toBe(200);
      expect(res.headers['x-total']).toBeUndefined();
      seen.push(...(res.body as Entry[]).map((e) => e.slug));
      const link = /<([^>]+)>; rel="next"/.exec(String(res.headers.link ?? ''));
      next = link ? link[1]! : null;
    }
    expect(seen).toEqual(all.map((e) => e.slug));
    expect((await t.request('GET', `${URL}?pagination=keyset&cursor=nope`, { token: w.adminToken })).status).toBe(400);
    expect((await t.request('GET', `${URL}?cursor=tokens-1`, { token: w.adminToken })).status).toBe(400);
  });

  it('deleting a token\'s entry removes its inventory fields, not the token', async () => {
    expect((await t.request('DELETE', `${URL}/token-${projectToken.id}`, { token: maintainer })).status).toBe(204);
    const res = await t.request('GET', `${URL}/token-${projectToken.id}`, { token: maintainer });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: null, purpose: null, placements: [], token_id: projectToken.id });
  });

  it('a revoked token: the reverse look-up, show and the leak response say so, with the day; lists leave it out unless asked', async () => {
    const made = await t.request('POST', `/api/v4/projects/${w.project.id}/access_tokens`, { token: maintainer, body: { name: 'pusher', scopes: ['write_registry'], access_level: 30, expires_at: '2027-03-01' } });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    const slug = `token-${made.body.id}`;
    const put = await t.request('PUT', `${URL}/${slug}`, { token: maintainer, body: { purpose: 'Pushes images.', placements: [{ kind: 'ci_variable', instance: 'gitlab.example.com', project: 'acme/pusher', key: 'PUSH_TOKEN' }] } });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.body).toMatchObject({ token_state: 'active', token_state_since: null });
    const lookup = '/api/v4/latchkey/placements?project=acme/pusher&key=PUSH_TOKEN';
    expect((await t.request('GET', lookup, { token: w.users.reporter.token })).body[0].credential).toMatchObject({ token_id: made.body.id, token_state: 'active', due_on: '2027-03-01' });

    t.clock.set('2026-12-05T08:00:00.000Z');
    try {
      expect((await t.request('DELETE', `/api/v4/projects/${w.project.id}/access_tokens/${made.body.id}`, { token: maintainer })).status).toBe(204);
      // The reverse look-up and show answer with the token as it is now, not as it was when its fields were added.
      const found = await t.request('GET', lookup, { token: w.users.reporter.token });
      expect(found.status).toBe(200);
      expect(found.body).toEqual([expect.objectContaining({ key: 'PUSH_TOKEN', credential: expect.objectContaining({ slug, token_id: made.body.id, token_state: 'revoked', token_state_since: '2026-12-05', due_on: '2027-03-01' }) })]);
      const shown = await t.request('GET', `${URL}/${slug}`, { token: w.users.reporter.token });
      expect(shown.status).toBe(200);
      expect(shown.body).toMatchObject({ ...found.body[0].credential, name: 'pusher', scopes: ['write_registry'], purpose: 'Pushes images.' });
      // Outsiders still see nothing of it.
      expect((await t.request('GET', `${URL}/${slug}`, { token: w.users.outsider.token })).status).toBe(404);
      // Listed only when asked for by state.
      const slugsOf = async (query: string) => ((await t.request('GET', `${URL}?per_page=100${query}`, { token: w.adminToken })).body as Entry[]).map((e) => e.slug);
      expect(await slugsOf('')).not.toContain(slug);
      expect(await slugsOf('&source=tokens')).not.toContain(slug);
      const revoked = await slugsOf('&state=revoked');
      expect(revoked).toContain(slug);
      expect(revoked).not.toContain('npm-publish');
      expect(await slugsOf('&state=all')).toEqual(expect.arrayContaining([slug, 'npm-publish']));
      expect((await t.request('GET', `${URL}?state=gone`, { token: w.adminToken })).status).toBe(400);
      // Its fields no longer change; they may be deleted.
      const refused = await t.request('PUT', `${URL}/${slug}`, { token: maintainer, body: { purpose: 'x' } });
      expect(refused.status).toBe(400);
      expect(refused.body.message.base[0]).toContain('revoked on 2026-12-05');
      expect((await t.request('POST', `${URL}/${slug}/placements`, { token: maintainer, body: { kind: 'manual', where: 'x' } })).status).toBe(400);
      // The leak response: the token, and its entry with the placements to update and the state.
      const leak = await t.request('POST', '/api/v4/admin/token', { token: w.adminToken, body: { token: made.body.token } });
      expect(leak.status).toBe(200);
      expect(leak.body).toMatchObject({ id: made.body.id, revoked: true, credential_inventory: [{ slug, token_state: 'revoked', token_state_since: '2026-12-05', placements: [{ key: 'PUSH_TOKEN' }] }] });
      expect((await t.request('DELETE', `${URL}/${slug}`, { token: maintainer })).status).toBe(204);
      expect((await t.request('GET', lookup, { token: w.users.reporter.token })).body).toEqual([]);
    } finally {
      t.clock.set('2026-12-03T10:00:00.000Z');
    }
  });

  it('an expired token: show and the reverse look-up say expired since its expiry date; lists leave it out unless asked', async () => {
    const made = await t.request('POST', `/api/v4/projects/${w.project.id}/access_tokens`, { token: maintainer, body: { name: 'short', scopes: ['read_api'], access_level: 30, expires_at: '2026-12-10' } });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    const slug = `token-${made.body.id}`;
    expect((await t.request('PUT', `${URL}/${slug}`, { token: maintainer, body: { placements: [{ kind: 'ci_variable', instance: 'gitlab.example.com', project: 'acme/short', key: 'SHORT_TOKEN' }] } })).status).toBe(200);
    t.clock.set('2026-12-12T10:00:00.000Z');
    try {
      const found = await t.request('GET', '/api/v4/latchkey/placements?project=acme/short&key=SHORT_TOKEN', { token: w.users.reporter.token });
      expect(found.body[0].credential).toMatchObject({ slug, token_state: 'expired', token_state_since: '2026-12-10', due_on: '2026-12-10' });
      expect((await t.request('GET', `${URL}/${slug}`, { token: maintainer })).body).toMatchObject({ token_state: 'expired', token_state_since: '2026-12-10' });
      const slugsOf = async (query: string) => ((await t.request('GET', `${URL}?per_page=100${query}`, { token: w.adminToken })).body as Entry[]).map((e) => e.slug);
      expect(await slugsOf('&source=tokens')).not.toContain(slug);
      expect(await slugsOf('&state=expired')).toEqual([slug]);
      // A keyset walk keeps the state filter.
      expect(((await t.request('GET', `${URL}?pagination=keyset&state=expired`, { token: w.adminToken })).body as Entry[]).map((e) => e.slug)).toEqual([slug]);
    } finally {
      t.clock.set('2026-12-03T10:00:00.000Z');
    }
  });

  it('a deleted deploy token: show and the reverse look-up say deleted, with the day; state=revoked lists it', async () => {
    const deploy = await t.request('POST', `/api/v4/projects/${w.project.id}/deploy_tokens`, { token: maintainer, body: { name: 'puller', scopes: ['read_registry'] } });
    expect(deploy.status, JSON.stringify(deploy.body)).toBe(201);
    const slug = `token-${deploy.body.id}`;
    expect((await t.request('PUT', `${URL}/${slug}`, { token: maintainer, body: { placements: [{ kind: 'kubernetes_secret', namespace: 'ci', name: 'pull', key: 'token' }] } })).status).toBe(200);
    t.clock.set('2026-12-07T09:00:00.000Z');
    try {
      expect((await t.request('DELETE', `/api/v4/projects/${w.project.id}/deploy_tokens/${deploy.body.id}`, { token: maintainer })).status).toBe(204);
      const found = await t.request('GET', '/api/v4/latchkey/placements?namespace=ci&name=pull', { token: w.users.reporter.token });
      expect(found.body).toEqual([expect.objectContaining({ credential: expect.objectContaining({ slug, token_state: 'deleted', token_state_since: '2026-12-07' }) })]);
      expect((await t.request('GET', `${URL}/${slug}`, { token: maintainer })).body).toMatchObject({ kind: 'deploy_token', token_state: 'deleted', token_state_since: '2026-12-07' });
      expect(((await t.request('GET', `${URL}?state=revoked&kind=deploy_token`, { token: w.adminToken })).body as Entry[]).map((e) => e.slug)).toContain(slug);
      expect(((await t.request('GET', `${URL}?kind=deploy_token`, { token: w.adminToken })).body as Entry[]).map((e) => e.slug)).not.toContain(slug);
    } finally {
      t.clock.set('2026-12-03T10:00:00.000Z');
    }
  });

  it("a token's inventory row copies nothing of the token: its own fields are read from the token", async () => {
    const rows = (await (t.app.store.db as any).selectFrom('inventory_credentials').selectAll().where('token_id', 'is not', null).execute()) as Record<string, unknown>[];
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) expect(r).toMatchObject({ name: r.slug, scopes: '[]', role: null, resource: null, due_on: '9999-12-31', renewed_on: null });
  });
});
