/**
 * Issue 16: the remote tokens a rotation through an upstream's rotate API replaced. The upstream lists
 * such a token as revoked from then on; the sync leaves it alone (its entry moved to the new token), so
 * it neither becomes an entry of its own nor takes the entry's slug. Frozen once released: add a new migration.
 */
import type { Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

export function createUpstreamRotatedTokens(_traits: DialectTraits) {
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('upstream_rotated_tokens')
        .addColumn('upstream_id', 'integer', (c) => c.notNull().references('upstreams.id').onDelete('cascade'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('remote_id', 'integer', (c) => c.notNull())
        // The entry that followed the rotation to the new remote token.
        .addColumn('credential_id', 'integer', (c) => c.notNull().references('inventory_credentials.id').onDelete('cascade'))
        .addColumn('rotated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('upstream_rotated_tokens_key', ['upstream_id', 'kind', 'remote_id'])
        .execute();
      await db.schema.createIndex('upstream_rotated_tokens_credential').on('upstream_rotated_tokens').column('credential_id').execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.dropTable('upstream_rotated_tokens').execute();
    },
  };
}
