/**
 * Calendar feeds of due dates (issue 14 item 4) on both stores: a feed token issued once (never stored
 * or shown again: only its HMAC is kept), the user feed (entries of groups the user reads) and the
 * group feed as valid iCalendar, reset and revocation, and 401/404 for bad tokens and foreign groups.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';

const unfold = (text: string) => text.replace(/\r\n[ \t]/g, '');
const events = (ics: string) =>
  unfold(ics)
    .split('BEGIN:VEVENT\r\n')
    .slice(1)
    // The event's own properties: up to its alarm, whose DESCRIPTION is the alarm's.
    .map((block) => Object.fromEntries(block.split('BEGIN:VALARM')[0]!.split('\r\n').filter((l) => /^[A-Z-]+[;:]/.test(l)).map((l) => [l.slice(0, l.search(/[;:]/)), l.slice(l.indexOf(':') + 1)])));

describe.each(DIALECTS)('calendar feeds on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  const ids: Record<string, number> = {};
  beforeAll(async () => {
    t = await startTestApp(dialect, { now: '2026-12-03T10:00:00.000Z', env: { LATCHKEY_PUBLIC_URL: 'https://latchkey.example.com' } });
    w = await seedWorld(t);
    const create = async (body: object) => {
      const res = await t.request('POST', '/api/v4/latchkey/credentials', { token: w.adminToken, body });
      expect(res.status).toBe(201);
      return res.body.id as number;
    };
    ids.npm = await create({ slug: 'npm', name: 'NPM, publish; token', kind: 'npm_token', provider: 'npm', owner: 'acme/platform', renewal: { every_days: 90 }, procedure: 'npm token create\nthen update CI', placements: [{ kind: 'ci_variable', instance: 'gitlab.com', project: 'web', key: 'NPM_TOKEN' }] });
    ids.tempo = await create({ slug: 'tempo', name: 'Tempo', kind: 'api_key', owner: 'acme/platform', renewal: { event: 'during the new release task', review_every_days: 30 } });
    ids.other = await create({ slug: 'other', name: 'Other team key', kind: 'api_key', owner: 'acme/other', renewal: { expires_at: '2027-02-01' } });
  });
  afterAll(() => t?.close());

  it('issues a feed token once, keeps only its HMAC, and serves the user feed as valid iCalendar', async () => {
    const issued = await t.request('POST', '/api/v4/latchkey/feed_token', { token: w.users.reporter.token });
    expect(issued.status).toBe(201);
    expect(issued.body.token).toMatch(/^glft-[A-Za-z0-9]{30,}$/);
    expect(issued.body.feed_urls.user).toBe('https://latchkey.example.com/api/v4/latchkey/calendar.ics');
    const rows = await (t.app.store.db as any).selectFrom('calendar_feed_tokens').selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(issued.body.token);
    expect(rows[0].digest).toMatch(/^[0-9a-f]{64}$/);
    const shown = await t.request('GET', '/api/v4/latchkey/feed_token', { token: w.users.reporter.token });
    expect(shown.body).toMatchObject({ created_at: '2026-12-03T10:00:00.000Z', last_used_at: null });
    expect(JSON.stringify(shown.body)).not.toContain(issued.body.token);

    const feed = await t.request('GET', `/api/v4/latchkey/calendar.ics?feed_token=${issued.body.token}`);
    expect(feed.status).toBe(200);
    expect(feed.headers['content-type']).toBe('text/calendar; charset=utf-8');
    expect(feed.text.startsWith('BEGIN:VCALENDAR\r\nVERSION:2.0\r\n')).toBe(true);
    expect(feed.text.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    for (const line of feed.text.split('\r\n')) expect(Buffer.byteLength(line, 'utf8')).toBeLessThanOrEqual(75);
    const got = events(feed.text);
    // The Reporter of acme/platform reads its two entries, not acme/other's. Soonest first: Tempo (30 days), NPM (90).
    expect(got.map((e) => e.UID)).toEqual([`credential-${ids.tempo}@latchkey.example.com`, `credential-${ids.npm}@latchkey.example.com`]);
    expect(got[1]).toMatchObject({ DTSTART: '20270303', DTEND: '20270304', SUMMARY: 'Renew: NPM\\, publish\\; token (acme/platform)', URL: `https://latchkey.example.com/api/v4/latchkey/credentials/${ids.npm}` });
    expect(got[1]!.DESCRIPTION).toContain('Procedure:\\nnpm token create\\nthen update CI');
    expect(got[1]!.DESCRIPTION).toContain('- CI variable NPM_TOKEN of project web on gitlab.com');
    expect(got[0]).toMatchObject({ DTSTART: '20270102', SUMMARY: 'Review: Tempo (acme/platform)' });
    expect(unfold(feed.text)).toContain('BEGIN:VEVENT\r\nUID:');
    expect(unfold(feed.text)).toContain('DTSTART;VALUE=DATE:20270303\r\n');
    expect((await t.request('GET', '/api/v4/latchkey/feed_token', { token: w.users.reporter.token })).body.last_used_at).toBe('2026-12-03T10:00:00.000Z');

    // UIDs stay the same across refreshes, and a renewal moves the event instead of adding one.
    t.clock.set('2026-12-10T10:00:00.000Z');
    expect((await t.request('POST', `/api/v4/latchkey/credentials/${ids.npm}/renewals`, { token: w.users.maintainer.token, body: {} })).status).toBe(201);
    const after = events((await t.request('GET', `/api/v4/latchkey/calendar.ics?feed_token=${issued.body.token}`)).text);
    expect(after.map((e) => e.UID)).toEqual(got.map((e) => e.UID));
    expect(after[1]).toMatchObject({ DTSTART: '20270310' });
  });

  it('serves a group feed to its readers only; 404 for others, 401 for bad, reset or revoked tokens', async () => {
    const reporter = (await t.request('POST', '/api/v4/latchkey/feed_token', { token: w.users.reporter.token })).body.token as string;
    const outsider = (await t.request('POST', '/api/v4/latchkey/feed_token', { token: w.users.outsider.token })).body.token as string;
    const group = await t.request('GET', `/api/v4/latchkey/groups/${encodeURIComponent('acme/platform')}/calendar.ics?feed_token=${reporter}`);
    expect(group.status).toBe(200);
    expect(events(group.text).map((e) => e.UID)).toHaveLength(2);
    expect(unfold(group.text)).toContain('X-WR-CALNAME:Latchkey: credentials due (acme/platform)');
    const foreign = await t.request('GET', `/api/v4/latchkey/groups/${encodeURIComponent('acme/other')}/calendar.ics?feed_token=${reporter}`);
    expect(foreign.status).toBe(404);
    expect(foreign.body).toEqual({ message: '404 Group Not Found' });
    expect((await t.request('GET', `/api/v4/latchkey/groups/${w.sub.id}/calendar.ics?feed_token=${outsider}`)).status).toBe(404);
    expect(events((await t.request('GET', `/api/v4/latchkey/calendar.ics?feed_token=${outsider}`)).text)).toEqual([]);

    // The reporter's token with its last character changed (to another one: it may end in x itself).
    const altered = reporter.slice(0, -1) + (reporter.endsWith('x') ? 'y' : 'x');
    for (const bad of ['', 'glft-nope', altered, w.users.reporter.token]) {
      const res = await t.request('GET', `/api/v4/latchkey/calendar.ics?feed_token=${encodeURIComponent(bad)}`);
      expect(res.status, bad).toBe(401);
      expect(res.body).toEqual({ message: '401 Unauthorized' });
    }
    expect((await t.request('GET', '/api/v4/latchkey/calendar.ics')).status).toBe(401);

    // A reset: the old token stops, the new one works.
    const reset = (await t.request('POST', '/api/v4/latchkey/feed_token', { token: w.users.reporter.token })).body.token as string;
    expect(reset).not.toBe(reporter);
    expect((await t.request('GET', `/api/v4/latchkey/calendar.ics?feed_token=${reporter}`)).status).toBe(401);
    expect((await t.request('GET', `/api/v4/latchkey/calendar.ics?feed_token=${reset}`)).status).toBe(200);
    // Revoked: 401, and a second revoke is a 404.
    expect((await t.request('DELETE', '/api/v4/latchkey/feed_token', { token: w.users.reporter.token })).status).toBe(204);
    expect((await t.request('GET', `/api/v4/latchkey/calendar.ics?feed_token=${reset}`)).status).toBe(401);
    expect((await t.request('DELETE', '/api/v4/latchkey/feed_token', { token: w.users.reporter.token })).status).toBe(404);
    expect((await t.request('GET', '/api/v4/latchkey/feed_token', { token: w.users.reporter.token })).status).toBe(404);
    // The feed-token endpoints need a real credential.
    expect((await t.request('POST', '/api/v4/latchkey/feed_token')).status).toBe(401);
  });
});
