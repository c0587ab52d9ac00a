/**
 * "What expires when" (issue 18 item 3) on both stores: the expiring report's visibility (a maintainer
 * sees the project's tokens and their own, nothing of other projects or people), the 90-day timeline
 * with markers coloured by the 7/30/60-day bands, rows linking to where each token is rotated, the
 * window, a bad window's 400, escaping.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCredentialInput } from '../../../src/inventory/credential.js';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';
import { webClient } from '../../support/web-client.js';

const PASSWORD = 'correct horse battery';

describe.each(DIALECTS)('what expires when on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let maintainer: ReturnType<typeof webClient>;
  const ids: Record<string, number> = {};

  beforeAll(async () => {
    t = await startTestApp(dialect); // today is 2026-11-23
    w = await seedWorld(t);
    for (const u of ['maintainer-user', 'developer-user', 'root']) await t.app.services.accounts.setPasswordByUsername(u, PASSWORD);
    const { resourceTokens, deployTokens, personalTokens, serviceAccounts, impersonationTokens } = t.app.services;
    const project = { type: 'project' as const, project: w.project };
    ids.soon = (await resourceTokens.create(w.admin, project, { name: 'release-bot', scopes: ['read_api'], accessLevel: 30, expiresAt: '2026-11-28' })).token.id; // 5 days
    ids.deploy = (await deployTokens.create(w.admin, project, { name: 'ci-pull', scopes: ['read_registry'], expiresAt: '2026-12-13' })).token.id; // 20 days
    ids.group = (await resourceTokens.create(w.admin, { type: 'group', group: w.sub }, { name: '<img src=x onerror=alert(1)>', scopes: ['read_api'], accessLevel: 10, expiresAt: '2027-01-07' })).token.id; // 45 days
    ids.own = (await personalTokens.createFor(w.users.maintainer.user, { name: 'laptop', scopes: ['read_user'], expiresAt: '2027-02-11' }, null)).token.id; // 80 days
    ids.later = (await resourceTokens.create(w.admin, project, { name: 'far-away', scopes: ['read_api'], accessLevel: 10, expiresAt: '2027-03-23' })).token.id; // 120 days
    ids.elsewhere = (await resourceTokens.create(w.admin, { type: 'project', project: w.otherProject }, { name: 'other-site-bot', scopes: ['read_api'], accessLevel: 10, expiresAt: '2026-12-01' })).token.id;
    ids.devOwn = (await personalTokens.createFor(w.users.developer.user, { name: 'dev-laptop', scopes: ['read_user'], expiresAt: '2026-12-05' }, null)).token.id;
    const account = await serviceAccounts.create(w.admin, w.top, { name: 'robot', username: 'acme-robot' });
    ids.account = account.id;
    ids.sa = (await serviceAccounts.createToken(w.admin, w.top, account.id, { name: 'robot-ci', scopes: ['read_registry'], expiresAt: '2026-12-20' })).token.id;
    ids.imp = (await impersonationTokens.create(w.admin, w.users.developer.user.id, { name: 'support', scopes: ['api'], expiresAt: '2026-12-02' })).token.id;
    maintainer = webClient(t);
    expect((await maintainer.signIn('maintainer-user', PASSWORD)).status).toBe(303);
  });
  afterAll(() => t.close());

  it('a maintainer sees the project\'s and group\'s tokens and their own, each linked to where it is rotated; nothing of others', async () => {
    const page = await maintainer.get('/-/expiring');
    expect(page.status).toBe(200);
    const html = page.html;
    for (const name of ['release-bot', 'ci-pull', 'laptop']) expect(html).toContain(`>${name}<`);
    expect(html).toContain('&lt;img src=x onerror=alert(1)>');
    expect(html).not.toContain('<img src=x');
    for (const name of ['other-site-bot', 'dev-laptop', 'support', 'robot-ci', 'far-away']) expect(html).not.toContain(name);
    expect(html).toContain(`href="/acme/platform/web/-/settings/access_tokens/${ids.soon}/rotate"`);
    expect(html).toContain(`href="/groups/acme/platform/-/settings/access_tokens/${ids.group}/rotate"`);
    expect(html).toContain(`href="/-/user_settings/personal_access_tokens/${ids.own}/rotate"`);
    expect(html).toMatch(/href="\/acme\/platform\/web\/-\/settings\/repository" aria-label="Replace ci-pull"/);
    expect(html).toContain(`href="/-/audit_events?token_id=${ids.soon}"`);
    // The rotate link leads to the confirmation page the token pages serve.
    const rotate = await maintainer.get(`/acme/platform/web/-/settings/access_tokens/${ids.soon}/rotate`);
    expect(rotate.status).toBe(200);
    expect(rotate.html).toContain('Rotate &quot;release-bot&quot;?');
  });

  it('the timeline: one row per group/project/user, markers coloured by the 7/30/60-day bands, no script', async () => {
    const { html } = await maintainer.get('/-/expiring');
    const svg = /<svg class="timeline"[\s\S]*?<\/svg>/.exec(html)![0];
    for (const band of ['critical', 'warning', 'notice', 'ok']) expect(svg).toContain(`class="band-${band}"`);
    const marker = (name: string) => new RegExp(`<circle class="marker-([a-z]+)"[^>]*><title>${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(`).exec(svg)?.[1];
    expect(marker('release-bot')).toBe('critical');
    expect(marker('ci-pull')).toBe('warning');
    expect(marker('&lt;img src=x onerror=alert(1)>')).toBe('notice');
    expect(marker('laptop')).toBe('ok');
    const rows = [...svg.matchAll(/<text class="row-label"[^>]*>([^<]+)<\/text>/g)].map((m) => m[1]);
    expect(rows).toEqual(['acme/platform/web', 'acme/platform (group)', 'maintainer-user (user)']);
    expect(svg).toContain('role="img"');
    expect(svg).toMatch(/<title id="timeline-title">Timeline of the next 90 days from 2026-11-23: 4 expiring, 1 within 7 days, 1 within 30, 1 within 60\./);
    expect(svg).not.toMatch(/<script|\s(style|on[a-z]+)="/i);
  });

  it('the window narrows the table; a bad window is a 400', async () => {
    const week = await maintainer.get('/-/expiring?within=7');
    expect(week.html).toContain('>release-bot<');
    expect(week.html).not.toContain('>ci-pull<');
    expect(week.html).toContain('<option value="7" selected');
    const year = await maintainer.get('/-/expiring?within=365');
    expect(year.html).toContain('>far-away<');
    const bad = await maintainer.get('/-/expiring?within=forever');
    expect(bad.status).toBe(400);
    expect(bad.html).toContain('within is invalid');
  });

  it('a developer sees only their own token; an admin sees service-account and impersonation tokens too', async () => {
    const dev = webClient(t);
    await dev.signIn('developer-user', PASSWORD);
    const devPage = await dev.get('/-/expiring');
    expect(devPage.html).toContain('>dev-laptop<');
    for (const name of ['release-bot', 'ci-pull', 'laptop<', 'support']) expect(devPage.html).not.toContain(`>${name}`);

    const admin = webClient(t);
    await admin.signIn('root', PASSWORD);
    const all = await admin.get('/-/expiring');
    for (const name of ['release-bot', 'other-site-bot', 'dev-laptop', 'robot-ci', 'support']) expect(all.html).toContain(`>${name}<`);
    expect(all.html).toContain(`href="/groups/acme/-/settings/service_accounts/${ids.account}/tokens/${ids.sa}/rotate"`);
    // Impersonation tokens have no page; another user's personal token is rotated by its owner.
    expect(all.html).toMatch(/>support<\/th>[\s\S]*?API only/);
  });

  it('signed out: the sign-in page, then back', async () => {
    const anon = webClient(t);
    const res = await anon.get('/-/expiring');
    expect(res.status).toBe(303);
    expect(res.location).toBe('/users/sign_in?redirect_to=%2F-%2Fexpiring');
  });
  it('inventory credentials due in the window (overdue ones too) join their group, linked to their page to renew', async () => {
    const create = (body: Record<string, unknown>) => t.app.services.inventory.create(w.admin, parseCredentialInput(body, { partial: false }));
    await create({ slug: 'npm-soon', name: 'NPM <publish>', kind: 'npm_token', owner: 'acme/platform', scopes: ['publish'], renewal: { expires_at: '2026-12-03' } }); // 10 days
    await create({ slug: 'key-late', name: 'Late key', kind: 'api_key', owner: 'acme/platform', renewal: { expires_at: '2026-11-24' } });
    await create({ slug: 'key-far', name: 'Far key', kind: 'api_key', owner: 'acme/platform', renewal: { expires_at: '2027-06-01' } });
    await create({ slug: 'other-team', name: 'Other team key', kind: 'api_key', owner: 'acme/other', renewal: { expires_at: '2026-12-01' } });
    t.clock.advance(3 * 86_400_000); // 2026-11-26: key-late is 2 days overdue (and the earlier sessions have ended)
    try {
      const maintainer = webClient(t);
      await maintainer.signIn('maintainer-user', PASSWORD);
      const html = (await maintainer.get('/-/expiring')).html;
      expect(html).toContain('>NPM &lt;publish><');
      expect(html).toContain('npm token (inventory)');
      expect(html).toContain('href="/-/inventory/npm-soon" aria-label="Renew NPM &lt;publish>"');
      expect(html).toContain('(2 days ago, expired)');
      expect(html).toContain('href="/-/inventory/key-late"');
      for (const name of ['Far key', 'Other team key']) expect(html).not.toContain(name);
      expect((await maintainer.get('/-/expiring?within=365')).html).toContain('Far key');
      const developer = webClient(t);
      await developer.signIn('developer-user', PASSWORD);
      // A Developer of the group is a Reporter+ there: the inventory's rule, not the token report's.
      expect((await developer.get('/-/expiring')).html).toContain('NPM &lt;publish>');
    } finally {
      t.clock.advance(-3 * 86_400_000);
    }
  });

  it('links the iCalendar feed: its address made once by a form (shown once, then never), the feed answers to it; reset and revoke end the old one', async () => {
    const me = webClient(t);
    await me.signIn('maintainer-user', PASSWORD);
    const before = await me.get('/-/expiring');
    expect(before.html).toContain('Calendar feed (iCalendar)');
    expect(before.html).toContain('Make a feed address');
    expect(before.html).not.toContain('feed_token=glft-');
    expect((await me.post('/-/expiring/feed_token', {})).status).toBe(403); // no CSRF token
    const made = await me.submit('/-/expiring', {}, '/-/expiring/feed_token');
    expect(made.status).toBe(200);
    expect(made.headers['cache-control']).toBe('no-store');
    expect(made.html).toContain("you won't be able to see it again");
    const address = /id="feed-url"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*id="feed-url"/.exec(made.html)!.slice(1).find(Boolean)!.replaceAll('&amp;', '&');
    const url = new URL(address);
    expect(url.pathname).toBe('/api/v4/latchkey/calendar.ics');
    const feedToken = url.searchParams.get('feed_token')!;
    expect(feedToken).toMatch(/^glft-/);
    const feed = await t.request('GET', `${url.pathname}${url.search}`);
    expect(feed.status).toBe(200);
    expect(feed.text).toContain('BEGIN:VCALENDAR');
    expect(feed.text).toContain('NPM <publish>'); // the inventory's entries of the maintainer's group
    // Afterwards the page tells it exists, never shows it again.
    const later = await me.get('/-/expiring');
    expect(later.html).not.toContain(feedToken);
    expect(later.html).toContain('You have a feed address, made 2026-11-23');
    const reset = await me.submit('/-/expiring', {}, '/-/expiring/feed_token');
    expect(reset.html).toContain('feed_token=glft-');
    expect(reset.html).not.toContain(feedToken);
    expect((await t.request('GET', `${url.pathname}${url.search}`)).status).toBe(401);
    const revoked = await me.submit('/-/expiring', {}, '/-/expiring/feed_token/revoke');
    expect(revoked.status).toBe(303);
    expect(revoked.location).toBe('/-/expiring?notice=feed_revoked');
    const resetToken = /feed_token=(glft-[A-Za-z0-9_-]+)/.exec(reset.html)![1]!;
    expect((await t.request('GET', `${url.pathname}?feed_token=${resetToken}`)).status).toBe(401);
    const after = await me.get('/-/expiring?notice=feed_revoked');
    expect(after.html).toContain('Your calendar feed address was revoked');
    expect(after.html).toContain('Make a feed address');
  });
});
