/**
 * Usage tracking behind the verifier: `note` runs on the hot path (synchronous, no I/O: a map look-up
 * and two set inserts) and remembers the client IP and user agent of each successful verification.
 * Writes are throttled to one per token per `resolutionMs` (a minute, as GitLab's last_used_ips) and
 * never awaited by the request; `flushDue` (run every few seconds by `serve`) writes what is left, so
 * a new IP reaches the store no later than the next throttle tick even if the token is not used again.
 *
 * Several nodes: each write merges this node's sightings into the stored record with compare-and-set
 * (token-usage.ts mergeUsage), so the reuse window counts what every node saw. A token is flagged by
 * the one write that makes the window exceed the policy; that write carries `token.reuse_flagged`, which
 * the store commits with the flag (the transactional outbox): a crash cannot keep the flag and lose it.
 * When this node alone sees the limit exceeded it writes at once instead of waiting for the throttle.
 *
 * Writes are batched (group commit): one starts on the next turn of the event loop, and every write
 * started while it runs waits for it and goes in the next batch together — one compare-and-set
 * statement for all of them (store.saveUsages) instead of a commit per token, which is what 10,000
 * tokens first seen in a minute used to cost. Idle, a write still starts at once.
 *
 * No read before a write, mostly: a merge goes into the record this node last wrote, or that the
 * verifier read with the token on a cache miss (`note`'s `row`), and names its revision; only a token
 * first seen from the cache, a failed write or a lost race (another node wrote) reads the row first.
 */
import type { Clock } from '../kernel/clock.js';
import type { TokenEvent } from '../events/token-events.js';
import type { Token } from './token.js';
import type { TokenUsageStore, UsageWrite } from './token-usage-store.js';
import {
  exceedsReuseLimits,
  mergeUsage,
  normaliseIp,
  normaliseUserAgent,
  usageRecordOf,
  WINDOW_VALUES_KEPT,
  type MergedUsage,
  type Observed,
  type ReusePolicy,
  type UsageRecord,
  type UsageRow,
} from './token-usage.js';

/** Where a credential was presented (the verifier's VerifyContext). */
export interface UsageContext {
  readonly ip?: string | null;
  readonly userAgent?: string | null;
}

export interface TokenUsageTrackerDeps {
  store: TokenUsageStore;
  clock: Clock;
  policy: ReusePolicy;
  /** At most one write per token per this many ms (default 60 000). */
  resolutionMs?: number;
  /** Bound on tracked tokens; the oldest go first (written first if they hold unwritten sightings). */
  maxEntries?: number;
  /** A failed write (the sightings are kept and retried on the next tick). */
  onError?: (error: unknown) => void;
}

/** What an entry keeps of its token: enough to name it in a write and in its reuse event, not the whole row. */
type TrackedToken = Pick<Token, 'id' | 'kind' | 'name'>;

/** The window of an entry not written yet: one frozen empty record shared by all, never written to. */
const NO_WINDOW: Readonly<Record<string, string>> = Object.freeze({});
/**
 * No sightings since the last write: one empty map shared by all entries (read-only; `pendingOf` gives an
 * entry a map of its own at its next sighting), so an idle entry does not keep two empty maps of its own.
 */
const NO_SIGHTINGS: ReadonlyMap<string, number> = new Map();

interface Entry {
  readonly token: TrackedToken;
  /** Epoch ms of the last write (or of the stored last_used_at when first seen). */
  writtenAt: number;
  /** Sightings not written yet: value → epoch ms last seen (NO_SIGHTINGS when none). */
  ips: ReadonlyMap<string, number>;
  userAgents: ReadonlyMap<string, number>;
  /** Used since the last write (last_used_at is due even with nothing new). */
  dirty: boolean;
  /** Epoch ms of the latest use noted. */
  usedAt: number;
  /** The stored window values as of the last write this node made. */
  windowIps: Readonly<Record<string, string>>;
  windowUserAgents: Readonly<Record<string, string>>;
  flagged: boolean;
  writing: Promise<void> | null;
  /**
   * The stored record as this node last read or wrote it (null: not known, read before the next write).
   * A write merges into it and names its revision without reading the row again; when another node
   * wrote meanwhile the compare-and-set fails and the row is read afresh, as after any lost race.
   */
  record: UsageRecord | null;
}

/** Rounds of compare-and-set for one write before it counts as failed (kept and retried on the next tick). */
const CAS_ATTEMPTS = 5;

export type TokenUsageTracker = ReturnType<typeof createTokenUsageTracker>;

/** How often at most a token's use is written (GitLab's last_used_ips resolution). */
export const USAGE_RESOLUTION_MS = 60_000;
/** How often `serve` writes the uses the throttle held back (flushDue). */
export const USAGE_FLUSH_INTERVAL_MS = 10_000;
/** How far behind a token's stored last use may be: a use held back by the throttle is written at the first flush after it. */
export const USAGE_LAG_MS = USAGE_RESOLUTION_MS + USAGE_FLUSH_INTERVAL_MS;

export function createTokenUsageTracker({ store, clock, policy, resolutionMs = USAGE_RESOLUTION_MS, maxEntries = 100_000, onError = () => {} }: TokenUsageTrackerDeps) {
  const entries = new Map<number, Entry>();
  const inFlight = new Set<Promise<void>>();

  function entryFor(token: Token, row: UsageRow | undefined): Entry {
    const known = entries.get(token.id);
    if (known) {
      if (row !== undefined && known.record === null && known.writing === null) known.record = usageRecordOf(token, row);
      return known;
    }
    if (entries.size >= maxEntries) {
      const [oldestId, oldest] = entries.entries().next().value!;
      if (oldest.dirty && oldest.writing === null) write(oldest, clock.now());
      entries.delete(oldestId);
    }
    const entry: Entry = {
      // Not the token itself: an entry outlives the verify cache's copy by up to the reuse window (an hour by default).
      token: { id: token.id, kind: token.kind, name: token.name },
      writtenAt: token.lastUsedAt === null ? 0 : Date.parse(token.lastUsedAt),
      ips: NO_SIGHTINGS,
      userAgents: NO_SIGHTINGS,
      dirty: false,
      usedAt: 0,
      windowIps: NO_WINDOW,
      windowUserAgents: NO_WINDOW,
      flagged: token.reuseFlaggedAt !== null,
      writing: null,
      record: row === undefined ? null : usageRecordOf(token, row),
    };
    entries.set(token.id, entry);
    return entry;
  }

  /** The entry's own map of pending sightings of one kind, made at the first since the last write. */
  function pendingOf(entry: Entry, which: 'ips' | 'userAgents'): Map<string, number> {
    const pending = entry[which];
    if (pending !== NO_SIGHTINGS) return pending as Map<string, number>;
    const own = new Map<string, number>();
    entry[which] = own;
    return own;
  }

  /** Records a sighting; true when the value is new to this node's picture of the window. */
  function sight(entry: Entry, which: 'ips' | 'userAgents', stored: Readonly<Record<string, string>>, value: string | null, ms: number): boolean {
    if (value === null) return false;
    if (entry[which].has(value)) {
      pendingOf(entry, which).set(value, ms);
      return false;
    }
    const isNew = !Object.hasOwn(stored, value);
    if (isNew && entry[which].size >= WINDOW_VALUES_KEPT) return false;
    pendingOf(entry, which).set(value, ms);
    return isNew;
  }

  /** Distinct values within the window: what was stored at the last write plus what is pending. */
  function distinct(pending: ReadonlyMap<string, number>, stored: Readonly<Record<string, string>>, sinceMs: number): number {
    let n = pending.size;
    for (const [value, at] of Object.entries(stored)) if (!pending.has(value) && Date.parse(at) > sinceMs) n++;
    return n;
  }

  /** A write waiting for (or in) a batch: the sightings taken from the entry when it was started. */
  interface Pending {
    readonly entry: Entry;
    readonly observed: Observed;
    readonly previousWrite: number;
    readonly at: Date;
  }
  /** A write's result: what was written and the record's revision after it; null when there is no such token. */
  type Outcome = { readonly merged: MergedUsage; readonly revision: number } | null | { readonly error: unknown };

  /**
   * Writes a batch: one read of the records this node does not know (Entry.record), one
   * compare-and-set statement for the merges, and a re-read of those that lost a race (another node
   * wrote meanwhile). A merge that flags the token is written on its own, with its event (the outbox
   * transaction).
   */
  async function persistBatch(items: readonly Pending[]): Promise<Map<Pending, Outcome>> {
    const outcomes = new Map<Pending, Outcome>();
    let todo = items;
    for (let attempt = 0; attempt < CAS_ATTEMPTS && todo.length > 0; attempt++) {
      // The first round merges into the records already known; a retry (a lost race) reads them all.
      const known = (item: Pending) => (attempt === 0 ? item.entry.record : null);
      const unknown = [...new Set(todo.filter((i) => known(i) === null).map((i) => i.entry.token.id))];
      const records = unknown.length > 0 ? await store.findUsages(unknown) : new Map<number, UsageRecord>();
      const retry: Pending[] = [];
      const writes: { item: Pending; write: UsageWrite }[] = [];
      const ids = new Set<number>();
      for (const item of todo) {
        const tokenId = item.entry.token.id;
        const stored = known(item) ?? records.get(tokenId);
        if (stored === undefined) {
          outcomes.set(item, null);
          continue;
        }
        // The same token twice (an entry evicted and made again while its write waited): one per round.
        if (ids.has(tokenId)) {
          retry.push(item);
          continue;
        }
        ids.add(tokenId);
        const merged = mergeUsage(stored, item.observed, item.at, policy);
        if (merged.flagged) {
          try {
            if (await store.saveUsage(tokenId, stored.revision, merged, flagEvent(item.entry.token, merged, item.at))) outcomes.set(item, { merged, revision: stored.revision + 1 });
            else retry.push(item);
          } catch (error) {
            outcomes.set(item, { error });
          }
        } else writes.push({ item, write: { tokenId, revision: stored.revision, merged } });
      }
      const saved = writes.length > 0 ? await store.saveUsages(writes.map((w) => w.write)) : new Set<number>();
      for (const { item, write } of writes) {
        if (saved.has(write.tokenId)) outcomes.set(item, { merged: write.merged, revision: write.revision + 1 });
        else retry.push(item);
      }
      todo = retry;
    }
    for (const item of todo) outcomes.set(item, { error: new Error(`token ${item.entry.token.id}: usage write lost ${CAS_ATTEMPTS} races in a row`) });
    return outcomes;
  }

  /** Writes waiting for the next batch, that batch (not started yet) and the one being written. */
  let queued: Pending[] = [];
  let nextBatch: Promise<void> | null = null;
  let runningBatch: Promise<void> | null = null;

  /** Runs a batch with what is queued, after the one being written (group commit) or on the next turn. */
  function scheduleBatch(): Promise<void> {
    if (nextBatch !== null) return nextBatch;
    const previous = runningBatch;
    // Assigned before its body reads it (the body runs after its first await).
    let batch!: Promise<void>;
    batch = (async () => {
      await (previous ?? new Promise<void>((resolve) => setImmediate(resolve)));
      nextBatch = null;
      runningBatch = batch;
      const items = queued;
      queued = [];
      try {
        await writeBatch(items);
      } catch (error) {
        // writeBatch settles every write itself; this only keeps a surprise from being an unhandled rejection.
        onError(error);
      } finally {
        if (runningBatch === batch) runningBatch = null;
      }
    })();
    nextBatch = batch;
    inFlight.add(batch);
    void batch.finally(() => inFlight.delete(batch));
    return batch;
  }

  async function writeBatch(items: readonly Pending[]): Promise<void> {
    let outcomes: Map<Pending, Outcome>;
    try {
      outcomes = await persistBatch(items);
    } catch (error) {
      outcomes = new Map(items.map((item) => [item, { error }]));
    }
    let firstError: { error: unknown } | null = null;
    for (const item of items) {
      const { entry, observed } = item;
      const outcome = outcomes.get(item) ?? null;
      entry.writing = null;
      if (outcome !== null && 'error' in outcome) {
        // Keep the sightings (newer ones win) and retry on the next tick.
        for (const [v, ms] of observed.ips) if (!entry.ips.has(v)) pendingOf(entry, 'ips').set(v, ms);
        for (const [v, ms] of observed.userAgents) if (!entry.userAgents.has(v)) pendingOf(entry, 'userAgents').set(v, ms);
        entry.dirty = true;
        entry.writtenAt = item.previousWrite;
        // The write may or may not have committed: the next one reads the record.
        entry.record = null;
        firstError ??= outcome;
        continue;
      }
      if (outcome !== null) {
        const { merged, revision } = outcome;
        entry.windowIps = merged.windowIps;
        entry.windowUserAgents = merged.windowUserAgents;
        if (merged.reuseFlaggedAt !== null) entry.flagged = true;
        entry.record = { lastUsedAt: merged.lastUsedAt, lastUsedIps: merged.lastUsedIps, windowIps: merged.windowIps, windowUserAgents: merged.windowUserAgents, reuseFlaggedAt: merged.reuseFlaggedAt, revision };
      } else entry.record = null;
      // Sightings that arrived during the write and already cross the limit are not left to the tick
      // (after a failure they are: retrying at once would spin while the database is down).
      if (wouldTripReuse(entry, clock.now().getTime())) write(entry, clock.now());
    }
    // One report per failed batch, not one per token.
    if (firstError !== null) onError(firstError.error);
  }

  /**
   * Starts a write of the entry's sightings; the caller does not wait for it. Writes started while a
   * batch is being written go together in the next one: under load, one statement for many tokens
   * instead of a commit per token.
   */
  function write(entry: Entry, now: Date): void {
    queued.push({ entry, observed: { usedAt: entry.usedAt, ips: entry.ips, userAgents: entry.userAgents }, previousWrite: entry.writtenAt, at: now });
    entry.ips = NO_SIGHTINGS;
    entry.userAgents = NO_SIGHTINGS;
    entry.dirty = false;
    entry.writtenAt = now.getTime();
    entry.writing = scheduleBatch();
  }

  /** The event of the write that flags a token. */
  function flagEvent(token: TrackedToken, merged: MergedUsage, now: Date): TokenEvent {
    return {
      name: 'token.reuse_flagged',
      tokenId: token.id,
      at: now.toISOString(),
      data: {
        kind: token.kind,
        name: token.name,
        ip_addresses: merged.flagged!.ips,
        user_agents: merged.flagged!.userAgents,
        window_seconds: Math.round(policy.windowMs / 1000),
        max_ips: policy.maxIps,
        max_user_agents: policy.maxUserAgents,
      },
    };
  }

  /** This node's picture of the window (last write plus pending) crosses the limit of a token not flagged yet. */
  function wouldTripReuse(entry: Entry, nowMs: number): boolean {
    if (entry.flagged || (entry.ips.size === 0 && entry.userAgents.size === 0)) return false;
    const sinceMs = nowMs - policy.windowMs;
    return exceedsReuseLimits(distinct(entry.ips, entry.windowIps, sinceMs), distinct(entry.userAgents, entry.windowUserAgents, sinceMs), policy);
  }

  function isDue(entry: Entry, nowMs: number): boolean {
    return entry.dirty && entry.writing === null && nowMs - entry.writtenAt >= resolutionMs;
  }

  return {
    /**
     * The hot path: remembers a successful use; writes only when due (or when reuse just tripped).
     * `row`: the token row's usage columns, when the caller has just read it with the token (a cache miss).
     */
    note(token: Token, context: UsageContext, now: Date, row?: UsageRow): void {
      const entry = entryFor(token, row);
      const ms = now.getTime();
      entry.dirty = true;
      entry.usedAt = Math.max(entry.usedAt, ms);
      const newIp = sight(entry, 'ips', entry.windowIps, normaliseIp(context.ip), ms);
      const newAgent = sight(entry, 'userAgents', entry.windowUserAgents, normaliseUserAgent(context.userAgent), ms);
      if (entry.writing !== null) return;
      if (ms - entry.writtenAt >= resolutionMs || ((newIp || newAgent) && wouldTripReuse(entry, ms))) write(entry, now);
    },

    /** Writes every token whose throttle has passed and that was used since; forgets idle ones. Then waits for the writes. */
    async flushDue(): Promise<void> {
      const now = clock.now();
      const ms = now.getTime();
      for (const [id, entry] of entries) {
        if (isDue(entry, ms)) write(entry, now);
        else if (!entry.dirty && entry.writing === null && ms - entry.writtenAt > Math.max(resolutionMs, policy.windowMs)) entries.delete(id);
        // Not used since a write a throttle period ago: its record is let go (read again at its next
        // write) instead of being kept as long as the entry, for the reuse window.
        else if (!entry.dirty && entry.writing === null && entry.record !== null && ms - entry.writtenAt >= resolutionMs) entry.record = null;
      }
      await this.idle();
    },

    /** Writes everything not written yet, throttle or not (shutdown). */
    async flushAll(): Promise<void> {
      const now = clock.now();
      for (const entry of entries.values()) if (entry.dirty && entry.writing === null) write(entry, now);
      await this.idle();
    },

    /** How many tokens are tracked now (at most maxEntries; tests). */
    tracked(): number {
      return entries.size;
    },

    /** Resolves when no write is in flight (tests; shutdown). */
    async idle(): Promise<void> {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },

    /** Starts the periodic flush (`serve`); returns a stop function that flushes what is left. */
    start(intervalMs: number): () => Promise<void> {
      const timer = setInterval(() => void this.flushDue().catch(onError), intervalMs);
      timer.unref();
      return async () => {
        clearInterval(timer);
        await this.flushAll().catch(onError);
      };
    },
  };
}
