/**
 * The audit writer: request entries are queued in memory and written in chained batches off the
 * request path — every `flushMs`, as soon as a batch is full, and on close (App.close() flushes before
 * the store closes, so a clean stop loses nothing). On the request path an entry costs an array push
 * of what the request already has: redaction of the path and user agent, the token's `sha256:` hash,
 * its project/group, the actor behind a username, hashing and chaining all happen at flush, a few
 * queries per batch — here, or in a worker thread with LATCHKEY_AUDIT_WORKER=on (audit-worker-appender.ts;
 * the `AuditAppender` port). (Token events do not come through here: they are written with their change,
 * through the outbox, src/events/event-relay.ts; the relay writes the entries queued here before its
 * events, in its own transaction: `claim`.)
 *
 * Backpressure, fair and lossless while the database accepts writes: `admit()` (called before a request
 * is handled) lets a request through at once while fewer than `maxQueue` entries wait and nobody else is
 * waiting; otherwise the request waits in line (FIFO, so a waiting request never loses its place to
 * new ones) until a write makes room. The queue may exceed `maxQueue` by the requests already admitted,
 * never more, and no entry is dropped for want of room.
 *
 * When the database refuses writes (`failing`, from a failed write until one succeeds): requests are not
 * held; the failed batch stays queued and is retried every `flushMs`; only once the queue is full is an
 * entry dropped — counted (`onDropped`) and summarised in one log line per `reportMs`, never one per
 * entry. With `required` (LATCHKEY_AUDIT_REQUIRED) requests are refused instead while failing (the HTTP
 * hook answers 503), and entries are written as soon as they arrive, so a failure is seen at once.
 */
import type { ActorType, UnchainedRow } from './audit-entry.js';
import type { AuditStore } from './audit-store.js';
import { redactPath, redactTokens } from '../tokens/token-redaction.js';

/** What the HTTP hook (and the token-event sink of the outbox relay) hands over; never a secret. */
export interface AuditRecord {
  readonly at: string;
  /** `http.request` or a token event name. */
  readonly event: string;
  readonly actor?: { readonly type: ActorType; readonly id: number | null; readonly name: string } | null;
  /** Token events name their actor by username (`data.by`); resolved to an id at flush. */
  readonly actorUsername?: string | null;
  readonly tokenId?: number | null;
  /** The group an entry without a token belongs to (a credential inventory change): filed under it as a token's entry is under its group. */
  readonly groupId?: number | null;
  readonly method?: string | null;
  readonly route?: string | null;
  /** The request's path as received (no query string): token values in it are redacted at flush. */
  readonly path?: string | null;
  readonly status?: number | null;
  /** As received: token values in it are redacted at flush. */
  readonly userAgent?: string | null;
  readonly ip?: string | null;
  readonly data?: Readonly<Record<string, unknown>>;
}

/**
 * Where a batch goes to be enriched, chained and committed. In-thread (the default): `enrichRecords` and
 * `store.append` on this thread's connection. audit-worker-appender.ts does the same in a worker thread
 * with its own connection, so the hashing, the multi-row INSERT and the commit leave the thread that
 * serves requests. A rejection leaves the batch queued (the writer's failing path).
 */
export interface AuditAppender {
  append(batch: readonly AuditRecord[]): Promise<void>;
  /** Called once by the writer's close(), after its last write. */
  close(): Promise<void>;
}

/**
 * Today's work on the calling thread: look-ups, rows, one chained append transaction. `durable`
 * (LATCHKEY_AUDIT_REQUIRED): each commit waits for the disk; otherwise it does not (relaxed-commit.ts) —
 * a power cut may lose the last batches written, as a crash loses the entries still queued.
 */
export function inThreadAppender(store: AuditStore, { durable = false }: { durable?: boolean } = {}): AuditAppender {
  return {
    async append(batch) {
      await store.append(await enrichRecords(store, batch), { relaxed: !durable });
    },
    async close() {},
  };
}

export interface AuditWriterDeps {
  store: AuditStore;
  /** Who writes a batch; default `inThreadAppender(store)`. */
  appender?: AuditAppender;
  /** Entries held in memory before new requests wait (LATCHKEY_AUDIT_QUEUE_MAX). */
  maxQueue: number;
  /** How often the queue is written (LATCHKEY_AUDIT_FLUSH_MS); 0 = only when a batch is full and on close. */
  flushMs: number;
  /** LATCHKEY_AUDIT_REQUIRED: refuse requests while entries cannot be written (see `refusing`). */
  required?: boolean;
  /** Failures, summarised: at most one line per `reportMs` while the database refuses writes. */
  onError?: (error: unknown) => void;
  onWritten?: (count: number) => void;
  onDropped?: (count: number) => void;
  /** Least time between two reports of a continuing failure (default 10 s). */
  reportMs?: number;
}

/** Rows per append transaction. */
const BATCH = 500;
/** Longest path and user agent recorded (after redaction). */
const MAX_TEXT = 1024;

/**
 * Any token value in it (by format and checksum) replaced — before clipping, which could cut one in half
 * and hide it from the check — then clipped: a pasted token is never recorded.
 */
function clip(text: string | null | undefined, redact: (text: string) => string): string | null {
  if (text === undefined || text === null) return null;
  const redacted = redact(text);
  return redacted.length > MAX_TEXT ? redacted.slice(0, MAX_TEXT) : redacted;
}

/** Turns records into rows: redaction, token hash and namespace, actor ids — a few queries for a whole batch. */
export async function enrichRecords(store: Pick<AuditStore, 'tokenInfo' | 'projectGroups' | 'groupPaths' | 'usersByName'>, batch: readonly AuditRecord[]): Promise<UnchainedRow[]> {
  const tokenIds = [...new Set(batch.map((r) => r.tokenId).filter((id): id is number => typeof id === 'number'))];
  const tokens = await store.tokenInfo(tokenIds);
  const projectGroups = await store.projectGroups([...new Set([...tokens.values()].map((t) => t.projectId).filter((id): id is number => id !== null))]);
  const groupOf = (t: { projectId: number | null; groupId: number | null; ownerGroupId: number | null }) =>
    t.projectId !== null ? (projectGroups.get(t.projectId) ?? null) : (t.groupId ?? t.ownerGroupId);
  const groupIds = [...[...tokens.values()].map(groupOf), ...batch.map((r) => r.groupId ?? null)];
  const paths = await store.groupPaths([...new Set(groupIds.filter((id): id is number => id !== null))]);
  const users = await store.usersByName([...new Set(batch.map((r) => r.actorUsername).filter((n): n is string => typeof n === 'string'))]);
  // Once per token, path and user agent of the batch, not per entry: a batch repeats them.
  const redactedPaths = new Map<string, string | null>();
  const agents = new Map<string, string | null>();
  const once = (memo: Map<string, string | null>, text: string | null | undefined, redact: (text: string) => string) => {
    if (text === undefined || text === null) return null;
    let out = memo.get(text);
    if (out === undefined) memo.set(text, (out = clip(text, redact)));
    return out;
  };
  return batch.map((r) => {
    const token = r.tokenId == null ? undefined : tokens.get(r.tokenId);
    const groupId = token ? groupOf(token) : (r.groupId ?? null);
    const named = r.actorUsername ? users.get(r.actorUsername) : undefined;
    const actor = r.actor ?? (r.actorUsername ? { type: (named?.botKind ? 'bot' : 'user') as ActorType, id: named?.id ?? null, name: r.actorUsername } : null);
    return {
      created_at: r.at,
      event: r.event,
      actor_type: actor?.type ?? null,
      actor_id: actor?.id ?? null,
      actor_name: actor?.name ?? null,
      token_id: r.tokenId ?? null,
      token_hash: token ? token.tokenHash : null,
      method: r.method ?? null,
      route: r.route ?? null,
      path: once(redactedPaths, r.path, redactPath),
      status: r.status ?? null,
      user_agent: once(agents, r.userAgent, redactTokens),
      ip: r.ip ?? null,
      project_id: token?.projectId ?? null,
      group_id: token ? (token.groupId ?? token.ownerGroupId) : (r.groupId ?? null),
      group_path: groupId === null ? null : (paths.get(groupId) ?? null),
      data: JSON.stringify(r.data ?? {}),
    };
  });
}

export type AuditWriter = ReturnType<typeof createAuditWriter>;

/** Queued entries the outbox relay writes in its transaction (AuditWriter.claim). */
export interface AuditClaim {
  readonly records: readonly AuditRecord[];
  /** Once, after the relay's transaction: committed (the entries leave the queue) or not (they stay). */
  settle(committed: boolean): void;
}

export function createAuditWriter({ store, appender = inThreadAppender(store), maxQueue, flushMs, required = false, onError = () => {}, onWritten = () => {}, onDropped = () => {}, reportMs = 10_000 }: AuditWriterDeps) {
  const queue: AuditRecord[] = [];
  /** A write starts as soon as this many entries wait. */
  const fullBatch = Math.min(BATCH, maxQueue);
  /** Requests waiting for room, in arrival order. */
  const waiters: (() => void)[] = [];
  let inFlight: Promise<void> | null = null;
  /** Entries ever queued and ever written (a flush writes up to what was queued when it was called). */
  let enqueued = 0;
  let written = 0;
  let soon = false;
  /** Since the last failed write, until one succeeds. */
  let failing = false;
  let lastError: Error | null = null;
  let droppedUnreported = 0;
  let droppedDuringOutage = 0;
  let lastReportAt = Number.NEGATIVE_INFINITY;
  const timer = flushMs > 0 ? setInterval(() => void flush().catch(() => {}), flushMs) : null;
  timer?.unref();

  /** Lets waiting requests in, first come first served, while there is room. */
  function admitWaiting(): void {
    let room = failing ? waiters.length : maxQueue - queue.length;
    while (room-- > 0 && waiters.length > 0) waiters.shift()!();
  }

  function report(now: number, force = false): void {
    if (!force && now - lastReportAt < reportMs) return;
    lastReportAt = now;
    const dropped = droppedUnreported;
    droppedUnreported = 0;
    const reason = lastError?.message ?? 'unknown error';
    onError(new Error(`audit log cannot be written (${reason}): ${queue.length} entries waiting${dropped > 0 ? `, ${dropped} dropped since the last report (queue full at ${maxQueue})` : ''}`));
  }

  function writeFailed(e: unknown): void {
    const first = !failing;
    failing = true;
    lastError = e as Error;
    // Requests waiting for room are let go (required: the hook refuses them) rather than held by an outage.
    admitWaiting();
    report(Date.now(), first);
  }

  function writeSucceeded(): void {
    if (failing) {
      failing = false;
      const dropped = droppedDuringOutage;
      droppedDuringOutage = 0;
      droppedUnreported = 0;
      onError(new Error(`audit log written again${dropped > 0 ? `; ${dropped} entries were dropped while it could not be` : ''}`));
    }
    admitWaiting();
  }

  /** One batch from the head of the queue (one at a time: callers go through `flush`). */
  async function writeBatch(): Promise<void> {
    const batch = queue.slice(0, BATCH);
    try {
      await appender.append(batch);
    } catch (e) {
      // The batch stays queued for the next flush.
      writeFailed(e);
      throw e;
    }
    queue.splice(0, batch.length);
    written += batch.length;
    onWritten(batch.length);
    writeSucceeded();
  }

  /**
   * Writes every entry queued before the call (not those that arrive meanwhile: under a steady stream a
   * flush still ends). Rejects when a write fails.
   */
  async function flush(): Promise<void> {
    const goal = enqueued;
    while (written < goal && queue.length > 0) {
      if (inFlight) {
        await inFlight;
        continue;
      }
      inFlight = writeBatch();
      try {
        await inFlight;
      } finally {
        inFlight = null;
      }
    }
    // Still full, or requests waiting for room: keep writing (the timer may be far off).
    if (!failing && !inFlight && (waiters.length > 0 || queue.length >= fullBatch)) void flush().catch(() => {});
  }

  /** `required`: write as soon as the event loop is free (group commit), so a failure is seen at once. */
  function flushSoon(): void {
    if (soon) return;
    soon = true;
    setImmediate(() => {
      soon = false;
      void flush().catch(() => {});
    });
  }

  return {
    /**
     * Called before a request is handled: undefined when it may go on at once, else a promise that
     * settles when it is its turn (FIFO). Never waits while the database refuses writes.
     */
    admit(): void | Promise<void> {
      if (failing || (queue.length < maxQueue && waiters.length === 0)) return;
      if (!inFlight) void flush().catch(() => {});
      return new Promise<void>((resolve) => waiters.push(resolve));
    },

    /** Whether `admit()` would let a request through at once (no side effect: the HTTP fast lane asks). */
    get admitsNow(): boolean {
      return failing || (queue.length < maxQueue && waiters.length === 0);
    },

    /** LATCHKEY_AUDIT_REQUIRED and entries cannot be written now: requests must be refused. */
    get refusing(): boolean {
      return required && failing;
    },

    /** Queues one entry: a push. Dropped (counted) only when the queue is full while writes fail. */
    record(entry: AuditRecord): void {
      if (failing && queue.length >= maxQueue) {
        droppedUnreported++;
        droppedDuringOutage++;
        onDropped(1);
        report(Date.now());
        return;
      }
      queue.push(entry);
      enqueued++;
      if (required) flushSoon();
      else if (queue.length >= fullBatch && !inFlight) void flush().catch(() => {});
    },

    flush,

    /**
     * For the outbox relay's audit sink: the entries queued now (up to a batch), handed over to be written
     * in the relay's own transaction ahead of its token events — one commit for both instead of a flush
     * and then the relay's, and the chain keeps the order things happened in. Waits for a write in flight;
     * from then until `settle` the writer writes nothing itself (its flushes wait). `settle(true)`: the
     * relay committed them, they leave the queue; `settle(false)`: they were not written and stay queued.
     * Null when nothing is queued.
     */
    async claim(): Promise<AuditClaim | null> {
      while (inFlight) await inFlight.catch(() => {});
      if (queue.length === 0) return null;
      const records = queue.slice(0, BATCH);
      let release!: () => void;
      inFlight = new Promise<void>((resolve) => (release = resolve));
      let settled = false;
      return {
        records,
        settle(committed) {
          if (settled) return;
          settled = true;
          if (committed) {
            queue.splice(0, records.length);
            written += records.length;
            onWritten(records.length);
            writeSucceeded();
          }
          inFlight = null;
          release();
        },
      };
    },

    /** Entries waiting to be written. */
    get pending(): number {
      return queue.length;
    },

    /** Requests waiting for room. */
    get waiting(): number {
      return waiters.length;
    },

    /** Stops the timer, writes what is queued, then closes the appender (App.close() calls this before closing the store). */
    async close(): Promise<void> {
      if (timer) clearInterval(timer);
      try {
        await flush();
      } catch (e) {
        onDropped(queue.length);
        onError(new Error(`audit: ${queue.length} entries could not be written on close: ${(e as Error).message}`));
      }
      admitWaiting();
      await appender.close().catch(onError);
    },
  };
}
