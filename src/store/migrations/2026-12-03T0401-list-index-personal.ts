/**
 * The admin list of personal access tokens (every kind but deploy and OAuth) reads its pages from
 * tokens_listed_personal_kinds, whose predicate is two `<>` terms: SQLite's planner matches each to the
 * identical term of the query, where at a million tokens it preferred a full scan to the index it
 * replaces (`kind not in (…)`). SQLite: the list indexes get planner statistics at once (a database
 * analyzed before they existed has none for them, and the planner then misjudges them).
 * Frozen once released: never edit, add a new migration.
 */
import { sql, type Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

export function createListIndexPersonal(traits: DialectTraits) {
  return {
    async up(db: Kysely<any>): Promise<void> {
      await sql`create index tokens_listed_personal_kinds on tokens (id, kind, deleted_at) where deleted_at is null and kind <> 'deploy' and kind <> 'oauth'`.execute(db);
      await db.schema.dropIndex('tokens_listed_personal').execute();
      if (traits.name === 'sqlite') {
        for (const index of ['tokens_listed_kind', 'tokens_listed_project', 'tokens_listed_group', 'tokens_listed_personal_kinds']) await sql.raw(`analyze ${index}`).execute(db);
      }
    },
    async down(db: Kysely<any>): Promise<void> {
      await sql`create index tokens_listed_personal on tokens (id, kind, deleted_at) where deleted_at is null and kind not in ('deploy', 'oauth')`.execute(db);
      await db.schema.dropIndex('tokens_listed_personal_kinds').execute();
    },
  };
}
