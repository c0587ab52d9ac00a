/**
 * Who may do what with project and group access tokens, with GitLab's answers: project tokens need
 * Maintainer+, group tokens Owner (admins always). Below that, list/show answer 401 (`unauthorized!`),
 * create and delete 400 with the reason, rotate 401. People who cannot see the resource get 404; no
 * credential 401. Members are members of acme/platform; the project is acme/platform/web.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resource } from '../../../src/namespaces/namespace.js';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, tableCounts, type TestApp, type World } from '../../support/test-app.js';

const ACTIONS = ['list', 'show', 'create', 'delete', 'rotate'] as const;
type Action = (typeof ACTIONS)[number];
type Actor = 'guest' | 'planner' | 'reporter' | 'developer' | 'maintainer' | 'owner' | 'admin' | 'outsider' | 'anonymous';
type Outcome = 'ok' | 400 | 401 | 404;

const below = (): Record<Action, Outcome> => ({ list: 401, show: 401, create: 400, delete: 400, rotate: 401 });
const ok = (): Record<Action, Outcome> => ({ list: 'ok', show: 'ok', create: 'ok', delete: 'ok', rotate: 'ok' });
const all = (o: Outcome): Record<Action, Outcome> => ({ list: o, show: o, create: o, delete: o, rotate: o });

const MATRIX: Record<'project' | 'group', Record<Actor, Record<Action, Outcome>>> = {
  project: { guest: below(), planner: below(), reporter: below(), developer: below(), maintainer: ok(), owner: ok(), admin: ok(), outsider: all(404), anonymous: all(401) },
  group: { guest: below(), planner: below(), reporter: below(), developer: below(), maintainer: below(), owner: ok(), admin: ok(), outsider: all(404), anonymous: all(401) },
};

const CELLS = (['project', 'group'] as const).flatMap((kind) =>
  (Object.keys(MATRIX[kind]) as Actor[]).flatMap((actor) => ACTIONS.map((action) => ({ kind, actor, action, outcome: MATRIX[kind][actor][action] }))),
);

describe.each(DIALECTS)('access token permissions on %s', (dialect) => {
  let t: TestApp;
  let w: World;

  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
  });
  afterAll(() => t?.close());

  const tokenOf = (actor: Actor) => (actor === 'anonymous' ? null : actor === 'admin' ? w.adminToken : w.users[actor].token);
  const resourceOf = (kind: 'project' | 'group'): Resource => (kind === 'project' ? { type: 'project', project: w.project } : { type: 'group', group: w.sub });
  const baseOf = (kind: 'project' | 'group') => (kind === 'project' ? `/api/v4/projects/${w.project.id}/access_tokens` : `/api/v4/groups/${w.sub.id}/access_tokens`);

  it.each(CELLS)('$kind: $actor → $action: $outcome', async ({ kind, actor, action, outcome }) => {
    // A fresh Guest-level token per cell, made by the admin, so deletes and rotations do not interfere.
    const fixture = await t.app.services.resourceTokens.create(w.admin, resourceOf(kind), { name: 'fixture', scopes: ['read_api'], accessLevel: 10, expiresAt: '2027-01-01' });
    const base = baseOf(kind);
    const before = await tableCounts(t);
    const token = tokenOf(actor);
    const res =
      action === 'list' ? await t.request('GET', base, { token })
      : action === 'show' ? await t.request('GET', `${base}/${fixture.token.id}`, { token })
      : action === 'create' ? await t.request('POST', base, { token, body: { name: 'new', scopes: ['read_api'], access_level: 10, expires_at: '2027-01-01' } })
      : action === 'delete' ? await t.request('DELETE', `${base}/${fixture.token.id}`, { token })
      : await t.request('POST', `${base}/${fixture.token.id}/rotate`, { token });

    if (outcome === 'ok') {
      expect(res.status).toBe({ list: 200, show: 200, create: 201, delete: 204, rotate: 200 }[action]);
      return;
    }
    expect(res.status).toBe(outcome);
    if (outcome === 401) expect(res.body).toEqual({ message: '401 Unauthorized' });
    if (outcome === 404) expect(res.body).toEqual({ message: kind === 'project' ? '404 Project Not Found' : '404 Group Not Found' });
    if (outcome === 400 && action === 'create') expect(res.body).toEqual({ message: `400 Bad request - User does not have permission to create ${kind} access token` });
    if (outcome === 400 && action === 'delete') expect(res.body).toEqual({ message: `400 Bad request - ${w.users[actor as 'guest'].user.name} cannot delete fixture` });
    expect(await tableCounts(t)).toEqual(before);
    // A refused request leaves the token working.
    const shown = await t.app.store.tokens.findById(fixture.token.id);
    expect(shown!.revokedAt).toBeNull();
  });

  it('membership is inherited: an Owner of the top group manages the sub-group’s tokens', async () => {
    const topOwner = await t.app.services.namespaces.createUser(w.admin, { username: 'top-owner', name: 'Top owner', email: 'top-owner@example.com' });
    await t.app.services.namespaces.addMember(w.admin, { type: 'group', group: w.top }, { userId: topOwner.id, accessLevel: 50, expiresAt: null });
    const pat = await t.app.services.personalTokens.createFor(topOwner, { name: 't', scopes: ['api'], expiresAt: '2027-01-01' }, null);
    const res = await t.request('POST', baseOf('group'), { token: pat.secret, body: { name: 'inherited', scopes: ['read_api'], expires_at: '2027-01-01' } });
    expect(res.status).toBe(201);
  });
});
