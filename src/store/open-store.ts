/**
 * Opens the database (SQLite by default, PostgreSQL for `postgres://` URLs), runs migrations, and
 * hands out the ports. `transaction(fn)` gives `fn` ports bound to one transaction: every multi-row
 * change goes through it.
 */
import { Migrator, sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from './database.js';
import type { DialectTraits } from './dialects.js';
import { migrationProvider } from './migrations/index.js';
import { createNamespaceStore } from './namespaces.js';
import { createTokenStore, type DirectRead } from './tokens.js';
import { createDeployTokenSecretStore } from './deploy-token-secrets.js';
import type { DeployTokenSecretStore } from '../tokens/deploy-token-secret-store.js';
import { createRotationJobStore } from './rotation-jobs.js';
import type { RotationJobStore } from '../rotation/rotation-job-store.js';
import type { NamespaceStore } from '../namespaces/namespace-store.js';
import type { TokenStore } from '../tokens/token-store.js';
import { conflict } from '../kernel/errors.js';
import { connectDatabase, type DatabaseLocation } from './connect-database.js';
import { createEventOutboxPort, type EventOutboxPort } from '../events/event-outbox.js';

export type { DatabaseLocation } from './connect-database.js';

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


/** `postgres://…` → PostgreSQL; `sqlite::memory:` / `sqlite:<file>` → SQLite; null → SQLite under dataDir. */
export function locateDatabase(databaseUrl: string | null, dataDir: string): DatabaseLocation {
  if (!databaseUrl) return { kind: 'sqlite', file: `${dataDir}/latchkey.sqlite` };
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) return { kind: 'postgres', url: databaseUrl };
  if (databaseUrl.startsWith('sqlite:')) return { kind: 'sqlite', file: databaseUrl.slice('sqlite:'.length) || ':memory:' };
  throw new Error(`DATABASE_URL must start with postgres:// or sqlite:, got a value starting with ${JSON.stringify(databaseUrl.slice(0, 11))}`);
}

function portsOf(db: Kysely<Database>, onPublished: () => void | Promise<void>, directRead?: DirectRead): Ports {
  return { namespaces: createNamespaceStore(db), tokens: createTokenStore(db, directRead), deployTokenSecrets: createDeployTokenSecretStore(db), rotationJobs: createRotationJobStore(db), events: createEventOutboxPort(db, onPublished) };
}

export async function openStore(location: DatabaseLocation): Promise<Store> {
  const { db, traits, directRead } = connectDatabase(location);

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
    ...portsOf(db, eventsCommitted, directRead),
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
