/**
 * GitLab-format project and group hooks (issue 11 item 6): the same `webhooks` rows and delivery
 * machinery, told apart by `format`. A `gitlab` hook belongs to a project (project_id) or a group
 * (group_id), keeps GitLab's attributes in `settings` (JSON), its X-Gitlab-Token sealed in the existing
 * `secret_encrypted` ('' sealed when it has none), its custom headers sealed (values are secrets in
 * GitLab too: never returned), and the UUID sent as X-Gitlab-Webhook-UUID. Frozen once released.
 */
import type { Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

export function createGitlabHooks(_traits: DialectTraits) {
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema.alterTable('webhooks').addColumn('format', 'text', (c) => c.notNull().defaultTo('latchkey')).execute();
      await db.schema.alterTable('webhooks').addColumn('project_id', 'integer').execute();
      await db.schema.alterTable('webhooks').addColumn('settings', 'text').execute();
      await db.schema.alterTable('webhooks').addColumn('custom_headers_encrypted', 'text').execute();
      await db.schema.alterTable('webhooks').addColumn('uuid', 'text').execute();
      await db.schema.createIndex('webhooks_project_id').on('webhooks').column('project_id').execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.dropIndex('webhooks_project_id').execute();
      for (const column of ['uuid', 'custom_headers_encrypted', 'settings', 'project_id', 'format']) await db.schema.alterTable('webhooks').dropColumn(column).execute();
    },
  };
}
