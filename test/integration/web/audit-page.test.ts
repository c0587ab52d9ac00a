/**
 * The audit log page (issue 18 item 5) on both stores: the API's filters (token, actor, event, status,
 * project/group, time range), keyset paging, links from tokens to their entries, and the audit
 * service's rule for who sees what (an Owner their namespaces, an admin all, others nothing).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';
import { webClient } from '../../support/web-client.js';

const PASSWORD = 'correct horse battery';
const decode = (html: string) => html.replace(/&amp;/g, '&');
const rowsOf = (html: string) => [...html.matchAll(/<tr><td class="nowrap">[\s\S]*?<\/tr>/g)].map((m) => m[0]);

describe.each(DIALECTS)('audit log page on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let owner: ReturnType<typeof webClient>;
  let tokenId: number;
  let otherTokenId: number;

  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
    for (const u of ['owner-user', 'developer-user', 'root']) await t.app.services.accounts.setPasswordByUsername(u, PASSWORD);
    const project = { type: 'project' as const, project: w.project };
    const created = await t.app.services.resourceTokens.create(w.admin, project, { name: 'reader', scopes: ['read_api'], accessLevel: 20, expiresAt: '2026-12-31' });
    tokenId = created.token.id;
    const other = await t.app.services.resourceTokens.create(w.admin, { type: 'project', project: w.otherProject }, { name: 'elsewhere', scopes: ['read_api'], accessLevel: 20, expiresAt: '2026-12-31' });
    otherTokenId = other.token.id;
    // 55 reads with the project token, then 3 refused ones an hour later.
    for (let i = 0; i < 55; i++) expect((await t.request('GET', '/api/v4/projects/acme%2Fplatform%2Fweb', { token: created.secret })).status).toBe(200);
    t.clock.advance(3600_000);
    for (let i = 0; i < 3; i++) expect((await t.request('GET', '/api/v4/projects/acme%2Fother%2Fsite', { token: created.secret })).status).toBe(404);
    await t.request('GET', '/api/v4/projects/acme%2Fother%2Fsite', { token: other.secret });
    await t.app.services.auditWriter.flush();
    owner = webClient(t);
    expect((await owner.signIn('owner-user', PASSWORD)).status).toBe(303);
  });
  afterAll(() => t.close());

  it('an Owner sees the entries of their project, newest first, 50 a page, older ones through the keyset link', async () => {
    const first = await owner.get(`/-/audit_events?token_id=${tokenId}`);
    expect(first.status).toBe(200);
    const rows = rowsOf(first.html);
    expect(rows).toHaveLength(50);
    expect(rows[0]).toContain('404');
    expect(first.html).not.toContain('elsewhere');
    const next = /<a href="([^"]+)" rel="next">Older entries<\/a>/.exec(first.html)![1]!;
    expect(decode(next)).toMatch(/^\/-\/audit_events\?token_id=\d+&cursor=/);
    const second = await owner.get(decode(next));
    const older = rowsOf(second.html);
    // 58 requests and the token's creation.
    expect(older.length).toBe(59 - 50);
    expect(older.at(-1)).toContain('token.created');
    expect(second.html).toContain('Newest entries');
    expect(second.html).not.toContain('rel="next"');
  });

  it('filters by status, event, actor, project and time range, as the API does', async () => {
    const refused = await owner.get(`/-/audit_events?token_id=${tokenId}&status=404`);
    expect(rowsOf(refused.html)).toHaveLength(3);
    const created = await owner.get('/-/audit_events?event=token.created&project=acme%2Fplatform%2Fweb');
    const createdRows = rowsOf(created.html);
    expect(createdRows.length).toBeGreaterThanOrEqual(1);
    for (const r of createdRows) expect(r).toContain('token.created');
    expect(created.html).toContain('<option value="token.created" selected');
    const lastHour = await owner.get(`/-/audit_events?token_id=${tokenId}&created_after=2026-11-23T10:30`);
    expect(rowsOf(lastHour.html)).toHaveLength(3);
    const before = await owner.get(`/-/audit_events?token_id=${tokenId}&created_before=2026-11-23T10:30&status=404`);
    expect(rowsOf(before.html)).toHaveLength(0);
    expect(before.html).toContain('No entries match.');
    // The form keeps what was asked.
    expect(before.html).toContain('value="2026-11-23T10:30"');
  });

  it('links each entry\'s token and actor to their entries; token tables link to the log', async () => {
    const page = await owner.get(`/-/audit_events?token_id=${tokenId}&status=404`);
    expect(page.html).toContain(`href="/-/audit_events?token_id=${tokenId}" aria-label="Entries of token ${tokenId}"`);
    const tokens = await owner.get('/acme/platform/web/-/settings/access_tokens');
    expect(tokens.html).toContain(`href="/-/audit_events?token_id=${tokenId}"`);
  });

  it('refuses what the service refuses: a bad filter 400, another project 403, a non-owner sees nothing', async () => {
    const bad = await owner.get('/-/audit_events?status=abc');
    expect(bad.status).toBe(400);
    expect(bad.html).toContain('status is invalid');
    const badTime = await owner.get('/-/audit_events?created_after=yesterday');
    expect(badTime.status).toBe(400);
    expect(badTime.html).toContain('created_after is invalid');
    const badCursor = await owner.get('/-/audit_events?cursor=nope');
    expect(badCursor.status).toBe(400);
    const notOwned = await owner.get(`/-/audit_events?token_id=${otherTokenId}`);
    expect(rowsOf(notOwned.html)).toHaveLength(0);
    const otherProject = await owner.get('/-/audit_events?project=acme%2Fother%2Fsite');
    expect([403, 404]).toContain(otherProject.status);
    expect(otherProject.html).not.toContain('elsewhere');

    const dev = webClient(t);
    await dev.signIn('developer-user', PASSWORD);
    const devPage = await dev.get('/-/audit_events');
    expect(devPage.status).toBe(403);
    expect(devPage.html).toContain('You own none.');
    expect(rowsOf(devPage.html)).toHaveLength(0);
  });

  it('an admin sees every project\'s entries', async () => {
    const admin = webClient(t);
    await admin.signIn('root', PASSWORD);
    const page = await admin.get(`/-/audit_events?token_id=${otherTokenId}`);
    expect(rowsOf(page.html).length).toBeGreaterThanOrEqual(2);
  });
});
