/**
 * Reminders of outside credentials (issue 14 item 4) on both stores, with the injected clock, a real
 * SMTP server and a real webhook receiver: notices 60/30/7 days before the due date of each renewal
 * rule, once per interval and due date (a renewal starts a new cycle), e-mailed to the Maintainers and
 * Owners of the owning group with the procedure and the placements, and `credential.expiring` signed
 * deliveries through the webhook dispatcher.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';
import { startSmtpSink, type SmtpSink } from '../../support/smtp-sink.js';
import { startReceiver, type Receiver } from '../http/webhooks-receiver.js';
import { signDelivery } from '../../../src/webhooks/signature.js';

const CREDENTIALS = '/api/v4/latchkey/credentials';

const registryToken = {
  slug: 'dependency-proxy',
  name: 'Dependency proxy token',
  kind: 'gitlab_group_token',
  provider: 'gitlab.com',
  owner: 'acme/platform',
  scopes: ['read_virtual_registry'],
  renewal: { expires_at: '2026-12-08' },
  procedure: 'Create a group access token on gitlab.com, then encode DOCKER_AUTH_CONFIG:\n\n    printf "%s" "$TOKEN" | base64',
  placements: [
    { kind: 'ci_variable', instance: 'gitlab.com', project: 'tocco-client', key: 'DOCKER_AUTH_CONFIG', format: 'docker_auth_config', registry: 'gitlab.com:443' },
    { kind: 'manual', where: 'SonarQube DevOps Platform Integrations: gitlab.com Backend' },
  ],
};
const npm = { slug: 'npm-publish', name: 'NPM publish', kind: 'npm_token', provider: 'npm', owner: 'acme/platform', renewal: { every_days: 30 }, procedure: 'npm token create' };
const tempo = { slug: 'tempo', name: 'Tempo API key', kind: 'api_key', provider: 'Tempo', owner: 'acme/platform', renewal: { event: 'during the new release task', review_every_days: 45 } };
const elsewhere = { slug: 'other-key', name: 'Other team key', kind: 'api_key', owner: 'acme/other', renewal: { expires_at: '2026-12-20' } };
const far = { slug: 'far', name: 'Far away', kind: 'api_key', owner: 'acme/platform', renewal: { expires_at: '2027-06-01' } };

describe.each(DIALECTS)('credential reminders on %s', (dialect) => {
  let sink: SmtpSink;
  let receiver: Receiver;
  let t: TestApp;
  let w: World;
  beforeAll(async () => {
    sink = await startSmtpSink();
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await sink.stop();
    await receiver.close();
  });
  beforeEach(async () => {
    sink.mails.length = 0;
    receiver.received.length = 0;
    t = await startTestApp(dialect, { now: '2026-12-03T10:00:00.000Z', env: { LATCHKEY_SMTP_URL: sink.url, LATCHKEY_MAIL_FROM: 'Latchkey <tokens@example.com>' } });
    w = await seedWorld(t);
  });
  afterEach(() => t?.close());

  const create = async (body: object) => {
    const res = await t.request('POST', CREDENTIALS, { token: w.adminToken, body });
    expect(res.status).toBe(201);
    return res.body as { id: number; due_on: string };
  };
  const mailTo = (email: string) => sink.mails.filter((m) => m.rcptTo.includes(email));
  const noticeRows = async () =>
    (await (t.app.store.db as any).selectFrom('credential_notices').select(['credential_id', 'interval', 'due_on']).orderBy('id').execute()).map((r: any) => `${r.credential_id}:${r.interval}:${r.due_on}`);

  it('mails the Maintainers and Owners of the owning group once per interval, with the procedure and the placements', async () => {
    const proxy = await create(registryToken);
    const npmEntry = await create(npm);
    const tempoEntry = await create(tempo);
    const other = await create(elsewhere);
    await create(far);
    expect([npmEntry.due_on, tempoEntry.due_on]).toEqual(['2027-01-02', '2027-01-17']);

    const summary = await t.app.services.expiryNotifier.run();
    expect(summary.credentials).toMatchObject({ ran: true, notices: { '7': 1, '30': 2, '60': 1 }, emailsFailed: 0 });
    expect((await noticeRows()).sort()).toEqual([`${proxy.id}:7:2026-12-08`, `${npmEntry.id}:30:2027-01-02`, `${other.id}:30:2026-12-20`, `${tempoEntry.id}:60:2027-01-17`].sort());

    // acme/platform: its maintainer and owner, and root (Owner of acme, inherited). Never Reporters or Developers.
    expect(mailTo('maintainer@example.com')).toHaveLength(1);
    expect(mailTo('owner@example.com')).toHaveLength(1);
    for (const who of ['developer', 'reporter', 'guest', 'outsider']) expect(mailTo(`${who}@example.com`)).toHaveLength(0);
    const [mail] = mailTo('maintainer@example.com');
    expect(mail!.subject).toBe('[Latchkey] 3 credentials are due for renewal soon');
    expect(mail!.text).toContain('* Dependency proxy token — gitlab_group_token on gitlab.com, owned by acme/platform');
    expect(mail!.text).toContain('expires on 2026-12-08 (in 5 days)');
    expect(mail!.text).toContain('    printf "%s" "$TOKEN" | base64');
    expect(mail!.text).toContain('    - CI variable DOCKER_AUTH_CONFIG of project tocco-client on gitlab.com (docker_auth_config)');
    expect(mail!.text).toContain('    - SonarQube DevOps Platform Integrations: gitlab.com Backend');
    expect(mail!.text).toContain('due for renewal on 2027-01-02 (in 30 days; renewed every 30 days)');
    expect(mail!.text).toContain('review due on 2027-01-17 (in 45 days; renewed during the new release task)');
    expect(mail!.text).toContain('when done: latchkey credential renew dependency-proxy');
    expect(mail!.text.indexOf('Dependency proxy')).toBeLessThan(mail!.text.indexOf('NPM publish'));
    expect(mail!.text).not.toContain('Other team key');
    expect(mail!.text).not.toContain('Far away');
    expect(mail!.html).toContain('<li>CI variable DOCKER_AUTH_CONFIG of project tocco-client on gitlab.com (docker_auth_config)</li>');
    expect(mail!.html).toContain('printf &quot;%s&quot; &quot;$TOKEN&quot; | base64');
    // The other group's entry reaches only root (Owner of acme) among the seeded users.
    const root = mailTo('root@example.com');
    expect(root).toHaveLength(1);
    expect(root[0]!.text).toContain('Other team key');

    // Same day, again: nothing new.
    const mailsBefore = sink.mails.length;
    const again = await t.app.services.expiryNotifier.run();
    expect(again.credentials.notices).toEqual({ '60': 0, '30': 0, '7': 0 });
    expect(sink.mails.length).toBe(mailsBefore);

    // 16 days later: Tempo moved into the 30-day interval, the other group's key into the 7-day one; npm (14 days) has nothing new.
    t.clock.set('2026-12-19T10:00:00.000Z');
    sink.mails.length = 0;
    const later = await t.app.services.expiryNotifier.run();
    expect(later.credentials.notices).toEqual({ '60': 0, '30': 1, '7': 1 });
    expect((await noticeRows()).slice(-2).sort()).toEqual([`${tempoEntry.id}:30:2027-01-17`, `${other.id}:7:2026-12-20`].sort());

    // Mark renewed: the new due date starts a new cycle, noticed again once in its interval.
    const renewed = await t.request('POST', `${CREDENTIALS}/${proxy.id}/renewals`, { token: w.users.maintainer.token, body: { expires_at: '2027-01-30' } });
    expect(renewed.status).toBe(201);
    const cycle = await t.app.services.expiryNotifier.run();
    expect(cycle.credentials.notices).toEqual({ '60': 1, '30': 0, '7': 0 });
    expect((await noticeRows()).at(-1)).toBe(`${proxy.id}:60:2027-01-30`);
  });

  it('skips a delivery whose credential was renewed after its notice was decided', async () => {
    const proxy = await create(registryToken);
    // Decided, then renewed before the e-mails go out (a run that died after deciding).
    await (t.app.store.db as any).insertInto('credential_notices').values({ credential_id: proxy.id, interval: '7', due_on: '2026-12-08', days_left: 5, decided_at: '2026-12-03T09:00:00.000Z' }).execute();
    const notice = await (t.app.store.db as any).selectFrom('credential_notices').select('id').executeTakeFirstOrThrow();
    await (t.app.store.db as any).insertInto('credential_notice_deliveries').values({ notice_id: notice.id, user_id: w.users.maintainer.user.id, email: 'maintainer@example.com', status: 'pending', attempts: 0 }).execute();
    expect((await t.request('POST', `${CREDENTIALS}/${proxy.id}/renewals`, { token: w.users.maintainer.token, body: { expires_at: '2027-06-30' } })).status).toBe(201);
    const summary = await t.app.services.expiryNotifier.run();
    expect(summary.credentials).toMatchObject({ emailsSent: 0, deliveriesSkipped: 1 });
    expect(sink.mails).toHaveLength(0);
  });

  it('posts a signed credential.expiring delivery to the hooks on the owning group chain', async () => {
    const instance = await t.request('POST', '/api/v4/latchkey/webhooks', { token: w.adminToken, body: { url: receiver.url, events: ['credential.expiring'] } });
    expect(instance.status).toBe(201);
    // A hook for token events only gets nothing.
    expect((await t.request('POST', '/api/v4/latchkey/webhooks', { token: w.adminToken, body: { url: receiver.url, events: ['token.expiring'] } })).status).toBe(201);
    const proxy = await create(registryToken);
    const summary = await t.app.services.expiryNotifier.run();
    expect(summary.credentials.webhookDeliveries).toBe(1);
    await t.app.services.webhookDispatcher.runDue();
    expect(receiver.received).toHaveLength(1);
    const got = receiver.received[0]!;
    expect(got.headers['x-latchkey-event']).toBe('credential.expiring');
    const body = JSON.parse(got.rawBody);
    expect(body).toMatchObject({
      event: 'credential.expiring',
      credential: { id: proxy.id, slug: 'dependency-proxy', kind: 'gitlab_group_token', provider: 'gitlab.com', owner: { full_path: 'acme/platform' }, renewal: { expires_at: '2026-12-08' }, due_on: '2026-12-08' },
      data: { interval: '7', due_on: '2026-12-08', days_left: 5 },
    });
    expect(body.credential.placements.map((p: any) => p.description)).toEqual(['CI variable DOCKER_AUTH_CONFIG of project tocco-client on gitlab.com (docker_auth_config)', 'SonarQube DevOps Platform Integrations: gitlab.com Backend']);
    expect(got.headers['x-latchkey-signature']).toBe(signDelivery(instance.body.secret, Number(got.headers['x-latchkey-timestamp']), got.rawBody));
    // Run again: the notice exists, no second delivery.
    await t.app.services.expiryNotifier.run();
    await t.app.services.webhookDispatcher.runDue();
    expect(receiver.received).toHaveLength(1);

    // Group hooks: one on acme (the owning group's parent) records the delivery (not sent here), one on a sibling group does not.
    const parent = await t.request('POST', `/api/v4/groups/${w.top.id}/latchkey/webhooks`, { token: w.adminToken, body: { url: 'https://hooks.example.com/acme', events: ['credential.expiring'] } });
    const sibling = await t.request('POST', `/api/v4/groups/${encodeURIComponent('acme/other')}/latchkey/webhooks`, { token: w.adminToken, body: { url: 'https://hooks.example.com/other', events: ['credential.expiring'] } });
    expect([parent.status, sibling.status]).toEqual([201, 201]);
    const npmEntry = await create(npm);
    expect((await t.app.services.expiryNotifier.run()).credentials.webhookDeliveries).toBe(2);
    const rows = await t.app.store.db.selectFrom('webhook_deliveries').select(['hook_id', 'payload']).where('event', '=', 'credential.expiring').where('hook_id', 'in', [parent.body.id, sibling.body.id]).execute();
    expect(rows.map((r) => [r.hook_id, JSON.parse(r.payload).credential.id])).toEqual([[parent.body.id, npmEntry.id]]);
  });

  it('lists outside credentials in GET /latchkey/expiring (Maintainers of the owning group, admins) and in latchkey_token_expiry_days with kind credential', async () => {
    const proxy = await create(registryToken);
    const other = await create(elsewhere);
    await create(far);
    const mine = await t.request('GET', '/api/v4/latchkey/expiring?within=30d', { token: w.users.maintainer.token });
    expect(mine.status).toBe(200);
    expect(mine.body.credentials).toEqual([
      { id: proxy.id, kind: 'credential', credential_kind: 'gitlab_group_token', slug: 'dependency-proxy', name: 'Dependency proxy token', provider: 'gitlab.com', owner: { id: w.sub.id, full_path: 'acme/platform' }, renewal: { expires_at: '2026-12-08' }, due_on: '2026-12-08', days_left: 5, upstream_token: null },
    ]);
    // A Reporter of the group sees no credential (and no token) of it; an admin sees both groups'.
    expect((await t.request('GET', '/api/v4/latchkey/expiring?within=30d', { token: w.users.reporter.token })).body.credentials).toEqual([]);
    const all = await t.request('GET', '/api/v4/latchkey/expiring?within=30d', { token: w.adminToken });
    expect(all.body.credentials.map((c: any) => c.id)).toEqual([proxy.id, other.id]);

    const metrics = await t.app.services.metricsScraper.render();
    const lines = metrics.split('\n').filter((l) => l.startsWith('latchkey_token_expiry_days{kind="credential"'));
    expect(lines).toEqual([
      `latchkey_token_expiry_days{kind="credential",credential_kind="gitlab_group_token",namespace="acme/platform",name="Dependency proxy token",credential_id="${proxy.id}"} 5`,
      `latchkey_token_expiry_days{kind="credential",credential_kind="api_key",namespace="acme/other",name="Other team key",credential_id="${other.id}"} 17`,
      expect.stringMatching(/credential_kind="api_key",namespace="acme\/platform",name="Far away",credential_id="\d+"\} 180$/),
    ]);
    expect(metrics).toContain('latchkey_token_expiry_series_omitted{kind="credential"} 0');
  });
});
