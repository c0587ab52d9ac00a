/**
 * Issue 16: rotation jobs and their steps. A job's pending new secret is sealed under the server secret
 * (`secret_sealed`, NULL once the job no longer needs it); at most one unfinished job per entry, kept by
 * the database (a partial unique index), so concurrent requests cannot start two. Frozen once released.
 */
import { sql, type Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

export function createRotationJobs(traits: DialectTraits) {
  const id = (c: any) => (traits.needsAutoIncrement ? c.primaryKey().autoIncrement() : c.primaryKey());
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('rotation_jobs')
        .addColumn('id', traits.serialType, id)
        .addColumn('credential_id', 'integer', (c) => c.notNull().references('inventory_credentials.id').onDelete('cascade'))
        // running, waiting, succeeded, failed
        .addColumn('state', 'text', (c) => c.notNull())
        // api, cli, web, schedule
        .addColumn('trigger', 'text', (c) => c.notNull())
        .addColumn('started_by', 'integer')
        // own: the Latchkey token rotated away; upstream: null
        .addColumn('old_token_id', 'integer')
        // own: the Latchkey token issued; upstream: the upstream's id of the new token
        .addColumn('new_token_id', 'integer')
        .addColumn('grace_seconds', 'integer', (c) => c.notNull())
        .addColumn('quiet_seconds', 'integer', (c) => c.notNull())
        .addColumn('expires_at', 'text')
        .addColumn('failure', 'text')
        .addColumn('secret_sealed', 'text')
        .addColumn('tasks_done_at', 'text')
        // The node advancing the job and until when (a lease: a stopped node's job is resumed after it).
        .addColumn('lease_holder', 'text')
        .addColumn('lease_until', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('finished_at', 'text')
        .execute();
      await sql`create unique index rotation_jobs_unfinished on rotation_jobs (credential_id) where finished_at is null`.execute(db);
      await db.schema.createIndex('rotation_jobs_credential').on('rotation_jobs').columns(['credential_id', 'id']).execute();
      await db.schema
        .createTable('rotation_job_steps')
        .addColumn('job_id', 'integer', (c) => c.notNull().references('rotation_jobs.id').onDelete('cascade'))
        .addColumn('position', 'integer', (c) => c.notNull())
        // renew, write, verify, tasks, retire, finish
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('placement_id', 'integer')
        // pending, done, failed, skipped
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('detail', 'text')
        .addColumn('started_at', 'text')
        .addColumn('finished_at', 'text')
        .addPrimaryKeyConstraint('rotation_job_steps_pk', ['job_id', 'position'])
        .execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.dropTable('rotation_job_steps').execute();
      await db.schema.dropTable('rotation_jobs').execute();
    },
  };
}
