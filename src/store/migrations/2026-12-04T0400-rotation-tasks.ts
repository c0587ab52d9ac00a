/**
 * Issue 16: manual placements as tasks of a rotation job (one per job and placement), checked off by a
 * Maintainer or Owner, and their daily e-mail reminders (one per task and day, with one delivery per
 * recipient, claimed and sent as the credential reminders are). No secret here: the job keeps its
 * pending secret sealed in its own table. Frozen once released: add a new migration.
 */
import { sql, type Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

export function createRotationTasks(traits: DialectTraits) {
  const id = (c: any) => (traits.needsAutoIncrement ? c.primaryKey().autoIncrement() : c.primaryKey());
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('rotation_tasks')
        .addColumn('id', traits.serialType, id)
        // The rotation job (its table is the job engine's; no foreign key, so neither depends on the other's migration).
        .addColumn('job_id', 'integer', (c) => c.notNull())
        .addColumn('credential_id', 'integer', (c) => c.notNull().references('inventory_credentials.id').onDelete('cascade'))
        // The manual placement; its `where` is copied, so a task still says what to update after the placement changed.
        .addColumn('placement_id', 'integer', (c) => c.notNull())
        .addColumn('where_text', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('done_at', 'text')
        .addColumn('done_by_id', 'integer')
        .addColumn('done_by_username', 'text')
        .execute();
      await db.schema.createIndex('rotation_tasks_once').on('rotation_tasks').columns(['job_id', 'placement_id']).unique().execute();
      await db.schema.createIndex('rotation_tasks_credential').on('rotation_tasks').columns(['credential_id', 'id']).execute();
      // The daily reminder scan: open tasks only.
      await sql`create index rotation_tasks_open on rotation_tasks (id) where done_at is null`.execute(db);

      await db.schema
        .createTable('rotation_task_reminders')
        .addColumn('id', traits.serialType, id)
        .addColumn('task_id', 'integer', (c) => c.notNull().references('rotation_tasks.id').onDelete('cascade'))
        .addColumn('reminded_on', 'text', (c) => c.notNull())
        .addColumn('decided_at', 'text', (c) => c.notNull())
        .execute();
      // One reminder per task and day, whichever node decides it.
      await db.schema.createIndex('rotation_task_reminders_once').on('rotation_task_reminders').columns(['task_id', 'reminded_on']).unique().execute();

      await db.schema
        .createTable('rotation_task_reminder_deliveries')
        .addColumn('id', traits.serialType, id)
        .addColumn('notice_id', 'integer', (c) => c.notNull().references('rotation_task_reminders.id').onDelete('cascade'))
        .addColumn('user_id', 'integer')
        .addColumn('email', 'text', (c) => c.notNull())
        // pending → sending (claimed_at) → sent | failed, or skipped
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('claimed_at', 'text')
        .addColumn('sent_at', 'text')
        .addColumn('last_error', 'text')
        .execute();
      await sql`create index rotation_task_reminder_deliveries_open on rotation_task_reminder_deliveries (lower(email), id) where status in ('pending', 'sending')`.execute(db);
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.dropTable('rotation_task_reminder_deliveries').execute();
      await db.schema.dropTable('rotation_task_reminders').execute();
      await db.schema.dropTable('rotation_tasks').execute();
    },
  };
}
