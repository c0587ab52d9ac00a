/**
 * Web UI sign-in and sessions (issue 18 item 1) on both stores: password sign-in at /users/sign_in,
 * one answer for unknown users, wrong passwords, bots and blocked accounts; the lock after repeated
 * failures (known and unknown usernames alike); the session cookie's attributes; idle and absolute
 * timeouts; sign-out; CSRF on every form post; the one-time sign-in link.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';
import { csrfOf, webClient } from '../../support/web-client.js';

const PASSWORD = 'correct horse battery';

describe.each(DIALECTS)('web sign-in on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  beforeAll(async () => {
    t = await startTestApp(dialect, { env: { LATCHKEY_SESSION_IDLE_TIMEOUT: '30m', LATCHKEY_SESSION_MAX_LIFETIME: '2h' } });
    w = await seedWorld(t);
    await t.app.services.accounts.setPasswordByUsername('maintainer-user', PASSWORD);
    await t.app.services.accounts.setPasswordByUsername('developer-user', PASSWORD);
  });
  afterAll(() => t.close());

  it('/ sends the signed-out to /users/sign_in, which shows a form with a CSRF token', async () => {
    const c = webClient(t);
    const home = await c.get('/');
    expect(home.status).toBe(303);
    expect(home.location).toBe('/users/sign_in');
    const page = await c.get('/users/sign_in');
    expect(page.status).toBe(200);
    expect(page.html).toContain('name="password"');
    expect(csrfOf(page.html)).toMatch(/.{20,}/);
  });

  it('a right password starts a session: HttpOnly, SameSite=Lax cookie; pages then show the user', async () => {
    const c = webClient(t, { ip: '10.1.0.1' });
    const shown = await c.get('/users/sign_in?redirect_to=/-/user_settings/personal_access_tokens');
    const res = await c.post('/users/sign_in', { login: 'maintainer-user', password: PASSWORD, redirect_to: '/-/user_settings/personal_access_tokens', _csrf: csrfOf(shown.html) });
    expect(res.status).toBe(303);
    expect(res.location).toBe('/-/user_settings/personal_access_tokens');
    const setCookie = ([] as string[]).concat(res.headers['set-cookie'] as string[]).find((c) => c.startsWith('latchkey_session='))!;
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Lax/i);
    expect(setCookie).not.toMatch(/Secure/i);
    const page = await c.get('/-/user_settings/personal_access_tokens');
    expect(page.status).toBe(200);
    expect(page.html).toContain('maintainer-user');
  });

  it('the session cookie is Secure when the public URL is https', async () => {
    const s = await startTestApp(dialect, { env: { LATCHKEY_PUBLIC_URL: 'https://latchkey.example.com' } });
    try {
      const { admin } = await s.app.services.namespaces.ensureFirstAdmin('root', 'root@example.com');
      await s.app.services.accounts.setPasswordByUsername(admin.username, PASSWORD);
      const res = await webClient(s).signIn('root', PASSWORD);
      expect(res.status).toBe(303);
      const cookies = ([] as string[]).concat(res.headers['set-cookie'] as string[]);
      expect(cookies.find((c) => c.startsWith('latchkey_session='))).toMatch(/; Secure/i);
    } finally {
      await s.close();
    }
  });

  it('unknown user, wrong password, bot and blocked user get the same 401 answer', async () => {
    const bot = (await t.app.services.resourceTokens.create(w.admin, { type: 'project', project: w.project }, { name: 'bot', scopes: ['read_api'] })).bot;
    await t.app.services.accounts.setPasswordByUsername('reporter-user', PASSWORD);
    await t.app.services.accounts.block(w.admin, w.users.reporter.user.id);
    const answers: string[] = [];
    for (const [login, password] of [['nobody-here', PASSWORD], ['developer-user', 'wrong password'], [bot.username, PASSWORD], ['reporter-user', PASSWORD]] as const) {
      const res = await webClient(t, { ip: `10.2.0.${answers.length + 1}` }).signIn(login, password);
      expect(res.status, login).toBe(401);
      expect(res.headers['set-cookie'] ?? '').not.toMatch(/latchkey_session=[^;]/);
      answers.push(/<div class="notice notice-error"[^>]*>([^<]*)</.exec(res.html)![1]!);
    }
    expect(new Set(answers)).toEqual(new Set(['Invalid username or password.']));
  });

  it('10 failures lock a username for 10 minutes, whether it exists or not, then it works again', async () => {
    await t.app.services.accounts.setPasswordByUsername('planner-user', PASSWORD);
    for (const login of ['planner-user', 'ghost-user']) {
      for (let i = 0; i < 10; i++) expect((await webClient(t, { ip: `10.3.${i}.1` }).signIn(login, 'nope nope nope')).status).toBe(401);
      const locked = await webClient(t, { ip: '10.3.99.1' }).signIn(login, login === 'planner-user' ? PASSWORD : 'x');
      expect(locked.status).toBe(429);
      expect(locked.html).toContain('Too many failed sign-in attempts. Try again in 10 minutes.');
      expect(Number(locked.headers['retry-after'])).toBe(600);
    }
    t.clock.advance(10 * 60_000 + 1000);
    expect((await webClient(t, { ip: '10.3.98.1' }).signIn('planner-user', PASSWORD)).status).toBe(303);
  });

  it('50 failures from one address lock that address out, for every username', async () => {
    const ip = '10.4.0.1';
    // 49 through the service (each costs a scrypt), the 50th through the page.
    for (let i = 0; i < 49; i++) expect((await t.app.services.signIn.signInWithPassword(`spray-${i}`, 'nope nope nope', { ip, userAgent: null })).ok).toBe(false);
    expect((await webClient(t, { ip }).signIn('spray-49', 'nope nope nope')).status).toBe(401);
    expect((await webClient(t, { ip }).signIn('maintainer-user', PASSWORD)).status).toBe(429);
    expect((await webClient(t, { ip: '10.4.0.2' }).signIn('maintainer-user', PASSWORD)).status).toBe(303);
    t.clock.advance(10 * 60_000 + 1000);
  }, 90_000);

  it('a form post without the CSRF token, or with one from another session, is refused (403) and changes nothing', async () => {
    const c = webClient(t, { ip: '10.5.0.1' });
    const noToken = await c.post('/users/sign_in', { login: 'maintainer-user', password: PASSWORD });
    expect(noToken.status).toBe(403);
    expect(noToken.html).toContain('sent from another site');
    await c.signIn('maintainer-user', PASSWORD);
    const other = webClient(t, { ip: '10.5.0.2' });
    await other.signIn('maintainer-user', PASSWORD);
    const foreign = csrfOf((await other.get('/-/user_settings/personal_access_tokens')).html);
    const before = (await t.app.services.personalTokens.list(w.users.maintainer.user, { userId: w.users.maintainer.user.id }, { page: 1, perPage: 100 })).total;
    const res = await c.post('/-/user_settings/personal_access_tokens', { name: 'x', 'scopes[]': ['read_api'], _csrf: foreign });
    expect(res.status).toBe(403);
    expect((await t.app.services.personalTokens.list(w.users.maintainer.user, { userId: w.users.maintainer.user.id }, { page: 1, perPage: 100 })).total).toBe(before);
  });

  it('a session ends after its idle timeout, and after its absolute timeout however busy; the next page asks to sign in again', async () => {
    const c = webClient(t, { ip: '10.6.0.1' });
    await c.signIn('maintainer-user', PASSWORD);
    t.clock.advance(29 * 60_000);
    expect((await c.get('/-/user_settings/personal_access_tokens')).status).toBe(200);
    t.clock.advance(31 * 60_000);
    const idle = await c.get('/-/user_settings/personal_access_tokens');
    expect(idle.status).toBe(303);
    expect(idle.location).toBe('/users/sign_in?redirect_to=%2F-%2Fuser_settings%2Fpersonal_access_tokens&expired=1');
    expect((await c.get(idle.location!)).html).toContain('Your session has expired');

    await c.signIn('maintainer-user', PASSWORD);
    for (let i = 0; i < 4; i++) {
      t.clock.advance(25 * 60_000);
      expect((await c.get('/')).status).toBe(200);
    }
    // 100 minutes in, used every 25: never idle, but 2 hours after sign-in it ends.
    t.clock.advance(21 * 60_000);
    expect((await c.get('/')).status).toBe(303);
  });

  it('sign-out ends the session on the server: the old cookie no longer opens a page', async () => {
    const c = webClient(t, { ip: '10.7.0.1' });
    await c.signIn('maintainer-user', PASSWORD);
    const cookie = c.jar.get('latchkey_session')!;
    const page = await c.get('/');
    const out = await c.post('/users/sign_out', { _csrf: csrfOf(page.html) });
    expect(out.status).toBe(303);
    expect(out.location).toBe('/users/sign_in?signed_out=1');
    const replay = await t.app.http.inject({ method: 'GET', url: '/', headers: { cookie: `latchkey_session=${cookie}` } });
    expect(replay.statusCode).toBe(303);
  });

  it('a new password or being blocked ends every session of the user', async () => {
    const c = webClient(t, { ip: '10.8.0.1' });
    await c.signIn('maintainer-user', PASSWORD);
    expect((await c.get('/')).status).toBe(200);
    await t.app.services.accounts.setPasswordByUsername('maintainer-user', PASSWORD);
    expect((await c.get('/')).status).toBe(303);
    await c.signIn('maintainer-user', PASSWORD);
    await t.app.services.accounts.block(w.admin, w.users.maintainer.user.id);
    expect((await c.get('/')).status).toBe(303);
    await t.app.services.accounts.unblock(w.admin, w.users.maintainer.user.id);
  });

  it('redirect_to only leads to paths of this site', async () => {
    const c = webClient(t, { ip: '10.9.0.1' });
    const shown = await c.get('/users/sign_in');
    const res = await c.post('/users/sign_in', { login: 'maintainer-user', password: PASSWORD, redirect_to: '//evil.example/x', _csrf: csrfOf(shown.html) });
    expect(res.location).toBe('/');
  });

  it('a one-time sign-in link signs in once, then never again', async () => {
    const { secret } = await t.app.services.signIn.createLink(w.admin);
    const c = webClient(t, { ip: '10.10.0.1' });
    const page = await c.get(`/users/sign_in/link?token=${secret}`);
    expect(page.status).toBe(200);
    expect(page.html).toContain('Sign in as root');
    const used = await c.post('/users/sign_in/link', { token: secret, _csrf: csrfOf(page.html) });
    expect(used.status).toBe(303);
    expect((await c.get('/')).status).toBe(200);
    const again = webClient(t, { ip: '10.10.0.2' });
    expect((await again.get(`/users/sign_in/link?token=${secret}`)).status).toBe(404);
    const expired = await t.app.services.signIn.createLink(w.admin);
    t.clock.advance(61 * 60_000);
    expect((await again.get(`/users/sign_in/link?token=${expired.secret}`)).status).toBe(404);
  });

  it('stores only digests of session ids and link secrets', async () => {
    const c = webClient(t, { ip: '10.11.0.1' });
    await c.signIn('developer-user', PASSWORD);
    const cookie = c.jar.get('latchkey_session')!;
    const rows = await t.app.store.db.selectFrom('web_sessions').select('digest').execute();
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.some((r) => r.digest === cookie || r.digest.includes(cookie))).toBe(false);
  });
});
