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
}

export const sqliteTraits: DialectTraits = {
  name: 'sqlite',
  serialType: 'integer',
  needsAutoIncrement: true,
  isUniqueViolation: (e) => (e as { code?: string })?.code === 'SQLITE_CONSTRAINT_UNIQUE',
};

export const postgresTraits: DialectTraits = {
  name: 'postgres',
  serialType: 'serial',
  needsAutoIncrement: false,
  isUniqueViolation: (e) => (e as { code?: string })?.code === '23505',
};
