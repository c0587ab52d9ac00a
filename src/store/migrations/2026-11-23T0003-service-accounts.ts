/**
 * Group service accounts: the group that provisioned (owns) a service-account user, as GitLab's
 * `user_details.provisioned_by_group_id`. Frozen once released.
 */
import type { Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

export function createServiceAccounts(_traits: DialectTraits) {
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema.alterTable('users').addColumn('provisioned_by_group_id', 'integer', (c) => c.references('groups.id')).execute();
      await db.schema.createIndex('users_provisioned_by_group_id').on('users').column('provisioned_by_group_id').execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.dropIndex('users_provisioned_by_group_id').execute();
      await db.schema.alterTable('users').dropColumn('provisioned_by_group_id').execute();
    },
  };
}
