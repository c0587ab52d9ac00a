/**
 * OAuth2 applications (issue 17): GitLab's instance-wide OAuth applications. The client secret is kept
 * only as an HMAC digest; `uid` is the public client id. Frozen once released.
 */
import type { Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

export function createOauthApplications(traits: DialectTraits) {
  const id = (c: any) => (traits.needsAutoIncrement ? c.primaryKey().autoIncrement() : c.primaryKey());
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('oauth_applications')
        .addColumn('id', traits.serialType, id)
        .addColumn('uid', 'text', (c) => c.notNull().unique())
        .addColumn('name', 'text', (c) => c.notNull())
        // Whitespace-separated absolute URIs, as Doorkeeper keeps them; matched exactly.
        .addColumn('redirect_uri', 'text', (c) => c.notNull())
        // JSON array of scope names.
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('confidential', 'integer', (c) => c.notNull())
        .addColumn('secret_digest', 'text', (c) => c.notNull().unique())
        // null: an instance application (the Applications API); else the user who registered it.
        .addColumn('owner_id', 'integer', (c) => c.references('users.id'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.dropTable('oauth_applications').execute();
    },
  };
}
