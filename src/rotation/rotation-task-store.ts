/**
 * The storage port of the rotation tasks (issue 16): tasks (one per job and manual placement), their
 * check-off, and their daily reminders with one e-mail delivery per recipient. Implemented in
 * store/rotation-tasks.ts. Never a secret: the job keeps its pending secret in its own table.
 */
import type { UtcDate } from '../kernel/dates.js';
import type { Page, PageRequest } from '../kernel/page.js';
import type { DeliveryCursor, Recipient } from '../notifications/expiry-notice-store.js';

export interface RotationTask {
  readonly id: number;
  readonly jobId: number;
  readonly credentialId: number;
  readonly placementId: number;
  /** What a person updates (the manual placement's `where`, as it was when the task opened). */
  readonly where: string;
  readonly createdAt: string;
  readonly doneAt: string | null;
  readonly doneBy: { readonly id: number | null; readonly username: string } | null;
}

export type NewRotationTask = Pick<RotationTask, 'jobId' | 'credentialId' | 'placementId' | 'where' | 'createdAt'>;

export type TaskStateFilter = 'open' | 'done' | 'all';

export interface NewTaskReminder {
  readonly taskId: number;
  readonly remindedOn: UtcDate;
  readonly decidedAt: string;
  readonly recipients: readonly Recipient[];
}

export interface ClaimedTaskDelivery {
  readonly deliveryId: number;
  readonly email: string;
  readonly recipientKey: string;
  readonly taskId: number;
}

export interface RotationTaskStore {
  /** Inserts the tasks a job does not have yet (the unique key on job and placement decides, also between nodes); returns those inserted. */
  open(tasks: readonly NewRotationTask[]): Promise<RotationTask[]>;
  /** An entry's tasks, open ones first (then by id). */
  list(credentialId: number, state: TaskStateFilter, page: PageRequest): Promise<Page<RotationTask>>;
  find(credentialId: number, taskId: number): Promise<RotationTask | null>;
  findByIds(ids: readonly number[]): Promise<RotationTask[]>;
  /** Checks a task off unless it is already; `changed` false when it was. */
  markDone(taskId: number, at: string, by: { id: number | null; username: string }): Promise<{ task: RotationTask; changed: boolean }>;
  /** How many tasks of the job are still open. */
  countOpen(jobId: number): Promise<number>;
  /** One page of open tasks by id, after `afterId` (the reminder scan, on the partial index of open tasks). */
  listOpen(afterId: number, limit: number): Promise<RotationTask[]>;
  /**
   * Records the day's reminders and their deliveries (recipients deduplicated by e-mail) in one
   * transaction; a task already reminded that day is skipped with its deliveries. Deliveries are pending,
   * or skipped with `skipReason`. Returns how many reminders and deliveries were written.
   */
  recordReminders(reminders: readonly NewTaskReminder[], skipReason: string | null): Promise<{ reminders: number; deliveries: number }>;
  /** One page of open deliveries (pending, or claimed before `staleBefore`) claimed for sending, in (recipient key, id) order. */
  claimDeliveries(claim: { now: string; staleBefore: string; after: DeliveryCursor | null; limit: number }): Promise<ClaimedTaskDelivery[]>;
  markSent(ids: readonly number[], at: string): Promise<void>;
  markFailed(ids: readonly number[], error: string, maxAttempts: number): Promise<void>;
  markSkipped(ids: readonly number[], reason: string): Promise<void>;
}
