/**
 * Issue 13: on PostgreSQL the audit log had two indexes on `group_path` — (group_path, id), which a
 * prefix LIKE cannot use outside the C locale, and (group_path text_pattern_ops), which it can — and every
 * entry paid for both. One (group_path text_pattern_ops, id) serves a group Owner's `LIKE '/1/5/%'` and
 * equality alike. SQLite: its (group_path, id) index was written for every entry and never read — SQLite's
 * LIKE ignores case, and an index on a column of the default BINARY collation cannot serve it — so it
 * goes. Frozen once released: never edit, add a new migration.
 */
import { sql, type Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

export function createAuditGroupPathIndex(traits: DialectTraits) {
  return {
    async up(db: Kysely<any>): Promise<void> {
      if (traits.name !== 'postgres') {
        await db.schema.dropIndex('audit_events_group_path').execute();
        return;
      }
      await sql`create index audit_events_group_path_ops on audit_events (group_path text_pattern_ops, id)`.execute(db);
      await db.schema.dropIndex('audit_events_group_path_prefix').execute();
      await db.schema.dropIndex('audit_events_group_path').execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.createIndex('audit_events_group_path').on('audit_events').columns(['group_path', 'id']).execute();
      if (traits.name !== 'postgres') return;
      await sql`create index audit_events_group_path_prefix on audit_events (group_path text_pattern_ops)`.execute(db);
      await db.schema.dropIndex('audit_events_group_path_ops').execute();
    },
  };
}
