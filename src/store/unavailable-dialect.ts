/**
 * "The database cannot serve right now" as one error. A Kysely dialect wrapper: every connection,
 * query and transaction of the store passes through it, and a driver error that means the database
 * is unreachable, restarting, failing over or overloaded (`DialectTraits.isUnavailable`) comes out as
 * `unavailable()`, which the HTTP layer answers 503 and background jobs retry. Other errors (a
 * constraint, a bad statement) pass unchanged. Callers never learn the drivers' error shapes.
 */
import type { CompiledQuery, DatabaseConnection, Dialect, Driver, QueryResult, TransactionSettings } from 'kysely';
import { DomainError, unavailable } from '../kernel/errors.js';

type IsUnavailable = (error: unknown) => boolean;

/** `error` as the store reports it: `unavailable()` when it means the database cannot serve, else unchanged. */
export function translate(error: unknown, isUnavailable: IsUnavailable): unknown {
  return !(error instanceof DomainError) && isUnavailable(error) ? unavailable(error) : error;
}

async function guarded<T>(work: () => Promise<T>, isUnavailable: IsUnavailable): Promise<T> {
  try {
    return await work();
  } catch (e) {
    throw translate(e, isUnavailable);
  }
}

/** The connection as Kysely sees it; the driver below still receives its own connection object. */
class GuardedConnection implements DatabaseConnection {
  constructor(
    readonly inner: DatabaseConnection,
    private readonly isUnavailable: IsUnavailable,
  ) {}

  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    return guarded(() => this.inner.executeQuery<R>(query), this.isUnavailable);
  }

  async *streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    try {
      yield* this.inner.streamQuery<R>(query, chunkSize);
    } catch (e) {
      throw translate(e, this.isUnavailable);
    }
  }
}

const innerOf = (connection: DatabaseConnection) => (connection as GuardedConnection).inner;

class GuardedDriver implements Driver {
  constructor(
    private readonly inner: Driver,
    private readonly isUnavailable: IsUnavailable,
  ) {}

  init(): Promise<void> {
    return guarded(() => this.inner.init(), this.isUnavailable);
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    return new GuardedConnection(await guarded(() => this.inner.acquireConnection(), this.isUnavailable), this.isUnavailable);
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return guarded(() => this.inner.beginTransaction(innerOf(connection), settings), this.isUnavailable);
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return guarded(() => this.inner.commitTransaction(innerOf(connection)), this.isUnavailable);
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await this.inner.rollbackTransaction(innerOf(connection));
    } catch (e) {
      // A lost connection cannot roll back, and need not: the server discards a transaction with its
      // connection. Swallowing this keeps the error that made us roll back, which says what happened.
      if (!this.isUnavailable(e)) throw e;
    }
  }

  async savepoint(connection: DatabaseConnection, name: string, compile: Parameters<NonNullable<Driver['savepoint']>>[2]): Promise<void> {
    if (!this.inner.savepoint) throw new Error('The `savepoint` method is not supported by this driver');
    return guarded(() => this.inner.savepoint!(innerOf(connection), name, compile), this.isUnavailable);
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string, compile: Parameters<NonNullable<Driver['rollbackToSavepoint']>>[2]): Promise<void> {
    if (!this.inner.rollbackToSavepoint) throw new Error('The `rollbackToSavepoint` method is not supported by this driver');
    return guarded(() => this.inner.rollbackToSavepoint!(innerOf(connection), name, compile), this.isUnavailable);
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string, compile: Parameters<NonNullable<Driver['releaseSavepoint']>>[2]): Promise<void> {
    if (!this.inner.releaseSavepoint) throw new Error('The `releaseSavepoint` method is not supported by this driver');
    return guarded(() => this.inner.releaseSavepoint!(innerOf(connection), name, compile), this.isUnavailable);
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection(innerOf(connection));
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

/** `dialect` whose unavailability errors become `unavailable()`. */
export function guardUnavailable(dialect: Dialect, isUnavailable: IsUnavailable): Dialect {
  return {
    createDriver: () => new GuardedDriver(dialect.createDriver(), isUnavailable),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createAdapter: () => dialect.createAdapter(),
    createIntrospector: (db) => dialect.createIntrospector(db),
  };
}
