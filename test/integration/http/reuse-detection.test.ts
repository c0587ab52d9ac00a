/**
 * Reuse detection as GitLab limits it (MR 126806, issue 418769): a rotated-away secret presented to a
 * rotate endpoint (`…/access_tokens/:id/rotate`, `…/self/rotate`) revokes its whole family; presented
 * anywhere else — the REST API, git's auth_request, the registry's /jwt/auth, the generic package
 * registry — it is a 401 and a `token.reuse_attempt` audit entry with the IP, user agent and endpoint,
 * and the token every updated consumer now uses keeps working. Rotating a rotated-away token by id with
 * another valid credential is "token already revoked" and nothing more.
 *
 * @see issue 11 item 1
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';

const START = '2026-11-23T10:00:00.000Z';
const STALE_AGENT = 'nightly-backup-cron/2.1';
const basic = (username: string, secret: string) => `Basic ${Buffer.from(`${username}:${secret}`).toString('base64')}`;

describe.each(DIALECTS)('reuse detection on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let root: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'lk-reuse-'));
    // A long verification cache: a missed invalidation would show as a token that still works.
    t = await startTestApp(dialect, { now: START, env: { LATCHKEY_VERIFY_CACHE_MS: '60000', LATCHKEY_PACKAGES_DIR: join(root, 'packages'), LATCHKEY_AUDIT_FLUSH_MS: '60000' } });
    w = await seedWorld(t);
  });
  afterAll(async () => {
    await t?.close();
    await rm(root, { recursive: true, force: true });
  });
  beforeEach(() => t.clock.set(START));

  const developer = () => w.users.developer;
  /** A personal token of the developer, rotated at once (GitLab's default): the old secret is stale. */
  async function rotatedPair(scopes = ['api']) {
    const old = (await t.request('POST', `/api/v4/users/${developer().user.id}/personal_access_tokens`, { token: w.adminToken, body: { name: 'cron', scopes, expires_at: '2027-06-01' } })).body;
    const next = await t.request('POST', `/api/v4/personal_access_tokens/${old.id}/rotate`, { token: w.adminToken });
    expect(next.status).toBe(200);
    return { old: old as { id: number; token: string }, next: next.body as { id: number; token: string } };
  }
  const whoami = (secret: string) => t.request('GET', '/api/v4/user', { token: secret, headers: { 'user-agent': STALE_AGENT } });
  const tokenRow = (id: number) => t.app.store.db.selectFrom('tokens').select(['revoked_at', 'revoke_reason', 'reuse_detected_at']).where('id', '=', id).executeTakeFirstOrThrow();
  async function auditOf(tokenId: number, event: string) {
    await t.app.services.auditWriter.flush();
    const res = await t.request('GET', `/api/v4/latchkey/audit_events?token_id=${tokenId}&event=${event}`, { token: w.adminToken });
    expect(res.status, res.text).toBe(200);
    return res.body as any[];
  }

  describe('a rotated-away secret presented outside the rotate endpoints', () => {
    it('REST API: 401, an audit entry naming IP, user agent and endpoint; the new token keeps working', async () => {
      const { old, next } = await rotatedPair();
      expect((await whoami(next.token)).status).toBe(200); // cached for 60 s
      const stale = await whoami(old.token);
      expect(stale.status).toBe(401);
      expect(stale.body).toEqual({ error: 'invalid_token', error_description: 'Token was revoked. You have to re-authorize from the user.' });
      // Again and again, as a cron job would: never a family revocation.
      for (let i = 0; i < 3; i++) expect((await whoami(old.token)).status).toBe(401);
      expect((await whoami(next.token)).status).toBe(200);
      expect(await tokenRow(next.id)).toEqual({ revoked_at: null, revoke_reason: null, reuse_detected_at: null });
      expect((await tokenRow(old.id)).reuse_detected_at).toBeNull();

      const attempts = await auditOf(old.id, 'token.reuse_attempt');
      expect(attempts).toHaveLength(4);
      expect(attempts[0]).toMatchObject({
        event: 'token.reuse_attempt',
        token_id: old.id,
        ip: '127.0.0.1',
        user_agent: STALE_AGENT,
        details: { ip: '127.0.0.1', user_agent: STALE_AGENT, endpoint: 'GET /api/v4/user', rotated_at: START },
      });
      expect(await auditOf(old.id, 'token.reuse_detected')).toEqual([]);
    });

    it('git auth_request: 401 for git, the attempt recorded with the client address nginx reported', async () => {
      const { old, next } = await rotatedPair(['read_repository']);
      const ask = (secret: string) =>
        t.request('GET', '/api/v4/latchkey/git/auth', {
          headers: {
            authorization: basic('developer-user', secret),
            'x-original-method': 'GET',
            'x-original-uri': '/acme/platform/web.git/info/refs?service=git-upload-pack',
            'x-real-ip': '10.1.2.3',
            'user-agent': 'git/2.39.5',
          },
        });
      expect((await ask(old.token)).status).toBe(401);
      expect((await ask(next.token)).status).toBe(200);
      expect(await tokenRow(next.id)).toMatchObject({ revoked_at: null });
      const [attempt] = await auditOf(old.id, 'token.reuse_attempt');
      expect(attempt).toMatchObject({ ip: '10.1.2.3', user_agent: 'git/2.39.5', details: { endpoint: 'GET /acme/platform/web.git/info/refs' } });
    });

    it('registry /jwt/auth: 401, recorded; the new token still gets a registry token', async () => {
      const { old, next } = await rotatedPair(['read_registry']);
      const ask = (secret: string) =>
        t.request('GET', '/jwt/auth?service=container_registry&scope=repository:acme/platform/web:pull', { headers: { authorization: basic('developer-user', secret), 'user-agent': 'skopeo/1.9.3' } });
      expect((await ask(old.token)).status).toBe(401);
      expect((await ask(next.token)).status).toBe(200);
      expect(await tokenRow(next.id)).toMatchObject({ revoked_at: null });
      const [attempt] = await auditOf(old.id, 'token.reuse_attempt');
      expect(attempt).toMatchObject({ user_agent: 'skopeo/1.9.3', details: { endpoint: 'GET /jwt/auth' } });
    });

    it('generic package registry: 401, recorded; the new token downloads', async () => {
      const { old, next } = await rotatedPair(['api']);
      const url = `/api/v4/projects/${w.project.id}/packages/generic/tool/1.0.0/tool.bin`;
      expect((await t.request('PUT', url, { token: next.token, rawBody: 'bytes', headers: { 'content-type': 'application/octet-stream' } })).status).toBe(201);
      const stale = await t.request('GET', url, { token: old.token, headers: { 'user-agent': 'curl/8.5.0' } });
      expect(stale.status).toBe(401);
      const fresh = await t.request('GET', url, { token: next.token });
      expect(fresh.status).toBe(200);
      expect(fresh.text).toBe('bytes');
      const [attempt] = await auditOf(old.id, 'token.reuse_attempt');
      expect(attempt).toMatchObject({ user_agent: 'curl/8.5.0', details: { endpoint: `GET ${url}` } });
    });

    it('within a grace period the old secret simply works: no attempt', async () => {
      const old = (await t.request('POST', `/api/v4/users/${developer().user.id}/personal_access_tokens`, { token: w.adminToken, body: { name: 'graceful', scopes: ['api'], expires_at: '2027-06-01' } })).body;
      expect((await t.request('POST', `/api/v4/personal_access_tokens/${old.id}/rotate`, { token: w.adminToken, body: { grace_period: 3600 } })).status).toBe(200);
      expect((await whoami(old.token)).status).toBe(200);
      expect(await auditOf(old.id, 'token.reuse_attempt')).toEqual([]);
    });
  });

  describe('a rotated-away secret presented to a rotate endpoint', () => {
    it('POST /personal_access_tokens/self/rotate: 401 and the whole family is revoked, once', async () => {
      const { old, next } = await rotatedPair();
      const third = (await t.request('POST', `/api/v4/personal_access_tokens/${next.id}/rotate`, { token: w.adminToken })).body;
      expect((await whoami(third.token)).status).toBe(200); // cached
      t.clock.advance(1000);
      const res = await t.request('POST', '/api/v4/personal_access_tokens/self/rotate', { token: old.token, headers: { 'user-agent': 'thief/1.0' } });
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: 'invalid_token', error_description: 'Token was revoked. You have to re-authorize from the user.' });
      expect((await whoami(third.token)).status).toBe(401);
      expect(await tokenRow(old.id)).toEqual({ revoked_at: START, revoke_reason: 'rotated', reuse_detected_at: '2026-11-23T10:00:01.000Z' });
      expect(await tokenRow(next.id)).toMatchObject({ revoke_reason: 'rotated', reuse_detected_at: null });
      expect(await tokenRow(third.id)).toMatchObject({ revoked_at: '2026-11-23T10:00:01.000Z', revoke_reason: 'reuse_detected' });
      const [detected] = await auditOf(old.id, 'token.reuse_detected');
      expect(detected).toMatchObject({ user_agent: 'thief/1.0', ip: '127.0.0.1', details: { revoked_ids: [third.id], endpoint: 'POST /api/v4/personal_access_tokens/self/rotate' } });
      // Presented again: nothing more to revoke; recorded as an attempt.
      expect((await t.request('POST', '/api/v4/personal_access_tokens/self/rotate', { token: old.token })).status).toBe(401);
      expect(await auditOf(old.id, 'token.reuse_detected')).toHaveLength(1);
      expect(await auditOf(old.id, 'token.reuse_attempt')).toHaveLength(1);
    });

    it('POST /personal_access_tokens/:id/rotate authenticated with the stale secret revokes the family too', async () => {
      const { old, next } = await rotatedPair();
      expect((await t.request('POST', `/api/v4/personal_access_tokens/${next.id}/rotate`, { token: old.token })).status).toBe(401);
      expect((await whoami(next.token)).status).toBe(401);
      expect(await tokenRow(next.id)).toMatchObject({ revoke_reason: 'reuse_detected' });
    });

    it('a project access token presented to /projects/:id/access_tokens/self/rotate after rotation revokes its family', async () => {
      const created = (await t.request('POST', `/api/v4/projects/${w.project.id}/access_tokens`, { token: w.adminToken, body: { name: 'bot', scopes: ['self_rotate', 'read_api'], expires_at: '2027-06-01' } })).body;
      const rotated = await t.request('POST', `/api/v4/projects/${w.project.id}/access_tokens/self/rotate`, { token: created.token });
      expect(rotated.status).toBe(200);
      // Elsewhere: only an attempt.
      expect((await t.request('GET', `/api/v4/projects/${w.project.id}`, { token: created.token })).status).toBe(401);
      expect((await t.request('GET', `/api/v4/projects/${w.project.id}`, { token: rotated.body.token })).status).toBe(200);
      // On the rotate endpoint: reuse.
      expect((await t.request('POST', `/api/v4/projects/${w.project.id}/access_tokens/self/rotate`, { token: created.token })).status).toBe(401);
      expect((await t.request('GET', `/api/v4/projects/${w.project.id}`, { token: rotated.body.token })).status).toBe(401);
      expect(await tokenRow(rotated.body.id)).toMatchObject({ revoke_reason: 'reuse_detected' });
    });
  });

  it('rotating a rotated-away token by id with a valid credential: 400 "token already revoked", nothing else revoked', async () => {
    const { old, next } = await rotatedPair();
    const again = await t.request('POST', `/api/v4/personal_access_tokens/${old.id}/rotate`, { token: w.adminToken });
    expect(again.status).toBe(400);
    expect(again.body).toEqual({ message: '400 Bad request - token already revoked' });
    expect((await whoami(next.token)).status).toBe(200);
    expect(await tokenRow(next.id)).toMatchObject({ revoked_at: null });
  });
});
