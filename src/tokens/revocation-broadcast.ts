/**
 * Revocation across nodes: the revocation feed of each node also sends every id it publishes to a
 * broadcast channel, and delivers every id the channel brings (from any node, itself included) to its
 * own subscribers, so a token revoked on node A drops out of node B's verify cache within milliseconds
 * instead of after the cache's TTL — and so do the tokens of a user blocked, unblocked or changed on A.
 *
 * Channels: PostgreSQL LISTEN/NOTIFY when the store is PostgreSQL (every node already shares it);
 * Redis pub/sub when the store is SQLite and REDIS_URL is set (several processes on one SQLite file on
 * one host). The TTL stays the fallback: a lost message makes an entry stale for at most `cacheMs`.
 * A dropped listening connection is re-established with backoff, and after every (re)subscription the
 * feed asks its subscribers to resync (drop everything cached), since ids sent meanwhile were missed.
 */
import pg from 'pg';
import { Redis } from 'ioredis';
import { sql, type Kysely } from 'kysely';
import { createLocalRevocationFeed, createRevocationListeners, type Revocation, type RevocationFeed } from './revocation-feed.js';

/** What a channel's listener is told. */
export interface RevocationHandlers {
  onRevocation(revocation: Revocation): void;
  onResync(): void;
}

/** How ids travel between nodes. */
export interface RevocationChannel {
  /** Tells every node, this one included. */
  send(revocation: Revocation): Promise<void>;
  /** Starts listening: `onRevocation` for every message received, `onResync` after every (re)subscription. */
  start(handlers: RevocationHandlers): void;
  /** Subscribed now: ids other nodes send arrive. */
  listening(): boolean;
  close(): Promise<void>;
}

export interface BroadcastRevocationFeed extends RevocationFeed {
  /** Ids from other nodes arrive now (always true for a single-node feed). */
  listening(): boolean;
  /** Waits for ids still being sent, then stops listening. */
  close(): Promise<void>;
}

/** Reconnection backoff of a listening connection: doubles from `minMs` up to `maxMs`. */
export interface Backoff {
  readonly minMs: number;
  readonly maxMs: number;
}
const DEFAULT_BACKOFF: Backoff = { minMs: 100, maxMs: 5_000 };

/** The feed of a node that shares its store with no other (SQLite without Redis). */
export function createSingleNodeRevocationFeed(): BroadcastRevocationFeed {
  return { ...createLocalRevocationFeed(), listening: () => true, close: async () => {} };
}

/** The PostgreSQL NOTIFY channel; a database is one namespace, so instances on other databases never hear it. */
export const POSTGRES_REVOCATION_CHANNEL = 'latchkey_revocations';

/**
 * A message as a payload: a token id alone (the format nodes of every version understand), a user id
 * after `user:` (a node that predates it ignores the message and relies on its TTL).
 */
export function encodeRevocation({ kind, id }: Revocation): string {
  return kind === 'token' ? String(id) : `user:${id}`;
}

/** The message a payload carries: a positive integer, optionally after `user:`; nothing else is acted upon. */
export function decodeRevocation(payload: string | undefined): Revocation | null {
  const m = payload === undefined ? null : /^(user:)?([1-9][0-9]{0,15})$/.exec(payload);
  if (!m) return null;
  const id = Number(m[2]);
  return Number.isSafeInteger(id) ? { kind: m[1] ? 'user' : 'token', id } : null;
}

/**
 * A feed that publishes locally at once (this node never waits for the round trip) and through
 * `channel` to the other nodes. Send failures go to `onError`; the TTL covers the ids they lose.
 */
export function createBroadcastRevocationFeed(channel: RevocationChannel, onError: (e: unknown) => void): BroadcastRevocationFeed {
  const listeners = createRevocationListeners();
  const sending = new Set<Promise<void>>();
  channel.start({ onRevocation: listeners.deliver, onResync: listeners.resync });
  function publish(revocation: Revocation): void {
    listeners.deliver(revocation);
    const p: Promise<void> = channel
      .send(revocation)
      .catch(onError)
      .finally(() => sending.delete(p));
    sending.add(p);
  }
  return {
    publish: (id) => publish({ kind: 'token', id }),
    publishUser: (id) => publish({ kind: 'user', id }),
    subscribe: listeners.subscribe,
    subscribeUsers: listeners.subscribeUsers,
    onResync: listeners.onResync,
    listening: () => channel.listening(),
    async close() {
      await Promise.all([...sending]);
      await channel.close();
    },
  };
}

export interface PostgresChannelOptions {
  /** Where the listening connection goes (the store's URL). */
  url: string;
  /** The store's pool: NOTIFY goes through it. */
  db: Kysely<any>;
  onError(e: unknown): void;
  backoff?: Backoff;
}

/** LISTEN on one dedicated connection (a pooled one would be handed to other work); NOTIFY through the pool. */
export function createPostgresRevocationChannel({ url, db, onError, backoff = DEFAULT_BACKOFF }: PostgresChannelOptions): RevocationChannel {
  let closed = false;
  let current: pg.Client | null = null;
  let delay = backoff.minMs;
  let timer: NodeJS.Timeout | null = null;
  let subscribed = false;

  function listen(handlers: RevocationHandlers): void {
    if (closed) return;
    const client = new pg.Client({ connectionString: url, application_name: 'latchkey-revocations', keepAlive: true, keepAliveInitialDelayMillis: 10_000, connectionTimeoutMillis: 5_000 });
    current = client;
    let lost = false;
    const reconnect = (e?: unknown) => {
      if (lost) return;
      lost = true;
      subscribed = false;
      if (e !== undefined && !closed) onError(e);
      if (current === client) current = null;
      client.end().catch(() => {});
      if (closed) return;
      timer = setTimeout(() => listen(handlers), delay);
      timer.unref();
      delay = Math.min(delay * 2, backoff.maxMs);
    };
    client.on('notification', (message) => {
      if (message.channel !== POSTGRES_REVOCATION_CHANNEL) return;
      const revocation = decodeRevocation(message.payload);
      if (revocation !== null) handlers.onRevocation(revocation);
    });
    client.on('error', reconnect);
    client.on('end', () => reconnect());
    client
      .connect()
      .then(() => client.query(`LISTEN ${POSTGRES_REVOCATION_CHANNEL}`))
      .then(() => {
        if (lost) return;
        subscribed = true;
        delay = backoff.minMs;
        // Ids sent before this LISTEN (while disconnected, or before the first) never arrive.
        handlers.onResync();
      }, reconnect);
  }

  return {
    async send(revocation) {
      await sql`select pg_notify(${POSTGRES_REVOCATION_CHANNEL}, ${encodeRevocation(revocation)})`.execute(db);
    },
    start: listen,
    listening: () => subscribed,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      const client = current;
      current = null;
      await client?.end().catch(() => {});
    },
  };
}

export interface RedisChannelOptions {
  url: string;
  /** The pub/sub channel (LATCHKEY_REDIS_KEY_PREFIX + `revocations`). */
  channel: string;
  onError(e: unknown): void;
}

/**
 * Redis pub/sub: one subscriber connection (ioredis reconnects by itself; each time it is ready it
 * subscribes and resyncs) and one publishing connection that never queues while disconnected, so a
 * revoke never waits on Redis.
 */
export function createRedisRevocationChannel({ url, channel, onError }: RedisChannelOptions): RevocationChannel {
  const publisher = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 1000, connectTimeout: 2000 });
  const subscriber = new Redis(url, { lazyConnect: true, autoResubscribe: false, connectionName: 'latchkey-revocations', connectTimeout: 2000, maxRetriesPerRequest: null });
  publisher.on('error', onError);
  subscriber.on('error', onError);
  let subscribed = false;
  subscriber.on('close', () => {
    subscribed = false;
  });
  return {
    async send(revocation) {
      if (publisher.status === 'wait') await publisher.connect();
      await publisher.publish(channel, encodeRevocation(revocation));
    },
    start(handlers) {
      subscriber.on('message', (from: string, payload: string) => {
        if (from !== channel) return;
        const revocation = decodeRevocation(payload);
        if (revocation !== null) handlers.onRevocation(revocation);
      });
      // Every connection (the first and each reconnection) subscribes afresh, then resyncs: ids
      // published while it was down were not heard.
      subscriber.on('ready', () => {
        subscriber.subscribe(channel).then(() => {
          subscribed = true;
          handlers.onResync();
        }, onError);
      });
      subscriber.connect().catch(onError);
    },
    listening: () => subscribed,
    async close() {
      for (const connection of [publisher, subscriber]) {
        if (connection.status === 'ready') await connection.quit().catch(() => connection.disconnect());
        else connection.disconnect();
      }
    },
  };
}
