/**
 * Daily reminders of open rotation tasks (issue 16), run by the daily expiry job after the credential
 * reminders (`latchkey notify run`, `serve` at LATCHKEY_EXPIRY_CRON). Each open task gets one reminder a
 * day (unique per task and day, so several nodes or runs decide it once), with one delivery per
 * Maintainer and Owner of the owning group (owner-audience.ts); then deliveries are claimed in recipient
 * order and each recipient gets one e-mail listing their open tasks, under a job lock, sent at least once
 * (recipient-mail.ts). A task checked off before its e-mail went out is skipped.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Clock } from '../kernel/clock.js';
import { utcDateOf } from '../kernel/dates.js';
import type { InventoryStore } from '../inventory/inventory-store.js';
import type { ExpiryNoticeStore } from '../notifications/expiry-notice-store.js';
import type { Mailer } from '../notifications/mailer.js';
import { ownerAudiences } from '../notifications/owner-audience.js';
import { sendRecipientMail, type RecipientMailDeps } from '../notifications/recipient-mail.js';
import type { DailyExpiryJob } from '../notifications/credential-notifier.js';
import type { RotationTaskStore } from './rotation-task-store.js';
import { composeTaskReminderEmail, type OpenTaskItem } from './task-reminder-email.js';

export const TASK_REMINDER_LOCK = 'rotation-task-reminders';

export interface TaskRemindersDeps {
  tasks: RotationTaskStore;
  inventory: Pick<InventoryStore, 'findByIds'>;
  /** Groups, memberships and the job lock, shared with the token job's store. */
  facts: Pick<ExpiryNoticeStore, 'findGroups' | 'listMembersOf' | 'tryLock' | 'unlock'>;
  clock: Clock;
  mailer: Mailer;
  publicUrl: string;
  leaseMs?: number;
  maxAttempts?: number;
  pageSize?: number;
  onEmail?: (outcome: 'sent' | 'failed') => void;
}

export interface TaskReminderSummary {
  ran: boolean;
  reminders: number;
  emailsSent: number;
  emailsFailed: number;
  recipients: string[];
  deliveriesSkipped: number;
}

export type TaskReminders = ReturnType<typeof createTaskReminders>;

export function createTaskReminders(deps: TaskRemindersDeps) {
  const { tasks, inventory, facts, clock, mailer } = deps;
  const leaseMs = deps.leaseMs ?? 10 * 60_000;
  const maxAttempts = deps.maxAttempts ?? 5;
  const pageSize = deps.pageSize ?? 500;
  const holder = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const entryUrl = (slug: string) => `${deps.publicUrl.replace(/\/+$/, '')}/-/inventory/${encodeURIComponent(slug)}`;

  /** Today's reminder of every open task, a page at a time, with its recipients. */
  async function decide(now: Date, summary: TaskReminderSummary): Promise<void> {
    const today = utcDateOf(now);
    const skipReason = mailer.enabled ? null : 'mail disabled';
    for (let after = 0; ; ) {
      const open = await tasks.listOpen(after, pageSize);
      if (open.length === 0) break;
      after = open[open.length - 1]!.id;
      const credentials = new Map((await inventory.findByIds(open.map((t) => t.credentialId))).map((c) => [c.id, c]));
      const audience = await ownerAudiences(facts, [...credentials.values()].map((c) => c.owner.id), today);
      const batch = open.flatMap((t) => {
        const c = credentials.get(t.credentialId);
        return c ? [{ taskId: t.id, remindedOn: today, decidedAt: now.toISOString(), recipients: audience.get(c.owner.id)?.recipients ?? [] }] : [];
      });
      const recorded = await tasks.recordReminders(batch, skipReason);
      summary.reminders += recorded.reminders;
      if (skipReason !== null) summary.deliveriesSkipped += recorded.deliveries;
      if (open.length < pageSize) break;
    }
  }

  const mailDeps: RecipientMailDeps = {
    mailer, clock, leaseMs, maxAttempts, onEmail: deps.onEmail,
    renewLease: (now, until) => facts.tryLock(TASK_REMINDER_LOCK, holder, now, until),
    markSent: (ids, at) => tasks.markSent(ids, at),
    markFailed: (ids, error, max) => tasks.markFailed(ids, error, max),
  };

  /** One e-mail per recipient with every open task of theirs, claimed a page at a time in recipient order. */
  async function deliver(summary: TaskReminderSummary): Promise<void> {
    const now = clock.now();
    const staleBefore = new Date(now.getTime() - leaseMs).toISOString();
    let after: { recipientKey: string; id: number } | null = null;
    let current = null as { key: string; email: string; items: OpenTaskItem[]; included: number[]; seen: Set<number> } | null;

    async function flush(): Promise<boolean> {
      const mail = current;
      current = null;
      if (!mail || mail.included.length === 0) return true;
      return sendRecipientMail(mailDeps, { to: mail.email, content: composeTaskReminderEmail(mail.items), deliveryIds: mail.included }, summary);
    }

    for (;;) {
      const page = await tasks.claimDeliveries({ now: now.toISOString(), staleBefore, after, limit: pageSize });
      if (page.length === 0) break;
      const last = page[page.length - 1]!;
      after = { recipientKey: last.recipientKey, id: last.deliveryId };
      const found = new Map((await tasks.findByIds(page.map((d) => d.taskId))).map((t) => [t.id, t]));
      const credentials = new Map((await inventory.findByIds([...found.values()].map((t) => t.credentialId))).map((c) => [c.id, c]));
      const skipped: number[] = [];
      for (const d of page) {
        if (current?.key !== d.recipientKey) {
          if (!(await flush())) return;
          current = { key: d.recipientKey, email: d.email, items: [], included: [], seen: new Set() };
        }
        const task = found.get(d.taskId);
        const c = task ? credentials.get(task.credentialId) : undefined;
        if (!task || !c || task.doneAt !== null) {
          skipped.push(d.deliveryId);
          continue;
        }
        current!.included.push(d.deliveryId);
        // A reminder left from an earlier day (a failed send retried) lists the task once.
        if (!current!.seen.has(task.id)) current!.items.push({ task, credential: c, url: entryUrl(c.slug) });
        current!.seen.add(task.id);
      }
      if (skipped.length > 0) await tasks.markSkipped(skipped, 'task done or deleted');
      summary.deliveriesSkipped += skipped.length;
      if (page.length < pageSize) break;
    }
    await flush();
  }

  return {
    /** One run; `ran: false` when another node holds the lock. */
    async run(): Promise<TaskReminderSummary> {
      const now = clock.now();
      const summary: TaskReminderSummary = { ran: false, reminders: 0, emailsSent: 0, emailsFailed: 0, recipients: [], deliveriesSkipped: 0 };
      if (!(await facts.tryLock(TASK_REMINDER_LOCK, holder, now.toISOString(), new Date(now.getTime() + leaseMs).toISOString()))) return summary;
      summary.ran = true;
      try {
        await decide(now, summary);
        if (mailer.enabled) await deliver(summary);
      } finally {
        await facts.unlock(TASK_REMINDER_LOCK, holder, clock.now().toISOString());
      }
      return summary;
    },
  };
}

/** The daily job with the task reminders after the credential reminders. */
export type DailyJobWithTasks = Omit<DailyExpiryJob, 'run'> & { run(): Promise<Awaited<ReturnType<DailyExpiryJob['run']>> & { rotationTasks: TaskReminderSummary }> };

export function withTaskReminders(daily: DailyExpiryJob, reminders: TaskReminders): DailyJobWithTasks {
  return {
    ...daily,
    async run() {
      const summary = await daily.run();
      return { ...summary, rotationTasks: await reminders.run() };
    },
  };
}
