/**
 * OAuth2 housekeeping (issue 17): `oauth.prune()`, which `serve` runs hourly, deletes codes and device
 * codes a day after they expired (until then a replayed code still revokes its grant) and refresh tokens
 * 30 days after they were rotated away or their grant was revoked; a live refresh token always stays.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';

const REDIRECT = 'https://app.example.com/cb';
const DAY = 24 * 3600 * 1000;

describe.each(DIALECTS)('OAuth2 housekeeping on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
  });
  afterAll(() => t?.close());

  const count = async (table: 'oauth_codes' | 'oauth_device_codes' | 'oauth_refresh_tokens') =>
    Number((await t.app.store.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

  it('deletes expired codes after a day, spent refresh tokens after 30 days; live ones stay and keep working', async () => {
    const start = t.clock.now().toISOString();
    const { oauthApplications, oauth } = t.app.services;
    const { application, secret } = await oauthApplications.create(w.admin, { name: 'Pruned', redirectUri: REDIRECT, scopes: 'read_user', confidential: true });
    const client = { client_id: application.uid, client_secret: secret };
    const approve = async () => {
      const check = await oauth.checkAuthorization({ client_id: application.uid, redirect_uri: REDIRECT, response_type: 'code', scope: 'read_user' });
      if (check.kind !== 'ok') throw new Error('refused');
      return new URL(await oauth.approve(w.users.developer.user, check.request)).searchParams.get('code')!;
    };
    try {
      const redeemed = await approve();
      const first = await oauth.token({ grant_type: 'authorization_code', code: redeemed, redirect_uri: REDIRECT, ...client }, undefined, 'http://x');
      const second = await oauth.token({ grant_type: 'refresh_token', refresh_token: first.refresh_token, ...client }, undefined, 'http://x');
      await approve(); // never redeemed
      await oauth.authorizeDevice({ client_id: application.uid, client_secret: secret }, undefined, 'http://x');
      expect({ codes: await count('oauth_codes'), devices: await count('oauth_device_codes'), refresh: await count('oauth_refresh_tokens') }).toEqual({ codes: 2, devices: 1, refresh: 2 });

      // Expired (10 minutes) but within the day: kept, so a replay is still recognised.
      t.clock.advance(3600 * 1000);
      expect(await oauth.prune()).toEqual({ codes: 0, deviceCodes: 0, refreshTokens: 0 });
      t.clock.advance(DAY);
      expect(await oauth.prune()).toEqual({ codes: 2, deviceCodes: 1, refreshTokens: 0 });
      t.clock.advance(30 * DAY);
      // The rotated-away refresh token goes; the live one stays and still refreshes.
      expect(await oauth.prune()).toEqual({ codes: 0, deviceCodes: 0, refreshTokens: 1 });
      const third = await oauth.token({ grant_type: 'refresh_token', refresh_token: second.refresh_token, ...client }, undefined, 'http://x');
      expect(third.access_token).toMatch(/^lkoat-/);
    } finally {
      t.clock.set(start);
    }
  });
});
