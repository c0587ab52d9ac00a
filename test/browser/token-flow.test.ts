/**
 * The web UI in a real browser (issue 18 item 8), on both stores: a maintainer signs in, creates a
 * deploy token, reads the secret off the page, and the registry token endpoint and git auth accept it;
 * revoked, it is refused; a developer gets no deploy-token page; a cross-site form post is refused; a
 * hostile token name renders inert; an idle session ends. One chromium per file, a context per user.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { DIALECTS } from '../support/dialects.js';
import { seedWorld, startTestApp, type TestApp } from '../support/test-app.js';
import { BROWSER_TEST_TIMEOUT, chromiumAvailable, launchBrowser, listen, otherSite, screenshot, signedIn, type BrowserUser } from '../support/browser.js';

const PASSWORD = 'correct horse battery';
const DEPLOY_PAGE = '/acme/platform/web/-/settings/repository';
const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;
const available = chromiumAvailable();

describe.skipIf(!available)('web UI in chromium', { timeout: BROWSER_TEST_TIMEOUT }, () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });

  describe.each(DIALECTS)('on %s', (dialect) => {
    let t: TestApp;
    let base: string;
    let maintainer: BrowserUser;
    const shots = dialect === DIALECTS[0];

    beforeAll(async () => {
      t = await startTestApp(dialect);
      await seedWorld(t);
      for (const u of ['maintainer-user', 'developer-user']) await t.app.services.accounts.setPasswordByUsername(u, PASSWORD);
      base = await listen(t);
      maintainer = await signedIn(browser, base, 'maintainer-user', PASSWORD);
    });
    afterAll(async () => {
      await maintainer?.context.close();
      await t?.close();
    });

    const registry = (username: string, secret: string) =>
      fetch(`${base}/jwt/auth?service=container_registry&scope=repository:acme/platform/web:pull`, { headers: { authorization: basic(username, secret) } });
    const git = (username: string, secret: string) =>
      fetch(`${base}/api/v4/latchkey/git/auth`, {
        headers: { 'x-original-method': 'GET', 'x-original-uri': '/acme/platform/web.git/info/refs?service=git-upload-pack', authorization: basic(username, secret) },
      });

    it('a maintainer creates a deploy token, reads the secret from the page; registry and git accept it; revoked, both refuse it', async () => {
      const { page } = maintainer;
      if (shots) await screenshot(page, 'home');
      await page.goto('/');
      await page.getByRole('row', { name: /acme\/platform\/web/ }).getByRole('link', { name: 'Deploy tokens' }).click();
      await page.waitForURL(`**${DEPLOY_PAGE}`);
      expect(await page.getByRole('checkbox').evaluateAll((boxes) => boxes.filter((b) => (b as HTMLInputElement).checked).length)).toBe(0);
      await page.getByLabel('Token name').fill('ci-pull');
      await page.getByRole('checkbox', { name: 'read_repository' }).check();
      await page.getByRole('checkbox', { name: 'read_registry' }).check();
      if (shots) await screenshot(page, 'deploy-tokens-form');
      await page.getByRole('button', { name: 'Create deploy token' }).click();
      await page.getByRole('heading', { name: /deploy token/i }).first().waitFor();

      const secret = await page.locator('#new-token').inputValue();
      const username = await page.locator('#new-username').inputValue();
      expect(secret).toMatch(/^gldt-/);
      expect(username).toMatch(/^gitlab\+deploy-token-\d+$/);
      await expect(page.getByText("you won't be able to access it again").count()).resolves.toBeGreaterThan(0);
      // The copy button is JavaScript's enhancement: visible only because the module ran under the CSP.
      await expect(page.getByRole('button', { name: 'Copy token' }).isVisible()).resolves.toBe(true);
      expect(await page.locator('#snippet-docker-login').textContent()).toContain(username);
      if (shots) await screenshot(page, 'deploy-token-created');

      expect((await registry(username, secret)).status).toBe(200);
      expect((await git(username, secret)).status).toBe(200);

      // Leaving and coming back: the secret is gone from the page.
      await page.goto(DEPLOY_PAGE);
      expect(await page.content()).not.toContain(secret);
      await page.getByRole('link', { name: 'Revoke ci-pull' }).click();
      await page.getByRole('heading', { name: 'Revoke "ci-pull"?' }).waitFor();
      if (shots) await screenshot(page, 'revoke-confirm');
      await page.getByRole('button', { name: /Revoke/ }).click();
      await page.waitForURL(`**${DEPLOY_PAGE}?notice=revoked`);

      expect((await registry(username, secret)).status).toBe(401);
      expect((await git(username, secret)).status).toBe(401);
    });

    it('a developer sees no deploy-token page for that project and no link to one', async () => {
      const dev = await signedIn(browser, base, 'developer-user', PASSWORD);
      try {
        expect(await dev.page.getByRole('link', { name: 'Deploy tokens' }).count()).toBe(0);
        const res = await dev.page.goto(DEPLOY_PAGE);
        expect(res!.status()).toBe(404);
        expect(await dev.page.getByLabel('Token name').count()).toBe(0);
      } finally {
        await dev.context.close();
      }
    });

    const forgedForm = (action: string) => `<!DOCTYPE html><html lang="en"><head><title>elsewhere</title></head><body>
      <form id="f" method="post" action="${action}">
        <input name="name" value="evil"><input name="scopes[]" value="read_registry"><input name="expires_at" value="">
        <input name="_csrf" value="forged">
      </form><script>document.getElementById('f').submit()</script></body></html>`;

    async function postFrom(site: 'cross-site' | 'same-site', action: string) {
      const attacker = await otherSite(forgedForm(action), site);
      try {
        const { page } = maintainer;
        const answer = page.waitForResponse((r) => r.url() === action && r.request().method() === 'POST');
        await page.goto(attacker.url);
        const response = await answer;
        return { status: response.status(), location: (await response.headerValue('location')) ?? '', body: await response.text().catch(() => '') };
      } finally {
        await attacker.close();
      }
    }

    it('CSRF: a form posted from another site carries no session; one from another origin of this site has no valid token; neither creates anything', async () => {
      const tokensBefore = await tokenCount();
      // http://localhost:PORT is another site: SameSite keeps the session cookie home, so the post is signed out.
      const cross = await postFrom('cross-site', `${base}${DEPLOY_PAGE}`);
      expect(cross.status).toBe(303);
      expect(cross.location).toMatch(/^\/users\/sign_in\?/);
      // http://127.0.0.1:OTHER is the same site (the cookie goes along): the CSRF token refuses it.
      const same = await postFrom('same-site', `${base}${DEPLOY_PAGE}`);
      expect(same.status).toBe(403);
      expect(same.body).toContain('This form was refused');
      expect(same.body).not.toContain('gldt-');
      expect(await tokenCount()).toBe(tokensBefore);
      if (shots) await screenshot(maintainer.page, 'csrf-refused');
    });

    it('a token named <img src=x onerror=alert(1)> renders as text: no element, no dialog', async () => {
      const { page, dialogs } = maintainer;
      const name = '<img src=x onerror=alert(1)>';
      await page.goto('/acme/platform/web/-/settings/access_tokens');
      await page.getByLabel('Token name').fill(name);
      await page.getByRole('checkbox', { name: 'read_api' }).check();
      await page.getByRole('button', { name: /^Create / }).click();
      await page.locator('#new-token').waitFor();
      await page.goto('/acme/platform/web/-/settings/access_tokens');
      await expect(page.getByRole('cell', { name }).count()).resolves.toBeGreaterThan(0);
      expect(await page.locator('img[src="x"]').count()).toBe(0);
      await page.getByRole('link', { name: `Revoke ${name}` }).click();
      await page.getByRole('heading', { name: `Revoke "${name}"?` }).waitFor();
      expect(await page.locator('img[src="x"]').count()).toBe(0);
      expect(dialogs).toEqual([]);
    });

    it('an idle session ends: the next page asks to sign in again and comes back after', async () => {
      const user = await signedIn(browser, base, 'maintainer-user', PASSWORD);
      try {
        await user.page.goto('/-/user_settings/personal_access_tokens');
        await user.page.getByRole('heading', { name: 'Personal access tokens', exact: true }).waitFor();
        t.clock.advance(t.app.services.sessions.policy.idleTimeoutMs + 60_000);
        await user.page.goto('/-/user_settings/personal_access_tokens');
        await user.page.waitForURL('**/users/sign_in?**');
        await user.page.getByText('Your session has expired').waitFor();
        await user.page.getByLabel('Username or primary email').fill('maintainer-user');
        await user.page.getByLabel('Password').fill(PASSWORD);
        await user.page.getByRole('button', { name: 'Sign in' }).click();
        await user.page.waitForURL('**/-/user_settings/personal_access_tokens');
      } finally {
        await user.context.close();
      }
    });

    async function tokenCount(): Promise<number> {
      const row = await t.app.store.db.selectFrom('tokens').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
      return Number(row.n);
    }
  });
});
