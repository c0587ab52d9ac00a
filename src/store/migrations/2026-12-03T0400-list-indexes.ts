/**
 * Indexes for the token lists at a million tokens (issue 13, item 3). Each holds only the listed
 * (not deleted) tokens, keyed so a page's ids are read from the index alone, in id order, at any
 * offset: every token of a kind (the admin deploy token list), a project's or group's tokens of a kind
 * (its deploy tokens, its access tokens), and every token but deploy and OAuth tokens (GitLab's
 * PersonalAccessToken: the admin list of personal access tokens). The predicates are literals so
 * SQLite's planner matches the queries (which name the kinds as literals) to them.
 * Frozen once released: never edit, add a new migration.
 */
import { sql, type Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

const INDEXES = ['tokens_listed_kind', 'tokens_listed_project', 'tokens_listed_group', 'tokens_listed_personal'];

export function createListIndexes(_traits: DialectTraits) {
  return {
    async up(db: Kysely<any>): Promise<void> {
      // deleted_at (and kind) trail the key only so that SQLite counts the index as covering: its planner
      // wants every column the query names in the index, even those the predicate already settles.
      await sql`create index tokens_listed_kind on tokens (kind, id, deleted_at) where deleted_at is null`.execute(db);
      await sql`create index tokens_listed_project on tokens (project_id, kind, id, deleted_at) where deleted_at is null and project_id is not null`.execute(db);
      await sql`create index tokens_listed_group on tokens (group_id, kind, id, deleted_at) where deleted_at is null and group_id is not null`.execute(db);
      await sql`create index tokens_listed_personal on tokens (id, kind, deleted_at) where deleted_at is null and kind not in ('deploy', 'oauth')`.execute(db);
    },
    async down(db: Kysely<any>): Promise<void> {
      for (const name of INDEXES) await db.schema.dropIndex(name).execute();
    },
  };
}
