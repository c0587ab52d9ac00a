/**
 * `latchkey notify run` in-process through runCli, on SQLite and PostgreSQL, with and without SMTP:
 * the summary table, `--json`, and nothing sent twice on a second run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { createTestDatabase, DIALECTS } from '../support/dialects.js';
import { seedExpiringInstance } from '../support/expiry-seed.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';

describe.each(DIALECTS)('latchkey notify run on %s', (dialect) => {
  let sink: SmtpSink;
  let dir: string;
  let drop: () => Promise<void>;
  let env: Record<string, string>;

  beforeAll(async () => {
    sink = await startSmtpSink();
  });
  afterAll(async () => {
    await sink.stop();
  });
  afterEach(async () => {
    await drop();
    await rm(dir, { recursive: true, force: true });
  });

  async function setUp(extra: Record<string, string>) {
    sink.mails.length = 0;
    dir = await mkdtemp(join(tmpdir(), 'latchkey-notify-'));
    const db = await createTestDatabase(dialect);
    drop = db.drop;
    env = { LATCHKEY_DATA_DIR: dir, LATCHKEY_SECRET: 'notify-cli-secret-0123456789abcdef0123', LATCHKEY_LOG_LEVEL: 'silent', DATABASE_URL: dialect === 'sqlite' ? `sqlite:${dir}/l.sqlite` : db.url, ...extra };
    await seedExpiringInstance(env);
  }

  async function cli(...args: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(['node', 'latchkey', ...args], { print: (t) => out.push(t), error: (t) => err.push(t), env });
    return { code, out: out.join('\n'), err: err.join('\n') };
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
