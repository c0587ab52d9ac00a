/**
 * Rotation tasks (issue 16): when a rotation job reaches its `tasks` step, each manual placement of the
 * entry becomes a task — what to update (`where`), with the entry's renewal procedure — assigned to the
 * owning group's Maintainers and Owners (the credential reminders' recipients), reminded daily by e-mail
 * (task-reminders.ts) until someone checks it off. While its job holds the new secret, a Maintainer or
 * Owner may reveal it on a task to paste it where the task says. When the last task of a job is checked
 * off, the job is told (`RotationService.tasksDone`) and may wipe the secret and finish.
 *
 * Who may: Reporters and above of the owning group (and admins) list the tasks, Maintainers and above
 * check them off and reveal; everyone else gets the inventory's 404. Audit: `credential.rotation_task_opened`,
 * `_done`, `_revealed`, never a secret.
 */
import type { AuditRecord } from '../audit/audit-writer.js';
import type { Clock } from '../kernel/clock.js';
import { DomainError, notFound } from '../kernel/errors.js';
import type { Page, PageRequest } from '../kernel/page.js';
import type { Credential, InventoryEntry, Placement } from '../inventory/credential.js';
import type { InventoryService } from '../inventory/inventory-service.js';
import type { InventoryStore } from '../inventory/inventory-store.js';
import type { User } from '../namespaces/namespace.js';
import type { RotationJob, RotationService, RotationTasks } from './contracts.js';
import type { RotationTask, RotationTaskStore, TaskStateFilter } from './rotation-task-store.js';

export interface RotationTasksDeps {
  store: RotationTaskStore;
  inventory: Pick<InventoryService, 'get' | 'getManaged'>;
  /** The stored entries a job names (the system's own read, for the audit entries of opened tasks). */
  entries: Pick<InventoryStore, 'findByIds'>;
  findUserById(id: number): Promise<User | null>;
  clock: Clock;
  audit?: (entry: AuditRecord) => Promise<void> | void;
}

/** The job engine's side the tasks call; bound once both are built (each needs the other). */
export type RotationJobs = Pick<RotationService, 'revealSecret' | 'tasksDone'>;

const TASK_NOT_FOUND = () => notFound('Task Not Found', 'ROTATION_TASK_NOT_FOUND');
const ID = /^[1-9][0-9]{0,9}$/;

/** A task id from a path (a number a column can hold), else null. */
export const taskIdOf = (text: string): number | null => (ID.test(text) && Number(text) <= 2147483647 ? Number(text) : null);

export type RotationTaskService = ReturnType<typeof createRotationTasks>;

export function createRotationTasks(deps: RotationTasksDeps) {
  const { store, inventory, clock } = deps;
  let jobs: RotationJobs | null = null;

  const record = async (event: string, actorUsername: string | null, c: Pick<Credential, 'id' | 'slug' | 'owner' | 'tokenId'>, task: RotationTask, extra: Record<string, unknown> = {}) => {
    await deps.audit?.({
      at: clock.now().toISOString(),
      event,
      actorUsername,
      groupId: c.owner.id,
      data: {
        by: actorUsername, credential_id: c.id, slug: c.slug, owner: c.owner.fullPath, ...(c.tokenId !== null ? { token_id: c.tokenId } : {}),
        job_id: task.jobId, task_id: task.id, placement_id: task.placementId, where: task.where, ...extra,
      },
    });
  };

  /** The stored entry `ref` names (a token's entry without inventory fields has no tasks: null) and the task on it. */
  async function taskOn(entry: InventoryEntry, taskId: string | number): Promise<RotationTask> {
    const id = typeof taskId === 'number' ? taskId : taskIdOf(taskId);
    const task = id === null || entry.id === null ? null : await store.find(entry.id, id);
    if (task === null) throw TASK_NOT_FOUND();
    return task;
  }

  const asEntry = (entry: InventoryEntry) => ({ id: entry.id!, slug: entry.slug, owner: entry.owner!, tokenId: entry.tokenId });

  const service = {
    /** Binds the job engine (RotationService) once it is built. */
    bindRotation(rotation: RotationJobs): void {
      jobs = rotation;
    },

    /**
     * Opens one task per manual placement of the entry for this job; idempotent per job and placement
     * (a resumed job, or another node, opens none twice). Other placement kinds are left to the job.
     */
    async openForJob(job: RotationJob, placements: readonly Placement[]): Promise<void> {
      const at = clock.now().toISOString();
      const manual = placements.filter((p) => p.kind === 'manual');
      const opened = await store.open(manual.map((p) => ({ jobId: job.id, credentialId: job.credentialId, placementId: p.id, where: p.where ?? '', createdAt: at })));
      if (opened.length === 0 || !deps.audit) return;
      const [entry] = await deps.entries.findByIds([job.credentialId]);
      if (!entry) return;
      const starter = job.startedBy === null ? null : await deps.findUserById(job.startedBy);
      for (const task of opened) await record('credential.rotation_task_opened', starter?.username ?? null, entry, task, { trigger: job.trigger });
    },

    /** An entry's tasks (Reporter+), open ones first; `state` narrows to open or done ones. */
    async list(actor: User, ref: string, state: TaskStateFilter, page: PageRequest): Promise<{ entry: InventoryEntry; tasks: Page<RotationTask> }> {
      const entry = await inventory.get(actor, ref);
      const tasks = entry.id === null ? { items: [], total: 0 } : await store.list(entry.id, state, page);
      return { entry, tasks };
    },

    /**
     * Checks a task off (Maintainer+; 403 for Reporters); again is no change. Once no task of its job
     * is open, the job is told — also on a repeated check-off, so a job that missed it hears it again
     * (tasksDone is idempotent on the job's side).
     */
    async markDone(actor: User, ref: string, taskId: string | number): Promise<{ entry: InventoryEntry; task: RotationTask }> {
      const entry = await inventory.getManaged(actor, ref);
      const found = await taskOn(entry, taskId);
      const { task, changed } = await store.markDone(found.id, clock.now().toISOString(), { id: actor.id > 0 ? actor.id : null, username: actor.username });
      if (changed) await record('credential.rotation_task_done', actor.username, asEntry(entry), task);
      if ((await store.countOpen(task.jobId)) === 0 && jobs !== null) {
        // A job that is gone (its entry's history deleted) has nothing left to finish: the check-off stands.
        await jobs.tasksDone(task.jobId).catch((e: unknown) => {
          if (!(e instanceof DomainError && e.kind === 'not_found')) throw e;
        });
      }
      return { entry, task };
    },

    /**
     * The job's pending new secret, to paste where the task says (Maintainer+): only while the job holds
     * it (the job engine answers 404 once it finished and wiped it). Audited here for the task, and by
     * the job engine for the secret; never the secret itself.
     */
    async reveal(actor: User, ref: string, taskId: string | number): Promise<{ task: RotationTask; secret: string }> {
      const entry = await inventory.getManaged(actor, ref);
      const task = await taskOn(entry, taskId);
      if (jobs === null) throw notFound('Secret Not Found', 'ROTATION_SECRET_NOT_FOUND');
      const secret = await jobs.revealSecret(actor, task.jobId);
      await record('credential.rotation_task_revealed', actor.username, asEntry(entry), task);
      return { task, secret };
    },
  };
  return service satisfies RotationTasks & Record<string, unknown>;
}
