/**
 * A deploy token over time: it stops working at 00:00 UTC of its expires_at date (in the verifier,
 * even with a warm cache, and in what the API shows), and DELETE revokes it at once (even when the
 * verifier had it cached) and hides it from every listing; a second DELETE is a 404.
 *
 * The verification cache is set to 60 s so that every check below would pass on a stale cache entry
 * if expiry and revocation did not reach it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';

const START = '2026-11-23T10:00:00.000Z';

describe.each(DIALECTS)('deploy token lifecycle on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let maintainer: string;
  let owner: string;
  let projectUrl: string;
  let groupUrl: string;

  beforeAll(async () => {
    t = await startTestApp(dialect, { now: START, env: { LATCHKEY_VERIFY_CACHE_MS: '60000' } });
    w = await seedWorld(t);
    maintainer = w.users.maintainer.token;
    owner = w.users.owner.token;
    projectUrl = `/api/v4/projects/${w.project.id}/deploy_tokens`;
    groupUrl = `/api/v4/groups/${w.sub.id}/deploy_tokens`;
  });
  afterAll(() => t?.close());
  afterEach(() => t.clock.set(START));

  const verify = (secret: string) => t.app.services.verifier.verify(secret);
  const ids = async (url: string, token = w.adminToken) => {
    const res = await t.request('GET', url, { token });
    expect(res.status).toBe(200);
    return res.body.map((x: any) => x.id) as number[];
  };

  describe('expiry at 00:00 UTC of expires_at', () => {
    it('works until 23:59:59.999 the day before and stops at 00:00:00 UTC, in the verifier and in the API', async () => {
      const created = await t.request('POST', projectUrl, { token: maintainer, body: { name: 'two days', scopes: ['read_registry'], expires_at: '2026-11-25' } });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ expires_at: '2026-11-25T00:00:00.000Z', expired: false });
      const { id, token: secret } = created.body;

      t.clock.set('2026-11-24T23:59:59.999Z');
      const before = await verify(secret);
      expect(before.ok).toBe(true);
      expect(before.ok && before.token.id).toBe(id);
      const shownBefore = await t.request('GET', `${projectUrl}/${id}`, { token: maintainer });
      expect(shownBefore.body).toMatchObject({ id, expired: false, revoked: false, expires_at: '2026-11-25T00:00:00.000Z' });
      expect(await ids(`${projectUrl}?active=true`, maintainer)).toContain(id);
      // active=false is no filter in GitLab: the active token is listed too.
      expect(await ids(`${projectUrl}?active=false`, maintainer)).toContain(id);

      // One millisecond later: the cached "valid" answer from above must not survive midnight.
      t.clock.set('2026-11-25T00:00:00.000Z');
      const after = await verify(secret);
      expect(after).toMatchObject({ ok: false, reason: 'expired' });
      const shownAfter = await t.request('GET', `${projectUrl}/${id}`, { token: maintainer });
      expect(shownAfter.status).toBe(200);
      expect(shownAfter.body).toMatchObject({ id, expired: true, revoked: false, expires_at: '2026-11-25T00:00:00.000Z' });
      expect(await ids(`${projectUrl}?active=true`, maintainer)).not.toContain(id);
      expect(await ids(`${projectUrl}?active=false`, maintainer)).toContain(id);
      expect(await ids('/api/v4/deploy_tokens?active=false&per_page=100')).toContain(id);
      expect(await ids('/api/v4/deploy_tokens?active=true&per_page=100')).not.toContain(id);
      // Without a filter, an expired token is still listed (GitLab lists it with expired: true).
      const all = await t.request('GET', projectUrl, { token: maintainer });
      expect(all.body.find((x: any) => x.id === id)).toMatchObject({ expired: true, revoked: false });
    });

    it('a date-time expires_at also stops the token at 00:00 UTC of its date', async () => {
      const created = await t.request('POST', groupUrl, { token: owner, body: { name: 'date-time', scopes: ['read_repository'], expires_at: '2026-11-26T18:30:00Z' } });
      expect(created.status).toBe(201);
      expect(created.body.expires_at).toBe('2026-11-26T00:00:00.000Z');
      t.clock.set('2026-11-25T23:59:59.999Z');
      expect((await verify(created.body.token)).ok).toBe(true);
      t.clock.set('2026-11-26T00:00:00.000Z');
      expect(await verify(created.body.token)).toMatchObject({ ok: false, reason: 'expired' });
      const shown = await t.request('GET', `${groupUrl}/${created.body.id}`, { token: owner });
      expect(shown.body.expired).toBe(true);
    });

    it('a token without expires_at keeps working years later', async () => {
      const created = await t.request('POST', projectUrl, { token: maintainer, body: { name: 'no expiry', scopes: ['read_repository'] } });
      expect(created.body.expires_at).toBeNull();
      t.clock.set('2036-11-23T10:00:00.000Z');
      expect((await verify(created.body.token)).ok).toBe(true);
    });

    it('an expired token can still be deleted, and is then gone', async () => {
      const created = await t.request('POST', projectUrl, { token: maintainer, body: { name: 'expire then delete', scopes: ['read_repository'], expires_at: '2026-11-24' } });
      t.clock.set('2026-11-24T00:00:00.000Z');
      expect(await verify(created.body.token)).toMatchObject({ ok: false, reason: 'expired' });
      const del = await t.request('DELETE', `${projectUrl}/${created.body.id}`, { token: maintainer });
      expect(del.status).toBe(204);
      expect(await ids(`${projectUrl}?active=false`, maintainer)).not.toContain(created.body.id);
      expect((await t.request('GET', `${projectUrl}/${created.body.id}`, { token: maintainer })).status).toBe(404);
    });
  });

  describe('DELETE revokes', () => {
    it('a project token stops verifying at once, even though the verifier had it cached', async () => {
      const created = await t.request('POST', projectUrl, { token: maintainer, body: { name: 'cached then revoked', scopes: ['read_repository'], expires_at: '2027-01-01' } });
      const { id, token: secret } = created.body;
      expect((await verify(secret)).ok).toBe(true);
      expect((await verify(secret)).ok).toBe(true); // now served from the cache

      const del = await t.request('DELETE', `${projectUrl}/${id}`, { token: maintainer });
      expect(del.status).toBe(204);
      expect(await verify(secret)).toMatchObject({ ok: false, reason: 'revoked' });
      // Still refused once the cache entry would have run out.
      t.clock.set('2026-11-23T10:05:00.000Z');
      expect(await verify(secret)).toMatchObject({ ok: false, reason: 'revoked' });
    });

    it('the revoked token disappears from the project list, the instance list (whatever the filter) and show; a second DELETE is 404', async () => {
      const keep = await t.request('POST', projectUrl, { token: maintainer, body: { name: 'keep', scopes: ['read_repository'] } });
      const gone = await t.request('POST', projectUrl, { token: maintainer, body: { name: 'gone', scopes: ['read_repository'] } });
      expect((await t.request('DELETE', `${projectUrl}/${gone.body.id}`, { token: maintainer })).status).toBe(204);

      for (const url of [projectUrl, `${projectUrl}?active=true`, `${projectUrl}?active=false`]) {
        expect(await ids(url, maintainer)).not.toContain(gone.body.id);
      }
      expect(await ids(projectUrl, maintainer)).toContain(keep.body.id);
      for (const url of ['/api/v4/deploy_tokens?per_page=100', '/api/v4/deploy_tokens?active=true&per_page=100', '/api/v4/deploy_tokens?active=false&per_page=100']) {
        expect(await ids(url)).not.toContain(gone.body.id);
      }
      const shown = await t.request('GET', `${projectUrl}/${gone.body.id}`, { token: maintainer });
      expect(shown.status).toBe(404);
      expect(shown.body).toEqual({ message: '404 Not found' });
      const again = await t.request('DELETE', `${projectUrl}/${gone.body.id}`, { token: maintainer });
      expect(again.status).toBe(404);
      expect(again.body).toEqual({ message: '404 Not found' });
      const asAdmin = await t.request('DELETE', `${projectUrl}/${gone.body.id}`, { token: w.adminToken });
      expect(asAdmin.status).toBe(404);
      expect((await verify(keep.body.token)).ok).toBe(true);
    });

    it('a group token: DELETE by an Owner revokes it at once and hides it', async () => {
      const created = await t.request('POST', groupUrl, { token: owner, body: { name: 'group revoke', scopes: ['read_registry', 'write_registry'] } });
      expect((await verify(created.body.token)).ok).toBe(true);
      const del = await t.request('DELETE', `${groupUrl}/${created.body.id}`, { token: owner });
      expect(del.status).toBe(204);
      expect(await verify(created.body.token)).toMatchObject({ ok: false, reason: 'revoked' });
      expect(await ids(groupUrl, owner)).not.toContain(created.body.id);
      expect((await t.request('GET', `${groupUrl}/${created.body.id}`, { token: owner })).status).toBe(404);
      expect((await t.request('DELETE', `${groupUrl}/${created.body.id}`, { token: owner })).status).toBe(404);
    });

    it('a refused DELETE (a Developer) leaves the token working', async () => {
      const created = await t.request('POST', projectUrl, { token: maintainer, body: { name: 'survivor', scopes: ['read_repository'] } });
      expect((await verify(created.body.token)).ok).toBe(true);
      const del = await t.request('DELETE', `${projectUrl}/${created.body.id}`, { token: w.users.developer.token });
      expect(del.status).toBe(403);
      expect((await verify(created.body.token)).ok).toBe(true);
      expect(await ids(projectUrl, maintainer)).toContain(created.body.id);
    });
  });
});
