/**
 * The web UI's token pages (issue 18 item 2) on both stores: deploy tokens, project and group access
 * tokens, personal tokens and service accounts at GitLab's URLs; the secret shown once with its
 * snippets; revoke and rotate through confirmation pages; who sees which page; escaping of user
 * strings; the CSP; the UI/API label on the request counter.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parsePlacementInput } from '../../../src/inventory/credential.js';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';
import { csrfOf, webClient } from '../../support/web-client.js';

const PASSWORD = 'correct horse battery';
const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;
const secretOf = (html: string, prefix: string) => new RegExp(`id="new-token"[^>]*value="(${prefix}[A-Za-z0-9]+)"`).exec(html)?.[1] ?? new RegExp(`value="(${prefix}[A-Za-z0-9]+)"[^>]*id="new-token"`).exec(html)?.[1];

describe.each(DIALECTS)('web token pages on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let maintainer: ReturnType<typeof webClient>;
  const DEPLOY_PAGE = '/acme/platform/web/-/settings/repository';

  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
    for (const u of ['maintainer-user', 'developer-user', 'owner-user']) await t.app.services.accounts.setPasswordByUsername(u, PASSWORD);
    maintainer = webClient(t);
    expect((await maintainer.signIn('maintainer-user', PASSWORD)).status).toBe(303);
  });
  afterAll(() => t.close());

  it('the deploy-token form: no scope checked, expiry 30 days ahead by default, the gitlab-deploy-token hint', async () => {
    const page = await maintainer.get(DEPLOY_PAGE);
    expect(page.status).toBe(200);
    expect(page.html).toContain('name="scopes[]"');
    expect(page.html).not.toMatch(/name="scopes\[\]"[^>]*checked/);
    expect(page.html).toContain('value="2026-12-23"'); // 2026-11-23 + 30 days
    expect(page.html).toContain('gitlab-deploy-token');
    expect(page.html).toContain('Allows read-only access to registry images.');
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self'/);
    expect(page.headers['content-security-policy']).not.toMatch(/unsafe-inline|unsafe-eval/);
  });

  it('creates a deploy token: the secret is shown once with snippets; /jwt/auth and git auth accept it; revoke refuses it', async () => {
    const created = await maintainer.submit(DEPLOY_PAGE, { name: 'ci-pull', 'scopes[]': ['read_repository', 'read_registry'], expires_at: '', username: '' });
    expect(created.status).toBe(200);
    expect(created.headers['cache-control']).toBe('no-store');
    const secret = secretOf(created.html, 'gldt-')!;
    expect(secret).toBeDefined();
    const username = /id="new-username"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*id="new-username"/.exec(created.html)!.slice(1).find(Boolean)!;
    expect(username).toMatch(/^gitlab\+deploy-token-\d+$/);
    expect(created.html).toContain("you won't be able to access it again");
    for (const id of ['snippet-docker-login', 'snippet-docker-auth-config', 'snippet-k8s-pull-secret', 'snippet-git-clone']) expect(created.html).toContain(`id="${id}"`);
    expect(created.html).toContain('kubernetes.io/dockerconfigjson');

    const jwt = await t.request('GET', '/jwt/auth?service=container_registry&scope=repository:acme/platform/web:pull', { headers: { authorization: basic(username, secret) } });
    expect(jwt.status).toBe(200);
    const git = await t.request('GET', '/api/v4/latchkey/git/auth', { headers: { 'x-original-method': 'GET', 'x-original-uri': '/acme/platform/web.git/info/refs?service=git-upload-pack', authorization: basic(username, secret) } });
    expect(git.status).toBe(200);

    // The list never shows the secret again.
    const list = await maintainer.get(DEPLOY_PAGE);
    expect(list.html).not.toContain(secret);
    const id = /\/deploy_tokens\/(\d+)\/revoke/.exec(list.html)![1];
    const confirm = await maintainer.get(`${DEPLOY_PAGE}/deploy_tokens/${id}/revoke`);
    expect(confirm.status).toBe(200);
    expect(confirm.html).toContain('Revoke &quot;ci-pull&quot;?');
    const revoked = await maintainer.post(`${DEPLOY_PAGE}/deploy_tokens/${id}/revoke`, { _csrf: csrfOf(confirm.html) });
    expect(revoked.status).toBe(303);
    expect(revoked.location).toBe(`${DEPLOY_PAGE}?notice=revoked`);
    const refused = await t.request('GET', '/jwt/auth?service=container_registry&scope=repository:acme/platform/web:pull', { headers: { authorization: basic(username, secret) } });
    expect(refused.status).toBe(401);
  });

  it('a developer gets no deploy-token or access-token page for the project (404), an outsider neither', async () => {
    const dev = webClient(t);
    await dev.signIn('developer-user', PASSWORD);
    expect((await dev.get(DEPLOY_PAGE)).status).toBe(404);
    expect((await dev.get('/acme/platform/web/-/settings/access_tokens')).status).toBe(404);
    expect((await dev.get('/groups/acme/platform/-/settings/repository')).status).toBe(404);
    expect((await dev.get('/nope/-/settings/repository')).status).toBe(404);
    const home = await dev.get('/');
    expect(home.html).not.toContain('/acme/platform/web/-/settings/repository');
  });

  it('renders a hostile token name inert, in tables and on the confirmation pages', async () => {
    const name = '<img src=x onerror=alert(1)>';
    const created = await maintainer.submit('/acme/platform/web/-/settings/access_tokens', { name, 'scopes[]': ['read_api'], access_level: '10', expires_at: '2026-12-20', description: '"><script>alert(2)</script>' });
    expect(created.status).toBe(200);
    expect(created.html).not.toContain('<img src=x');
    expect(created.html).not.toContain('<script>alert');
    expect(created.html).toContain('&lt;img src=x onerror=alert(1)>');
  });

  it('project access tokens: role select up to the creator\'s level, default Guest; rotate with a grace period keeps the old secret working', async () => {
    const page = await maintainer.get('/acme/platform/web/-/settings/access_tokens');
    expect(page.html).toContain('<option value="40">Maintainer</option>');
    expect(page.html).not.toContain('value="50"');
    const created = await maintainer.submit('/acme/platform/web/-/settings/access_tokens', { name: 'deployer', 'scopes[]': ['read_api'], access_level: '20', expires_at: '2026-12-31', description: '' });
    const secret = secretOf(created.html, 'glpat-')!;
    expect((await t.request('GET', '/api/v4/projects/acme%2Fplatform%2Fweb', { token: secret })).status).toBe(200);
    const id = new RegExp(`/access_tokens/(\\d+)/rotate" aria-label="Rotate deployer"`).exec(created.html)![1];
    const confirm = await maintainer.get(`/acme/platform/web/-/settings/access_tokens/${id}/rotate`);
    expect(confirm.html).toContain('Grace period for the old secret');
    const rotated = await maintainer.post(`/acme/platform/web/-/settings/access_tokens/${id}/rotate`, { _csrf: csrfOf(confirm.html), grace_period: '24h', expires_at: '2026-12-30' });
    expect(rotated.status).toBe(200);
    const next = secretOf(rotated.html, 'glpat-')!;
    expect(next).not.toBe(secret);
    expect((await t.request('GET', '/api/v4/projects/acme%2Fplatform%2Fweb', { token: secret })).status).toBe(200);
    expect((await t.request('GET', '/api/v4/projects/acme%2Fplatform%2Fweb', { token: next })).status).toBe(200);
    t.clock.advance(25 * 3600_000);
    expect((await t.request('GET', '/api/v4/projects/acme%2Fplatform%2Fweb', { token: secret })).status).toBe(401);
    t.clock.set('2026-11-23T10:00:00.000Z');
  });

  it('personal tokens: a form without scopes is refused with GitLab\'s message; an expiry past the maximum with the policy\'s', async () => {
    const none = await maintainer.submit('/-/user_settings/personal_access_tokens', { name: 'laptop', expires_at: '2026-12-20', description: '' });
    expect(none.status).toBe(400);
    expect(none.html).toContain('At least one scope is required.');
    expect(none.html).toContain('value="laptop"');
    const far = await maintainer.submit('/-/user_settings/personal_access_tokens', { name: 'laptop', 'scopes[]': ['read_user'], expires_at: '2029-01-01', description: '' });
    expect(far.status).toBe(400);
    expect(far.html).toContain('maximum lifetime 365 days');
    const ok = await maintainer.submit('/-/user_settings/personal_access_tokens', { name: 'laptop', 'scopes[]': ['read_user'], expires_at: '2027-01-01', description: 'my laptop' });
    const secret = secretOf(ok.html, 'glpat-')!;
    expect((await t.request('GET', '/api/v4/user', { token: secret })).body.username).toBe('maintainer-user');
    expect(ok.html).toContain('id="snippet-curl"');
  });

  it('service accounts: an Owner creates one and gives it a token; a Maintainer cannot see the page', async () => {
    const owner = webClient(t);
    await owner.signIn('owner-user', PASSWORD);
    // Service accounts belong to top-level groups; owner-user owns acme/platform only.
    expect((await owner.get('/groups/acme/platform/-/settings/service_accounts')).status).toBe(200);
    const refused = await owner.submit('/groups/acme/platform/-/settings/service_accounts', { name: 'robot', username: '' });
    expect(refused.status).toBe(400);
    expect(refused.html).toContain('does not have permission to create a service account');
    const admin = webClient(t);
    const { secret } = await t.app.services.signIn.createLink(w.admin);
    const link = await admin.get(`/users/sign_in/link?token=${secret}`);
    await admin.post('/users/sign_in/link', { token: secret, _csrf: csrfOf(link.html) });
    const made = await admin.submit('/groups/acme/-/settings/service_accounts', { name: 'robot', username: 'acme-robot' });
    expect(made.status).toBe(303);
    const accountPage = await admin.get(made.location!);
    expect(accountPage.html).toContain('Service account acme-robot');
    const token = await admin.submit(made.location!, { name: 'ci', 'scopes[]': ['read_registry'], expires_at: '2026-12-31', description: '' });
    expect(secretOf(token.html, 'glpat-')).toBeDefined();
    expect((await maintainer.get('/groups/acme/-/settings/service_accounts')).status).toBe(404);
  });

  it('pages the token tables by id without counting: 50 rows, then the rows after the last one shown', async () => {
    const { deployTokens } = t.app.services;
    const other = { type: 'project' as const, project: w.otherProject };
    const ids: number[] = [];
    for (let i = 0; i < 53; i++) ids.push((await deployTokens.create(w.admin, other, { name: `paged-${i}`, scopes: ['read_registry'] })).token.id);
    const admin = webClient(t);
    await t.app.services.accounts.setPasswordByUsername('root', PASSWORD);
    await admin.signIn('root', PASSWORD);
    const rows = (html: string) => [...html.matchAll(/<th scope="row">paged-(\d+)/g)].map((m) => Number(m[1]));
    const first = await admin.get('/acme/other/site/-/settings/repository');
    expect(rows(first.html)).toEqual([...Array(50).keys()]);
    expect(first.html).not.toContain('First page');
    const next = /<a href="([^"]+)" rel="next">Next<\/a>/.exec(first.html)![1]!;
    expect(next).toBe(`/acme/other/site/-/settings/repository?after=${ids[49]}`);
    const second = await admin.get(next);
    expect(rows(second.html)).toEqual([50, 51, 52]);
    expect(second.html).toContain('First page');
    expect(second.html).not.toContain('rel="next"');
  });

  it('the start page and the service-account list page by id without counting: no count query runs, each list pages on its own', async () => {
    const { namespaces, serviceAccounts } = t.app.services;
    const top = await namespaces.createGroup(w.admin, { name: 'Paging', path: 'paging' });
    for (let i = 0; i < 53; i++) {
      await namespaces.createGroup(w.admin, { name: `Sub ${i}`, path: `sub-${i}`, parentId: top.id });
      await namespaces.createProject(w.admin, { name: `P ${i}`, path: `p-${i}`, namespaceId: top.id });
      await serviceAccounts.create(w.admin, top, { name: `Robot ${i}`, username: `paging-robot-${i}` });
    }
    const person = await namespaces.createUser(w.admin, { username: 'paging-owner', name: 'Paging owner', email: 'paging-owner@example.com' });
    await namespaces.addMember(w.admin, { type: 'group', group: top }, { userId: person.id, accessLevel: 50, expiresAt: null });
    await t.app.services.accounts.setPasswordByUsername('paging-owner', PASSWORD);
    const owner = webClient(t);
    await owner.signIn('paging-owner', PASSWORD);
    // Every query the pages run, by the store's executor: none may count rows.
    const executor = t.app.store.db.getExecutor();
    const queries: string[] = [];
    const execute = executor.executeQuery.bind(executor);
    const spy = vi.spyOn(executor, 'executeQuery').mockImplementation((query) => {
      queries.push(query.sql);
      return execute(query);
    });
    try {
      const rows = (html: string, prefix: string) => [...html.matchAll(new RegExp(`<th scope="row">${prefix}(\\d+)`, 'g'))].map((m) => Number(m[1]));
      const first = await owner.get('/');
      expect(first.status).toBe(200);
      expect(rows(first.html, 'paging/p-')).toEqual([...Array(50).keys()]);
      expect(rows(first.html, 'paging/sub-')).toEqual([...Array(49).keys()]); // paging itself, then 49 sub-groups
      const links = [...first.html.matchAll(/<a href="([^"]+)" rel="next">Next<\/a>/g)].map((m) => m[1]!.replaceAll('&amp;', '&'));
      expect(links).toEqual([expect.stringMatching(/^\/\?groups_after=\d+$/), expect.stringMatching(/^\/\?projects_after=\d+$/)]);
      const moreGroups = await owner.get(links[0]!);
      expect(rows(moreGroups.html, 'paging/sub-')).toEqual([49, 50, 51, 52]);
      expect(rows(moreGroups.html, 'paging/p-')).toEqual([...Array(50).keys()]);
      const bothNext = /<a href="([^"]+)" rel="next">Next<\/a>/.exec(moreGroups.html)![1]!.replaceAll('&amp;', '&');
      expect(bothNext).toMatch(/^\/\?groups_after=\d+&projects_after=\d+$/);
      const both = await owner.get(bothNext);
      expect(rows(both.html, 'paging/sub-')).toEqual([49, 50, 51, 52]);
      expect(rows(both.html, 'paging/p-')).toEqual([50, 51, 52]);
      expect(both.html).not.toContain('rel="next"');

      const accountsPage = '/groups/paging/-/settings/service_accounts';
      const accounts = await owner.get(accountsPage);
      expect(rows(accounts.html, 'paging-robot-')).toEqual([...Array(50).keys()]);
      const next = /<a href="([^"]+)" rel="next">Next<\/a>/.exec(accounts.html)![1]!;
      expect(next).toMatch(/^\/groups\/paging\/-\/settings\/service_accounts\?after=\d+$/);
      const rest = await owner.get(next);
      expect(rows(rest.html, 'paging-robot-')).toEqual([50, 51, 52]);
      expect(rest.html).toContain(`<a href="${accountsPage}">First page</a>`);
    } finally {
      spy.mockRestore();
    }
    expect(queries.some((q) => /from "(groups|projects|users)"/i.test(q))).toBe(true);
    expect(queries.filter((q) => /count\(/i.test(q))).toEqual([]);
  });

  it('the active table shows where each token is configured: its inventory entry\'s placements, following rotation, linked to the entry', async () => {
    const project = { type: 'project' as const, project: w.project };
    const placed = (await t.app.services.deployTokens.create(w.admin, project, { name: 'placed-pull', scopes: ['read_registry'] })).token;
    const bare = (await t.app.services.deployTokens.create(w.admin, project, { name: 'bare-pull', scopes: ['read_registry'] })).token;
    await t.app.services.inventory.addPlacement(w.admin, `token-${placed.id}`, parsePlacementInput({ kind: 'ci_variable', instance: 'https://gitlab.example.com', project: 'acme/app', key: 'DOCKER_<AUTH>' }));
    const row = (html: string, name: string) => new RegExp(`<th scope="row">${name}[\\s\\S]*?</tr>`).exec(html)![0];
    const html = (await maintainer.get(DEPLOY_PAGE)).html;
    expect(html).toContain('<th scope="col">Placements</th>');
    expect(row(html, 'placed-pull')).toContain('CI variable DOCKER_&lt;AUTH>');
    expect(row(html, 'placed-pull')).toContain('acme/app');
    expect(row(html, 'placed-pull')).toMatch(/href="\/-\/inventory\/token-\d+" aria-label="Inventory entry of placed-pull"/);
    expect(row(html, 'bare-pull')).toContain(`href="/-/inventory/token-${bare.id}" class="days" aria-label="Record where bare-pull is configured">None recorded`);
    // A project access token rotated keeps its chain's placements.
    const pat = await t.app.services.resourceTokens.create(w.admin, project, { name: 'placed-bot', scopes: ['read_api'], accessLevel: 10, expiresAt: '2026-12-31' });
    await t.app.services.inventory.addPlacement(w.admin, `token-${pat.token.id}`, parsePlacementInput({ kind: 'manual', where: 'the release laptop' }));
    await t.app.services.resourceTokens.rotate(w.admin, project, pat.token.id, { expiresAt: '2027-01-31' });
    expect(row((await maintainer.get('/acme/platform/web/-/settings/access_tokens')).html, 'placed-bot')).toContain('the release laptop');
  });

  it('the inactive table shows role, last used with its IPs, and the expiry of each token', async () => {
    const project = { type: 'project' as const, project: w.project };
    const { token, secret } = await t.app.services.resourceTokens.create(w.admin, project, { name: 'gone-bot', scopes: ['read_api'], accessLevel: 20, expiresAt: '2026-12-31' });
    expect((await t.request('GET', '/api/v4/projects/acme%2Fplatform%2Fweb', { token: secret })).status).toBe(200);
    // The usage write is never awaited by the request: wait for it, as a later page view would find it.
    await t.app.services.tokenUsage.idle();
    const shown = (await t.request('GET', `/api/v4/projects/${w.project.id}/access_tokens/${token.id}`, { token: w.adminToken })).body;
    expect(shown.last_used_ips.length).toBeGreaterThan(0);
    await t.app.services.resourceTokens.revoke(w.admin, project, token.id);
    const html = (await maintainer.get('/acme/platform/web/-/settings/access_tokens')).html;
    const inactive = html.slice(html.indexOf('id="inactive-heading"'));
    const row = new RegExp('<th scope="row">gone-bot</th>[\\s\\S]*?</tr>').exec(inactive)![0];
    expect(row).toContain('<td>Reporter</td>');
    expect(row).toContain('2026-12-31');
    for (const ip of shown.last_used_ips as string[]) expect(row).toContain(ip);
    expect(row).toContain('Revoked');
  });

  it('serves its assets locally and counts UI and API requests apart', async () => {
    const css = await maintainer.get('/assets/latchkey.css');
    expect(css.status).toBe(200);
    expect((await maintainer.get('/assets/latchkey.js')).headers['content-type']).toMatch(/javascript/);
    await t.request('GET', '/api/v4/user', { token: w.users.maintainer.token });
    const metrics = (await t.request('GET', '/metrics')).text;
    expect(metrics).toMatch(/latchkey_http_requests_total\{method="GET",route="\/-\/user_settings\/personal_access_tokens",status="200",surface="ui"\} \d+/);
    expect(metrics).toMatch(/latchkey_http_requests_total\{method="GET",route="\/api\/v4\/user",status="200",surface="api"\} \d+/);
  });

  it('unknown API paths keep their JSON 404; unknown pages get an HTML 404', async () => {
    const api = await t.request('GET', '/api/v4/nothing-here');
    expect(api.status).toBe(404);
    expect(api.body).toEqual({ error: '404 Not Found' });
    const page = await maintainer.get('/no/such/page');
    expect(page.status).toBe(404);
    expect(page.headers['content-type']).toMatch(/text\/html/);
  });
});
