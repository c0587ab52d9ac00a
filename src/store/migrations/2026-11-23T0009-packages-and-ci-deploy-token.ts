/**
 * Issue 6: the generic package registry (packages and their files; the bytes live on disk, content-
 * addressed by sha256) and the sealed secret of each `gitlab-deploy-token` (handed to CI again).
 * Frozen once released: never edit, add a new migration.
 */
import type { Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

export function createPackagesAndCiDeployToken(traits: DialectTraits) {
  const id = (c: any) => (traits.needsAutoIncrement ? c.primaryKey().autoIncrement() : c.primaryKey());
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('packages')
        .addColumn('id', traits.serialType, id)
        .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id'))
        .addColumn('package_type', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        // `default` or `hidden` (GitLab's generic package status).
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('packages_identity').unique().on('packages').columns(['project_id', 'package_type', 'name', 'version']).execute();

      await db.schema
        .createTable('package_files')
        .addColumn('id', traits.serialType, id)
        .addColumn('package_id', 'integer', (c) => c.notNull().references('packages.id'))
        .addColumn('file_name', 'text', (c) => c.notNull())
        .addColumn('size', 'bigint', (c) => c.notNull())
        // Hex sha256 of the bytes; also the file's name under the packages directory.
        .addColumn('file_sha256', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        // The token that uploaded it (deploy or user token); its user, when it has one.
        .addColumn('created_by_token_id', 'integer')
        .addColumn('created_by_user_id', 'integer')
        .execute();
      await db.schema.createIndex('package_files_by_name').on('package_files').columns(['package_id', 'file_name', 'id']).execute();

      await db.schema
        .createTable('deploy_token_secrets')
        .addColumn('token_id', 'integer', (c) => c.primaryKey().references('tokens.id'))
        // `v1:<iv>:<tag>:<ciphertext>`, AES-256-GCM under a key derived from the server secret.
        .addColumn('secret_encrypted', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.dropTable('deploy_token_secrets').execute();
      await db.schema.dropTable('package_files').execute();
      await db.schema.dropTable('packages').execute();
    },
  };
}
