/**
 * Opens the database (SQLite by default, PostgreSQL for `postgres://` URLs), runs migrations, and
 * hands out the ports. `transaction(fn)` gives `fn` ports bound to one transaction: every multi-row
 * change goes through it.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql, type Transaction } from 'kysely';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import type { Database } from './database.js';
import { postgresTraits, sqliteTraits, type DialectTraits } from './dialects.js';
import { migrationProvider } from './migrations/index.js';
import { createNamespaceStore } from './namespaces.js';
import { createTokenStore } from './tokens.js';
import { createDeployTokenSecretStore } from './deploy-token-secrets.js';
import type { DeployTokenSecretStore } from '../tokens/deploy-token-secret-store.js';
import { createRotationJobStore } from './rotation-jobs.js';
import type { RotationJobStore } from '../rotation/rotation-job-store.js';
import type { NamespaceStore } from '../namespaces/namespace-store.js';
import type { TokenStore } from '../tokens/token-store.js';
import { conflict } from '../kernel/errors.js';
import { guardUnavailable } from './unavailable-dialect.js';
import { createEventOutboxPort, type EventOutboxPort } from '../events/event-outbox.js';

/** Longest wait for a PostgreSQL connection before the work fails as unavailable. */
const CONNECT_TIMEOUT_MS = 5_000;

export interface Ports {
  readonly namespaces: NamespaceStore;
  readonly tokens: TokenStore;
  readonly deployTokenSecrets: DeployTokenSecretStore;
  /** Rotation jobs (issue 16): a rotation of a Latchkey token commits with the job's record of it. */
  readonly rotationJobs: RotationJobStore;
  /**
   * The transactional outbox of token events: published in a transaction, an event commits with the
   * change or not at all (src/events/event-outbox.ts). Outside one, it commits on its own.
   */
  readonly events: EventOutboxPort;
}

export interface Store extends Ports {
  readonly traits: DialectTraits;
  /** Where it lives (the revocation broadcast opens its own listening connection to a PostgreSQL store). */
  readonly location: DatabaseLocation;
  /**
   * Runs `fn` in one transaction; a thrown error rolls every write back. Nested calls join the outer one.
   * When `fn` published token events, the outbox relay runs after the commit and before this resolves.
   */
  transaction<T>(fn: (ports: Ports) => Promise<T>): Promise<T>;
  /**
   * What runs after a commit that published token events (the outbox relay, wired by app.ts); the
   * committer waits for it. It must not throw: events it could not deliver stay in the outbox.
   */
  afterEventsCommitted(listener: () => Promise<void>): void;
  migrate(): Promise<string[]>;
  ping(): Promise<void>;
  close(): Promise<void>;
  /** The raw Kysely handle, for migrations tests and maintenance commands only. */
  readonly db: Kysely<Database>;
}

export type DatabaseLocation = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string };

/** `postgres://…` → PostgreSQL; `sqlite::memory:` / `sqlite:<file>` → SQLite; null → SQLite under dataDir. */
export function locateDatabase(databaseUrl: string | null, dataDir: string): DatabaseLocation {
  if (!databaseUrl) return { kind: 'sqlite', file: `${dataDir}/latchkey.sqlite` };
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) return { kind: 'postgres', url: databaseUrl };
  if (databaseUrl.startsWith('sqlite:')) return { kind: 'sqlite', file: databaseUrl.slice('sqlite:'.length) || ':memory:' };
  throw new Error(`DATABASE_URL must start with postgres:// or sqlite:, got a value starting with ${JSON.stringify(databaseUrl.slice(0, 11))}`);
}

function portsOf(db: Kysely<Database>, onPublished: () => void | Promise<void>): Ports {
  return { namespaces: createNamespaceStore(db), tokens: createTokenStore(db), deployTokenSecrets: createDeployTokenSecretStore(db), rotationJobs: createRotationJobStore(db), events: createEventOutboxPort(db, onPublished) };
}

/** Distinct SQL texts whose prepared statements are kept (the queries are a fixed set; `in (…)` lists vary). */
const STATEMENTS_KEPT = 1000;

/**
 * better-sqlite3 as Kysely sees it, each SQL text prepared once: Kysely prepares a statement for every
 * query, which costs as much as running a point look-up. Kysely runs one query at a time on its single
 * SQLite connection (a stream holds it to the end), so a statement is never used by two at once.
 */
function withStatementCache(sqlite: SqliteDatabase.Database): { close(): void; prepare(sql: string): SqliteDatabase.Statement } {
  const statements = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(text) {
      let statement = statements.get(text);
      if (statement === undefined) {
        statement = sqlite.prepare(text);
        if (statements.size >= STATEMENTS_KEPT) statements.delete(statements.keys().next().value!);
        statements.set(text, statement);
      }
      return statement;
    },
  };
}

export async function openStore(location: DatabaseLocation): Promise<Store> {
  let db: Kysely<Database>;
  let traits: DialectTraits;
  if (location.kind === 'sqlite') {
    if (location.file !== ':memory:') mkdirSync(dirname(location.file), { recursive: true });
    const sqlite = new SqliteDatabase(location.file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    db = new Kysely<Database>({ dialect: guardUnavailable(new SqliteDialect({ database: withStatementCache(sqlite) }), sqliteTraits.isUnavailable) });
    traits = sqliteTraits;
  } else {
    // int8 (counts, sums) arrives as a string by default; ours stay far below 2^53.
    pg.types.setTypeParser(20, (v) => Number(v));
    const pool = new pg.Pool({
      connectionString: location.url,
      max: 10,
      // Waiting for a connection (a new one, or a free one from a busy pool) fails after this, so a
      // request never hangs on a database that does not answer: it gets a 503.
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      // Detects a peer that vanished without closing (a failover behind a virtual IP, a dead host).
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    // A connection the server closes (restart, failover, pg_terminate_backend) must not crash the
    // process. pg emits 'error' on the pool for idle connections, and on the client itself for one
    // that is checked out — busy in a request or a transaction — where nothing listens by default and
    // Node would throw. The query in flight fails on its own (503 via unavailable-dialect.ts), and the
    // pool drops the broken client when it is released and opens a fresh one on the next query.
    pool.on('error', () => {});
    pool.on('connect', (client) => client.on('error', () => {}));
    db = new Kysely<Database>({ dialect: guardUnavailable(new PostgresDialect({ pool }), postgresTraits.isUnavailable) });
    traits = postgresTraits;
  }

  const wrapUnique = async <T>(p: Promise<T>): Promise<T> => {
    try {
      return await p;
    } catch (e) {
      if (traits.isUniqueViolation(e)) throw conflict('Record already exists', 'ALREADY_EXISTS');
      throw e;
    }
  };

  const listeners: (() => Promise<void>)[] = [];
  const eventsCommitted = async () => {
    for (const listener of listeners) await listener();
  };

  const store: Store = {
    // Outside a transaction an event commits on its own insert: relay it at once.
    ...portsOf(db, eventsCommitted),
    traits,
    location,
    db,
    async transaction(fn) {
      let published = false;
      const result = await wrapUnique(db.transaction().execute((trx: Transaction<Database>) => fn(portsOf(trx, () => void (published = true)))));
      if (published) await eventsCommitted();
      return result;
    },
    afterEventsCommitted(listener) {
      listeners.push(listener);
    },
    async migrate() {
      // Unordered: migrations written in parallel land in any order; each is independent of its unlanded siblings.
      const migrator = new Migrator({ db, provider: migrationProvider(traits), allowUnorderedMigrations: true });
      const { error, results } = await migrator.migrateToLatest();
      if (error) throw error;
      return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
    },
    async ping() {
      await sql`select 1`.execute(db);
    },
    close: () => db.destroy(),
  };
  return store;
}
