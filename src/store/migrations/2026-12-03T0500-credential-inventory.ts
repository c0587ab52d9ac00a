/**
 * Issue 14: the credential inventory. Entries (outside credentials, or inventory fields on a token
 * Latchkey issued), their placements (where each is configured, as data) and the history of renewals.
 * A pasted value is kept only as its HMAC (`fingerprint`). Frozen once released: add a new migration.
 */
import type { Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

export function createCredentialInventory(traits: DialectTraits) {
  const id = (c: any) => (traits.needsAutoIncrement ? c.primaryKey().autoIncrement() : c.primaryKey());
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('inventory_credentials')
        .addColumn('id', traits.serialType, id)
        .addColumn('slug', 'text', (c) => c.notNull().unique())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('provider', 'text')
        .addColumn('resource', 'text')
        .addColumn('owner_group_id', 'integer', (c) => c.notNull().references('groups.id'))
        // JSON array of scope names.
        .addColumn('scopes', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('role', 'text')
        .addColumn('purpose', 'text')
        // `expires_at` (expires_at set), `every_days` (every_days set), `event` (event and review_every_days set).
        .addColumn('renewal_type', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text')
        .addColumn('every_days', 'integer')
        .addColumn('event', 'text')
        .addColumn('review_every_days', 'integer')
        .addColumn('renewed_on', 'text')
        // Derived from the rule and the last renewal (or creation); what reminders count down to.
        .addColumn('due_on', 'text', (c) => c.notNull())
        .addColumn('procedure', 'text')
        // HMAC-SHA256 of a value pasted once; the value itself is never stored.
        .addColumn('fingerprint', 'text')
        // Inventory fields on a token Latchkey issued (the first of its rotation chain).
        .addColumn('token_id', 'integer', (c) => c.references('tokens.id').unique())
        .addColumn('created_by', 'integer', (c) => c.references('users.id'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('inventory_credentials_owner').on('inventory_credentials').columns(['owner_group_id', 'id']).execute();
      await db.schema.createIndex('inventory_credentials_due').on('inventory_credentials').columns(['due_on', 'id']).execute();
      await db.schema.createIndex('inventory_credentials_fingerprint').on('inventory_credentials').column('fingerprint').execute();

      await db.schema
        .createTable('inventory_placements')
        .addColumn('id', traits.serialType, id)
        .addColumn('credential_id', 'integer', (c) => c.notNull().references('inventory_credentials.id').onDelete('cascade'))
        .addColumn('position', 'integer', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('instance', 'text')
        .addColumn('project', 'text')
        .addColumn('group_path', 'text')
        .addColumn('key', 'text')
        .addColumn('format', 'text')
        .addColumn('registry', 'text')
        .addColumn('username', 'text')
        .addColumn('host', 'text')
        .addColumn('path', 'text')
        .addColumn('cluster', 'text')
        .addColumn('namespace', 'text')
        .addColumn('name', 'text')
        .addColumn('where_text', 'text')
        .execute();
      await db.schema.createIndex('inventory_placements_credential').on('inventory_placements').columns(['credential_id', 'position']).execute();
      // The reverse look-up: "what is configured in CI variable X of project Y?"
      await db.schema.createIndex('inventory_placements_key').on('inventory_placements').columns(['key', 'kind']).execute();

      await db.schema
        .createTable('inventory_renewals')
        .addColumn('id', traits.serialType, id)
        .addColumn('credential_id', 'integer', (c) => c.notNull().references('inventory_credentials.id').onDelete('cascade'))
        .addColumn('renewed_at', 'text', (c) => c.notNull())
        .addColumn('renewed_on', 'text', (c) => c.notNull())
        .addColumn('renewed_by', 'integer', (c) => c.references('users.id'))
        .addColumn('renewed_by_username', 'text')
        .addColumn('previous_due_on', 'text', (c) => c.notNull())
        .addColumn('due_on', 'text', (c) => c.notNull())
        // JSON array of {id, description} of the placements updated with the new value.
        .addColumn('placements_updated', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('note', 'text')
        .execute();
      await db.schema.createIndex('inventory_renewals_credential').on('inventory_renewals').columns(['credential_id', 'id']).execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.dropTable('inventory_renewals').execute();
      await db.schema.dropTable('inventory_placements').execute();
      await db.schema.dropTable('inventory_credentials').execute();
    },
  };
}
