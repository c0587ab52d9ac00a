/**
 * The audit writer: requests and token events are queued in memory and written in batches off the
 * request path — every `flushMs`, as soon as a batch is full, and on close (App.close() flushes before
 * the store closes, so a clean stop loses nothing). Enrichment (token digest → `sha256:` hash, the
 * token's project/group, the actor behind a username) happens at flush time, a few queries per batch.
 *
 * The queue is bounded (`maxQueue`). When it is full, `record` returns a promise that settles once a
 * flush has made room: callers await it (the HTTP hook runs after the response is sent, so clients do
 * not wait; the request's lifecycle does). Only when the database refuses writes and the queue is
 * still full is an entry dropped: counted (`onDropped` → latchkey_audit_events_total{outcome="dropped"})
 * and reported through `onError`, never silently.
 */
import type { ActorType, UnchainedRow } from './audit-entry.js';
import { tokenHashOfDigest } from './audit-entry.js';
import type { AuditStore } from './audit-store.js';

/** What the HTTP hook and the token-event sink hand over; never a secret. */
export interface AuditRecord {
  readonly at: string;
  /** `http.request` or a token event name. */
  readonly event: string;
  readonly actor?: { readonly type: ActorType; readonly id: number | null; readonly name: string } | null;
  /** Token events name their actor by username (`data.by`); resolved to an id at flush. */
  readonly actorUsername?: string | null;
  readonly tokenId?: number | null;
  readonly method?: string | null;
  readonly route?: string | null;
  readonly path?: string | null;
  readonly status?: number | null;
  readonly userAgent?: string | null;
  readonly ip?: string | null;
  readonly data?: Readonly<Record<string, unknown>>;
}

export interface AuditWriterDeps {
  store: AuditStore;
  /** Most entries held in memory (LATCHKEY_AUDIT_QUEUE_MAX). */
  maxQueue: number;
  /** How often the queue is written (LATCHKEY_AUDIT_FLUSH_MS); 0 = only when full and on close. */
  flushMs: number;
  onError?: (error: unknown) => void;
  onWritten?: (count: number) => void;
  onDropped?: (count: number) => void;
}

/** Rows per append transaction. */
const BATCH = 500;

export type AuditWriter = ReturnType<typeof createAuditWriter>;

export function createAuditWriter({ store, maxQueue, flushMs, onError = () => {}, onWritten = () => {}, onDropped = () => {} }: AuditWriterDeps) {
  const queue: AuditRecord[] = [];
  let inFlight: Promise<void> | null = null;
  const timer = flushMs > 0 ? setInterval(() => void flush().catch(onError), flushMs) : null;
  timer?.unref();

  async function toRows(batch: readonly AuditRecord[]): Promise<UnchainedRow[]> {
    const tokenIds = [...new Set(batch.map((r) => r.tokenId).filter((id): id is number => typeof id === 'number'))];
    const tokens = await store.tokenInfo(tokenIds);
    const projectGroups = await store.projectGroups([...new Set([...tokens.values()].map((t) => t.projectId).filter((id): id is number => id !== null))]);
    const groupOf = (t: { projectId: number | null; groupId: number | null; ownerGroupId: number | null }) =>
      t.projectId !== null ? (projectGroups.get(t.projectId) ?? null) : (t.groupId ?? t.ownerGroupId);
    const paths = await store.groupPaths([...new Set([...tokens.values()].map(groupOf).filter((id): id is number => id !== null))]);
    const users = await store.usersByName([...new Set(batch.map((r) => r.actorUsername).filter((n): n is string => typeof n === 'string'))]);
    return batch.map((r) => {
      const token = r.tokenId == null ? undefined : tokens.get(r.tokenId);
      const groupId = token ? groupOf(token) : null;
      const named = r.actorUsername ? users.get(r.actorUsername) : undefined;
      const actor = r.actor ?? (r.actorUsername ? { type: (named?.botKind ? 'bot' : 'user') as ActorType, id: named?.id ?? null, name: r.actorUsername } : null);
      return {
        created_at: r.at,
        event: r.event,
        actor_type: actor?.type ?? null,
        actor_id: actor?.id ?? null,
        actor_name: actor?.name ?? null,
        token_id: r.tokenId ?? null,
        token_hash: token ? tokenHashOfDigest(token.digest) : null,
        method: r.method ?? null,
        route: r.route ?? null,
        path: r.path ?? null,
        status: r.status ?? null,
        user_agent: r.userAgent ?? null,
        ip: r.ip ?? null,
        project_id: token?.projectId ?? null,
        group_id: token ? (token.groupId ?? token.ownerGroupId) : null,
        group_path: groupId === null ? null : (paths.get(groupId) ?? null),
        data: JSON.stringify(r.data ?? {}),
      };
    });
  }

  /** Writes everything queued so far (waits for a flush already running, then drains). */
  async function flush(): Promise<void> {
    while (inFlight) await inFlight.catch(() => {});
    if (queue.length === 0) return;
    inFlight = (async () => {
      while (queue.length > 0) {
        const batch = queue.slice(0, BATCH);
        await store.append(await toRows(batch));
        // Only now: a failed append leaves the batch queued for the next flush.
        queue.splice(0, batch.length);
        onWritten(batch.length);
      }
    })();
    try {
      await inFlight;
    } finally {
      inFlight = null;
    }
  }

  return {
    /** Queues one entry. Returns a promise only when the queue is full (await it: backpressure). */
    record(entry: AuditRecord): void | Promise<void> {
      if (queue.length < maxQueue) {
        queue.push(entry);
        if (queue.length >= BATCH && !inFlight) void flush().catch(onError);
        return;
      }
      return flush()
        .catch(onError)
        .then(() => {
          if (queue.length < maxQueue) queue.push(entry);
          else {
            onDropped(1);
            onError(new Error(`audit queue full (${maxQueue}) and the database refuses writes: entry dropped (${entry.event})`));
          }
        });
    },

    flush,

    /** Entries waiting to be written. */
    get pending(): number {
      return queue.length;
    },

    /** Stops the timer and writes what is queued (App.close() calls this before closing the store). */
    async close(): Promise<void> {
      if (timer) clearInterval(timer);
      try {
        await flush();
      } catch (e) {
        onDropped(queue.length);
        onError(new Error(`audit: ${queue.length} entries could not be written on close: ${(e as Error).message}`));
      }
    },
  };
}
