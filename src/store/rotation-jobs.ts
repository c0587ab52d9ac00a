/**
 * Kysely implementation of RotationJobStore (both dialects). The tables' types live here and are added
 * to the handle with `withTables`, so the rotation schema stays with the code that uses it.
 */
import type { Generated, Kysely, Selectable } from 'kysely';
import type { RotationState, RotationStep, RotationStepKind, RotationTrigger } from '../rotation/contracts.js';
import type { RotationJobStore, StoredRotationJob } from '../rotation/rotation-job-store.js';
import type { Database } from './database.js';
import { parseSightings, parseStringArray } from '../tokens/token-usage.js';

export interface RotationJobsTable {
  id: Generated<number>;
  credential_id: number;
  state: string;
  trigger: string;
  started_by: number | null;
  old_token_id: number | null;
  new_token_id: number | null;
  grace_seconds: number;
  quiet_seconds: number;
  expires_at: string | null;
  failure: string | null;
  secret_sealed: string | null;
  tasks_done_at: string | null;
  lease_holder: string | null;
  lease_until: string | null;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
}

export interface RotationJobStepsTable {
  job_id: number;
  position: number;
  kind: string;
  placement_id: number | null;
  state: string;
  detail: string | null;
  started_at: string | null;
  finished_at: string | null;
}

type Tables = Database & { rotation_jobs: RotationJobsTable; rotation_job_steps: RotationJobStepsTable };
type JobRow = Selectable<RotationJobsTable>;
type StepRow = Selectable<RotationJobStepsTable>;

const toStep = (r: StepRow): RotationStep => ({
  kind: r.kind as RotationStepKind,
  placementId: r.placement_id,
  state: r.state as RotationStep['state'],
  detail: r.detail,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
});

const toJob = (r: JobRow, steps: readonly StepRow[]): StoredRotationJob => ({
  id: r.id,
  credentialId: r.credential_id,
  state: r.state as RotationState,
  trigger: r.trigger as RotationTrigger,
  startedBy: r.started_by,
  oldTokenId: r.old_token_id,
  newTokenId: r.new_token_id,
  gracePeriodSeconds: r.grace_seconds,
  quietSeconds: r.quiet_seconds,
  failure: r.failure,
  steps: steps.map(toStep),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  finishedAt: r.finished_at,
  expiresAt: r.expires_at,
  secretSealed: r.secret_sealed,
  tasksDoneAt: r.tasks_done_at,
  leaseHolder: r.lease_holder,
  leaseUntil: r.lease_until,
});

export function createRotationJobStore(database: Kysely<Database>): RotationJobStore {
  const db = database.withTables<{ rotation_jobs: RotationJobsTable; rotation_job_steps: RotationJobStepsTable }>() as unknown as Kysely<Tables>;

  /** Jobs with their steps, in the order of `rows`: one query for the steps of them all. */
  const withSteps = async (rows: JobRow[]): Promise<StoredRotationJob[]> => {
    if (rows.length === 0) return [];
    const steps = await db.selectFrom('rotation_job_steps').selectAll().where('job_id', 'in', rows.map((r) => r.id)).orderBy('job_id').orderBy('position').execute();
    const byJob = new Map<number, StepRow[]>();
    for (const s of steps) (byJob.get(s.job_id) ?? byJob.set(s.job_id, []).get(s.job_id)!).push(s);
    return rows.map((r) => toJob(r, byJob.get(r.id) ?? []));
  };

  return {
    async insert(job, steps) {
      const row = await db
        .insertInto('rotation_jobs')
        .values({
          credential_id: job.credentialId,
          state: 'running',
          trigger: job.trigger,
          started_by: job.startedBy,
          old_token_id: job.oldTokenId,
          new_token_id: null,
          grace_seconds: job.gracePeriodSeconds,
          quiet_seconds: job.quietSeconds,
          expires_at: job.expiresAt,
          failure: null,
          secret_sealed: null,
          tasks_done_at: null,
          lease_holder: job.leaseHolder,
          lease_until: job.leaseUntil,
          created_at: job.at,
          updated_at: job.at,
          finished_at: null,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      await db
        .insertInto('rotation_job_steps')
        .values(steps.map((s, position) => ({ job_id: row.id, position, kind: s.kind, placement_id: s.placementId, state: 'pending', detail: null, started_at: null, finished_at: null })))
        .execute();
      return row.id;
    },

    async findById(id) {
      const row = await db.selectFrom('rotation_jobs').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? (await withSteps([row]))[0]! : null;
    },

    async findUnfinished(credentialId) {
      const row = await db.selectFrom('rotation_jobs').selectAll().where('credential_id', '=', credentialId).where('finished_at', 'is', null).executeTakeFirst();
      return row ? (await withSteps([row]))[0]! : null;
    },

    async list(filter, limit, offset) {
      const all = db.selectFrom('rotation_jobs');
      const q = filter.credentialId === undefined ? all : all.where('credential_id', '=', filter.credentialId);
      const keyset = filter.keyset;
      const page = filter.afterId !== undefined ? q.where('id', '<', filter.afterId) : q;
      const [rows, count] = await Promise.all([
        page.selectAll().orderBy('id', 'desc').limit(limit).offset(keyset ? 0 : offset).execute(),
        keyset ? Promise.resolve(null) : q.select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow(),
      ]);
      return { items: await withSteps(rows), total: count === null ? null : Number(count.n) };
    },

    async resumable(now, limit) {
      const rows = await db
        .selectFrom('rotation_jobs')
        .select('id')
        .where('finished_at', 'is', null)
        .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
        .orderBy('id')
        .limit(limit)
        .execute();
      return rows.map((r) => r.id);
    },

    async claim(id, holder, now, until) {
      const result = await db
        .updateTable('rotation_jobs')
        .set({ lease_holder: holder, lease_until: until })
        .where('id', '=', id)
        .where('finished_at', 'is', null)
        .where((eb) => eb.or([eb('lease_holder', 'is', null), eb('lease_holder', '=', holder), eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async release(id, holder) {
      await db.updateTable('rotation_jobs').set({ lease_holder: null, lease_until: null }).where('id', '=', id).where('lease_holder', '=', holder).execute();
    },

    async startStep(id, position, at) {
      const result = await db.updateTable('rotation_job_steps').set({ started_at: at }).where('job_id', '=', id).where('position', '=', position).where('started_at', 'is', null).executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async finishStep(id, position, state, detail, at) {
      await db.updateTable('rotation_job_steps').set({ state, detail, finished_at: at }).where('job_id', '=', id).where('position', '=', position).execute();
      await db.updateTable('rotation_jobs').set({ updated_at: at }).where('id', '=', id).execute();
    },

    async noteStep(id, position, detail, at) {
      await db.updateTable('rotation_job_steps').set({ detail }).where('job_id', '=', id).where('position', '=', position).where('state', '=', 'pending').execute();
      await db.updateTable('rotation_jobs').set({ updated_at: at }).where('id', '=', id).execute();
    },

    async skipRest(id, fromPosition, detail, at) {
      await db
        .updateTable('rotation_job_steps')
        .set({ state: 'skipped', detail, finished_at: at })
        .where('job_id', '=', id)
        .where('position', '>=', fromPosition)
        .where('state', '=', 'pending')
        .execute();
    },

    async update(id, change, at) {
      await db
        .updateTable('rotation_jobs')
        .set({
          updated_at: at,
          ...(change.state !== undefined ? { state: change.state } : {}),
          ...(change.failure !== undefined ? { failure: change.failure } : {}),
          ...(change.oldTokenId !== undefined ? { old_token_id: change.oldTokenId } : {}),
          ...(change.newTokenId !== undefined ? { new_token_id: change.newTokenId } : {}),
          ...(change.secretSealed !== undefined ? { secret_sealed: change.secretSealed } : {}),
          ...(change.tasksDoneAt !== undefined ? { tasks_done_at: change.tasksDoneAt } : {}),
          ...(change.finishedAt !== undefined ? { finished_at: change.finishedAt, lease_holder: null, lease_until: null } : {}),
        })
        .where('id', '=', id)
        .execute();
    },

    async tokenUse(tokenId) {
      const row = await db.selectFrom('tokens').select(['last_used_at', 'last_used_ips', 'usage_window_ips', 'usage_window_user_agents']).where('id', '=', tokenId).executeTakeFirst();
      if (!row) return null;
      return { lastUsedAt: row.last_used_at, lastUsedIps: parseStringArray(row.last_used_ips), windowIps: parseSightings(row.usage_window_ips), windowUserAgents: parseSightings(row.usage_window_user_agents) };
    },
  };
}
