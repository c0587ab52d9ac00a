/**
 * The in-process schedule of the expiry job (`latchkey serve`): a croner job at LATCHKEY_EXPIRY_CRON in
 * UTC. Every node schedules it; the job's database lock makes one node at a time do the work.
 *
 * A run that fails (the database or the lock unavailable) is retried with backoff — 30 s, 1, 2, 5,
 * then every 15 min — until one succeeds, instead of waiting for tomorrow's slot: the run is
 * idempotent (unique notices, the lock), so a retry can only finish what the failed run left.
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
  /** Runs the job now, as the schedule would (tests; a retry is planned if it fails). */
  runNow(): Promise<void>;
  stop(): void;
}

/** Waits before retrying a failed run: the nth failure in a row waits the nth delay (the last repeats). */
export const EXPIRY_RETRY_DELAYS_MS = [30_000, 60_000, 120_000, 300_000, 900_000];

export function scheduleExpiryJob(pattern: string, run: () => Promise<ExpiryRunSummary>, log: ScheduleLog, retryDelaysMs: readonly number[] = EXPIRY_RETRY_DELAYS_MS): ExpirySchedule {
  let running = false;
  let failures = 0;
  let retry: NodeJS.Timeout | null = null;
  let stopped = false;

  async function runOnce(): Promise<void> {
    // One run at a time in this process, whether the schedule or a retry started it.
    if (running || stopped) return;
    running = true;
    if (retry) clearTimeout(retry);
    retry = null;
    try {
      const summary = await run();
      failures = 0;
      if (!summary.ran) log.info({ job: 'expiry' }, 'expiry check skipped: another node holds the lock');
      else {
        if (summary.mail === 'disabled') log.info({ job: 'expiry' }, 'mail is disabled (LATCHKEY_SMTP_URL is not set): notices recorded and events published, no e-mail sent');
        log.info({ job: 'expiry', notices: summary.notices, emailsSent: summary.emailsSent, emailsFailed: summary.emailsFailed, eventsPublished: summary.eventsPublished }, 'expiry check done');
      }
    } catch (e) {
      const delay = retryDelaysMs[Math.min(failures, retryDelaysMs.length - 1)]!;
      failures++;
      const cause = (e as Error).cause as Error | undefined;
      log.error({ job: 'expiry', err: (cause ?? (e as Error)).message, retryInMs: delay }, 'expiry check failed');
      if (!stopped) {
        retry = setTimeout(() => void runOnce(), delay);
        retry.unref();
      }
    } finally {
      running = false;
    }
  }

  const job = new Cron(pattern, { timezone: 'UTC' }, runOnce);
  return {
    nextRun: () => job.nextRun(),
    runNow: runOnce,
    stop: () => {
      stopped = true;
      if (retry) clearTimeout(retry);
      job.stop();
    },
  };
}
