/**
 * Several nodes on one PostgreSQL: two `latchkey notify run` processes started at the same time against
 * one database and one SMTP server send exactly one set of e-mails (the job lock and the unique notice
 * rows), and a third run afterwards sends nothing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, DIALECTS } from '../support/dialects.js';
import { seedExpiringInstance } from '../support/expiry-seed.js';
import { childEnv, runLatchkey } from '../support/server-process.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';

describe.runIf(DIALECTS.includes('postgres'))('expiry job on two processes sharing PostgreSQL', () => {
  let sink: SmtpSink;
  let dirs: string[] = [];
  let db: Awaited<ReturnType<typeof createTestDatabase>>;

  beforeAll(async () => {
    sink = await startSmtpSink();
    db = await createTestDatabase('postgres');
  });
  afterAll(async () => {
    await sink.stop();
    await db.drop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('sends exactly one set of e-mails when two nodes run the check at once', async () => {
    const base = { LATCHKEY_SECRET: 'notify-lock-secret-0123456789abcdef0123', LATCHKEY_LOG_LEVEL: 'silent', DATABASE_URL: db.url, LATCHKEY_SMTP_URL: sink.url };
    const nodeEnv = async () => {
      const dir = await mkdtemp(join(tmpdir(), 'latchkey-node-'));
      dirs.push(dir);
      return childEnv({ ...base, LATCHKEY_DATA_DIR: dir });
    };
    await seedExpiringInstance({ ...base, LATCHKEY_DATA_DIR: '/nonexistent-latchkey-test' });
    const [a, b] = await Promise.all([runLatchkey(['notify', 'run', '--json'], await nodeEnv(), 60_000), runLatchkey(['notify', 'run', '--json'], await nodeEnv(), 60_000)]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const summaries = [JSON.parse(a.stdout), JSON.parse(b.stdout)];
    // Whichever ran first did the work; the other was either locked out or found nothing left to send.
    expect(summaries.some((s) => s.ran)).toBe(true);
    expect(summaries.reduce((n, s) => n + s.emailsSent, 0)).toBe(2);
    expect(summaries.reduce((n, s) => n + s.notices['7'] + s.notices['30'], 0)).toBe(2);
    expect(sink.mails.flatMap((m) => m.rcptTo).sort()).toEqual(['maint@example.com', 'root@example.com']);

    const third = await runLatchkey(['notify', 'run', '--json'], await nodeEnv(), 60_000);
    expect(third.code, third.stderr).toBe(0);
    expect(JSON.parse(third.stdout)).toMatchObject({ ran: true, emailsSent: 0 });
    expect(sink.mails).toHaveLength(2);
  }, 120_000);
});
