import { describe, expect, it } from 'vitest';
import { scheduleExpiryJob } from './expiry-schedule.js';
import type { ExpiryRunSummary } from './expiry-notifier.js';

const summary = (ran: boolean): ExpiryRunSummary => ({ ran, at: '', mail: 'disabled', notices: { '60': 0, '30': 0, '7': 0, expired: 0 }, eventsPublished: 0, emailsSent: 0, emailsFailed: 0, recipients: [], deliveriesSkipped: 0 });

describe('expiry schedule', () => {
  it('plans the default run at 01:00 UTC', () => {
    const job = scheduleExpiryJob('0 1 * * *', async () => summary(true), { info: () => {}, error: () => {} });
    try {
      const next = job.nextRun()!;
      expect(next.toISOString()).toMatch(/T01:00:00\.000Z$/);
      expect(next.getTime() - Date.now()).toBeLessThanOrEqual(86_400_000);
    } finally {
      job.stop();
    }
    expect(job.nextRun()).toBeNull();
  });

  it('runs the job when due, logs the outcome, and logs (not throws) a failing run', async () => {
    const logs: string[] = [];
    let calls = 0;
    const job = scheduleExpiryJob('* * * * * *', async () => {
      calls++;
      if (calls === 1) throw new Error('database down');
      return summary(calls % 2 === 0);
    }, { info: (_o, m) => logs.push(m), error: (_o, m) => logs.push(`error: ${m}`) });
    try {
      const deadline = Date.now() + 5_000;
      while (calls < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    } finally {
      job.stop();
    }
    expect(calls).toBeGreaterThanOrEqual(3);
    expect(logs).toContain('error: expiry check failed');
    expect(logs).toContain('expiry check done');
    expect(logs).toContain('expiry check skipped: another node holds the lock');
  });

  it('retries a failed run with backoff until one succeeds, not only at the next slot (issue 12 item 1)', async () => {
    const logs: string[] = [];
    let calls = 0;
    // A slot far away: every run below is the first one or a retry.
    const job = scheduleExpiryJob('0 1 1 1 *', async () => {
      calls++;
      if (calls <= 2) throw new Error('503 Service Unavailable', { cause: new Error('connect ECONNREFUSED 127.0.0.1:5432') });
      return summary(true);
    }, { info: (_o, m) => logs.push(m), error: (o, m) => logs.push(`error: ${m} (${(o as { err: string }).err}, retry in ${(o as { retryInMs: number }).retryInMs} ms)`) }, [20, 40]);
    try {
      await job.runNow();
      const deadline = Date.now() + 5_000;
      while (calls < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      // Success ends the retries: nothing more runs before the slot.
      await new Promise((r) => setTimeout(r, 150));
    } finally {
      job.stop();
    }
    expect(calls).toBe(3);
    expect(logs).toEqual([
      'error: expiry check failed (connect ECONNREFUSED 127.0.0.1:5432, retry in 20 ms)',
      'error: expiry check failed (connect ECONNREFUSED 127.0.0.1:5432, retry in 40 ms)',
      'mail is disabled (LATCHKEY_SMTP_URL is not set): notices recorded and events published, no e-mail sent',
      'expiry check done',
    ]);
  });

  it('plans no retry once stopped', async () => {
    let calls = 0;
    const job = scheduleExpiryJob('0 1 1 1 *', async () => {
      calls++;
      throw new Error('down');
    }, { info: () => {}, error: () => {} }, [20]);
    await job.runNow();
    job.stop();
    await new Promise((r) => setTimeout(r, 100));
    expect(calls).toBe(1);
  });
});
