/**
 * Refresh grants with an expiry (issue 17 item 4) on both stores, with the injected clock: under
 * LATCHKEY_OAUTH_REFRESH_TOKEN_LIFETIME_DAYS a grant's refresh works until N days after it was issued
 * (refreshes do not extend it) and is invalid_grant after; the expiry is stored at issue.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatExpiringReport } from '../../../src/cli/expiring-command.js';
import { ConfigError, loadConfig } from '../../../src/config.js';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp } from '../../support/test-app.js';
import { csrfOf, webClient } from '../../support/web-client.js';

const PASSWORD = 'correct horse battery staple 42';
const REDIRECT = 'https://client.example.com/callback';
const DAY = 86_400_000;

describe.each(DIALECTS)('OAuth refresh grant lifetime on %s', (dialect) => {
  let t: TestApp;
  let clientId: string;
  let w: Awaited<ReturnType<typeof seedWorld>>;

  beforeAll(async () => {
    t = await startTestApp(dialect, { env: { LATCHKEY_OAUTH_REFRESH_TOKEN_LIFETIME_DAYS: '30' } });
    w = await seedWorld(t);
    await t.app.services.accounts.setPasswordByUsername('developer-user', PASSWORD);
    const app = await t.request('POST', '/api/v4/applications', { token: w.adminToken, body: { name: 'CLI tool', redirect_uri: REDIRECT, scopes: 'api read_user', confidential: false } });
    clientId = app.body.application_id;
  });
  afterAll(() => t?.close());

  const token = (fields: Record<string, string>) =>
    t.request('POST', '/oauth/token', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, rawBody: new URLSearchParams(fields).toString() });
  const refresh = (refreshToken: string) => token({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId });

  async function codeFlow() {
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const c = webClient(t);
    await c.signIn('developer-user', PASSWORD);
    const params = { client_id: clientId, redirect_uri: REDIRECT, response_type: 'code', scope: 'api read_user', code_challenge: challenge, code_challenge_method: 'S256' };
    const page = await c.get(`/oauth/authorize?${new URLSearchParams(params).toString()}`);
    const hidden = Object.fromEntries([...page.html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!.replace(/&amp;/g, '&')]));
    const res = await c.post('/oauth/authorize', { ...hidden, decision: 'approve', _csrf: csrfOf(page.html) });
    const code = new URL(res.location!).searchParams.get('code')!;
    const issued = await token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: clientId, code_verifier: verifier });
    expect(issued.status).toBe(200);
    return issued.body as { access_token: string; refresh_token: string };
  }

  it('stores the expiry at issue; refresh works before it (without extending it) and is invalid_grant after', async () => {
    const issuedAt = t.clock.now().getTime();
    const first = await codeFlow();
    const grants = await t.app.store.db.selectFrom('oauth_grants').select('expires_at').execute();
    expect(grants.at(-1)!.expires_at).toBe(new Date(issuedAt + 30 * DAY).toISOString());

    t.clock.advance(29 * DAY);
    const second = await refresh(first.refresh_token);
    expect(second.status).toBe(200);
    t.clock.advance(DAY - 1000);
    const third = await refresh(second.body.refresh_token);
    expect(third.status).toBe(200);
    // Refreshing did not move the end: 30 days after issue, the next refresh fails.
    t.clock.advance(1000);
    const late = await refresh(third.body.refresh_token);
    expect(late.status).toBe(400);
    expect(late.body.error).toBe('invalid_grant');
    // The access token from the last refresh still runs to its own 2 hours, then stops.
    expect((await t.request('GET', '/api/v4/user', { headers: { authorization: `Bearer ${third.body.access_token}` } })).status).toBe(200);
    t.clock.advance(2 * 3600 * 1000);
    expect((await t.request('GET', '/api/v4/user', { headers: { authorization: `Bearer ${third.body.access_token}` } })).status).toBe(401);
  });

  it('lists live grants in the expiring report (admin and the grant\'s user, not others) until revoked', async () => {
    const issued = await codeFlow();
    const grantId = Number((await t.app.store.db.selectFrom('oauth_grants').select('id').orderBy('id', 'desc').executeTakeFirstOrThrow()).id);
    const report = async (token: string, within = '30d') => (await t.request('GET', `/api/v4/latchkey/expiring?within=${within}`, { token })).body.oauth_grants as { id: number }[];
    const mine = (await report(w.adminToken)).find((g) => g.id === grantId);
    expect(mine).toEqual({ id: grantId, kind: 'oauth_grant', application: 'CLI tool', user: { id: expect.any(Number), username: 'developer-user' }, scopes: ['api', 'read_user'], expires_on: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/), days_left: 30 });
    expect(JSON.stringify(await report(w.adminToken))).not.toContain(issued.refresh_token);
    // The grant's own user sees it; another user does not.
    expect((await report(w.users.developer.token)).some((g) => g.id === grantId)).toBe(true);
    expect((await report(w.users.maintainer.token)).some((g) => g.id === grantId)).toBe(false);
    // Outside the window: not listed.
    expect((await report(w.adminToken, '29d')).some((g) => g.id === grantId)).toBe(false);
    // Revoked: gone from the report.
    const revoked = await t.request('POST', '/oauth/revoke', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, rawBody: new URLSearchParams({ token: issued.refresh_token, token_type_hint: 'refresh_token', client_id: clientId }).toString() });
    expect(revoked.status).toBe(200);
    expect((await report(w.adminToken)).some((g) => g.id === grantId)).toBe(false);
  });
});

describe('LATCHKEY_OAUTH_REFRESH_TOKEN_LIFETIME_DAYS', () => {
  const load = (value?: string) => loadConfig({ LATCHKEY_SECRET: 'x'.repeat(40), ...(value === undefined ? {} : { LATCHKEY_OAUTH_REFRESH_TOKEN_LIFETIME_DAYS: value }) });
  it('is unset by default (grants never expire) and takes a whole number of days', () => {
    expect(load().oauthRefreshTokenLifetimeDays).toBeNull();
    expect(load('90').oauthRefreshTokenLifetimeDays).toBe(90);
  });
  it.each(['0', '-1', '1.5', 'thirty', '36501'])('rejects %j with a clear error', (value) => {
    expect(() => load(value)).toThrow(ConfigError);
    expect(() => load(value)).toThrow(/LATCHKEY_OAUTH_REFRESH_TOKEN_LIFETIME_DAYS must be an integer from 1 to 36500/);
  });
});

describe('latchkey expiring', () => {
  it('prints OAuth grants with an expiry as their own table, without a section when there are none', () => {
    const base = { withinDays: 30, until: '2026-12-23', generatedAt: '2026-11-23T10:00:00.000Z', sections: [], credentials: [] };
    const text = formatExpiringReport({ ...base, oauthGrants: [{ id: 7, applicationName: 'CLI tool', userId: 3, username: 'developer-user', scopes: ['api'], expiresOn: '2026-12-20', daysLeft: 27 }] });
    expect(text).toContain('OAuth grants expiring within 30 days (on or before 2026-12-23):');
    expect(text).toMatch(/7\s+oauth_grant\s+CLI tool\s+developer-user\s+api\s+2026-12-20\s+27/);
    expect(formatExpiringReport({ ...base, oauthGrants: [] })).not.toContain('OAuth grants');
  });
});
