/**
 * Users, groups, projects, members and tokens. Frozen in time: never edit, add a new migration.
 */
import type { Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

export function createCore(traits: DialectTraits) {
  const id = (c: any) => (traits.needsAutoIncrement ? c.primaryKey().autoIncrement() : c.primaryKey());
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('users')
        .addColumn('id', traits.serialType, id)
        .addColumn('username', 'text', (c) => c.notNull())
        .addColumn('username_key', 'text', (c) => c.notNull().unique())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('email', 'text')
        .addColumn('email_key', 'text', (c) => c.unique())
        .addColumn('is_admin', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('bot_kind', 'text')
        .addColumn('state', 'text', (c) => c.notNull().defaultTo('active'))
        .addColumn('password_hash', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('groups')
        .addColumn('id', traits.serialType, id)
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('full_path', 'text', (c) => c.notNull())
        .addColumn('full_path_key', 'text', (c) => c.notNull().unique())
        .addColumn('parent_id', 'integer', (c) => c.references('groups.id'))
        .addColumn('traversal_path', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('visibility', 'text', (c) => c.notNull().defaultTo('private'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('groups_parent_id').on('groups').column('parent_id').execute();
      await db.schema.createIndex('groups_traversal_path').on('groups').column('traversal_path').execute();

      await db.schema
        .createTable('projects')
        .addColumn('id', traits.serialType, id)
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('path_with_namespace', 'text', (c) => c.notNull())
        .addColumn('path_key', 'text', (c) => c.notNull().unique())
        .addColumn('group_id', 'integer', (c) => c.notNull().references('groups.id'))
        .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('visibility', 'text', (c) => c.notNull().defaultTo('private'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('projects_group_id').on('projects').column('group_id').execute();

      await db.schema
        .createTable('members')
        .addColumn('id', traits.serialType, id)
        .addColumn('source_type', 'text', (c) => c.notNull())
        .addColumn('source_id', 'integer', (c) => c.notNull())
        .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id'))
        .addColumn('access_level', 'integer', (c) => c.notNull())
        .addColumn('expires_at', 'text')
        .addColumn('created_by', 'integer')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('members_source_user', ['source_type', 'source_id', 'user_id'])
        .execute();
      await db.schema.createIndex('members_user_id').on('members').column('user_id').execute();

      await db.schema
        .createTable('tokens')
        .addColumn('id', traits.serialType, id)
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('digest', 'text', (c) => c.notNull().unique())
        .addColumn('user_id', 'integer', (c) => c.references('users.id'))
        .addColumn('project_id', 'integer', (c) => c.references('projects.id'))
        .addColumn('group_id', 'integer', (c) => c.references('groups.id'))
        .addColumn('username', 'text')
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('access_level', 'integer')
        .addColumn('expires_at', 'text')
        .addColumn('created_by', 'integer')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'text')
        .addColumn('deleted_at', 'text')
        .addColumn('last_used_at', 'text')
        .execute();
      await db.schema.createIndex('tokens_project_id').on('tokens').columns(['project_id', 'kind', 'id']).execute();
      await db.schema.createIndex('tokens_group_id').on('tokens').columns(['group_id', 'kind', 'id']).execute();
      await db.schema.createIndex('tokens_user_id').on('tokens').columns(['user_id', 'kind', 'id']).execute();
      await db.schema.createIndex('tokens_kind_id').on('tokens').columns(['kind', 'id']).execute();
      await db.schema.createIndex('tokens_expires_at').on('tokens').column('expires_at').execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      for (const t of ['tokens', 'members', 'projects', 'groups', 'users']) await db.schema.dropTable(t).execute();
    },
  };
}
