/**
 * A transaction whose commit does not wait for the disk, for writes whose loss in a power cut costs no
 * more than what the process already holds in memory: batches of audit request entries (queued for up
 * to LATCHKEY_AUDIT_FLUSH_MS before they are written) and of token usage (written behind its use anyway).
 *
 * - PostgreSQL: `synchronous_commit = off` for this transaction (SET LOCAL): the server answers the
 *   commit before its WAL is flushed; a server crash may lose the last few hundred milliseconds of such
 *   transactions, never leave one half-applied. Every other transaction waits for the flush.
 * - SQLite: a plain transaction. The store's connection commits every transaction this way
 *   (connect-database.ts: WAL with `synchronous = normal`): a commit survives a crash of the process, and
 *   an OS crash or power cut before the next checkpoint may lose the last whole transactions.
 */
import { sql, SqliteAdapter, type Kysely, type Transaction } from 'kysely';
import type { Database } from './database.js';

export async function inRelaxedTransaction<T>(db: Kysely<Database>, work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  if (db.getExecutor().adapter instanceof SqliteAdapter) return db.transaction().execute(work);
  return db.transaction().execute(async (trx) => {
    await sql`set local synchronous_commit = off`.execute(trx);
    return work(trx);
  });
}
