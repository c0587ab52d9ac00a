/**
 * OpenID Connect signing keys (issue 17): RSA keys for ID tokens, the private half sealed under the
 * server secret (like the registry key) so every node signs with the same one. `generation` orders
 * them: the highest signs; older ones stay published until their ID tokens have expired. Frozen once released.
 */
import type { Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

export function createOidcSigningKeys(_traits: DialectTraits) {
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('oidc_signing_keys')
        .addColumn('generation', 'integer', (c) => c.primaryKey())
        .addColumn('kid', 'text', (c) => c.notNull().unique())
        .addColumn('algorithm', 'text', (c) => c.notNull())
        .addColumn('private_key_sealed', 'text', (c) => c.notNull())
        // JSON Web Key of the public half, as /oauth/discovery/keys publishes it.
        .addColumn('public_jwk', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.dropTable('oidc_signing_keys').execute();
    },
  };
}
