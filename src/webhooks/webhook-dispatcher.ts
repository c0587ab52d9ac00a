/**
 * Sends due deliveries from the outbox: claims each row (a lease, so several nodes never send the same
 * attempt), POSTs the stored body signed with the hook's secret, records the attempt, and schedules a
 * retry with exponential backoff or gives up after the last one. A token's deliveries to a hook go out
 * one at a time, in order (see `dueDeliveries`). `runDue()` is one pass (tests call it with a fake
 * clock); `start()` runs passes on an interval inside `latchkey serve`, and hourly deletes deliveries
 * finished longer ago than the retention.
 */
import { performance } from 'node:perf_hooks';
import type { Clock } from '../kernel/clock.js';
import { retryDelaySeconds } from './backoff.js';
import { postJson } from './http-post.js';
import type { SecretBox } from './secret-box.js';
import { signDelivery } from './signature.js';
import { isInstanceHook, type WebhookStore } from './webhook-store.js';
import { gitlabHookHeaders } from './gitlab-hook-events.js';
import { parseSettings } from './gitlab-hook.js';

export interface WebhookDispatcherDeps {
  hooks: WebhookStore;
  secrets: SecretBox;
  clock: Clock;
  /** How long to wait for a receiver's answer. */
  timeoutMs: number;
  /** LATCHKEY_WEBHOOK_ALLOW_LOCAL_NETWORK: group hooks may reach loopback/private addresses. */
  allowLocalNetwork: boolean;
  /** LATCHKEY_WEBHOOK_RETENTION_DAYS: finished deliveries (and their attempts) are kept this long. */
  retentionDays: number;
  /** X-Gitlab-Instance of GitLab-format deliveries: LATCHKEY_PUBLIC_URL (or the listen address). */
  instanceUrl?: string;
  /** Called once per attempt (metrics). */
  onAttempt?: (outcome: 'delivered' | 'failed' | 'timeout' | 'error' | 'given_up') => void;
  onError?: (error: unknown) => void;
}

/** Deliveries sent in parallel in one batch (distinct hook+token pairs). */
const BATCH = 16;
/** Finished deliveries deleted per statement when pruning, and how often `start` prunes. */
const PRUNE_BATCH = 500;
const PRUNE_EVERY_MS = 3_600_000;
/** Receivers' answers are read up to this size for the record, then dropped. */
const MAX_RECORDED_ERROR = 500;

export type WebhookDispatcher = ReturnType<typeof createWebhookDispatcher>;

export function createWebhookDispatcher({ hooks, secrets, clock, timeoutMs, allowLocalNetwork, retentionDays, instanceUrl = '', onAttempt = () => {}, onError = () => {} }: WebhookDispatcherDeps) {
  async function attempt(delivery: { id: number; hookId: number; event: string; attempts: number; payload: string }): Promise<void> {
    const hook = await hooks.findHook(delivery.hookId);
    if (!hook) return; // deleted meanwhile: its pending deliveries were cancelled
    const number = delivery.attempts + 1;
    const startedAt = clock.now();
    const timestamp = Math.floor(startedAt.getTime() / 1000);
    const gitlab = hook.format === 'gitlab';
    const headers = gitlab ? gitlabHookHeaders(hook, delivery, secrets, instanceUrl) : {
      'content-type': 'application/json',
      'user-agent': 'Latchkey-Webhook/1',
      'x-latchkey-event': delivery.event,
      'x-latchkey-delivery': String(delivery.id),
      'x-latchkey-timestamp': String(timestamp),
      'x-latchkey-signature': signDelivery(secrets.open(hook.secretEncrypted), timestamp, delivery.payload),
    };
    let statusCode: number | null = null;
    let error: string | null = null;
    let timedOut = false;
    const t0 = performance.now();
    try {
      // Instance hooks are the admins' and may reach the local network; group and project hooks only when allowed.
      const blockLocalNetwork = !isInstanceHook(hook) && !allowLocalNetwork;
      // A GitLab-format hook may turn certificate verification off (enable_ssl_verification: false), as in GitLab.
      const verifyTls = !gitlab || parseSettings(hook.settings, hook.projectId !== null ? 'project' : 'group').enable_ssl_verification;
      const answer = await postJson(hook.url, { headers, body: delivery.payload, timeoutMs, blockLocalNetwork, maxBody: MAX_RECORDED_ERROR, verifyTls });
      statusCode = answer.status;
      if (statusCode < 200 || statusCode > 299) error = `HTTP ${statusCode}${answer.text ? `: ${answer.text}` : ''}`;
    } catch (e) {
      const err = e as Error & { code?: string };
      timedOut = err.name === 'TimeoutError';
      error = timedOut ? `timeout after ${timeoutMs} ms` : [err.code, err.message].filter(Boolean).join(': ').slice(0, MAX_RECORDED_ERROR);
    }
    const latencyMs = Math.round(performance.now() - t0);
    const ok = statusCode !== null && statusCode >= 200 && statusCode <= 299;
    const now = clock.now();
    const delay = ok ? null : retryDelaySeconds(number);
    const nextRetryAt = delay === null ? null : new Date(now.getTime() + delay * 1000).toISOString();
    const outcome = ok ? 'delivered' : nextRetryAt === null ? 'failed' : 'retry';
    await hooks.recordAttempt(delivery.id, { attempt: number, startedAt: startedAt.toISOString(), statusCode, latencyMs, error, nextRetryAt, outcome, at: now.toISOString() });
    onAttempt(ok ? 'delivered' : timedOut ? 'timeout' : statusCode === null ? 'error' : 'failed');
    if (outcome === 'failed') onAttempt('given_up');
  }

  /**
   * One pass: sends every delivery due at the clock's now, and those that become first in line as
   * earlier ones succeed, until nothing is due. Returns the number of attempts made.
   */
  async function runDue(): Promise<number> {
    let made = 0;
    for (let round = 0; round < 10_000; round++) {
      const now = clock.now();
      const due = await hooks.dueDeliveries(now.toISOString(), BATCH);
      if (due.length === 0) break;
      const leaseUntil = new Date(now.getTime() + timeoutMs + 60_000).toISOString();
      const claimed = [];
      for (const d of due) if (await hooks.claim(d.id, now.toISOString(), leaseUntil)) claimed.push(d);
      if (claimed.length === 0) break;
      await Promise.all(claimed.map((d) => attempt(d).catch(onError)));
      made += claimed.length;
    }
    return made;
  }

  /** Deletes deliveries that finished more than `retentionDays` ago (in batches). Returns how many. */
  async function prune(): Promise<number> {
    const before = new Date(clock.now().getTime() - retentionDays * 86_400_000).toISOString();
    let pruned = 0;
    for (let n = await hooks.pruneFinished(before, PRUNE_BATCH); n > 0; n = await hooks.pruneFinished(before, PRUNE_BATCH)) pruned += n;
    return pruned;
  }

  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> | null = null;
  let lastPrunedAt = Number.NEGATIVE_INFINITY;

  /** One tick of `start`: due deliveries, and the prune at most once an hour. */
  async function tick(): Promise<void> {
    await runDue();
    const now = clock.now().getTime();
    if (now - lastPrunedAt >= PRUNE_EVERY_MS) {
      lastPrunedAt = now;
      await prune();
    }
  }

  return {
    runDue,
    prune,
    /** Runs a pass every `intervalMs` (never two at once on this node). Returns `stop`. */
    start(intervalMs: number): () => Promise<void> {
      timer = setInterval(() => {
        if (running) return;
        running = tick()
          .catch(onError)
          .finally(() => (running = null));
      }, intervalMs);
      timer.unref();
      return async () => {
        if (timer) clearInterval(timer);
        timer = null;
        await running;
      };
    },
  };
}
