/**
 * The schedule inside a real `latchkey serve`: with LATCHKEY_EXPIRY_CRON every second, the running
 * service mails the expiring tokens on its own, once, and logs nothing secret.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedExpiringInstance } from '../support/expiry-seed.js';
import { startServer, type ServerProcess } from '../support/server-process.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';

describe('expiry schedule in latchkey serve', () => {
  let sink: SmtpSink;
  let server: ServerProcess;
  let dataDir: string;

  beforeAll(async () => {
    sink = await startSmtpSink();
    // Seeded before the start, so the first scheduled run sees every token at once.
    dataDir = await mkdtemp(join(tmpdir(), 'latchkey-serve-notify-'));
    await seedExpiringInstance({ LATCHKEY_DATA_DIR: dataDir, LATCHKEY_LOG_LEVEL: 'silent' });
    server = await startServer({ dataDir, env: { LATCHKEY_SMTP_URL: sink.url, LATCHKEY_EXPIRY_CRON: '* * * * * *', LATCHKEY_LOG_LEVEL: 'info' }, bootstrap: false });
  });
  afterAll(async () => {
    await server?.stop();
    await sink?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('runs the check on its schedule and mails each recipient once', async () => {
    const deadline = Date.now() + 20_000;
    while (sink.mails.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    // A few more scheduled runs: nothing more is sent.
    await new Promise((r) => setTimeout(r, 2_500));
    expect(sink.mails.flatMap((m) => m.rcptTo).sort()).toEqual(['maint@example.com', 'root@example.com']);
    expect(server.output()).toContain('expiry check done');
    expect(server.output()).not.toMatch(/gl(dt|pat)-[A-Za-z0-9]{20,}/);
  }, 60_000);
});
