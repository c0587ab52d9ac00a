/**
 * Issue 11, item 4: impersonation tokens. They are personal tokens an admin issued to act as a user
 * (GitLab's `personal_access_tokens.impersonation`), so they live in `tokens` with kind `personal` and
 * this flag. Frozen once released: never edit, add a new migration.
 */
import type { Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

export function createImpersonationTokens(_traits: DialectTraits) {
  return {
    async up(db: Kysely<any>): Promise<void> {
      // 0/1 like every flag of the schema; existing tokens are ordinary personal tokens.
      await db.schema.alterTable('tokens').addColumn('impersonation', 'integer', (c) => c.notNull().defaultTo(0)).execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.alterTable('tokens').dropColumn('impersonation').execute();
    },
  };
}
