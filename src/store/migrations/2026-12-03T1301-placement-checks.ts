/**
 * Issue 15 item 4: the last check of each `ci_variable` placement against the variable it names (in
 * sync, stale, missing, cannot read). Never the value read. Frozen once released: add a new migration.
 */
import type { Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

export function createPlacementChecks(_traits: DialectTraits) {
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('placement_checks')
        .addColumn('placement_id', 'integer', (c) => c.primaryKey().references('inventory_placements.id').onDelete('cascade'))
        .addColumn('credential_id', 'integer', (c) => c.notNull().references('inventory_credentials.id').onDelete('cascade'))
        // in_sync, stale, missing, cannot_read, no_fingerprint
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('detail', 'text', (c) => c.notNull())
        .addColumn('checked_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('placement_checks_credential').on('placement_checks').column('credential_id').execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.dropTable('placement_checks').execute();
    },
  };
}
