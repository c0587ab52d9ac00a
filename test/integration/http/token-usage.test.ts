/**
 * Token usage over HTTP (issue 5, points 3–4): last_used_at and last_used_ips in every token entity,
 * written at most once a minute per token (injected clock), and the reuse flag — a token used from
 * more distinct user agents or client IPs than LATCHKEY_REUSE_* allow is flagged in its response.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { buildApp } from '../../../src/app.js';
import { loadConfig } from '../../../src/config.js';
import { seedWorld, startTestApp, TEST_SECRET, type TestApp, type World } from '../../support/test-app.js';

describe.each(DIALECTS)('token usage and reuse flagging on %s', (dialect) => {
  let t: TestApp;
  let w: World;

  beforeAll(async () => {
    // Smaller limits than the defaults (3 and 3) so each case stays short; the window is the default hour.
    t = await startTestApp(dialect, { env: { LATCHKEY_REUSE_MAX_USER_AGENTS: '2', LATCHKEY_REUSE_MAX_IPS: '3' } });
    w = await seedWorld(t);
  });
  afterAll(() => t?.close());

  /** One API call authenticated with `token`, from `ip` with `userAgent`, then waits for the usage write (if any). */
  async function use(token: string, ip: string, userAgent: string): Promise<number> {
    const res = await t.app.http.inject({ method: 'GET', url: '/api/v4/user', headers: { 'private-token': token, 'user-agent': userAgent }, remoteAddress: ip });
    await t.app.services.tokenUsage.idle();
    return res.statusCode;
  }

  const showPersonal = async (id: number) => (await t.request('GET', `/api/v4/personal_access_tokens/${id}`, { token: w.adminToken })).body;

  async function personalToken(name: string) {
    const res = await t.request('POST', `/api/v4/users/${w.users.developer.user.id}/personal_access_tokens`, { token: w.adminToken, body: { name, scopes: ['read_api'], expires_at: '2027-01-01' } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ last_used_at: null, last_used_ips: [], reuse_flagged: false, reuse_flagged_at: null });
    return res.body as { id: number; token: string };
  }

  it('shows last_used_at and last_used_ips, written at most once a minute, a new IP by the next tick', async () => {
    const pat = await personalToken('usage');
    const start = t.clock.now().getTime();
    expect(await use(pat.token, '198.51.100.1', 'python-gitlab/4.4')).toBe(200);
    expect(await showPersonal(pat.id)).toMatchObject({ last_used_at: new Date(start).toISOString(), last_used_ips: ['198.51.100.1'], reuse_flagged: false });

    t.clock.advance(20_000);
    expect(await use(pat.token, '198.51.100.2', 'python-gitlab/4.4')).toBe(200);
    await t.app.services.tokenUsage.flushDue();
    // Within the minute: nothing written yet.
    expect(await showPersonal(pat.id)).toMatchObject({ last_used_at: new Date(start).toISOString(), last_used_ips: ['198.51.100.1'] });

    t.clock.advance(40_000);
    await t.app.services.tokenUsage.flushDue(); // the tick `serve` runs every few seconds; no new request needed
    expect(await showPersonal(pat.id)).toMatchObject({ last_used_at: new Date(start + 20_000).toISOString(), last_used_ips: ['198.51.100.2', '198.51.100.1'] });

    // The same fields on the list and on /personal_access_tokens/self.
    const list = await t.request('GET', `/api/v4/personal_access_tokens?user_id=${w.users.developer.user.id}`, { token: w.adminToken });
    expect(list.body.find((x: { id: number }) => x.id === pat.id)).toMatchObject({ last_used_ips: ['198.51.100.2', '198.51.100.1'] });
  });

  it('flags a project access token used from more than 2 user agents, in its API response and the admin token look-up', async () => {
    const created = await t.request('POST', `/api/v4/projects/${w.project.id}/access_tokens`, { token: w.users.owner.token, body: { name: 'shared-bot', scopes: ['read_api'], expires_at: '2027-01-01' } });
    expect(created.status).toBe(201);
    const url = `/api/v4/projects/${w.project.id}/access_tokens/${created.body.id}`;
    expect(await use(created.body.token, '10.1.0.1', 'gitlab-runner/17.5')).toBe(200);
    expect(await use(created.body.token, '10.1.0.1', 'renovate/38')).toBe(200);
    expect((await t.request('GET', url, { token: w.users.owner.token })).body).toMatchObject({ reuse_flagged: false, reuse_flagged_at: null });

    t.clock.advance(5000);
    expect(await use(created.body.token, '10.1.0.1', 'curl/8.5')).toBe(200); // the third agent: over the limit, written at once
    const shown = (await t.request('GET', url, { token: w.users.owner.token })).body;
    expect(shown).toMatchObject({ reuse_flagged: true, reuse_flagged_at: t.clock.now().toISOString(), last_used_ips: ['10.1.0.1'] });
    // The flag does not stop the token: it is a warning, not a revocation.
    expect(await use(created.body.token, '10.1.0.1', 'curl/8.5')).toBe(200);

    const identified = await t.request('POST', '/api/v4/admin/token', { token: w.adminToken, body: { token: created.body.token } });
    expect(identified.body).toMatchObject({ id: created.body.id, reuse_flagged: true, reuse_flagged_at: shown.reuse_flagged_at });
  });

  it('flags a token seen from more than 3 client IPs with one user agent', async () => {
    const pat = await personalToken('many-ips');
    for (const ip of ['203.0.113.1', '203.0.113.2', '203.0.113.3']) expect(await use(pat.token, ip, 'terraform/1.9')).toBe(200);
    expect((await showPersonal(pat.id)).reuse_flagged).toBe(false);
    expect(await use(pat.token, '203.0.113.4', 'terraform/1.9')).toBe(200);
    expect(await showPersonal(pat.id)).toMatchObject({ reuse_flagged: true, last_used_ips: ['203.0.113.4', '203.0.113.3', '203.0.113.2', '203.0.113.1'] });
  });

  it('does not flag a token used by one automation from one place', async () => {
    const pat = await personalToken('well-kept');
    for (let i = 0; i < 5; i++) {
      expect(await use(pat.token, '192.0.2.10', 'my-bot/1.0')).toBe(200);
      t.clock.advance(61_000);
    }
    expect(await showPersonal(pat.id)).toMatchObject({ reuse_flagged: false, last_used_ips: ['192.0.2.10'] });
  });

  it('two nodes on one database count their user agents together; the flag shows on both', async () => {
    // A second node: its own verifier, cache and usage tracker, the same database and clock.
    const config = loadConfig({ LATCHKEY_SECRET: TEST_SECRET, LATCHKEY_LOG_LEVEL: 'silent', LATCHKEY_DATA_DIR: '/nonexistent-latchkey-test', LATCHKEY_REUSE_MAX_USER_AGENTS: '2', LATCHKEY_REUSE_MAX_IPS: '3' });
    const other = await buildApp(config, { clock: t.clock, store: t.app.store });
    try {
      const pat = await personalToken('two-nodes');
      const call = (app: typeof other, userAgent: string, ip: string) =>
        app.http.inject({ method: 'GET', url: '/api/v4/user', headers: { 'private-token': pat.token, 'user-agent': userAgent }, remoteAddress: ip });
      expect((await call(t.app, 'node-a-client/1', '10.2.0.1')).statusCode).toBe(200);
      expect((await call(t.app, 'node-a-client/2', '10.2.0.1')).statusCode).toBe(200);
      expect((await call(other, 'node-b-client/1', '10.2.0.2')).statusCode).toBe(200);
      expect((await call(other, 'node-b-client/2', '10.2.0.2')).statusCode).toBe(200);
      await Promise.all([t.app.services.tokenUsage.idle(), other.services.tokenUsage.idle()]);
      // Each node alone saw two agents, within the limit; only the merged window (four) is over it.
      t.clock.advance(60_000);
      await Promise.all([t.app.services.tokenUsage.flushDue(), other.services.tokenUsage.flushDue()]);
      const shown = await showPersonal(pat.id);
      expect(shown).toMatchObject({ reuse_flagged: true });
      expect([...shown.last_used_ips].sort()).toEqual(['10.2.0.1', '10.2.0.2']);
      const viaOther = await other.http.inject({ method: 'GET', url: `/api/v4/personal_access_tokens/${pat.id}`, headers: { 'private-token': w.adminToken } });
      expect(JSON.parse(viaOther.body)).toMatchObject({ reuse_flagged: true, reuse_flagged_at: shown.reuse_flagged_at });
    } finally {
      await other.close();
    }
  });

  it('deploy tokens carry last_used_at, last_used_ips and the flag too (Latchkey extension)', async () => {
    const created = await t.request('POST', `/api/v4/projects/${w.project.id}/deploy_tokens`, { token: w.users.maintainer.token, body: { name: 'pull', scopes: ['read_registry'] } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ last_used_at: null, last_used_ips: [], reuse_flagged: false, reuse_flagged_at: null });
    // Deploy tokens are used by the registry, git and package endpoints, which verify with the same
    // verifier and pass where the credential came from.
    for (const ua of ['docker/27', 'containerd/1.7', 'skopeo/1.14']) {
      const r = await t.app.services.verifier.verify(created.body.token, { ip: '10.9.0.1', userAgent: ua });
      expect(r.ok).toBe(true);
    }
    await t.app.services.tokenUsage.idle();
    const shown = await t.request('GET', `/api/v4/projects/${w.project.id}/deploy_tokens/${created.body.id}`, { token: w.users.maintainer.token });
    expect(shown.body).toMatchObject({ last_used_at: t.clock.now().toISOString(), last_used_ips: ['10.9.0.1'], reuse_flagged: true });
    expect(shown.body.reuse_flagged_at).toBe(t.clock.now().toISOString());
  });
});
