/** Test helpers around the audit table. */
import { sql } from 'kysely';
import type { TestApp } from './test-app.js';

/** Makes INSERTs into audit_events fail (a trigger), as a full disk or a revoked grant would. */
export async function breakAuditTable(t: TestApp): Promise<() => Promise<void>> {
  const { db } = t.app.store;
  if (t.dialect === 'postgres') {
    await sql`create function lk_refuse_audit() returns trigger language plpgsql as $$ begin raise exception 'audit table unwritable'; end $$`.execute(db);
    await sql`create trigger lk_refuse_audit before insert on audit_events for each row execute function lk_refuse_audit()`.execute(db);
    return async () => {
      await sql`drop trigger lk_refuse_audit on audit_events`.execute(db);
      await sql`drop function lk_refuse_audit()`.execute(db);
    };
  }
  await sql`create trigger lk_refuse_audit before insert on audit_events begin select raise(abort, 'audit table unwritable'); end`.execute(db);
  return async () => void (await sql`drop trigger lk_refuse_audit`.execute(db));
}
