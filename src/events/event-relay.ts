/**
 * The outbox relay: moves committed token events from `event_outbox` to their sinks — the audit chain
 * and the webhook deliveries — exactly once. Per page of waiting events: each sink first does its
 * look-ups outside any transaction (`prepare`), then one transaction takes the sinks' locks (the audit
 * chain head: relays of several nodes queue there), deletes the events (only those still there: another
 * node may have taken some meanwhile) and makes the sinks' writes for exactly those. A crash anywhere
 * rolls the transaction back and leaves the events for the next pass.
 *
 * When it runs: right after a commit that published events (the store calls `drain`, and the request
 * waits for it, so a created token's audit entry and deliveries exist when the client gets its 201),
 * every `intervalMs` inside `latchkey serve` (events a crashed node committed but never relayed, or
 * a pass that failed), and on close. Concurrent calls on one node share passes (single flight).
 */
import type { Kysely } from 'kysely';
import type { Database } from '../store/database.js';
import { createEventOutboxStore, type OutboxEvent } from './event-outbox.js';

/** The writes a sink makes, in the relay's transaction, for the events the relay took (in id order). */
export type RelayWrite = (trx: Kysely<Database>, taken: readonly OutboxEvent[]) => Promise<void>;

/** A sink's writes with what it holds until the pass ends (the audit sink: request entries it claimed). */
export interface PreparedWrite {
  write: RelayWrite;
  /** Once, after the pass's transaction committed (true) or failed (false), whether or not `write` ran. */
  settle(committed: boolean): void;
}

const asPrepared = (w: RelayWrite | PreparedWrite): PreparedWrite => (typeof w === 'function' ? { write: w, settle: () => {} } : w);

export interface RelaySink {
  /** First statement(s) of the relay's transaction, before events are taken: serialises relays. */
  lock?(trx: Kysely<Database>): Promise<void>;
  /** Look-ups for a page of events (outside the transaction); returns the writes. */
  prepare(events: readonly OutboxEvent[]): Promise<RelayWrite | PreparedWrite>;
}

export interface EventRelayDeps {
  db: Kysely<Database>;
  sinks: readonly RelaySink[];
  /** Failures (the log), through `reportFailure`: one line per `reportMs` while passes keep failing. */
  onError?: (error: unknown) => void;
  reportMs?: number;
  /** Called with the number of events relayed by each transaction. */
  onRelayed?: (count: number) => void;
  /** Events per transaction. */
  batch?: number;
}

export type EventRelay = ReturnType<typeof createEventRelay>;

export function createEventRelay({ db, sinks, onError = () => {}, onRelayed = () => {}, batch = 500, reportMs = 10_000 }: EventRelayDeps) {
  const outbox = createEventOutboxStore(db);
  let failures = 0;
  let lastReportAt = Number.NEGATIVE_INFINITY;

  /** A failed pass, reported at most once per `reportMs` (every commit retries while it lasts). */
  function reportFailure(error: unknown): void {
    failures++;
    const now = Date.now();
    if (now - lastReportAt < reportMs) return;
    lastReportAt = now;
    onError(new Error(`token events stay in the outbox (${failures} failed relay pass${failures === 1 ? '' : 'es'}): ${(error as Error).message}`, { cause: (error as Error).cause }));
  }

  /** One page: returns how many events were waiting (not how many this node took). */
  async function pass(): Promise<number> {
    const events = await outbox.pending(batch);
    if (events.length === 0) return 0;
    const outcomes = await Promise.allSettled(sinks.map((s) => s.prepare(events)));
    const prepared = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [asPrepared(o.value)] : []));
    let committed = false;
    let relayed: number;
    try {
      const failed = outcomes.find((o) => o.status === 'rejected');
      if (failed) throw failed.reason;
      relayed = await db.transaction().execute(async (trx) => {
        for (const s of sinks) await s.lock?.(trx);
        const ids = await outbox.take(trx, events.map((e) => e.id));
        const taken = events.filter((e) => ids.has(e.id));
        if (taken.length > 0) for (const { write } of prepared) await write(trx, taken);
        return taken.length;
      });
      committed = true;
    } finally {
      for (const p of prepared) p.settle(committed);
    }
    if (relayed > 0) onRelayed(relayed);
    if (failures > 0) {
      onError(new Error(`token events relayed again after ${failures} failed pass${failures === 1 ? '' : 'es'}`));
      failures = 0;
      lastReportAt = Number.NEGATIVE_INFINITY;
    }
    return events.length;
  }

  let running: Promise<void> | null = null;
  let next: Promise<void> | null = null;

  /** Relays everything waiting. A call while a pass runs waits for one that starts after it. */
  function drain(): Promise<void> {
    if (!running) {
      running = (async () => {
        while ((await pass()) >= batch);
      })().finally(() => (running = null));
      return running;
    }
    next ??= running
      .catch(() => {})
      .then(() => {
        next = null;
        return drain();
      });
    return next;
  }

  return {
    drain,
    reportFailure,
    /** Waiting events (`audit verify`, readiness, tests). */
    pending: () => outbox.count(),
    /** Drains every `intervalMs` in the background; returns `stop`, which waits for a pass in flight. */
    start(intervalMs: number): () => Promise<void> {
      const timer = setInterval(() => void drain().catch(reportFailure), intervalMs);
      timer.unref();
      return async () => {
        clearInterval(timer);
        await running?.catch(() => {});
      };
    },
  };
}
