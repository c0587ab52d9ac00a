/**
 * Accessibility (issue 18 items 7 and 8): axe-core scans every page of the web UI in chromium — signed
 * out, as a maintainer, as an owner and as an admin, at desktop width and at 375 px — and finds no
 * serious or critical violation. The main pages are photographed into docs/screenshots/ on the way.
 * Markup does not depend on the store, so this runs on the first store only (the flows run on both).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { parseCredentialInput } from '../../src/inventory/credential.js';
import { DIALECTS } from '../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../support/test-app.js';
import { jobHolder, jobOf } from '../support/rotation-job-holder.js';
import { BROWSER_TEST_TIMEOUT, chromiumAvailable, launchBrowser, listen, screenshot, seriousAxeViolations, signedIn, type BrowserUser } from '../support/browser.js';

const PASSWORD = 'correct horse battery';
const available = chromiumAvailable();
const PROJECT = '/acme/platform/web';

describe.skipIf(!available)('axe scan of every page', { timeout: BROWSER_TEST_TIMEOUT }, () => {
  let browser: Browser;
  let t: TestApp;
  let w: World;
  let base: string;
  let admin: BrowserUser;
  const ids: Record<string, number> = {};

  beforeAll(async () => {
    browser = await launchBrowser();
    t = await startTestApp(DIALECTS[0]!);
    w = await seedWorld(t);
    for (const u of ['root', 'maintainer-user']) await t.app.services.accounts.setPasswordByUsername(u, PASSWORD);
    const project = { type: 'project' as const, project: w.project };
    // Something in every table: tokens of each kind, one revoked, one with a hostile name.
    const { resourceTokens, deployTokens, personalTokens, serviceAccounts } = t.app.services;
    ids.projectToken = (await resourceTokens.create(w.admin, project, { name: 'deployer', scopes: ['read_api'], accessLevel: 30, expiresAt: '2026-12-01' })).token.id;
    await resourceTokens.create(w.admin, project, { name: '<img src=x onerror=alert(1)>', scopes: ['read_repository'], accessLevel: 10, expiresAt: '2027-02-01' });
    ids.deployToken = (await deployTokens.create(w.admin, project, { name: 'ci-pull', scopes: ['read_registry'], expiresAt: '2026-12-20' })).token.id;
    const old = await deployTokens.create(w.admin, project, { name: 'old-pull', scopes: ['read_registry'], expiresAt: null });
    await deployTokens.remove(w.admin, project, old.token.id);
    ids.personal = (await personalTokens.createFor(w.users.maintainer.user, { name: 'laptop', scopes: ['read_user'], expiresAt: '2026-12-10' }, null)).token.id;
    ids.account = (await serviceAccounts.create(w.admin, w.top, { name: 'robot', username: 'acme-robot' })).id;
    await t.app.services.oauthApplications.create(w.admin, { name: 'Team dashboard', redirectUri: 'https://dash.example.com/cb', scopes: 'read_api openid', confidential: true }, { group: 'acme/platform' });
    // An inventory entry with placements, a Markdown procedure and one renewal.
    const { inventory } = t.app.services;
    await inventory.create(
      w.admin,
      parseCredentialInput(
        {
          slug: 'dependency-proxy',
          name: 'Dependency proxy token',
          kind: 'gitlab_group_token',
          provider: 'gitlab.com',
          owner: 'acme/platform',
          scopes: ['read_virtual_registry'],
          purpose: 'Pulling images through the dependency proxy bypasses rate limits.',
          renewal: { expires_at: '2026-12-01' },
          procedure: 'Create a **new** group token (Guest), then encode it:\n\n    python3 encode.py <API_KEY>\n\nSee [the docs](https://docs.gitlab.com/user/packages/dependency_proxy/).',
          value: 'glpat-outside-fingerprinted-value',
          placements: [
            { kind: 'ci_variable', instance: 'gitlab.com', project: 'tocco-client', key: 'DOCKER_AUTH_CONFIG', format: 'docker_auth_config', registry: 'gitlab.com:443' },
            { kind: 'manual', where: 'Renovate dashboard settings' },
          ],
        },
        { partial: false },
      ),
    );
    await inventory.create(w.admin, parseCredentialInput({ slug: 'npm-publish', name: 'NPM publish', kind: 'npm_token', owner: 'acme/platform', renewal: { every_days: 90 } }, { partial: false }));
    await inventory.renew(w.admin, 'npm-publish', { note: 'first renewal' });
    // A rotation's task on the entry (its manual placement), with the job's pending secret to reveal.
    const proxy = await inventory.get(w.admin, 'dependency-proxy');
    const jobs = jobHolder();
    jobs.secrets.set(1, 'glpat-axe-rotated-secret-0123456789');
    t.app.services.rotationTasks.bindRotation(jobs);
    await t.app.services.rotationTasks.openForJob(jobOf(1, proxy.id!, w.admin.id, 'web'), proxy.placements);
    base = await listen(t);
    admin = await signedIn(browser, base, 'root', PASSWORD);
  });
  afterAll(async () => {
    await admin?.context.close();
    await browser?.close();
    await t?.close();
  });

  async function scan(page: Page, path: string, shot?: string): Promise<void> {
    const response = await page.goto(path);
    expect(response, path).not.toBeNull();
    expect(await seriousAxeViolations(page), `${path}`).toEqual([]);
    if (shot) await screenshot(page, shot);
  }

  it('signed-out pages: sign in, the expired-session notice, the 404', async () => {
    const context = await browser.newContext({ baseURL: base });
    try {
      const page = await context.newPage();
      await scan(page, '/users/sign_in', 'sign-in');
      await scan(page, '/users/sign_in?expired=1');
    } finally {
      await context.close();
    }
  });

  // [path, screenshot name]: every page an admin sees (the token pages of each kind, their confirmation pages, the 404).
  const PAGES: [string, string?][] = [
    ['/', 'home-admin'],
    ['/-/user_settings/personal_access_tokens', 'personal-access-tokens'],
    [`${PROJECT}/-/settings/access_tokens`, 'project-access-tokens'],
    [`${PROJECT}/-/settings/access_tokens/:projectToken/rotate`, 'rotate-confirm'],
    [`${PROJECT}/-/settings/access_tokens/:projectToken/revoke`],
    [`${PROJECT}/-/settings/repository`, 'deploy-tokens'],
    [`${PROJECT}/-/settings/repository/deploy_tokens/:deployToken/revoke`],
    ['/groups/acme/platform/-/settings/access_tokens'],
    ['/groups/acme/platform/-/settings/repository'],
    ['/groups/acme/-/settings/service_accounts', 'service-accounts'],
    ['/groups/acme/-/settings/service_accounts/:account'],
    ['/groups/acme/platform/-/settings/applications'],
    ['/-/expiring', 'what-expires-when'],
    ['/-/expiring?within=365'],
    ['/-/audit_events', 'audit-log'],
    ['/-/audit_events?status=abc'],
    ['/-/inventory', 'inventory'],
    ['/-/inventory?due_within=30&status=overdue'],
    ['/-/inventory/dependency-proxy', 'inventory-entry'],
    ['/-/inventory/npm-publish'],
    ['/-/inventory/token-:projectToken'],
    ['/admin/token'],
    ['/admin/users', 'admin-users'],
    ['/no/such/page'],
  ];
  for (const [path, shot] of PAGES) {
    it(`${path}`, async () => {
      await scan(admin.page, path.replace(/:([a-zA-Z]+)/g, (_, key: string) => String(ids[key])), shot);
    });
  }

  it('the new secret shown once, with its snippets', async () => {
    const { page } = admin;
    await page.goto(`${PROJECT}/-/settings/access_tokens`);
    await page.getByLabel('Token name').fill('release-bot');
    await page.getByRole('checkbox', { name: 'read_api' }).check();
    await page.getByRole('button', { name: /^Create / }).click();
    await page.locator('#new-token').waitFor();
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'project-access-token-created');
  });

  it("a rotation task's new secret, revealed once on the entry page", async () => {
    const { page } = admin;
    await page.goto('/-/inventory/dependency-proxy');
    await page.getByRole('button', { name: 'Reveal new secret: Renovate dashboard settings' }).click();
    await page.locator('#revealed-secret').waitFor();
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'rotation-task-revealed');
  });

  it('"Rotate" on an entry: the new secret once, with the job\'s steps', async () => {
    const { page } = admin;
    await page.goto(`/-/inventory/token-${ids.projectToken}`);
    await page.getByRole('button', { name: 'Rotate', exact: true }).click();
    await page.locator('#new-token').waitFor();
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'inventory-entry-rotated');
  });

  it('a refused form: the error beside the fields', async () => {
    const { page } = admin;
    await page.goto('/-/user_settings/personal_access_tokens');
    await page.getByLabel('Token name').fill('no-scopes');
    await page.getByRole('button', { name: /^Create / }).click();
    await page.getByText('At least one scope is required.').first().waitFor();
    expect(await seriousAxeViolations(page)).toEqual([]);
  });

  it('"Is this value one of ours?" with the keyboard alone: the answer for a Latchkey token and for an inventory fingerprint', async () => {
    const { page } = admin;
    const leaked = await t.app.services.deployTokens.create(w.admin, { type: 'project', project: w.project }, { name: 'leaked-pull', scopes: ['read_registry'], expiresAt: '2027-01-15' });
    for (const [value, answer, shot] of [
      [leaked.secret, 'Yes: Latchkey deploy token', 'admin-token-lookup'],
      ['glpat-outside-fingerprinted-value', 'Yes: an outside credential in the inventory', undefined],
    ] as const) {
      await page.goto('/admin/token');
      // Tab from the top of the page until the value field has focus, type, Enter.
      await page.locator('body').focus();
      for (let i = 0; i < 30 && !(await page.evaluate(() => document.activeElement?.id === 'lookup-value')); i++) await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('lookup-value');
      await page.keyboard.type(value);
      await Promise.all([page.waitForURL('**/admin/token'), page.keyboard.press('Enter')]);
      await page.getByRole('heading', { name: answer }).waitFor();
      expect(await seriousAxeViolations(page)).toEqual([]);
      if (shot) await screenshot(page, shot);
    }
  });

  it('at 375 px wide: nothing overflows the page sideways, and axe finds nothing serious', async () => {
    const narrow = await signedIn(browser, base, 'maintainer-user', PASSWORD, { width: 375, height: 812 });
    try {
      for (const path of ['/', '/-/user_settings/personal_access_tokens', `${PROJECT}/-/settings/repository`, '/-/expiring', '/-/inventory', '/-/inventory/dependency-proxy']) {
        await scan(narrow.page, path);
        const overflow = await narrow.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        expect(overflow, path).toBeLessThanOrEqual(0);
      }
      await screenshot(narrow.page, 'inventory-entry-375px');
      await narrow.page.goto('/-/expiring');
      await screenshot(narrow.page, 'what-expires-when-375px');
    } finally {
      await narrow.context.close();
    }
  });
});
