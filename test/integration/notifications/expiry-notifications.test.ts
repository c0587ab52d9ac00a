/**
 * The expiry job on both stores, with an injected clock and a real SMTP server: who gets which notice,
 * once per interval (also across a restart on the same database), the e-mail's content in text and
 * HTML, token.expiring / token.expired events (through the transactional outbox into the audit log and
 * the webhook deliveries, exactly once, also when a fault strikes between the events and the notices'
 * published mark), mail disabled, and recovery from a run that died.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../../src/app.js';
import { loadConfig } from '../../../src/config.js';
import { FakeClock } from '../../../src/kernel/clock.js';
import { openStore, type Store } from '../../../src/store/open-store.js';
import { createExpiryNotifier, type ExpiryNotifierDeps } from '../../../src/notifications/expiry-notifier.js';
import { createExpiryNoticeStore } from '../../../src/store/expiry-notices.js';
import { createMailer } from '../../../src/notifications/mailer.js';
import type { User } from '../../../src/namespaces/namespace.js';
import { createTestDatabase, DIALECTS } from '../../support/dialects.js';
import { seedWorld, TEST_SECRET, type World } from '../../support/test-app.js';
import { seededTokenGenerator } from '../../support/seeded-token-generator.js';
import { startSmtpSink, type SmtpSink } from '../../support/smtp-sink.js';

const PUBLIC_URL = 'https://latchkey.example.com';
const DAY = 86_400_000;

describe.each(DIALECTS)('expiry notifications on %s', (dialect) => {
  let sink: SmtpSink;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let store: Store;
  const apps: App[] = [];
  let clock: FakeClock;

  /** A new app instance on the same database: a restart, or another node. */
  async function node(env: Record<string, string> = {}): Promise<App> {
    const config = loadConfig({ LATCHKEY_SECRET: TEST_SECRET, LATCHKEY_LOG_LEVEL: 'silent', LATCHKEY_DATA_DIR: '/nonexistent-latchkey-test', LATCHKEY_PUBLIC_URL: PUBLIC_URL, LATCHKEY_SMTP_URL: sink.url, LATCHKEY_MAIL_FROM: 'Latchkey <tokens@example.com>', ...env });
    const app = await buildApp(config, { clock, store, random: seededTokenGenerator(`${dialect}-${Math.random()}`) });
    apps.push(app);
    return app;
  }

  beforeAll(async () => {
    sink = await startSmtpSink();
  });
  afterAll(async () => {
    await sink.stop();
  });

  let app: App;
  let world: World;
  let acmeOwner: User;
  let acmeMaintainer: User;
  const ids = {} as { deploy: number; personal: number; projectToken: number; revoked: number; serviceAccount: number; far: number };

  async function setUp() {
    sink.mails.length = 0;
    clock = new FakeClock('2026-11-23T10:00:00.000Z');
    db = await createTestDatabase(dialect);
    store = await openStore(db.location);
    app = await node();
    const t = { app } as Parameters<typeof seedWorld>[0];
    world = await seedWorld(t);
    const s = app.services;
    const admin = world.admin;
    acmeOwner = await s.namespaces.createUser(admin, { username: 'acme-owner', name: 'Acme Owner', email: 'acme-owner@example.com' });
    acmeMaintainer = await s.namespaces.createUser(admin, { username: 'acme-maint', name: 'Acme Maintainer', email: 'acme-maint@example.com' });
    await s.namespaces.addMember(admin, { type: 'group', group: world.top }, { userId: acmeOwner.id, accessLevel: 50, expiresAt: null });
    await s.namespaces.addMember(admin, { type: 'group', group: world.top }, { userId: acmeMaintainer.id, accessLevel: 40, expiresAt: null });
    const project = { type: 'project' as const, project: world.project };
    // 25 days out when first seen.
    ids.deploy = (await s.deployTokens.create(admin, project, { name: 'registry-pull', scopes: ['read_registry'], expiresAt: '2026-12-18' })).token.id;
    // 58 days out: the 60-day notice.
    ids.personal = (await s.personalTokens.createFor(world.users.developer.user, { name: 'laptop', scopes: ['read_api'], expiresAt: '2027-01-20' }, null)).token.id;
    // 5 days out: the 7-day notice.
    ids.projectToken = (await s.resourceTokens.create(admin, project, { name: 'ci-bot', scopes: ['read_repository'], expiresAt: '2026-11-28' })).token.id;
    // Revoked: nothing, ever.
    const revoked = (await s.deployTokens.create(admin, project, { name: 'old-pull', scopes: ['read_registry'], expiresAt: '2026-11-30' })).token.id;
    await s.deployTokens.remove(admin, project, revoked);
    ids.revoked = revoked;
    // A service account of acme, its token 20 days out: the Owners of acme are told.
    const account = await s.serviceAccounts.create(admin, world.top, { name: 'Release robot', username: 'release-robot' });
    ids.serviceAccount = (await s.serviceAccounts.createToken(admin, world.top, account.id, { name: 'release', scopes: ['api'], expiresAt: '2026-12-13' })).token.id;
    // Beyond 60 days: nothing now.
    ids.far = (await s.deployTokens.create(admin, { type: 'group', group: world.sub }, { name: 'far', scopes: ['read_repository'], expiresAt: '2027-03-01' })).token.id;
  }

  afterEach(async () => {
    for (const a of apps.splice(0)) await a.close();
    await store?.close();
    await db?.drop();
  });

  const mailTo = (email: string) => sink.mails.filter((m) => m.rcptTo.includes(email));
  /** A notifier of its own on the shared store (another node, or one with a fault injected). */
  const notifierWith = (over: Partial<ExpiryNotifierDeps> = {}) =>
    createExpiryNotifier({ notices: createExpiryNoticeStore(store.db), clock, mailer: createMailer(sink.url, 'x@example.com'), publicUrl: PUBLIC_URL, ...over });
  /** The token.expiring / token.expired events as the audit log holds them, once the relay drained the outbox. */
  async function expiryEvents() {
    await app.services.eventRelay.drain();
    const rows = await store.db.selectFrom('audit_events').select(['event', 'token_id', 'data']).where('event', 'in', ['token.expiring', 'token.expired']).orderBy('id').execute();
    return rows.map((r) => ({ name: r.event, tokenId: r.token_id!, data: JSON.parse(r.data) as Record<string, unknown> }));
  }
  async function noticeRows() {
    return (await store.db.selectFrom('expiry_notices').select(['token_id', 'interval']).orderBy('token_id').orderBy('interval').execute()).map((r) => `${r.token_id}:${r.interval}`);
  }

  it('mails each recipient once, listing all their tokens, in text and HTML; records one notice per token and interval', async () => {
    await setUp();
    const summary = await app.services.expiryNotifier.run();
    expect(summary).toMatchObject({ ran: true, mail: 'enabled', notices: { '60': 1, '30': 2, '7': 1, expired: 0 }, emailsFailed: 0 });
    expect((await noticeRows()).sort()).toEqual([`${ids.deploy}:30`, `${ids.personal}:60`, `${ids.projectToken}:7`, `${ids.serviceAccount}:30`].sort());

    // Recipients: deploy + project token → Maintainers and Owners of the project, inherited (platform's
    // maintainer and owner, acme's owner and maintainer, root who created the groups); the personal
    // token → its owner; the service account → the Owners of acme only. Never developers or bots.
    const recipients = sink.mails.flatMap((m) => m.rcptTo).sort();
    expect(recipients).toEqual(['acme-maint@example.com', 'acme-owner@example.com', 'developer@example.com', 'maintainer@example.com', 'owner@example.com', 'root@example.com'].sort());
    expect(summary.emailsSent).toBe(6);
    for (const m of sink.mails) expect(m.rcptTo).toHaveLength(1);
    expect(sink.mails.every((m) => m.from.includes('tokens@example.com'))).toBe(true);

    // One message for the maintainer with both project tokens, most urgent first.
    const [maint] = mailTo('maintainer@example.com');
    expect(maint!.subject).toBe('[Latchkey] 2 tokens expire soon');
    expect(maint!.text).toContain('ci-bot — project access token, project acme/platform/web');
    expect(maint!.text).toContain('expires on 2026-11-28 (in 5 days)');
    expect(maint!.text).toContain('scopes: read_repository');
    expect(maint!.text).toContain(`rotate: ${PUBLIC_URL}/acme/platform/web/-/settings/access_tokens`);
    expect(maint!.text).toContain('registry-pull — deploy token, project acme/platform/web');
    expect(maint!.text).toContain('expires on 2026-12-18 (in 25 days)');
    expect(maint!.text).toContain(`rotate: ${PUBLIC_URL}/acme/platform/web/-/settings/repository#js-deploy-tokens`);
    expect(maint!.text.indexOf('ci-bot')).toBeLessThan(maint!.text.indexOf('registry-pull'));
    expect(maint!.html).toContain('<strong>ci-bot</strong>');
    expect(maint!.html).toContain('read_registry');
    expect(maint!.html).toContain(`<a href="${PUBLIC_URL}/acme/platform/web/-/settings/access_tokens">Rotate</a>`);
    expect(maint!.text).not.toContain('old-pull');
    expect(maint!.text).not.toContain('release');

    // root and acme's owner also get the service-account token; acme's maintainer does not.
    expect(mailTo('acme-owner@example.com')[0]!.subject).toBe('[Latchkey] 3 tokens expire soon');
    expect(mailTo('acme-owner@example.com')[0]!.text).toContain('release — service account token, service account release-robot of group acme');
    expect(mailTo('acme-owner@example.com')[0]!.text).toContain(`${PUBLIC_URL}/groups/acme/-/settings/service_accounts`);
    expect(mailTo('acme-maint@example.com')[0]!.text).not.toContain('release-robot');

    const [dev] = mailTo('developer@example.com');
    expect(dev!.subject).toBe('[Latchkey] personal access token "laptop" expires on 2027-01-20 (in 58 days)');
    expect(dev!.text).toContain(`${PUBLIC_URL}/-/user_settings/personal_access_tokens`);

    // No secret ever: no token value in any mail.
    for (const m of sink.mails) expect(m.raw).not.toMatch(/gl(dt|pat)-[A-Za-z0-9]{20,}/);

    // Same day, again, and on a restarted instance: nothing new.
    expect(await app.services.expiryNotifier.run()).toMatchObject({ ran: true, emailsSent: 0, notices: { '60': 0, '30': 0, '7': 0, expired: 0 } });
    const restarted = await node();
    expect(await restarted.services.expiryNotifier.run()).toMatchObject({ ran: true, emailsSent: 0 });
    expect(sink.mails).toHaveLength(6);
  });

  it('an impersonation token is the concern of the admin who issued it: they get its notice, the user it acts as never does', async () => {
    await setUp();
    const s = app.services;
    const support = await s.namespaces.createUser(world.admin, { username: 'support-admin', name: 'Support', email: 'support@example.com', admin: true });
    const imp = await s.impersonationTokens.create(support, world.users.developer.user.id, { name: 'ticket-42', scopes: ['read_api'], expiresAt: '2026-11-27' });
    const summary = await s.expiryNotifier.run();
    expect(summary.notices['7']).toBe(2);
    expect(await noticeRows()).toContain(`${imp.token.id}:7`);
    const [mail] = mailTo('support@example.com');
    expect(mail!.subject).toBe('[Latchkey] impersonation token "ticket-42" expires on 2026-11-27 (in 4 days)');
    expect(mail!.text).toContain('acting as user developer-user');
    expect(mail!.text).toContain(`${PUBLIC_URL}/admin/users/developer-user/impersonation_tokens`);
    // The developer hears about their own laptop token only.
    for (const m of mailTo('developer@example.com')) expect(m.text).not.toContain('ticket-42');
    expect(mailTo('developer@example.com')).toHaveLength(1);
  });

  it('an instance service account’s token: no e-mail to anyone, but its notice is recorded and token.expiring published', async () => {
    await setUp();
    const s = app.services;
    const account = await s.serviceAccounts.createInstance(world.admin, { username: 'instance-robot', email: 'instance-robot@example.com' });
    const token = (await s.personalTokens.createForUser(world.admin, account.id, { name: 'nightly', scopes: ['read_api'], expiresAt: '2026-11-26' })).token;
    await s.expiryNotifier.run();
    expect(await noticeRows()).toContain(`${token.id}:7`);
    expect((await expiryEvents()).find((e) => e.tokenId === token.id)).toMatchObject({ name: 'token.expiring', data: { interval: '7', name: 'nightly' } });
    for (const m of sink.mails) expect(m.text).not.toContain('nightly');
    expect(mailTo('instance-robot@example.com')).toEqual([]);
  });

  it('walks the calendar: 30 → 7 → expired for the token first seen 25 days out, never 60, never twice, across restarts', async () => {
    await setUp();
    const seen: string[] = [];
    // One run a day at 01:00 for 70 days, a new instance (restart) every 9 days.
    clock.set('2026-11-24T01:00:00.000Z');
    let current = app;
    for (let day = 0; day < 70; day++) {
      if (day % 9 === 0) current = await node();
      const notifier = notifierWith();
      const summary = day % 2 === 0 ? await current.services.expiryNotifier.run() : await notifier.run();
      expect(summary.ran).toBe(true);
      clock.advance(DAY);
    }
    const rows = await store.db.selectFrom('expiry_notices').select(['token_id', 'interval', 'days_left']).orderBy('id').execute();
    for (const r of rows) seen.push(`${r.token_id}:${r.interval}:${r.days_left}`);
    const of = (id: number) => seen.filter((s) => s.startsWith(`${id}:`)).map((s) => s.split(':').slice(1).join(':'));
    expect(of(ids.deploy)).toEqual(['30:24', '7:7', 'expired:0']);
    expect(of(ids.personal)).toEqual(['60:57', '30:30', '7:7', 'expired:0']);
    expect(of(ids.projectToken)).toEqual(['7:4', 'expired:0']);
    expect(of(ids.revoked)).toEqual([]);
    expect(of(ids.far)).toEqual(['60:60', '30:30']);
    // Every notice reached the maintainer exactly once (one mail per run and recipient).
    const maintainerMails = mailTo('maintainer@example.com');
    const entries = maintainerMails.flatMap((m) => {
      const lines = m.text.split('\n');
      return lines.flatMap((l, i) => (l.startsWith('* ') ? [`${l} ${lines[i + 1]!.trim()}`] : []));
    });
    // registry-pull 3 notices, ci-bot 2, far 2 (platform's deploy token): 7 entries, none repeated.
    expect(entries).toHaveLength(7);
    expect(new Set(entries).size).toBe(7);
    expect(maintainerMails.map((m) => m.subject).filter((s) => s.includes('registry-pull'))).toEqual([
      '[Latchkey] deploy token "registry-pull" expires on 2026-12-18 (in 7 days)',
      '[Latchkey] deploy token "registry-pull" expired on 2026-12-18',
    ]);
    // Events (from both notifiers) are token.expiring / token.expired with days and interval, one per notice.
    const events = await expiryEvents();
    expect(events.map((e) => `${e.tokenId}:${e.data.interval}:${e.data.days_left}`).sort()).toEqual([...seen].sort());
    for (const e of events) {
      expect(['token.expiring', 'token.expired']).toContain(e.name);
      expect(e.data).toHaveProperty('interval');
      expect(e.data).toHaveProperty('days_left');
      expect(JSON.stringify(e)).not.toMatch(/gl(dt|pat)-/);
    }
    expect(events.some((e) => e.name === 'token.expired')).toBe(true);
    expect(events.some((e) => e.name === 'token.expiring' && e.data.interval === '7' && e.data.days_left === 7)).toBe(true);
  }, 120_000);

  it('publishes token.expiring and token.expired into the audit log, once each', async () => {
    await setUp();
    const notifier = notifierWith({ mailer: createMailer(null, 'x') });
    await notifier.run();
    let events = await expiryEvents();
    expect(events.map((e) => [e.name, e.tokenId, e.data.interval, e.data.days_left]).sort()).toEqual(
      [
        ['token.expiring', ids.deploy, '30', 25],
        ['token.expiring', ids.personal, '60', 58],
        ['token.expiring', ids.projectToken, '7', 5],
        ['token.expiring', ids.serviceAccount, '30', 20],
      ].sort(),
    );
    expect(events.find((e) => e.tokenId === ids.deploy)!.data).toMatchObject({ kind: 'deploy', name: 'registry-pull', project: 'acme/platform/web', expires_at: '2026-12-18', scopes: ['read_registry'] });
    clock.set('2026-11-28T01:00:00.000Z');
    await notifier.run();
    await notifier.run();
    events = await expiryEvents();
    expect(events.filter((e) => e.tokenId === ids.projectToken).map((e) => e.name)).toEqual(['token.expiring', 'token.expired']);
  });

  it('with mail disabled, still records notices and publishes events, and does not mail them later', async () => {
    await setUp();
    const notifier = notifierWith({ mailer: createMailer(null, 'x') });
    const summary = await notifier.run();
    expect(summary).toMatchObject({ ran: true, mail: 'disabled', emailsSent: 0, eventsPublished: 4 });
    expect(await expiryEvents()).toHaveLength(4);
    expect(summary.deliveriesSkipped).toBeGreaterThan(0);
    expect(await noticeRows()).toHaveLength(4);
    expect(await app.services.expiryNotifier.run()).toMatchObject({ emailsSent: 0 });
    expect(sink.mails).toHaveLength(0);
  });

  it('a run that died after deciding (or mid-send) is finished by the next run: nothing lost, nothing twice', async () => {
    await setUp();
    const notices = createExpiryNoticeStore(store.db);
    const dying = notifierWith({ notices, leaseMs: 60_000 });
    // The dying node: takes the lock, decides, and is gone before sending (lock and rows stay).
    expect(await notices.tryLock('expiry-notifications', dying.holder, clock.now().toISOString(), new Date(clock.now().getTime() + 60_000).toISOString())).toBe(true);
    await dying.decide(clock.now());
    // Some deliveries were claimed (sending) when it died: a first page of them.
    const claimed = await notices.claimDeliveries({ now: clock.now().toISOString(), staleBefore: new Date(clock.now().getTime() - 60_000).toISOString(), after: null, limit: 3 });
    expect(claimed).toHaveLength(3);
    expect(claimed.length).toBeGreaterThan(0);
    // While its lease runs, another node does nothing.
    const other = await node();
    expect(await other.services.expiryNotifier.run()).toMatchObject({ ran: false });
    expect(sink.mails).toHaveLength(0);
    // After the lease (10 min default), the other node sends every pending and stale-claimed delivery once.
    clock.advance(11 * 60_000);
    const summary = await other.services.expiryNotifier.run();
    expect(summary).toMatchObject({ ran: true, emailsSent: 6, notices: { '60': 0, '30': 0, '7': 0, expired: 0 } });
    expect(sink.mails.flatMap((m) => m.rcptTo).sort()).toEqual(['acme-maint@example.com', 'acme-owner@example.com', 'developer@example.com', 'maintainer@example.com', 'owner@example.com', 'root@example.com'].sort());
    expect(await other.services.expiryNotifier.run()).toMatchObject({ emailsSent: 0 });
    expect(sink.mails).toHaveLength(6);
    // The dying node never published: the other node did, once.
    expect(summary.eventsPublished).toBe(4);
    expect(await expiryEvents()).toHaveLength(4);
  });

  it('events commit with the notices\' published mark: a fault between the two loses no event and duplicates none', async () => {
    await setUp();
    await app.services.webhooks.create(world.admin, { type: 'instance' }, { url: 'http://127.0.0.1:9/unused', events: ['token.expiring', 'token.expired'] });
    // The fault: the second page's events cannot be written into the outbox, after its notices were marked.
    let outboxInserts = 0;
    const faulty = store.db.withPlugin({
      transformQuery(args) {
        const node = args.node;
        if (node.kind === 'InsertQueryNode' && node.into?.table.identifier.name === 'event_outbox' && ++outboxInserts === 2) throw new Error('injected fault');
        return node;
      },
      transformResult: async (args) => args.result,
    });
    const failing = notifierWith({ notices: createExpiryNoticeStore(faulty), mailer: createMailer(null, 'x'), pageSize: 2 });
    await expect(failing.run()).rejects.toThrow('injected fault');
    expect(outboxInserts).toBe(2);
    // The first page committed (two events, two notices marked); the second rolled back (neither).
    const published = () => store.db.selectFrom('expiry_notices').select('token_id').where('event_published_at', 'is not', null).execute();
    expect(await published()).toHaveLength(2);
    expect(await expiryEvents()).toHaveLength(2);

    // The next run publishes what the failed one left, and only that.
    expect(await app.services.expiryNotifier.run()).toMatchObject({ ran: true, eventsPublished: 2 });
    expect(await app.services.expiryNotifier.run()).toMatchObject({ ran: true, eventsPublished: 0 });
    const events = await expiryEvents();
    const expected = [ids.deploy, ids.personal, ids.projectToken, ids.serviceAccount].sort();
    expect(events.map((e) => e.tokenId).sort()).toEqual(expected);
    expect((await published()).map((r) => r.token_id).sort()).toEqual(expected);
    const deliveries = await store.db.selectFrom('webhook_deliveries').select(['token_id', 'event']).execute();
    expect(deliveries.map((d) => d.token_id).sort()).toEqual(expected);
    expect(deliveries.every((d) => d.event === 'token.expiring')).toBe(true);
    expect(await app.services.eventRelay.pending()).toBe(0);
  });

  it('an SMTP failure is retried on the next run; the notice is not decided again', async () => {
    await setUp();
    sink.failNext(100);
    const outcomes: string[] = [];
    const notifier = notifierWith({ onEmail: (o) => outcomes.push(o) });
    const first = await notifier.run();
    expect(first).toMatchObject({ emailsSent: 0, emailsFailed: 6 });
    sink.failNext(0);
    const second = await app.services.expiryNotifier.run();
    expect(second).toMatchObject({ emailsSent: 6, emailsFailed: 0, notices: { '60': 0, '30': 0, '7': 0, expired: 0 } });
    expect(outcomes).toEqual(Array(6).fill('failed'));
    // The app's notifier counts into latchkey_notifications_total.
    expect(app.services.metrics.notifications.family().samples).toEqual([{ labels: { channel: 'email', outcome: 'sent' }, value: 6 }]);
    const statuses = await store.db.selectFrom('expiry_notice_deliveries').select(['status', 'attempts']).execute();
    expect(statuses.every((s) => s.status === 'sent' && s.attempts === 2)).toBe(true);
  });

  it('a token rotated with a grace period gets no notice; its successor does', async () => {
    await setUp();
    const rotated = await app.services.personalTokens.rotate(world.users.developer.user, ids.personal, { expiresAt: '2027-01-10', gracePeriodSeconds: 7 * 86_400 });
    const summary = await app.services.expiryNotifier.run();
    expect(summary.notices['60']).toBe(1);
    expect((await noticeRows()).filter((r) => r.startsWith(`${ids.personal}:`))).toEqual([]);
    expect(await noticeRows()).toContain(`${rotated.token.id}:60`);
    const [dev] = mailTo('developer@example.com');
    expect(dev!.subject).toBe('[Latchkey] personal access token "laptop" expires on 2027-01-10 (in 48 days)');
  });

  it('a token revoked after its notice was decided but before it was sent is not mailed', async () => {
    await setUp();
    const notices = createExpiryNoticeStore(store.db);
    const n = notifierWith({ notices });
    await n.decide(clock.now());
    await app.services.personalTokens.revoke(world.users.developer.user, ids.personal);
    await app.services.expiryNotifier.run();
    expect(mailTo('developer@example.com')).toHaveLength(0);
    expect(sink.mails.length).toBe(5);
  });

  it('in pages of two rows, decides, publishes and mails exactly as in one page: a recipient spanning pages gets one message', async () => {
    await setUp();
    const notifier = notifierWith({ pageSize: 2 });
    const summary = await notifier.run();
    const events = await expiryEvents();
    expect(summary).toMatchObject({ ran: true, notices: { '60': 1, '30': 2, '7': 1, expired: 0 }, eventsPublished: 4, emailsSent: 6, emailsFailed: 0, deliveriesSkipped: 0 });
    expect(events.map((e) => e.tokenId).sort()).toEqual([ids.deploy, ids.personal, ids.projectToken, ids.serviceAccount].sort());
    expect(sink.mails.flatMap((m) => m.rcptTo).sort()).toEqual(['acme-maint@example.com', 'acme-owner@example.com', 'developer@example.com', 'maintainer@example.com', 'owner@example.com', 'root@example.com'].sort());
    // 13 deliveries in pages of two: root and acme's owner have three tokens each, the maintainers two.
    expect(mailTo('root@example.com')[0]!.subject).toBe('[Latchkey] 3 tokens expire soon');
    expect(mailTo('acme-owner@example.com')[0]!.subject).toBe('[Latchkey] 3 tokens expire soon');
    expect(mailTo('maintainer@example.com')[0]!.subject).toBe('[Latchkey] 2 tokens expire soon');
    expect(await notifier.run()).toMatchObject({ notices: { '60': 0, '30': 0, '7': 0, expired: 0 }, eventsPublished: 0, emailsSent: 0 });
  });

  it('makes no round trip per token: 60 more due tokens cost no more queries than the first four', async () => {
    await setUp();
    let queries = 0;
    const counted = store.db.withPlugin({ transformQuery: (args) => (queries++, args.node), transformResult: async (args) => args.result });
    const notifier = notifierWith({ notices: createExpiryNoticeStore(counted), mailer: createMailer(null, 'x') });
    await notifier.run();
    const forFour = queries;
    // The next day: 60 new deploy tokens of the project in the 30-day window (five recipients each).
    clock.advance(DAY);
    for (let i = 0; i < 60; i++) await app.services.deployTokens.create(world.admin, { type: 'project', project: world.project }, { name: `bulk-${i}`, scopes: ['read_registry'], expiresAt: '2026-12-20' });
    queries = 0;
    const summary = await notifier.run();
    expect(summary.notices['30']).toBe(60);
    expect(summary.deliveriesSkipped).toBe(300);
    expect(queries).toBeLessThanOrEqual(forFour);
    // And a run with nothing due is a handful of queries (today 9: the lock, one per band, one empty page each
    // of notices and deliveries, the unlock), however many tokens there are.
    queries = 0;
    expect(await notifier.run()).toMatchObject({ notices: { '60': 0, '30': 0, '7': 0, expired: 0 }, eventsPublished: 0 });
    expect(queries).toBeLessThanOrEqual(12);
  });
});
