/**
 * Group OAuth applications (issue 17: "user and group applications, as GitLab has"): an application is
 * the instance's (both owners null), a user's (owner_id) or a group's (owner_group_id), registered by the
 * group's Owners. Both owner columns are indexed: each settings page lists one owner's applications.
 * Frozen once released: never edit, add a new migration.
 */
import type { Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

export function createOauthApplicationGroupOwner(_traits: DialectTraits) {
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema.alterTable('oauth_applications').addColumn('owner_group_id', 'integer', (c) => c.references('groups.id')).execute();
      await db.schema.createIndex('oauth_applications_owner_id').on('oauth_applications').column('owner_id').execute();
      await db.schema.createIndex('oauth_applications_owner_group_id').on('oauth_applications').column('owner_group_id').execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.dropIndex('oauth_applications_owner_group_id').execute();
      await db.schema.dropIndex('oauth_applications_owner_id').execute();
      await db.schema.alterTable('oauth_applications').dropColumn('owner_group_id').execute();
    },
  };
}
