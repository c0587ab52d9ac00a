/**
 * Issue 15, item 3: GitLab's CI/CD variables of projects and groups. The value is sealed (AES-256-GCM
 * under a key derived from the server secret): CI must read it back, so it cannot be a digest.
 * Frozen once released: never edit, add a new migration.
 */
import type { Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

export function createCiVariables(traits: DialectTraits) {
  const id = (c: any) => (traits.needsAutoIncrement ? c.primaryKey().autoIncrement() : c.primaryKey());
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('ci_variables')
        .addColumn('id', traits.serialType, id)
        // Exactly one of project_id and group_id is set.
        .addColumn('project_id', 'integer', (c) => c.references('projects.id'))
        .addColumn('group_id', 'integer', (c) => c.references('groups.id'))
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('value_encrypted', 'text', (c) => c.notNull())
        .addColumn('variable_type', 'text', (c) => c.notNull().defaultTo('env_var'))
        .addColumn('protected', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('masked', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('hidden', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('raw', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('environment_scope', 'text', (c) => c.notNull().defaultTo('*'))
        .addColumn('description', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      // GitLab's uniqueness: one key per owner and environment scope. NULLs are distinct on both
      // dialects, so a group variable never collides with a project one.
      await db.schema.createIndex('ci_variables_project_key').on('ci_variables').columns(['project_id', 'key', 'environment_scope']).unique().execute();
      await db.schema.createIndex('ci_variables_group_key').on('ci_variables').columns(['group_id', 'key', 'environment_scope']).unique().execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.dropTable('ci_variables').execute();
    },
  };
}
