/**
 * OAuth2 grants under oversight (issue 17 item 4): the audit log records grants issued, refreshed and
 * revoked and a replayed code; POST|DELETE /api/v4/admin/token identify and end a grant from an access or
 * refresh token's value, and the admin page "Is this value one of ours?" does the same by the same rule;
 * /metrics counts the events.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { parseExposition, sampleValue } from '../../support/prometheus-exposition.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';
import { csrfOf, webClient } from '../../support/web-client.js';

const REDIRECT = 'https://app.example.com/cb';

describe.each(DIALECTS)('OAuth grants in the audit log, admin token look-up and metrics on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
  });
  afterAll(() => t?.close());

  /** An application and a code the developer approved for it (the flow itself has its own tests). */
  async function approvedCode(name: string, scope = 'api') {
    const { oauthApplications, oauth } = t.app.services;
    const { application, secret } = await oauthApplications.create(w.admin, { name, redirectUri: REDIRECT, scopes: scope, confidential: true });
    const check = await oauth.checkAuthorization({ client_id: application.uid, redirect_uri: REDIRECT, response_type: 'code', scope });
    if (check.kind !== 'ok') throw new Error('refused');
    const code = new URL(await oauth.approve(w.users.developer.user, check.request)).searchParams.get('code')!;
    return { client: { client_id: application.uid, client_secret: secret }, code, application };
  }
  const tokenEndpoint = (body: Record<string, string>) => t.request('POST', '/oauth/token', { body });
  const redeem = async (name: string) => {
    const a = await approvedCode(name);
    const res = await tokenEndpoint({ grant_type: 'authorization_code', code: a.code, redirect_uri: REDIRECT, ...a.client });
    expect(res.status).toBe(200);
    return { ...a, tokens: res.body as { access_token: string; refresh_token: string } };
  };
  const auditOf = async (event: string) => {
    await t.app.services.auditWriter.flush();
    const res = await t.request('GET', `/api/v4/latchkey/audit_events?event=${event}&per_page=100`, { token: w.adminToken });
    expect(res.status).toBe(200);
    return res.body as { token_id: number | null; token_hash: string | null; actor_username: string | null; details: Record<string, unknown> }[];
  };
  const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
  const identify = (token: string) => t.request('POST', '/api/v4/admin/token', { token: w.adminToken, body: { token } });

  it('records a grant issued, refreshed, revoked by its client and a replayed code, never a secret', async () => {
    const a = await redeem('Audited');
    const issued = (await auditOf('oauth.grant_issued')).find((e) => e.details.application_uid === a.client.client_id)!;
    expect(issued).toMatchObject({ actor_username: 'developer-user', details: { application_name: 'Audited', flow: 'authorization_code', scopes: ['api'] } });
    const tokenInfo = await t.request('POST', '/api/v4/admin/token', { token: w.adminToken, body: { token: a.tokens.access_token } });
    expect(issued.token_id).toBe(tokenInfo.body.id);
    expect(issued.token_hash).toMatch(/^sha256:/);

    const refreshed = await tokenEndpoint({ grant_type: 'refresh_token', refresh_token: a.tokens.refresh_token, ...a.client });
    expect(refreshed.status).toBe(200);
    const grantId = issued.details.grant_id;
    expect((await auditOf('oauth.token_refreshed')).filter((e) => e.details.grant_id === grantId)).toHaveLength(1);

    // The code again: reported, and the grant its first redemption made ends.
    expect((await tokenEndpoint({ grant_type: 'authorization_code', code: a.code, redirect_uri: REDIRECT, ...a.client })).status).toBe(400);
    expect((await auditOf('oauth.code_reuse')).filter((e) => e.details.grant_id === grantId)).toHaveLength(1);
    const revoked = (await auditOf('oauth.grant_revoked')).filter((e) => e.details.grant_id === grantId);
    expect(revoked.map((e) => e.details.reason)).toEqual(['code_reuse']);
    expect((await t.request('GET', '/api/v4/user', bearer(refreshed.body.access_token))).status).toBe(401);

    const all = JSON.stringify(await auditOf('oauth.grant_issued')) + JSON.stringify(await auditOf('oauth.token_refreshed'));
    for (const secret of [a.code, a.tokens.access_token, a.tokens.refresh_token, refreshed.body.access_token, a.client.client_secret]) expect(all).not.toContain(secret);
  });

  it('records the user revoking an authorisation and the refresh token reused', async () => {
    const a = await redeem('Reused');
    const grantId = (await t.request('GET', '/api/v4/user/latchkey/authorized_applications', { token: w.users.developer.token })).body.find((g: { application_id: string }) => g.application_id === a.client.client_id).id;
    expect((await tokenEndpoint({ grant_type: 'refresh_token', refresh_token: a.tokens.refresh_token, ...a.client })).status).toBe(200);
    expect((await tokenEndpoint({ grant_type: 'refresh_token', refresh_token: a.tokens.refresh_token, ...a.client })).status).toBe(400);
    const b = await redeem('Withdrawn');
    const bGrant = (await t.request('GET', '/api/v4/user/latchkey/authorized_applications', { token: w.users.developer.token })).body.find((g: { application_id: string }) => g.application_id === b.client.client_id).id;
    expect((await t.request('DELETE', `/api/v4/user/latchkey/authorized_applications/${bGrant}`, { token: w.users.developer.token })).status).toBe(204);
    const revoked = await auditOf('oauth.grant_revoked');
    expect(revoked.find((e) => e.details.grant_id === grantId)).toMatchObject({ actor_username: null, details: { reason: 'refresh_reuse', application_name: 'Reused' } });
    expect(revoked.find((e) => e.details.grant_id === bGrant)).toMatchObject({ actor_username: 'developer-user', details: { reason: 'revoked', by: 'developer-user' } });
  });

  it('POST /admin/token identifies an OAuth access token with its grant, and a refresh token by its grant', async () => {
    const a = await redeem('Leaky');
    const access = await identify(a.tokens.access_token);
    expect(access.status).toBe(200);
    expect(access.body).toMatchObject({ kind: 'oauth', user_id: w.users.developer.user.id, scopes: ['api'], active: true, revoked: false, owner: { username: 'developer-user' } });
    expect(access.body.oauth).toMatchObject({ flow: 'authorization_code', application: { id: a.application.id, application_id: a.client.client_id, application_name: 'Leaky' }, grant_revoked: false });
    expect(Date.parse(access.body.oauth.valid_until) - t.clock.now().getTime()).toBe(7200 * 1000);
    const refresh = await identify(a.tokens.refresh_token);
    expect(refresh.status).toBe(200);
    expect(refresh.body).toEqual({
      kind: 'oauth_refresh_token', user_id: w.users.developer.user.id, scopes: ['api'], revoked: false, active: true, created_at: expect.any(String),
      owner: { id: w.users.developer.user.id, username: 'developer-user', bot: false },
      oauth: { grant_id: access.body.oauth.grant_id, flow: 'authorization_code', application: { id: a.application.id, application_id: a.client.client_id, application_name: 'Leaky' }, grant_revoked: false, grant_revoke_reason: null, valid_until: null },
    });
    expect(JSON.stringify(refresh.body)).not.toContain(a.tokens.refresh_token);
    // Only admins; an unknown lkort- value is a 404 like any unknown token.
    expect((await t.request('POST', '/api/v4/admin/token', { token: w.users.developer.token, body: { token: a.tokens.refresh_token } })).status).toBe(403);
    expect((await identify('lkort-' + 'x'.repeat(40))).status).toBe(404);
  });

  it("POST /admin/token: an OAuth access token's expires_at is the day it stops working, and it is expired past valid_until", async () => {
    const start = t.clock.now();
    try {
      // Issued at 23:00 UTC: it stops working the next day, at 01:00.
      t.clock.set('2026-11-24T23:00:00.000Z');
      const a = await redeem('Late night');
      const fresh = await identify(a.tokens.access_token);
      expect(fresh.body).toMatchObject({ expires_at: '2026-11-25', expired: false, active: true, oauth: { valid_until: '2026-11-25T01:00:00.000Z' } });
      t.clock.set('2026-11-25T01:00:01.000Z');
      expect((await identify(a.tokens.access_token)).body).toMatchObject({ expires_at: '2026-11-25', expired: true, active: false, revoked: false });
    } finally {
      t.clock.set(start);
    }
  });

  it('DELETE /admin/token with a refresh token ends its grant: access and refresh stop; with an access token too', async () => {
    const a = await redeem('LeakedRefresh');
    expect((await t.request('DELETE', '/api/v4/admin/token', { token: w.adminToken, body: { token: a.tokens.refresh_token } })).status).toBe(204);
    expect((await t.request('GET', '/api/v4/user', bearer(a.tokens.access_token))).status).toBe(401);
    expect((await tokenEndpoint({ grant_type: 'refresh_token', refresh_token: a.tokens.refresh_token, ...a.client })).status).toBe(400);
    expect((await identify(a.tokens.refresh_token)).body).toMatchObject({ revoked: true, active: false, oauth: { grant_revoked: true, grant_revoke_reason: 'admin' } });
    const entry = (await auditOf('oauth.grant_revoked')).find((e) => e.details.application_uid === a.client.client_id);
    expect(entry).toMatchObject({ actor_username: 'root', details: { reason: 'admin', by: 'root' } });

    const b = await redeem('LeakedAccess');
    expect((await t.request('DELETE', '/api/v4/admin/token', { token: w.adminToken, body: { token: b.tokens.access_token } })).status).toBe(204);
    expect((await t.request('GET', '/api/v4/user', bearer(b.tokens.access_token))).status).toBe(401);
    expect((await tokenEndpoint({ grant_type: 'refresh_token', refresh_token: b.tokens.refresh_token, ...b.client })).status).toBe(400);
    expect((await identify(b.tokens.access_token)).body).toMatchObject({ kind: 'oauth', revoked: true, oauth: { grant_revoked: true, grant_revoke_reason: 'admin' } });
  });

  it('the admin page tells a refresh token by its grant, and its revoke ends the grant as DELETE /admin/token does', async () => {
    await t.app.services.accounts.setPasswordByUsername('root', 'correct horse battery');
    const page = webClient(t);
    expect((await page.signIn('root', 'correct horse battery')).status).toBe(303);

    const a = await redeem('PageRefresh');
    const refresh = await page.submit('/admin/token', { token: a.tokens.refresh_token });
    expect(refresh.status).toBe(200);
    expect(refresh.html).toContain('Yes: a Latchkey OAuth2 refresh token');
    expect(refresh.html).toContain('PageRefresh (authorization code grant #');
    expect(refresh.html).toContain('Revoke this token');
    const revoked = await page.post('/admin/token/revoke', { token: a.tokens.refresh_token, _csrf: csrfOf(refresh.html) });
    expect(revoked.status).toBe(303);
    expect((await t.request('GET', '/api/v4/user', bearer(a.tokens.access_token))).status).toBe(401);
    expect((await identify(a.tokens.refresh_token)).body).toMatchObject({ revoked: true, oauth: { grant_revoked: true, grant_revoke_reason: 'admin' } });

    // An access token revoked from the page ends its grant too: its refresh token no longer refreshes.
    const b = await redeem('PageAccess');
    const access = await page.submit('/admin/token', { token: b.tokens.access_token });
    expect(access.html).toContain('PageAccess (authorization code grant #');
    expect((await page.post('/admin/token/revoke', { token: b.tokens.access_token, _csrf: csrfOf(access.html) })).status).toBe(303);
    expect((await tokenEndpoint({ grant_type: 'refresh_token', refresh_token: b.tokens.refresh_token, ...b.client })).status).toBe(400);
    expect((await page.submit('/admin/token', { token: b.tokens.refresh_token })).html).toContain('Revoked (admin)');
  });

  it('counts OAuth events on /metrics', async () => {
    const count = async (event: string, reason = '') => sampleValue(parseExposition((await t.request('GET', '/metrics')).text), 'latchkey_oauth_events_total', { event, flow: 'authorization_code', reason }) ?? 0;
    const before = { issued: await count('grant_issued'), refreshed: await count('token_refreshed'), revoked: await count('grant_revoked', 'revoked') };
    const a = await redeem('Counted');
    expect((await tokenEndpoint({ grant_type: 'refresh_token', refresh_token: a.tokens.refresh_token, ...a.client })).status).toBe(200);
    const grants = (await t.request('GET', '/api/v4/user/latchkey/authorized_applications', { token: w.users.developer.token })).body as { id: number; application_id: string }[];
    const grantId = grants.find((g) => g.application_id === a.client.client_id)!.id;
    expect((await t.request('DELETE', `/api/v4/user/latchkey/authorized_applications/${grantId}`, { token: w.users.developer.token })).status).toBe(204);
    expect({ issued: await count('grant_issued'), refreshed: await count('token_refreshed'), revoked: await count('grant_revoked', 'revoked') }).toEqual({ issued: before.issued + 1, refreshed: before.refreshed + 1, revoked: before.revoked + 1 });
  });
});
