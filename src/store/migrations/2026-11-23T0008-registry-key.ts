/**
 * Registry token signing key (issue 6): one row per key name ('current'), written once by whichever
 * node generates it first, so every node signs with the same key. Frozen once released.
 */
import type { Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

export function createRegistryKey(_traits: DialectTraits) {
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('registry_signing_keys')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('algorithm', 'text', (c) => c.notNull())
        .addColumn('kid', 'text', (c) => c.notNull())
        // PKCS#8 PEM sealed with AES-256-GCM under a key derived from the server secret.
        .addColumn('private_key_encrypted', 'text', (c) => c.notNull())
        .addColumn('certificate_pem', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.dropTable('registry_signing_keys').execute();
    },
  };
}
