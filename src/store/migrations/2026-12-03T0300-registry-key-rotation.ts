/**
 * Registry signing-key rotation (issue 12 item 7): a key is staged as `next`, becomes `current` on
 * activation, and the one it replaces is kept as `retired-<kid>` with the time it stopped signing, so
 * its certificate stays in the bundle until every JWT it signed has expired.
 */
import type { Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

export function createRegistryKeyRotation(_traits: DialectTraits) {
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema.alterTable('registry_signing_keys').addColumn('retired_at', 'text').execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.alterTable('registry_signing_keys').dropColumn('retired_at').execute();
    },
  };
}
