/**
 * Outside credentials through the CLI on both stores (issue 14 item 4): `latchkey notify run` mails
 * their reminders through a real SMTP server and summarises them, and `latchkey expiring` lists them
 * apart from tokens with kind `credential`. The CLI runs on the system clock: dates are relative to today.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCliHarness } from '../support/cli-harness.js';
import { DIALECTS } from '../support/dialects.js';
import { seedExpiringInstance } from '../support/expiry-seed.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';
import { addDays } from '../../src/kernel/dates.js';

describe.each(DIALECTS)('outside credentials in latchkey notify run and expiring on %s', (dialect) => {
  const h = createCliHarness(dialect, { prefix: 'latchkey-credential-reminders-' });
  const { cli, cliJson } = h;
  let sink: SmtpSink;
  let today: string;

  beforeAll(async () => {
    sink = await startSmtpSink();
  });
  afterAll(async () => {
    await sink.stop();
  });
  afterEach(() => h.tearDown());

  async function setUp() {
    sink.mails.length = 0;
    await h.setUp({ LATCHKEY_SMTP_URL: sink.url });
    today = (await seedExpiringInstance(h.env)).today;
    await h.withServices(async ({ services }) => {
      const admin = (await services.namespaces.ensureFirstAdmin('root', 'root@example.com')).admin;
      await services.inventory.create(admin, { slug: 'npm-publish', name: 'NPM publish', kind: 'npm_token', provider: 'npm', owner: 'acme', renewal: { type: 'expires_at', expiresAt: addDays(today, 6) }, procedure: 'npm token create --read-only=false', placements: [] });
      await services.inventory.create(admin, { slug: 'tempo', name: 'Tempo', kind: 'api_key', owner: 'acme', renewal: { type: 'expires_at', expiresAt: addDays(today, 300) } });
    });
  }

  it('notify run mails the reminder to the Maintainers and Owners and counts it; a second run sends nothing', async () => {
    await setUp();
    const run = await cli('notify', 'run');
    expect(run.code, run.err).toBe(0);
    expect(run.out).toContain('credential reminders: 60 days 0, 30 days 0, 7 days 1; webhook deliveries 0');
    expect(run.out).toMatch(/credential e-mails sent: 2 \((maint|root)@example\.com, (maint|root)@example\.com\), failed: 0/);
    const reminders = sink.mails.filter((m) => m.subject.includes('credential'));
    expect(reminders.flatMap((m) => m.rcptTo).sort()).toEqual(['maint@example.com', 'root@example.com']);
    expect(reminders[0]!.subject).toBe(`[Latchkey] credential "NPM publish" expires on ${addDays(today, 6)} (in 6 days)`);
    expect(reminders[0]!.text).toContain('    npm token create --read-only=false');
    expect(reminders[0]!.text).toContain('    (none recorded)');

    const again = await cliJson('notify', 'run');
    expect(again.credentials).toMatchObject({ ran: true, notices: { '60': 0, '30': 0, '7': 0 }, emailsSent: 0 });
  });

  it('expiring lists outside credentials apart, with kind credential', async () => {
    await setUp();
    const report = await cliJson('expiring', '--within', '30d');
    expect(report.credentials).toEqual([
      { id: expect.any(Number), kind: 'credential', credential_kind: 'npm_token', slug: 'npm-publish', name: 'NPM publish', provider: 'npm', owner: { id: expect.any(Number), full_path: 'acme' }, renewal: { expires_at: addDays(today, 6) }, due_on: addDays(today, 6), days_left: 6, upstream_token: null },
    ]);
    const table = await cli('expiring', '--within', '30d');
    expect(table.out).toContain('Outside credentials due within 30 days');
    expect(table.out).toMatch(/credential\s+npm_token\s+npm-publish\s+acme\s+\S+\s+6/);
    expect(table.out).not.toContain('tempo');
  });
});
