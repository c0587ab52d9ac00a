/**
 * POST /projects/:id/access_tokens/self/rotate and /groups/:id/access_tokens/self/rotate: a bot
 * rotates the token it authenticates with, using `api` or just `self_rotate`; no other credential can.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';

describe.each(DIALECTS)('access token self-rotation on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
  });
  afterAll(() => t?.close());

  describe.each(['projects', 'groups'] as const)('%s', (kind) => {
    const resourceId = () => (kind === 'projects' ? w.project.id : w.sub.id);
    const base = () => `/api/v4/${kind}/${resourceId()}/access_tokens`;
    const create = async (scopes: string[]) => {
      const res = await t.request('POST', base(), { token: w.users.owner.token, body: { name: 'bot', scopes, access_level: 30, expires_at: '2027-01-01' } });
      expect(res.status).toBe(201);
      return res.body as { id: number; token: string; user_id: number };
    };
    const verify = (secret: string) => t.app.services.verifier.verify(secret);

    it('a self_rotate-only token rotates itself (and can do nothing else); the old secret stops, the new works', async () => {
      const old = await create(['self_rotate']);
      const read = await t.request('GET', `/api/v4/${kind}/${resourceId()}`, { token: old.token });
      expect(read.status).toBe(403);
      expect(read.body.error).toBe('insufficient_scope');

      const res = await t.request('POST', `${base()}/self/rotate`, { token: old.token, body: { expires_at: '2026-12-01' } });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ name: 'bot', scopes: ['self_rotate'], user_id: old.user_id, expires_at: '2026-12-01', active: true, revoked: false });
      expect(res.body.id).not.toBe(old.id);
      expect(res.body.token).toMatch(/^glpat-/);
      const fresh = await verify(res.body.token);
      expect(fresh.ok && fresh.token.id).toBe(res.body.id);
      const stale = await verify(old.token);
      expect(stale.ok).toBe(false);
    });

    it('keeps the old secret working through a grace period', async () => {
      const old = await create(['api']);
      const res = await t.request('POST', `${base()}/self/rotate`, { token: old.token, body: { grace_period: '1h' } });
      expect(res.status).toBe(200);
      expect((await verify(res.body.token)).ok).toBe(true);
      expect((await verify(old.token)).ok).toBe(true);
    });

    it("refuses other credentials with GitLab's codes: 405 for a token that is not a bot's, 401 for a bot token of another resource", async () => {
      // GitLab's self-rotation endpoint: `not_allowed!` unless a bot's access token, before the resource is looked up.
      const personal = await t.request('POST', `${base()}/self/rotate`, { token: w.users.owner.token, body: {} });
      expect(personal).toMatchObject({ status: 405, body: { message: '405 Method Not Allowed' } });
      const hidden = await t.request('POST', `/api/v4/${kind}/999999/access_tokens/self/rotate`, { token: w.users.owner.token, body: {} });
      expect(hidden.status).toBe(405);
      // The group's bot can see the project: the resource is found, the token is not one of its own (`unauthorized!`).
      // The project's bot cannot see the group: 404, as GitLab's find_source answers.
      const otherKind = kind === 'projects' ? 'groups' : 'projects';
      const otherId = kind === 'projects' ? w.sub.id : w.project.id;
      const other = await t.request('POST', `/api/v4/${otherKind}/${otherId}/access_tokens`, { token: w.users.owner.token, body: { name: 'x', scopes: ['api'], access_level: 30, expires_at: '2027-01-01' } });
      expect(other.status).toBe(201);
      const wrong = await t.request('POST', `${base()}/self/rotate`, { token: other.body.token, body: {} });
      if (kind === 'projects') expect(wrong).toMatchObject({ status: 401, body: { message: '401 Unauthorized' } });
      else expect(wrong.status).toBe(404);
      expect((await verify(other.body.token)).ok).toBe(true);
      expect((await t.request('POST', `${base()}/self/rotate`, { body: {} })).status).toBe(401);
    });
  });
});
