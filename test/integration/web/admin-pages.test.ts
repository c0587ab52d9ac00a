/**
 * Admin pages (issue 18 item 6) on both stores: "Is this value one of ours?" answers as
 * POST /api/v4/admin/token does (Latchkey tokens of any kind, inventory fingerprints, neither) and revokes;
 * the users page lists, creates, blocks and unblocks, and sets the admin flag through the API's services.
 * Non-admins see the 404 page; every form needs its CSRF token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCredentialInput } from '../../../src/inventory/credential.js';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';
import { csrfOf, webClient } from '../../support/web-client.js';

const PASSWORD = 'correct horse battery';

describe.each(DIALECTS)('admin pages on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let admin: ReturnType<typeof webClient>;

  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
    for (const u of ['root', 'maintainer-user']) await t.app.services.accounts.setPasswordByUsername(u, PASSWORD);
    admin = webClient(t);
    expect((await admin.signIn('root', PASSWORD)).status).toBe(303);
  });
  afterAll(() => t.close());

  it('is reachable from the nav for admins only; others get the 404 page', async () => {
    const home = await admin.get('/');
    expect(home.html).toContain('href="/admin"');
    expect((await admin.get('/admin')).location).toBe('/admin/token');
    const maintainer = webClient(t);
    await maintainer.signIn('maintainer-user', PASSWORD);
    expect((await maintainer.get('/')).html).not.toContain('href="/admin"');
    for (const path of ['/admin/token', '/admin/users']) {
      const page = await maintainer.get(path);
      expect(page.status).toBe(404);
      expect(page.html).toContain('Page not found');
    }
    const signedOut = await webClient(t).get('/admin/users');
    expect(signedOut.status).toBe(303);
    expect(signedOut.location).toMatch(/^\/users\/sign_in\?redirect_to=%2Fadmin%2Fusers/);
  });

  it('tells what a pasted deploy token is, where it belongs, and revokes it', async () => {
    const created = await t.app.services.deployTokens.create(w.admin, { type: 'project', project: w.project }, { name: 'leaked <b>deploy</b>', scopes: ['read_registry'], expiresAt: '2027-01-31' });
    const answer = await admin.submit('/admin/token', { token: created.secret });
    expect(answer.status).toBe(200);
    expect(answer.html).toContain('Yes: Latchkey deploy token &quot;leaked');
    expect(answer.html).toContain('leaked &lt;b>deploy&lt;/b>');
    expect(answer.html).toContain('href="/acme/platform/web/-/settings/repository"');
    expect(answer.html).toContain(`href="/-/audit_events?token_id=${created.token.id}"`);
    expect(answer.html).toContain('Revoke this token');
    // Revoking posts the value again with the page's CSRF token.
    const refused = await admin.post('/admin/token/revoke', { token: created.secret });
    expect(refused.status).toBe(403);
    const revoked = await admin.post('/admin/token/revoke', { token: created.secret, _csrf: csrfOf(answer.html) });
    expect(revoked.status).toBe(303);
    expect(revoked.location).toBe('/admin/token?notice=revoked');
    expect((await t.request('GET', '/api/v4/projects/acme%2Fplatform%2Fweb', { token: created.secret })).status).toBe(401);
    const again = await admin.submit('/admin/token', { token: created.secret });
    expect(again.html).toContain('Revoked');
    expect(again.html).not.toContain('Revoke this token');
  });

  it('recognises an outside credential by its inventory fingerprint, and says no to anything else', async () => {
    const value = 'npm_outsideSecretValue1234567890';
    await t.app.services.inventory.create(
      w.admin,
      parseCredentialInput(
        { slug: 'npm-publish', name: 'NPM publish', kind: 'npm_token', owner: 'acme/platform', renewal: { every_days: 90 }, value, placements: [{ kind: 'ci_variable', instance: 'gitlab.example.com', project: 'acme/web', key: 'NPM_TOKEN' }] },
        { partial: false },
      ),
    );
    const answer = await admin.submit('/admin/token', { token: value });
    expect(answer.status).toBe(200);
    expect(answer.html).toContain('Yes: an outside credential in the inventory');
    expect(answer.html).toContain('href="/-/inventory/npm-publish"');
    expect(answer.html).toContain('CI variable NPM_TOKEN of project acme/web on gitlab.example.com');
    const none = await admin.submit('/admin/token', { token: 'not-a-known-value' });
    expect(none.status).toBe(200);
    expect(none.html).toContain('No: this value is not a Latchkey token');
    const empty = await admin.submit('/admin/token', { token: '' });
    expect(empty.status).toBe(400);
    expect(empty.html).toContain('token is empty');
  });

  it('lists users keyset-paged, creates one, blocks, unblocks and sets admin through the account service', async () => {
    const list = await admin.get('/admin/users');
    expect(list.status).toBe(200);
    expect(list.html).toContain('maintainer-user');
    const bad = await admin.submit('/admin/users', { username: 'new-person', name: 'New Person', email: 'new@example.com', password: 'short' });
    expect(bad.status).toBe(400);
    expect(bad.html).toContain('value="new-person"');
    const created = await admin.submit('/admin/users', { username: 'new-person', name: 'New <i>Person</i>', email: 'new@example.com', password: 'a long enough password' });
    expect(created.status).toBe(303);
    expect(created.location).toBe('/admin/users?notice=created');
    const person = (await t.app.store.namespaces.findUserByUsername('new-person'))!;
    expect(person.name).toBe('New <i>Person</i>');
    const shown = await admin.get('/admin/users?notice=created');
    expect(shown.html).toContain('The user was created.');
    expect(shown.html).toContain('New &lt;i>Person&lt;/i>');
    // The new person can sign in with that password, until blocked.
    const them = webClient(t);
    expect((await them.signIn('new-person', 'a long enough password')).status).toBe(303);
    expect((await admin.submit('/admin/users', {}, `/admin/users/${person.id}/block`)).location).toBe('/admin/users?notice=block');
    expect((await t.app.store.namespaces.findUserById(person.id))!.state).toBe('blocked');
    expect((await them.get('/')).status).toBe(303);
    expect((await admin.submit('/admin/users', {}, `/admin/users/${person.id}/unblock`)).location).toBe('/admin/users?notice=unblock');
    expect((await admin.submit('/admin/users', {}, `/admin/users/${person.id}/admin`)).location).toBe('/admin/users?notice=admin');
    expect((await t.app.store.namespaces.findUserById(person.id))!.isAdmin).toBe(true);
    expect((await admin.submit('/admin/users', {}, `/admin/users/${person.id}/unadmin`)).location).toBe('/admin/users?notice=unadmin');
    expect((await t.app.store.namespaces.findUserById(person.id))!.isAdmin).toBe(false);
    // The service's rules, not the page's: nobody demotes themselves.
    const self = await admin.submit('/admin/users', {}, `/admin/users/${w.admin.id}/unadmin`);
    expect(self.status).toBe(400);
    expect(self.html).toContain('cannot be removed from yourself');
    expect((await admin.submit('/admin/users', {}, '/admin/users/99999/block')).status).toBe(404);
    expect((await admin.submit('/admin/users', {}, `/admin/users/${person.id}/destroy`)).status).toBe(404);
  });

  it('pages users by id without counting them', async () => {
    for (let i = 0; i < 55; i++) await t.app.services.namespaces.createUser(w.admin, { username: `paged-${i}`, name: `Paged ${i}`, email: `paged-${i}@example.com` });
    const first = await admin.get('/admin/users');
    const next = /<a href="(\/admin\/users\?after=\d+)" rel="next">/.exec(first.html)![1]!;
    const second = await admin.get(next);
    expect(second.status).toBe(200);
    expect(second.html).toContain('First page');
    const names = (html: string) => [...html.matchAll(/<th scope="row">([a-z0-9-]+)/g)].map((m) => m[1]);
    expect(names(second.html).filter((n) => names(first.html).includes(n))).toEqual([]);
    expect(names(first.html)).toHaveLength(50);
  });
});
