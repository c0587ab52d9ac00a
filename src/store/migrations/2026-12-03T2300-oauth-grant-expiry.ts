/**
 * Refresh grants with an expiry (issue 17 item 4): when LATCHKEY_OAUTH_REFRESH_TOKEN_LIFETIME_DAYS is set,
 * a grant's expiry is computed when it is issued and stored, so a later configuration change does not
 * rewrite history. Null: the grant never expires (GitLab's default).
 * Frozen once released: never edit, add a new migration.
 */
import type { Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

export function createOauthGrantExpiry(_traits: DialectTraits) {
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema.alterTable('oauth_grants').addColumn('expires_at', 'text').execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.alterTable('oauth_grants').dropColumn('expires_at').execute();
    },
  };
}
