/**
 * RotationTaskStore over Kysely (both dialects): the tasks of rotation jobs, their check-off, and the
 * daily reminders with their e-mail deliveries (the credential reminders' delivery shape).
 */
import { sql, type ExpressionBuilder, type Generated, type Kysely, type Selectable } from 'kysely';
import type { Database } from './database.js';
import type { CredentialNoticeDeliveriesTable } from './credential-notices.js';
import type { ClaimedTaskDelivery, RotationTask, RotationTaskStore } from '../rotation/rotation-task-store.js';
import { offsetOf } from '../kernel/page.js';
import { deliveryQueue } from './notice-deliveries.js';

export interface RotationTasksTable {
  id: Generated<number>;
  job_id: number;
  credential_id: number;
  placement_id: number;
  where_text: string;
  created_at: string;
  done_at: string | null;
  done_by_id: number | null;
  done_by_username: string | null;
}

export interface RotationTaskRemindersTable {
  id: Generated<number>;
  task_id: number;
  reminded_on: string;
  decided_at: string;
}

type Tables = Database & { rotation_tasks: RotationTasksTable; rotation_task_reminders: RotationTaskRemindersTable; rotation_task_reminder_deliveries: CredentialNoticeDeliveriesTable };

const chunks = <T>(items: readonly T[], size: number): T[][] => Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, i * size + size));

const taskOf = (r: Selectable<RotationTasksTable>): RotationTask => ({
  id: r.id,
  jobId: r.job_id,
  credentialId: r.credential_id,
  placementId: r.placement_id,
  where: r.where_text,
  createdAt: r.created_at,
  doneAt: r.done_at,
  doneBy: r.done_at === null ? null : { id: r.done_by_id, username: r.done_by_username ?? '' },
});


export function createRotationTaskStore(database: Kysely<Database>): RotationTaskStore {
  const db = database as unknown as Kysely<Tables>;
  const queue = deliveryQueue(database, 'rotation_task_reminder_deliveries');
  const byState = (state: 'open' | 'done' | 'all') => (eb: ExpressionBuilder<Tables, 'rotation_tasks'>) =>
    state === 'open' ? eb('done_at', 'is', null) : state === 'done' ? eb('done_at', 'is not', null) : eb.lit(true);
  return {
    async open(tasks) {
      if (tasks.length === 0) return [];
      const rows = await db
        .insertInto('rotation_tasks')
        .values(tasks.map((t) => ({ job_id: t.jobId, credential_id: t.credentialId, placement_id: t.placementId, where_text: t.where, created_at: t.createdAt, done_at: null, done_by_id: null, done_by_username: null })))
        .onConflict((oc) => oc.columns(['job_id', 'placement_id']).doNothing())
        .returningAll()
        .execute();
      return rows.map(taskOf);
    },

    async list(credentialId, state, page) {
      const base = db.selectFrom('rotation_tasks').where('credential_id', '=', credentialId).where(byState(state));
      const [rows, count] = await Promise.all([
        base
          .selectAll()
          // Open tasks first, then by id.
          .orderBy(sql`case when done_at is null then 0 else 1 end`)
          .orderBy('id')
          .limit(page.perPage)
          .offset(offsetOf(page))
          .execute(),
        base.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
      ]);
      return { items: rows.map(taskOf), total: Number(count.n) };
    },

    async find(credentialId, taskId) {
      const row = await db.selectFrom('rotation_tasks').selectAll().where('id', '=', taskId).where('credential_id', '=', credentialId).executeTakeFirst();
      return row ? taskOf(row) : null;
    },

    async findByIds(ids) {
      const out: RotationTask[] = [];
      for (const part of chunks([...new Set(ids)], 500)) out.push(...(await db.selectFrom('rotation_tasks').selectAll().where('id', 'in', part).execute()).map(taskOf));
      return out;
    },

    async markDone(taskId, at, by) {
      const changed = await db
        .updateTable('rotation_tasks')
        .set({ done_at: at, done_by_id: by.id, done_by_username: by.username })
        .where('id', '=', taskId)
        .where('done_at', 'is', null)
        .returning('id')
        .execute();
      const row = await db.selectFrom('rotation_tasks').selectAll().where('id', '=', taskId).executeTakeFirstOrThrow();
      return { task: taskOf(row), changed: changed.length > 0 };
    },

    async countOpen(jobId) {
      const r = await db.selectFrom('rotation_tasks').select((eb) => eb.fn.countAll<number | string>().as('n')).where('job_id', '=', jobId).where('done_at', 'is', null).executeTakeFirstOrThrow();
      return Number(r.n);
    },

    async listOpen(afterId, limit) {
      return (await db.selectFrom('rotation_tasks').selectAll().where('done_at', 'is', null).where('id', '>', afterId).orderBy('id').limit(limit).execute()).map(taskOf);
    },

    async recordReminders(reminders, skipReason) {
      if (reminders.length === 0) return { reminders: 0, deliveries: 0 };
      return db.transaction().execute(async (trx) => {
        const out = { reminders: 0, deliveries: 0 };
        const byKey = new Map(reminders.map((r) => [`${r.taskId}:${r.remindedOn}`, r]));
        for (const part of chunks(reminders, 200)) {
          const inserted = await trx
            .insertInto('rotation_task_reminders')
            .values(part.map((r) => ({ task_id: r.taskId, reminded_on: r.remindedOn, decided_at: r.decidedAt })))
            .onConflict((oc) => oc.columns(['task_id', 'reminded_on']).doNothing())
            .returning(['id', 'task_id', 'reminded_on'])
            .execute();
          const deliveries = [];
          for (const row of inserted) {
            const seen = new Set<string>();
            for (const r of byKey.get(`${row.task_id}:${row.reminded_on}`)!.recipients) {
              if (seen.has(r.email.toLowerCase())) continue;
              seen.add(r.email.toLowerCase());
              deliveries.push({ notice_id: row.id, user_id: r.userId, email: r.email, status: skipReason === null ? 'pending' : 'skipped', attempts: 0, claimed_at: null, sent_at: null, last_error: skipReason });
            }
          }
          for (const rows of chunks(deliveries, 500)) await trx.insertInto('rotation_task_reminder_deliveries').values(rows).execute();
          out.reminders += inserted.length;
          out.deliveries += deliveries.length;
        }
        return out;
      });
    },

    async claimDeliveries(claim) {
      const claimed = await queue.claim(claim);
      if (claimed.length === 0) return [];
      const rows = await db
        .selectFrom('rotation_task_reminder_deliveries as d')
        .innerJoin('rotation_task_reminders as r', 'r.id', 'd.notice_id')
        .select(['d.id', 'd.email', 'r.task_id'])
        .where('d.id', 'in', claimed.map((c) => c.id))
        .execute();
      const byId = new Map(rows.map((r) => [r.id, r]));
      return claimed.flatMap((p): ClaimedTaskDelivery[] => {
        const r = byId.get(p.id);
        return r ? [{ deliveryId: r.id, email: r.email, recipientKey: p.recipientKey, taskId: r.task_id }] : [];
      });
    },

    markSent: queue.markSent,
    markSkipped: queue.markSkipped,
    markFailed: queue.markFailed,
  };
}
