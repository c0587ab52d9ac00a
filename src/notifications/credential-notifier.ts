/**
 * Reminders for outside credentials of the inventory (issue 14 item 4), run by the daily expiry job
 * after the token notices: 60, 30 and 7 days before a credential's due date (its expiry date, or the
 * next renewal or review its rule gives), once per interval and due date, the Maintainers and Owners
 * of the owning group (inherited memberships count) get one e-mail each listing their credentials with
 * the renewal procedure and the placements to update, and every hook subscribed to
 * `credential.expiring` along the owning group's chain gets a signed delivery.
 *
 * The shape is the token job's (expiry-notifier.ts): a band at a time, due credentials by the partial
 * index on the due date, a few batched look-ups per page, notices + deliveries + webhook deliveries in
 * one transaction (unique per credential, due date and interval, so a run never decides one twice),
 * then e-mails claimed a page at a time in recipient order and sent at least once, under a job lock.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Clock } from '../kernel/clock.js';
import { daysUntil, utcDateOf } from '../kernel/dates.js';
import type { Credential } from '../inventory/credential.js';
import { presentRenewalRule } from '../inventory/credential-json.js';
import { describePlacement } from '../inventory/credential.js';
import type { InventoryStore } from '../inventory/inventory-store.js';
import type { StoredHook } from '../webhooks/webhook-store.js';
import { noticeBands } from './expiry-check.js';
import type { ExpiryNoticeStore } from './expiry-notice-store.js';
import { ownerAudiences, type OwnerAudience } from './owner-audience.js';
import type { ExpiryNotifier, ExpiryRunSummary } from './expiry-notifier.js';
import type { CredentialInterval, CredentialNoticeStore, DueCredential, NewCredentialNotice } from './credential-notice-store.js';
import { composeCredentialEmail, type DueCredentialItem } from './credential-email.js';
import type { Mailer } from './mailer.js';
import { sendRecipientMail, type RecipientMailDeps } from './recipient-mail.js';

export const CREDENTIAL_JOB_LOCK = 'credential-notifications';
export const CREDENTIAL_EXPIRING_EVENT = 'credential.expiring';

export interface CredentialNotifierDeps {
  notices: CredentialNoticeStore;
  inventory: Pick<InventoryStore, 'findByIds'>;
  /** Groups, memberships and the job lock, shared with the token job's store. */
  facts: Pick<ExpiryNoticeStore, 'findGroups' | 'listMembersOf' | 'tryLock' | 'unlock'>;
  hooks: { liveHooks(): Promise<StoredHook[]> };
  clock: Clock;
  mailer: Mailer;
  leaseMs?: number;
  maxAttempts?: number;
  pageSize?: number;
  onEmail?: (outcome: 'sent' | 'failed') => void;
}

export interface CredentialRunSummary {
  ran: boolean;
  notices: Record<CredentialInterval, number>;
  webhookDeliveries: number;
  emailsSent: number;
  emailsFailed: number;
  recipients: string[];
  deliveriesSkipped: number;
}

/** The CLI hint each reminder ends with. */
export const renewHint = (c: Credential) => `latchkey credential renew ${c.slug}`;

/** The body of a `credential.expiring` delivery. Never a secret (the fingerprint is not even mentioned). */
export function credentialExpiringPayload(c: Credential, notice: { interval: CredentialInterval; dueOn: string; daysLeft: number; at: string }): string {
  return JSON.stringify({
    event: CREDENTIAL_EXPIRING_EVENT,
    at: notice.at,
    credential: {
      id: c.id,
      slug: c.slug,
      name: c.name,
      kind: c.kind,
      provider: c.provider,
      owner: { id: c.owner.id, full_path: c.owner.fullPath },
      renewal: presentRenewalRule(c.renewal),
      due_on: c.dueOn,
      placements: c.placements.map((p) => ({ id: p.id, kind: p.kind, description: describePlacement(p) })),
    },
    data: { interval: notice.interval, due_on: notice.dueOn, days_left: notice.daysLeft },
  });
}

export type CredentialNotifier = ReturnType<typeof createCredentialNotifier>;

export function createCredentialNotifier(deps: CredentialNotifierDeps) {
  const { notices, inventory, facts, clock, mailer } = deps;
  const leaseMs = deps.leaseMs ?? 10 * 60_000;
  const maxAttempts = deps.maxAttempts ?? 5;
  const pageSize = deps.pageSize ?? 500;
  const holder = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;

  /** For each credential of a page: its owning group's chain and its Maintainers and Owners (owner-audience.ts). */
  async function audienceOf(credentials: readonly Credential[], today: string): Promise<Map<number, OwnerAudience>> {
    const byGroup = await ownerAudiences(facts, credentials.map((c) => c.owner.id), today);
    return new Map(credentials.map((c) => [c.id, byGroup.get(c.owner.id)!]));
  }

  /** Decides and records the notices due at `now`, with their deliveries and webhook deliveries. */
  async function decide(now: Date, summary: CredentialRunSummary): Promise<void> {
    const today = utcDateOf(now);
    // With mail disabled the deliveries are recorded as skipped at once: nothing would ever send them.
    const skipReason = mailer.enabled ? null : 'mail disabled';
    const subscribed = (await deps.hooks.liveHooks()).filter((h) => h.events.includes(CREDENTIAL_EXPIRING_EVENT));
    for (const band of noticeBands(now)) {
      if (band.interval === 'expired') continue;
      const interval = band.interval;
      let after: DueCredential | null = null;
      for (;;) {
        const due = await notices.listDue(band, after, pageSize);
        if (due.length === 0) break;
        after = due[due.length - 1]!;
        const credentials = await inventory.findByIds(due.map((d) => d.id));
        const audience = await audienceOf(credentials, today);
        const batch = credentials.map((c): NewCredentialNotice => {
          const { chain, recipients } = audience.get(c.id)!;
          const notice = { interval, dueOn: c.dueOn, daysLeft: daysUntil(c.dueOn, now), at: now.toISOString() };
          // An instance hook, or a group hook on the owning group's chain.
          const hooks = subscribed.filter((h) => h.groupId === null || chain.has(h.groupId));
          return { credentialId: c.id, interval, dueOn: c.dueOn, daysLeft: notice.daysLeft, decidedAt: notice.at, recipients, webhooks: hooks.map((h) => ({ hookId: h.id, payload: credentialExpiringPayload(c, notice) })) };
        });
        const recorded = await notices.recordNotices(batch, skipReason);
        for (const i of recorded.intervals) summary.notices[i]++;
        summary.webhookDeliveries += recorded.webhooks;
        if (skipReason !== null) summary.deliveriesSkipped += recorded.deliveries;
        if (due.length < pageSize) break;
      }
    }
  }

  /**
   * One e-mail per recipient listing every credential of theirs with a delivery open, claimed a page at
   * a time in recipient order. A credential deleted, renewed or handed to another group since its notice
   * was decided is skipped. Stops when this node lost the lease.
   */
  const mailDeps: RecipientMailDeps = {
    mailer, clock, leaseMs, maxAttempts, onEmail: deps.onEmail,
    renewLease: (now, until) => facts.tryLock(CREDENTIAL_JOB_LOCK, holder, now, until),
    markSent: (ids, at) => notices.markSent(ids, at),
    markFailed: (ids, error, max) => notices.markFailed(ids, error, max),
  };

  async function deliver(summary: CredentialRunSummary): Promise<void> {
    const now = clock.now();
    const staleBefore = new Date(now.getTime() - leaseMs).toISOString();
    let after: { recipientKey: string; id: number } | null = null;
    let current = null as { key: string; email: string; items: DueCredentialItem[]; included: number[] } | null;

    async function flush(): Promise<boolean> {
      const mail = current;
      current = null;
      if (!mail || mail.included.length === 0) return true;
      return sendRecipientMail(mailDeps, { to: mail.email, content: composeCredentialEmail(mail.items, renewHint), deliveryIds: mail.included }, summary);
    }

    for (;;) {
      const page = await notices.claimDeliveries({ now: now.toISOString(), staleBefore, after, limit: pageSize });
      if (page.length === 0) break;
      const last = page[page.length - 1]!;
      after = { recipientKey: last.recipientKey, id: last.deliveryId };
      const credentials = new Map((await inventory.findByIds(page.map((d) => d.credentialId))).map((c) => [c.id, c]));
      const skipped: number[] = [];
      for (const d of page) {
        if (current?.key !== d.recipientKey) {
          if (!(await flush())) return;
          current = { key: d.recipientKey, email: d.email, items: [], included: [] };
        }
        const c = credentials.get(d.credentialId);
        if (!c || c.dueOn !== d.dueOn) {
          skipped.push(d.deliveryId);
          continue;
        }
        current!.included.push(d.deliveryId);
        current!.items.push({ credential: c, interval: d.interval, dueOn: d.dueOn, daysLeft: d.daysLeft });
      }
      if (skipped.length > 0) await notices.markSkipped(skipped, 'credential renewed or deleted');
      summary.deliveriesSkipped += skipped.length;
      if (page.length < pageSize) break;
    }
    await flush();
  }

  return {
    /** One run; `ran: false` when another node holds the lock. */
    async run(): Promise<CredentialRunSummary> {
      const now = clock.now();
      const summary: CredentialRunSummary = { ran: false, notices: { '60': 0, '30': 0, '7': 0 }, webhookDeliveries: 0, emailsSent: 0, emailsFailed: 0, recipients: [], deliveriesSkipped: 0 };
      if (!(await facts.tryLock(CREDENTIAL_JOB_LOCK, holder, now.toISOString(), new Date(now.getTime() + leaseMs).toISOString()))) return summary;
      summary.ran = true;
      try {
        await decide(now, summary);
        if (mailer.enabled) await deliver(summary);
      } finally {
        await facts.unlock(CREDENTIAL_JOB_LOCK, holder, clock.now().toISOString());
      }
      return summary;
    },
  };
}

/** The daily expiry job as `serve` and `latchkey notify run` start it: token notices, then credential reminders. */
export type DailyExpiryJob = Omit<ExpiryNotifier, 'run'> & { run(): Promise<ExpiryRunSummary & { credentials: CredentialRunSummary }> };

export function withCredentialReminders(tokens: ExpiryNotifier, credentials: CredentialNotifier): DailyExpiryJob {
  return {
    ...tokens,
    async run() {
      const summary = await tokens.run();
      return { ...summary, credentials: await credentials.run() };
    },
  };
}
