/**
 * Rotation of personal access tokens with an injected clock: GitLab's default (old secret revoked at
 * once, new one expiring in a week), Latchkey's grace_period, reuse detection revoking the chain that
 * came from a rotated-away secret presented to a rotate endpoint (and only there: reuse-detection.test.ts
 * covers the other endpoints), self-rotation with the self_rotate scope, and the cache staying
 * coherent (a 60 s verification cache would hide any missed invalidation).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, tableCounts, type TestApp, type World } from '../../support/test-app.js';

const START = '2026-11-23T10:00:00.000Z';

describe.each(DIALECTS)('token rotation on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  beforeAll(async () => {
    t = await startTestApp(dialect, { now: START, env: { LATCHKEY_VERIFY_CACHE_MS: '60000' } });
    w = await seedWorld(t);
  });
  afterAll(() => t?.close());
  beforeEach(() => t.clock.set(START));

  const newToken = async (scopes = ['api'], user = w.users.developer.user.id) =>
    (await t.request('POST', `/api/v4/users/${user}/personal_access_tokens`, { token: w.adminToken, body: { name: 'rot', scopes, expires_at: '2027-06-01', description: 'd' } })).body as { id: number; token: string };
  const rotate = (id: number | 'self', token: string, body?: unknown) => t.request('POST', `/api/v4/personal_access_tokens/${id}/rotate`, { token, body });
  const works = async (secret: string) => (await t.request('GET', '/api/v4/user', { token: secret })).status === 200;
  const show = async (id: number) => (await t.request('GET', `/api/v4/personal_access_tokens/${id}`, { token: w.adminToken })).body;

  it('without grace: new secret, same name/scopes/owner, a week by default; the old one stops at once', async () => {
    const old = await newToken();
    expect(await works(old.token)).toBe(true); // now cached for 60 s
    const res = await rotate(old.id, w.users.developer.token);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: 'rot', description: 'd', scopes: ['api'], user_id: w.users.developer.user.id, expires_at: '2026-11-30', active: true, revoked: false });
    expect(res.body.id).not.toBe(old.id);
    expect(res.body.token).toMatch(/^glpat-/);
    const oldShown = await show(old.id);
    expect(oldShown).toMatchObject({ revoked: true, active: false, grace_until: null });
    expect(await works(res.body.token)).toBe(true);
  });

  it('expires_at on rotate is honoured and checked against the maximum lifetime', async () => {
    const old = await newToken();
    const tooLong = await rotate(old.id, w.adminToken, { expires_at: '2028-01-01' });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.message).toBe('400 Bad request - Expires at must be before 2027-11-24 (maximum lifetime 365 days)');
    expect(await works(old.token)).toBe(true);
    const ok = await rotate(old.id, w.adminToken, { expires_at: '2027-03-01' });
    expect(ok.status).toBe(200);
    expect(ok.body.expires_at).toBe('2027-03-01');
  });

  it('with grace_period the old secret works until grace_until, shown on the old token, then stops', async () => {
    const old = await newToken();
    const res = await rotate(old.id, w.users.developer.token, { grace_period: '1h' });
    expect(res.status).toBe(200);
    const oldShown = await show(old.id);
    expect(oldShown).toMatchObject({ revoked: false, active: true, grace_until: '2026-11-23T11:00:00.000Z' });
    t.clock.advance(59 * 60_000);
    expect(await works(old.token)).toBe(true);
    let lastUsed = null;
    for (let i = 0; i < 100 && lastUsed === null; i++) {
      lastUsed = (await show(old.id)).last_used_at;
      if (lastUsed === null) await new Promise((r) => setTimeout(r, 10));
    }
    expect(lastUsed).toBe('2026-11-23T10:59:00.000Z'); // consumers not switched yet
    expect(await works(res.body.token)).toBe(true);
    t.clock.advance(60_000);
    expect(await show(old.id)).toMatchObject({ revoked: true, active: false });
  });

  it('reuse: a rotated-away secret presented to a rotate endpoint after its grace revokes the whole chain, and it is recorded', async () => {
    const first = await newToken();
    const second = (await rotate(first.id, w.adminToken, { grace_period: 60 })).body;
    const third = (await rotate(second.id, w.adminToken)).body;
    expect(await works(third.token)).toBe(true); // cached
    t.clock.advance(61_000);
    // A plain request with it: refused, nothing revoked (GitLab limits reuse detection to rotation).
    const stale = await t.request('GET', '/api/v4/user', { token: first.token });
    expect(stale.status).toBe(401);
    expect(stale.body).toEqual({ error: 'invalid_token', error_description: 'Token was revoked. You have to re-authorize from the user.' });
    expect(await works(third.token)).toBe(true);
    // Presented to a rotate endpoint: reuse.
    const reused = await rotate('self', first.token);
    expect(reused.status).toBe(401);
    expect(reused.body).toEqual({ error: 'invalid_token', error_description: 'Token was revoked. You have to re-authorize from the user.' });
    expect(await works(third.token)).toBe(false);
    const rows = await t.app.store.db.selectFrom('tokens').select(['id', 'revoke_reason', 'reuse_detected_at', 'rotated_from_id']).where('id', 'in', [first.id, second.id, third.id]).orderBy('id').execute();
    expect(rows).toEqual([
      { id: first.id, revoke_reason: 'rotated', reuse_detected_at: '2026-11-23T10:01:01.000Z', rotated_from_id: null },
      { id: second.id, revoke_reason: 'rotated', reuse_detected_at: null, rotated_from_id: first.id },
      { id: third.id, revoke_reason: 'reuse_detected', reuse_detected_at: null, rotated_from_id: second.id },
    ]);
    // Presenting it again writes nothing new to the tokens.
    const before = await tableCounts(t);
    expect((await rotate('self', first.token)).status).toBe(401);
    expect(await tableCounts(t)).toEqual(before);
  });

  it('reuse after an immediate rotation revokes the new token too (GitLab), on a rotate endpoint only', async () => {
    const old = await newToken();
    const next = (await rotate(old.id, w.adminToken)).body;
    expect(await works(next.token)).toBe(true);
    expect(await works(old.token)).toBe(false);
    expect(await works(next.token)).toBe(true);
    expect((await rotate('self', old.token)).status).toBe(401);
    expect(await works(next.token)).toBe(false);
    expect((await show(next.id)).revoked).toBe(true);
  });

  it('reuse within the grace period is not reuse', async () => {
    const old = await newToken();
    const next = (await rotate(old.id, w.adminToken, { grace_period: 3600 })).body;
    expect(await works(old.token)).toBe(true);
    expect(await works(next.token)).toBe(true);
  });

  it('rotating a rotated-away token again by id is refused and revokes nothing (GitLab: the old secret was not presented)', async () => {
    const old = await newToken();
    const next = (await rotate(old.id, w.adminToken)).body;
    const again = await rotate(old.id, w.adminToken);
    expect(again.status).toBe(400);
    expect(again.body).toEqual({ message: '400 Bad request - token already revoked' });
    expect(await works(next.token)).toBe(true);
  });

  it('self rotation: api or self_rotate; read_api is refused', async () => {
    const ro = await newToken(['read_api']);
    const refused = await rotate('self', ro.token);
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ error: 'insufficient_scope', scope: 'api' });
    const sr = await newToken(['self_rotate']);
    expect((await t.request('GET', '/api/v4/user', { token: sr.token })).status).toBe(403);
    const res = await rotate('self', sr.token, { grace_period: '10m' });
    expect(res.status).toBe(200);
    expect(res.body.scopes).toEqual(['self_rotate']);
    expect((await show(sr.id)).grace_until).toBe('2026-11-23T10:10:00.000Z');
  });

  it('permissions (GitLab): another user or an unknown id is 401; only an admin learns it does not exist (404)', async () => {
    const old = await newToken();
    const other = await rotate(old.id, w.users.owner.token);
    expect(other.status).toBe(401);
    expect(other.body).toEqual({ message: '401 Unauthorized' });
    expect((await rotate(999999, w.users.owner.token)).status).toBe(401);
    const unknown = await rotate(999999, w.adminToken);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ message: '404 Not Found' });
    expect(await works(old.token)).toBe(true);
  });

  it.each([[{ grace_period: -1 }], [{ grace_period: '3 weeks' }], [{ grace_period: 31 * 86400 }], [{ expires_at: 'soon' }], [{ grace_period: { a: 1 } }]])('400 and nothing written for %j', async (body) => {
    const old = await newToken();
    const before = await tableCounts(t);
    const res = await rotate(old.id, w.adminToken, body);
    expect(res.status).toBe(400);
    expect(await tableCounts(t)).toEqual(before);
    expect((await show(old.id)).revoked).toBe(false);
  });

  it('a revoked token cannot be rotated', async () => {
    const old = await newToken();
    await t.request('DELETE', `/api/v4/personal_access_tokens/${old.id}`, { token: w.adminToken });
    const res = await rotate(old.id, w.adminToken);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ message: '400 Bad request - token already revoked' });
  });
});
