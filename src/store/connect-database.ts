/**
 * One connection to the database a `DatabaseLocation` names, as every user of it needs it: SQLite with
 * WAL, foreign keys and a busy timeout, statements prepared once; PostgreSQL through a pool that fails
 * fast when the server does not answer; both behind the unavailable-dialect guard. openStore builds the
 * store on it; the audit worker thread (src/audit/audit-worker.ts) opens its own with the same settings.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import type { Database } from './database.js';
import { postgresTraits, sqliteTraits, type DialectTraits } from './dialects.js';
import { guardUnavailable, translate } from './unavailable-dialect.js';
import type { DirectRead } from './tokens.js';

export type DatabaseLocation = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string };

/** Longest wait for a PostgreSQL connection before the work fails as unavailable. */
const CONNECT_TIMEOUT_MS = 5_000;

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

/**
 * SQLite's reads past Kysely (tokens.ts DirectRead): run at once when the connection is free — no
 * transaction open on it (Kysely holds it from begin to commit) and no statement being stepped (better-
 * sqlite3 refuses then) — else null, and the caller goes through Kysely. Statements of their own, never
 * shared with Kysely's; errors as the store reports them (unavailable-dialect.ts).
 */
function directReader(sqlite: SqliteDatabase.Database, isUnavailable: (e: unknown) => boolean): DirectRead {
  const statements = new Map<string, SqliteDatabase.Statement>();
  return (text, parameters) => {
    if (!sqlite.open || sqlite.inTransaction) return null;
    let statement = statements.get(text);
    try {
      if (statement === undefined) statements.set(text, (statement = sqlite.prepare(text)));
      if (statement.busy) return null;
      return statement.all(...parameters);
    } catch (e) {
      if (e instanceof TypeError && /busy/i.test(e.message)) return null;
      throw translate(e, isUnavailable);
    }
  };
}

/**
 * `directRead`: SQLite only, for the store's hot reads (openStore passes it to the token store).
 * `applicationName`: how PostgreSQL lists the connections (pg_stat_activity), when they are a thread's own.
 */
export function connectDatabase(location: DatabaseLocation, { applicationName }: { applicationName?: string } = {}): { db: Kysely<Database>; traits: DialectTraits; directRead?: DirectRead } {
  if (location.kind === 'sqlite') {
    if (location.file !== ':memory:') mkdirSync(dirname(location.file), { recursive: true });
    const sqlite = new SqliteDatabase(location.file);
    sqlite.pragma('journal_mode = WAL');
    // Stated rather than inherited: better-sqlite3 opens a database already in WAL mode with `normal` but
    // a new file with `full` until it is reopened. With `normal` a commit survives a crash of the process;
    // an OS crash or a power cut before the next checkpoint may lose the last whole transactions
    // (README, "Durability"). A flush per commit would cost 3-6 ms on the thread that serves requests.
    sqlite.pragma('synchronous = normal');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    const db = new Kysely<Database>({ dialect: guardUnavailable(new SqliteDialect({ database: withStatementCache(sqlite) }), sqliteTraits.isUnavailable) });
    return { db, traits: sqliteTraits, directRead: directReader(sqlite, sqliteTraits.isUnavailable) };
  }
  // int8 (counts, sums) arrives as a string by default; ours stay far below 2^53.
  pg.types.setTypeParser(20, (v) => Number(v));
  const pool = new pg.Pool({
    connectionString: location.url,
    ...(applicationName ? { application_name: applicationName } : {}),
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
  const db = new Kysely<Database>({ dialect: guardUnavailable(new PostgresDialect({ pool }), postgresTraits.isUnavailable) });
  return { db, traits: postgresTraits };
}
