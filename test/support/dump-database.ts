/**
 * Every row of every table, as text: for tests that prove a value (a token secret) is stored nowhere.
 * Lists the tables from the database itself, so tables added later are covered without editing this.
 */
import { sql } from 'kysely';
import type { Store } from '../../src/store/open-store.js';

export async function dumpDatabase(store: Store): Promise<Record<string, string>> {
  const tables =
    store.traits.name === 'sqlite'
      ? await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(store.db)
      : await sql<{ name: string }>`select tablename as name from pg_tables where schemaname = current_schema()`.execute(store.db);
  const out: Record<string, string> = {};
  for (const { name } of tables.rows) {
    const rows = await sql<Record<string, unknown>>`select * from ${sql.table(name)}`.execute(store.db);
    out[name] = JSON.stringify(rows.rows);
  }
  return out;
}
