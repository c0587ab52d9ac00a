/**
 * The in-process schedule of the expiry job (`latchkey serve`): a croner job at LATCHKEY_EXPIRY_CRON in
 * UTC. Every node schedules it; the job's database lock makes one node at a time do the work.
 */
import { Cron } from 'croner';
import type { ExpiryRunSummary } from './expiry-notifier.js';

export interface ScheduleLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ExpirySchedule {
  /** The next planned run, or null when stopped. */
  nextRun(): Date | null;
  stop(): void;
}

export function scheduleExpiryJob(pattern: string, run: () => Promise<ExpiryRunSummary>, log: ScheduleLog): ExpirySchedule {
  // `protect`: a run still going when the next one is due is not started twice in this process.
  const job = new Cron(pattern, { timezone: 'UTC', protect: true }, async () => {
    try {
      const summary = await run();
      if (!summary.ran) log.info({ job: 'expiry' }, 'expiry check skipped: another node holds the lock');
      else {
        if (summary.mail === 'disabled') log.info({ job: 'expiry' }, 'mail is disabled (LATCHKEY_SMTP_URL is not set): notices recorded and events published, no e-mail sent');
        log.info({ job: 'expiry', notices: summary.notices, emailsSent: summary.emailsSent, emailsFailed: summary.emailsFailed, eventsPublished: summary.eventsPublished }, 'expiry check done');
      }
    } catch (e) {
      log.error({ job: 'expiry', err: (e as Error).message }, 'expiry check failed');
    }
  });
  return { nextRun: () => job.nextRun(), stop: () => job.stop() };
}
