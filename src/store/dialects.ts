/**
 * Every difference between SQLite and PostgreSQL lives here, as data and small hooks, so the rest of
 * the store is written once.
 */
export type DialectName = 'sqlite' | 'postgres';

export interface DialectTraits {
  readonly name: DialectName;
  /** Column type for an auto-incrementing integer primary key. */
  readonly serialType: 'integer' | 'serial';
  /** Whether `.autoIncrement()` must be added to the primary key column. */
  readonly needsAutoIncrement: boolean;
  /** Error codes/messages that mean a UNIQUE constraint was violated. */
  isUniqueViolation(error: unknown): boolean;
  /**
   * The error means the database cannot serve now (unreachable, restarting, failing over, locked,
   * out of resources), not that the statement was wrong: worth a 503 and a retry later.
   */
  isUnavailable(error: unknown): boolean;
}

/** Socket errors of a connection that cannot be made or was lost. */
const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);

/**
 * What node-postgres says when a connection is gone or cannot be had (it has no codes for these):
 * the server closed it, the pool's connect timeout passed, a broken client was used, the pool ended.
 */
const PG_CONNECTION_MESSAGES = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed|Cannot use a pool after calling end|Query read timeout)|is not currently accepting connections/;

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

export const sqliteTraits: DialectTraits = {
  name: 'sqlite',
  serialType: 'integer',
  needsAutoIncrement: true,
  isUniqueViolation: (e) => (e as { code?: string })?.code === 'SQLITE_CONSTRAINT_UNIQUE',
  // Busy beyond busy_timeout or locked by another process, an I/O error, a full disk, a file that
  // cannot be opened, or a connection already closed (shutdown).
  isUnavailable: (e) =>
    /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY)/.test(errorCode(e)) || (e instanceof TypeError && e.message === 'The database connection is not open'),
};

export const postgresTraits: DialectTraits = {
  name: 'postgres',
  serialType: 'serial',
  needsAutoIncrement: false,
  isUniqueViolation: (e) => (e as { code?: string })?.code === '23505',
  // SQLSTATE class 08 (connection exception), 53 (insufficient resources: too many connections, disk
  // full, out of memory), 57P01-57P03 (terminated by an administrator, a crash, or starting up).
  isUnavailable: (e) => {
    const code = errorCode(e);
    return code.startsWith('08') || code.startsWith('53') || /^57P0[1-3]$/.test(code) || NETWORK_ERRORS.has(code) || (e instanceof Error && PG_CONNECTION_MESSAGES.test(e.message));
  },
};
