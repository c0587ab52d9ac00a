/**
 * The in-process schedule of upstream syncs (`latchkey serve`): a croner job at
 * LATCHKEY_UPSTREAM_SYNC_CRON in UTC (default hourly). Every node schedules it; the lock per upstream
 * makes one node at a time sync each. A failed sync is recorded on its upstream and tried again at the
 * next slot: nothing it left behind needs finishing (it changed no entry).
 */
import { Cron } from 'croner';
import type { SyncResult } from './upstream-service.js';

export interface SyncScheduleLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export function scheduleUpstreamSync(pattern: string, run: () => Promise<SyncResult[]>, log: SyncScheduleLog): { stop(): void } {
  let running = false;
  const job = new Cron(pattern, { timezone: 'UTC' }, async () => {
    if (running) return;
    running = true;
    try {
      for (const r of await run()) {
        if (r.status === 'failed') log.error({ job: 'upstream-sync', upstream: r.upstream, reason: r.reason }, 'upstream sync failed');
        else if (r.status === 'ok') log.info({ job: 'upstream-sync', upstream: r.upstream, ...r.counts }, 'upstream sync done');
      }
    } catch (e) {
      const cause = (e as Error).cause as Error | undefined;
      log.error({ job: 'upstream-sync', err: (cause ?? (e as Error)).message }, 'upstream sync failed');
    } finally {
      running = false;
    }
  });
  return { stop: () => job.stop() };
}
