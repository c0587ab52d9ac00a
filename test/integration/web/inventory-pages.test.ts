/**
 * Inventory pages (issue 18 item 4) on both stores: the list with its filters (team, kind, status,
 * due within), an entry with placements, its procedure as Markdown rendered with raw HTML off (no XSS),
 * its renewal history, and "mark renewed"; the inventory service's rules (Reporter+ reads, Maintainer+
 * renews, others see nothing).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCredentialInput } from '../../../src/inventory/credential.js';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';
import { webClient } from '../../support/web-client.js';

const PASSWORD = 'correct horse battery';
const PROCEDURE = [
  'Create a **new** group token, then:',
  '',
  '    python3 encode.py <API_KEY>',
  '',
  '<script>alert(1)</script> <img src=x onerror=alert(2)>',
  '',
  '[docs](https://docs.example.com/npm) and [bad](javascript:alert(3))',
].join('\n');

describe.each(DIALECTS)('inventory pages on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let maintainer: ReturnType<typeof webClient>;

  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
    for (const u of ['maintainer-user', 'reporter-user', 'guest-user', 'outsider-user']) await t.app.services.accounts.setPasswordByUsername(u, PASSWORD);
    const create = (body: Record<string, unknown>) => t.app.services.inventory.create(w.admin, parseCredentialInput(body, { partial: false }));
    // Today is 2026-11-23 (the test clock).
    await create({
      slug: 'dependency-proxy',
      name: 'Dependency proxy <token>',
      kind: 'gitlab_group_token',
      owner: 'acme/platform',
      renewal: { expires_at: '2026-12-01' },
      procedure: PROCEDURE,
      placements: [
        { kind: 'ci_variable', instance: 'gitlab.com', project: 'tocco-client', key: 'DOCKER_AUTH_CONFIG', format: 'docker_auth_config', registry: 'gitlab.com:443' },
        { kind: 'manual', where: 'Renovate dashboard settings' },
      ],
    });
    await create({ slug: 'npm-publish', name: 'NPM publish', kind: 'npm_token', owner: 'acme/platform', renewal: { every_days: 90 } });
    await create({ slug: 'overdue-key', name: 'Overdue key', kind: 'api_key', owner: 'acme/platform', renewal: { expires_at: '2026-11-24' } });
    t.clock.advance(3 * 86_400_000);
    await create({ slug: 'other-team', name: 'Other team key', kind: 'api_key', owner: 'acme/other', renewal: { every_days: 30 } });
    maintainer = webClient(t);
    expect((await maintainer.signIn('maintainer-user', PASSWORD)).status).toBe(303);
  });
  afterAll(() => t.close());

  const names = (html: string) => [...html.matchAll(/<th scope="row"><a href="\/-\/inventory\/([^"]+)">/g)].map((m) => m[1]);

  it('lists what one may read, reachable from the nav, filtered by team, kind, status and due within', async () => {
    const all = await maintainer.get('/-/inventory');
    expect(all.status).toBe(200);
    expect(all.html).toContain('<a href="/-/inventory" aria-current="page">Inventory</a>');
    // Outside credentials first, then Latchkey's own tokens the maintainer may see (their personal token).
    const own = (await t.app.services.personalTokens.list(w.users.maintainer.user, { userId: w.users.maintainer.user.id }, { page: 1, perPage: 5 })).items[0]!;
    expect(names(all.html)).toEqual(['dependency-proxy', 'npm-publish', 'overdue-key', `token-${own.id}`]);
    expect(all.html).toContain('Dependency proxy &lt;token>');
    expect(names((await maintainer.get('/-/inventory?source=outside')).html)).toEqual(['dependency-proxy', 'npm-publish', 'overdue-key']);
    expect(names((await maintainer.get('/-/inventory?source=tokens')).html)).toEqual([`token-${own.id}`]);
    const tokenEntry = await maintainer.get(`/-/inventory/token-${own.id}`);
    expect(tokenEntry.status).toBe(200);
    expect(tokenEntry.html).toContain('rotate it on its token page');
    expect(tokenEntry.html).not.toContain('id="renew-heading"');
    expect(names((await maintainer.get('/-/inventory?kind=api_key')).html)).toEqual(['overdue-key']);
    expect(names((await maintainer.get('/-/inventory?status=overdue&source=outside')).html)).toEqual(['overdue-key']);
    expect(names((await maintainer.get('/-/inventory?due_within=7&source=outside')).html)).toEqual(['dependency-proxy', 'overdue-key']);
    expect(names((await maintainer.get('/-/inventory?owner=acme%2Fplatform&due_within=90&source=outside')).html)).toEqual(['dependency-proxy', 'npm-publish', 'overdue-key']);
    const unseen = await maintainer.get('/-/inventory?owner=acme%2Fother');
    expect(unseen.status).toBe(400);
    expect(unseen.html).toContain('No such team');
    const admin = webClient(t);
    await t.app.services.accounts.setPasswordByUsername('root', PASSWORD);
    await admin.signIn('root', PASSWORD);
    expect(names((await admin.get('/-/inventory?source=outside')).html)).toContain('other-team');
    const outsider = webClient(t);
    await outsider.signIn('outsider-user', PASSWORD);
    expect(names((await outsider.get('/-/inventory?source=outside')).html)).toEqual([]);
  });

  it('pages by keyset: outside entries, then tokens, nothing counted', async () => {
    for (let i = 0; i < 52; i++) {
      await t.app.services.inventory.create(w.admin, parseCredentialInput({ slug: `paged-${String(i).padStart(2, '0')}`, name: `Paged ${i}`, kind: 'paged_key', owner: 'acme/platform', renewal: { every_days: 30 } }, { partial: false }));
    }
    const first = await maintainer.get('/-/inventory?kind=paged_key');
    expect(names(first.html)).toHaveLength(50);
    const next = /<a href="([^"]+)" rel="next">Next<\/a>/.exec(first.html)![1]!.replace(/&amp;/g, '&');
    expect(next).toMatch(/^\/-\/inventory\?kind=paged_key&after=outside%3A\d+$/);
    const second = await maintainer.get(next);
    expect(names(second.html)).toEqual(['paged-50', 'paged-51']);
    expect(second.html).toContain('First page');
    expect(second.html).not.toContain('rel="next"');
  });

  it('shows an entry with placements and its procedure as inert Markdown', async () => {
    const page = await maintainer.get('/-/inventory/dependency-proxy');
    expect(page.status).toBe(200);
    expect(page.html).toContain('CI variable DOCKER_AUTH_CONFIG of project tocco-client on gitlab.com (docker_auth_config)');
    expect(page.html).toContain('Renovate dashboard settings');
    expect(page.html).toContain('<strong>new</strong>');
    expect(page.html).toContain('<pre><code>python3 encode.py &lt;API_KEY&gt;');
    expect(page.html).toContain('<a href="https://docs.example.com/npm" rel="noopener noreferrer nofollow">docs</a>');
    expect(page.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page.html).not.toContain('<script>alert');
    expect(page.html).not.toMatch(/<img[^>]*onerror/);
    expect(page.html).not.toContain('href="javascript:');
    expect(page.html).toContain('Mark renewed');
    expect(page.html).toContain('Not renewed yet.');
  });

  it('marks renewed (Maintainer+), keeps the history, and shows the service\'s refusals on the form', async () => {
    const missing = await maintainer.submit('/-/inventory/dependency-proxy', { renewed_on: '2026-11-26', 'placements_updated[]': [] }, '/-/inventory/dependency-proxy/renewals');
    expect(missing.status).toBe(400);
    expect(missing.html).toContain('Expires at is missing');
    const entry = await t.app.services.inventory.get(w.admin, 'dependency-proxy');
    const ci = entry.placements.find((p) => p.kind === 'ci_variable')!;
    const done = await maintainer.submit('/-/inventory/dependency-proxy', { renewed_on: '2026-11-26', expires_at: '2027-03-31', 'placements_updated[]': [String(ci.id)], note: 'new token <b>x</b>' }, '/-/inventory/dependency-proxy/renewals');
    expect(done.status).toBe(303);
    expect(done.location).toBe('/-/inventory/dependency-proxy?notice=renewed');
    const after = await maintainer.get(done.location!);
    expect(after.html).toContain('Marked renewed.');
    expect(after.html).toContain('2026-12-01 → 2027-03-31');
    expect(after.html).toContain('maintainer-user');
    expect(after.html).toContain('new token &lt;b>x&lt;/b>');
    const history = await t.app.services.inventory.renewals(w.admin, 'dependency-proxy', { page: 1, perPage: 10 });
    expect(history.items[0]!.placementsUpdated.map((p) => p.id)).toEqual([ci.id]);
    // A Reporter reads the entry but gets no form, and a post is refused by the service.
    const reporter = webClient(t);
    await reporter.signIn('reporter-user', PASSWORD);
    const read = await reporter.get('/-/inventory/dependency-proxy');
    expect(read.status).toBe(200);
    expect(read.html).not.toContain('id="renew-heading"');
    const refused = await reporter.submit('/-/inventory/dependency-proxy', { renewed_on: '2026-11-26', expires_at: '2027-04-30' }, '/-/inventory/dependency-proxy/renewals');
    expect(refused.status).toBe(404);
    expect((await t.app.services.inventory.get(w.admin, 'dependency-proxy')).dueOn).toBe('2027-03-31');
    // A Guest and an outsider do not see it at all.
    const guest = webClient(t);
    await guest.signIn('guest-user', PASSWORD);
    expect((await guest.get('/-/inventory/dependency-proxy')).status).toBe(404);
    expect((await maintainer.get('/-/inventory/other-team')).status).toBe(404);
    expect((await maintainer.get('/-/inventory/..%2F..%2Fetc')).status).toBe(404);
  });
});
