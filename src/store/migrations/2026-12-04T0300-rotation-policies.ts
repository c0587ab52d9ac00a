/**
 * Issue 16 item 3: scheduled rotation. Policies (per inventory entry or per group: rotate N days before
 * the due date at an hour UTC, with the job's grace and quiet periods, a notice flag and an enabled flag)
 * and the scheduled runs — one row per entry and due date, the unique key that makes one due date
 * rotate once whatever the nodes and restarts. Frozen once released: add a new migration.
 */
import type { Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

export function createRotationPolicies(traits: DialectTraits) {
  const id = (c: any) => (traits.needsAutoIncrement ? c.primaryKey().autoIncrement() : c.primaryKey());
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('rotation_policies')
        .addColumn('id', traits.serialType, id)
        // Exactly one of credential_id (an entry's own policy) and group_id (its owned tree's).
        .addColumn('credential_id', 'integer', (c) => c.references('inventory_credentials.id').onDelete('cascade').unique())
        .addColumn('group_id', 'integer', (c) => c.references('groups.id').onDelete('cascade').unique())
        .addColumn('days_before_expiry', 'integer', (c) => c.notNull())
        .addColumn('hour', 'integer', (c) => c.notNull())
        .addColumn('grace_period_seconds', 'integer', (c) => c.notNull())
        .addColumn('quiet_seconds', 'integer', (c) => c.notNull())
        .addColumn('notify', 'integer', (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('updated_by', 'integer', (c) => c.references('users.id'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('rotation_schedule_runs')
        .addColumn('id', traits.serialType, id)
        .addColumn('credential_id', 'integer', (c) => c.notNull().references('inventory_credentials.id').onDelete('cascade'))
        // The due date this run rotates for: a rotation moves the due date, and the next one is a new run.
        .addColumn('due_on', 'text', (c) => c.notNull())
        // `credential` or `group:<id>`: whose policy started it.
        .addColumn('policy_source', 'text', (c) => c.notNull())
        // starting (claimed, start not yet answered) → started → succeeded | failed; or not_rotatable.
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('job_id', 'integer')
        .addColumn('reason', 'text')
        .addColumn('scheduled_at', 'text', (c) => c.notNull())
        .addColumn('claimed_at', 'text', (c) => c.notNull())
        .addColumn('finished_at', 'text')
        .addUniqueConstraint('rotation_schedule_runs_once', ['credential_id', 'due_on'])
        .execute();
      await db.schema.createIndex('rotation_schedule_runs_job').on('rotation_schedule_runs').column('job_id').execute();
      await db.schema.createIndex('rotation_schedule_runs_open').on('rotation_schedule_runs').columns(['state', 'claimed_at']).execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.dropTable('rotation_schedule_runs').execute();
      await db.schema.dropTable('rotation_policies').execute();
    },
  };
}
