/**
 * OAuth2 grants (issue 17): authorization codes, grants (one per authorisation a user gave an
 * application), rotating refresh tokens, and the link from an OAuth access token (a `tokens` row of
 * kind `oauth`) to its grant. Access tokens expire within the day, so tokens get `valid_until`, an
 * instant. Codes and refresh tokens are stored only as HMAC digests. Frozen once released.
 */
import type { Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

export function createOauthGrants(traits: DialectTraits) {
  const id = (c: any) => (traits.needsAutoIncrement ? c.primaryKey().autoIncrement() : c.primaryKey());
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema.alterTable('tokens').addColumn('valid_until', 'text').execute();
      await db.schema
        .createTable('oauth_grants')
        .addColumn('id', traits.serialType, id)
        .addColumn('application_id', 'integer', (c) => c.notNull().references('oauth_applications.id'))
        .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id'))
        .addColumn('scopes', 'text', (c) => c.notNull())
        // `authorization_code` or `device_code`.
        .addColumn('flow', 'text', (c) => c.notNull())
        .addColumn('nonce', 'text')
        .addColumn('auth_time', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'text')
        // `revoked` (user or client), `code_reuse`, `refresh_reuse`, `application_deleted`.
        .addColumn('revoke_reason', 'text')
        .execute();
      await db.schema.createIndex('oauth_grants_user_id').on('oauth_grants').columns(['user_id', 'id']).execute();
      await db.schema.createIndex('oauth_grants_application_id').on('oauth_grants').column('application_id').execute();
      await db.schema
        .createTable('oauth_codes')
        .addColumn('id', traits.serialType, id)
        .addColumn('digest', 'text', (c) => c.notNull().unique())
        .addColumn('application_id', 'integer', (c) => c.notNull().references('oauth_applications.id'))
        .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id'))
        .addColumn('redirect_uri', 'text', (c) => c.notNull())
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('code_challenge', 'text')
        .addColumn('code_challenge_method', 'text')
        .addColumn('nonce', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('used_at', 'text')
        // The grant its redemption created: a second redemption revokes it.
        .addColumn('grant_id', 'integer', (c) => c.references('oauth_grants.id'))
        .execute();
      await db.schema
        .createTable('oauth_refresh_tokens')
        .addColumn('id', traits.serialType, id)
        .addColumn('digest', 'text', (c) => c.notNull().unique())
        .addColumn('grant_id', 'integer', (c) => c.notNull().references('oauth_grants.id'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        // Set when it was exchanged (rotation): presenting it again revokes the grant.
        .addColumn('used_at', 'text')
        .execute();
      await db.schema.createIndex('oauth_refresh_tokens_grant_id').on('oauth_refresh_tokens').column('grant_id').execute();
      await db.schema
        .createTable('oauth_access_tokens')
        .addColumn('token_id', 'integer', (c) => c.primaryKey().references('tokens.id'))
        .addColumn('grant_id', 'integer', (c) => c.notNull().references('oauth_grants.id'))
        .execute();
      await db.schema.createIndex('oauth_access_tokens_grant_id').on('oauth_access_tokens').column('grant_id').execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      for (const t of ['oauth_access_tokens', 'oauth_refresh_tokens', 'oauth_codes', 'oauth_grants']) await db.schema.dropTable(t).execute();
      await db.schema.alterTable('tokens').dropColumn('valid_until').execute();
    },
  };
}
