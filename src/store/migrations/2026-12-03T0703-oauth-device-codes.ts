/**
 * The OAuth2 device authorization grant (RFC 8628, issue 17): one row per device request, its device
 * code and user code kept only as HMAC digests. Frozen once released.
 */
import type { Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

export function createOauthDeviceCodes(traits: DialectTraits) {
  const id = (c: any) => (traits.needsAutoIncrement ? c.primaryKey().autoIncrement() : c.primaryKey());
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('oauth_device_codes')
        .addColumn('id', traits.serialType, id)
        .addColumn('device_digest', 'text', (c) => c.notNull().unique())
        .addColumn('user_code_digest', 'text', (c) => c.notNull().unique())
        .addColumn('application_id', 'integer', (c) => c.notNull().references('oauth_applications.id'))
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('last_polled_at', 'text')
        // The user who approved or denied it.
        .addColumn('user_id', 'integer', (c) => c.references('users.id'))
        .addColumn('approved_at', 'text')
        .addColumn('denied_at', 'text')
        // Set when the device exchanged it for tokens (once).
        .addColumn('used_at', 'text')
        .execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.dropTable('oauth_device_codes').execute();
    },
  };
}
