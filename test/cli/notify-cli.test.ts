/**
 * `latchkey notify run` in-process through runCli, on SQLite and PostgreSQL, with and without SMTP:
 * the summary table, `--json`, and nothing sent twice on a second run.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCliHarness } from '../support/cli-harness.js';
import { DIALECTS } from '../support/dialects.js';
import { seedExpiringInstance } from '../support/expiry-seed.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';

describe.each(DIALECTS)('latchkey notify run on %s', (dialect) => {
  const h = createCliHarness(dialect, { prefix: 'latchkey-notify-' });
  const { cli } = h;
  let sink: SmtpSink;

  beforeAll(async () => {
    sink = await startSmtpSink();
  });
  afterAll(async () => {
    await sink.stop();
  });
  afterEach(() => h.tearDown());

  /** A fresh store per test, seeded with tokens in the expiry windows; `extra` configures mail. */
  async function setUp(extra: Record<string, string>) {
    sink.mails.length = 0;
    await h.setUp(extra);
    await seedExpiringInstance(h.env);
  }

  it('prints a summary, mails root and the maintainer once each, and nothing on a second run', async () => {
    await setUp({ LATCHKEY_SMTP_URL: sink.url, LATCHKEY_PUBLIC_URL: 'https://lk.example.com' });
    const run = await cli('notify', 'run');
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/^Expiry check at \d{4}-\d{2}-\d{2}T/);
    expect(run.out).toContain('notices: 60 days 0, 30 days 1, 7 days 1, expired 0');
    expect(run.out).toContain('events published: 2');
    expect(run.out).toMatch(/e-mails sent: 2 \((maint|root)@example\.com, (maint|root)@example\.com\), failed: 0/);
    expect(sink.mails.flatMap((m) => m.rcptTo).sort()).toEqual(['maint@example.com', 'root@example.com']);
    const maint = sink.mails.find((m) => m.rcptTo.includes('maint@example.com'))!;
    expect(maint.subject).toBe('[Latchkey] 2 tokens expire soon');
    expect(maint.text).toContain('https://lk.example.com/acme/web/-/settings/repository#js-deploy-tokens');

    const again = await cli('notify', 'run', '--json');
    expect(again.code).toBe(0);
    expect(JSON.parse(again.out)).toMatchObject({ ran: true, mail: 'enabled', notices: { '60': 0, '30': 0, '7': 0, expired: 0 }, emailsSent: 0, emailsFailed: 0 });
    expect(sink.mails).toHaveLength(2);
  });

  it('without SMTP says mail is disabled and still records the notices', async () => {
    await setUp({});
    const run = await cli('notify', 'run', '--json');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.out)).toMatchObject({ ran: true, mail: 'disabled', notices: { '30': 1, '7': 1 }, eventsPublished: 2, emailsSent: 0 });
    const table = await cli('notify', 'run');
    expect(table.out).toContain('mail: disabled (LATCHKEY_SMTP_URL is not set)');
    expect(table.out).toContain('notices: 60 days 0, 30 days 0, 7 days 0, expired 0');
    expect(sink.mails).toHaveLength(0);
  });
});
