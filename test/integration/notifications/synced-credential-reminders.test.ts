/**
 * Synced entries whose upstream token ended (issue 15): an entry a sync made for a token the upstream
 * has revoked, or that a complete sync no longer saw, gets no credential reminder — no 60/30/7 notice,
 * no e-mail, no `credential.expiring` delivery, no `latchkey_token_expiry_days` series, no calendar
 * event — and the expiring report shows it as such (`upstream_token`). The synced state is written through the upstream store's own sync ports, as a
 * sync writes it; on both stores.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';
import { startSmtpSink, type SmtpSink } from '../../support/smtp-sink.js';
import { createUpstreamStore } from '../../../src/store/upstreams.js';
import { entryForUpstreamToken } from '../../../src/upstreams/upstream-entries.js';
import type { RemoteToken } from '../../../src/upstreams/upstream.js';
import type { UtcDate } from '../../../src/kernel/dates.js';
import { formatExpiringReport } from '../../../src/cli/expiring-command.js';
import { parseExposition } from '../../support/prometheus-exposition.js';

const NOW = '2026-12-03T10:00:00.000Z';

const remote = (remoteId: number, name: string, expiresOn: string, revoked = false): RemoteToken => ({
  kind: 'project_access_token',
  remoteId,
  resource: 'project:acme/web',
  name,
  scopes: ['read_api'],
  accessLevel: 30,
  expiresOn: expiresOn as UtcDate,
  lastUsedAt: null,
  revoked,
  active: !revoked,
});

describe.each(DIALECTS)('reminders of synced entries on %s', (dialect) => {
  let sink: SmtpSink;
  let t: TestApp;
  let w: World;
  beforeAll(async () => {
    sink = await startSmtpSink();
  });
  afterAll(async () => sink.stop());
  beforeEach(async () => {
    sink.mails.length = 0;
    t = await startTestApp(dialect, { now: NOW, env: { LATCHKEY_SMTP_URL: sink.url, LATCHKEY_MAIL_FROM: 'Latchkey <tokens@example.com>' } });
    w = await seedWorld(t);
  });
  afterEach(() => t?.close());

  /** Three synced tokens of one upstream, each due within 30 days: one live, one revoked upstream, one gone from the last sync. */
  async function syncedEntries(): Promise<Record<'live' | 'revoked' | 'gone', number>> {
    const store = createUpstreamStore(t.app.store.db, t.app.store.traits);
    const upstream = await store.insert({ name: 'primary', url: 'https://gitlab.example.com', tokenSealed: 'unused', ownerGroupId: w.sub.id, source: 'api' }, NOW);
    const tokens = { live: remote(1, 'live-bot', '2026-12-20'), revoked: remote(2, 'revoked-bot', '2026-12-20', true), gone: remote(3, 'gone-bot', '2026-12-08') };
    return store.transaction(async (ports) => {
      const ids = {} as Record<keyof typeof tokens, number>;
      for (const [k, token] of Object.entries(tokens) as [keyof typeof tokens, RemoteToken][]) {
        ids[k] = await ports.inventory.insert(entryForUpstreamToken(upstream, token, null, '2026-12-03' as UtcDate), null, NOW);
        await ports.saveToken(upstream.id, token, ids[k], NOW);
      }
      await ports.markDisappeared(upstream.id, tokens.gone, NOW);
      return ids;
    });
  }

  it('sends no notice, e-mail or credential.expiring delivery for a revoked or disappeared upstream token', async () => {
    expect((await t.request('POST', '/api/v4/latchkey/webhooks', { token: w.adminToken, body: { url: 'https://hooks.example.com/all', events: ['credential.expiring'] } })).status).toBe(201);
    const ids = await syncedEntries();
    const summary = await t.app.services.expiryNotifier.run();
    expect(summary.credentials).toMatchObject({ ran: true, notices: { '7': 0, '30': 1, '60': 0 }, webhookDeliveries: 1, emailsFailed: 0 });
    const notices = await (t.app.store.db as any).selectFrom('credential_notices').select(['credential_id', 'interval']).execute();
    expect(notices.map((n: any) => [n.credential_id, n.interval])).toEqual([[ids.live, '30']]);
    const mail = sink.mails.filter((m) => m.rcptTo.includes('maintainer@example.com'));
    expect(mail).toHaveLength(1);
    expect(mail[0]!.text).toContain('live-bot');
    expect(mail[0]!.text).not.toContain('revoked-bot');
    expect(mail[0]!.text).not.toContain('gone-bot');
  });

  it('shows them as such in the expiring report', async () => {
    const ids = await syncedEntries();
    const report = await t.request('GET', '/api/v4/latchkey/expiring?within=30', { token: w.adminToken });
    expect(report.status).toBe(200);
    const byId = new Map((report.body as any).credentials.map((c: any) => [c.id, c.upstream_token]));
    expect(Object.fromEntries(Object.entries(ids).map(([k, id]) => [k, byId.get(id)]))).toEqual({ live: null, revoked: 'revoked', gone: 'disappeared' });
    // `latchkey expiring`'s table says it too.
    const table = formatExpiringReport(await t.app.services.expiringReport.build(w.admin, 30));
    expect(table).toMatch(/primary-project-token-2 .* revoked$/m);
    expect(table).toMatch(/primary-project-token-3 .* disappeared$/m);
  });

  it('leaves them out of the expiry gauge and the calendar feeds', async () => {
    const ids = await syncedEntries();
    const metrics = parseExposition((await t.request('GET', '/metrics')).text);
    const series = metrics.get('latchkey_token_expiry_days')!.samples.filter((m) => m.labels.kind === 'credential').map((m) => Number(m.labels.credential_id));
    expect(series).toEqual([ids.live]);

    const feedToken = (await t.request('POST', '/api/v4/latchkey/feed_token', { token: w.adminToken })).body.token as string;
    const feed = await t.request('GET', `/api/v4/latchkey/groups/${encodeURIComponent(w.sub.fullPath)}/calendar.ics?feed_token=${feedToken}`);
    expect(feed.status).toBe(200);
    const uids = [...feed.text.matchAll(/^UID:credential-(\d+)@/gm)].map((m) => Number(m[1]));
    expect(uids).toEqual([ids.live]);
  });
});
