/**
 * The expiry job: decides the notices due now (expiry-check), records them with their recipients,
 * publishes token.expiring / token.expired events, and mails each recipient one message listing their
 * tokens. Runs under a database lock with a lease so one node at a time does it.
 *
 * Events go through the transactional outbox of token events: a page of notices is marked published in
 * the transaction that writes their events into the outbox, so a crash loses none and writes none
 * twice; a run that died before publishing leaves its notices unpublished for the next run. From the
 * outbox the relay makes each event one audit entry and its webhook deliveries, exactly once.
 *
 * Built for a million tokens: every step works in pages (due tokens by an index on the expiry date,
 * unpublished notices, claimed deliveries) with batched look-ups per page, so a day with nothing due
 * reads no token rows, a day with notices costs a few queries per page of them, and memory holds one
 * page (plus the recipient being mailed) whatever the number of tokens.
 *
 * Delivery is at-least-once: a delivery row is claimed (pending → sending) before the SMTP send and
 * marked sent after it. A node that dies between the server's acceptance and that mark leaves the row
 * 'sending'; once its lease has passed, the next run sends it again (a possible duplicate, never a lost
 * notice). Notices themselves are unique per token and interval, so a run never decides one twice.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Clock } from '../kernel/clock.js';
import { utcDateOf } from '../kernel/dates.js';
import { isRevokedAt } from '../tokens/token.js';
import { dueNotice, noticeBands, type NoticeInterval } from './expiry-check.js';
import { loadExpiryContext } from './expiry-context.js';
import { composeExpiryEmail, type ExpiringTokenItem } from './expiry-email.js';
import type { DeliveryCursor, DueCursor, ExpiryNoticeStore } from './expiry-notice-store.js';
import type { Mailer } from './mailer.js';
import { sendRecipientMail, type RecipientMailDeps } from './recipient-mail.js';

export const EXPIRY_JOB_LOCK = 'expiry-notifications';

export interface ExpiryNotifierDeps {
  notices: ExpiryNoticeStore;
  clock: Clock;
  mailer: Mailer;
  /** Base of the rotate links in e-mails (LATCHKEY_PUBLIC_URL, or the listen address). */
  publicUrl: string;
  /** How long the job lock (and a claimed delivery) is held before another node may take it over. */
  leaseMs?: number;
  /** Tries per delivery before it is marked failed. */
  maxAttempts?: number;
  /** This node's name in the lock row. */
  holder?: string;
  /** Called once per e-mail attempted (metrics: latchkey_notifications_total{channel="email"}). */
  onEmail?: (outcome: 'sent' | 'failed') => void;
  /** Rows per page: due tokens decided, notices published and deliveries claimed at a time (500). */
  pageSize?: number;
}

export interface ExpiryRunSummary {
  /** False when another node holds the lock: nothing was done. */
  ran: boolean;
  at: string;
  mail: 'enabled' | 'disabled';
  /** Notices decided in this run, by interval. */
  notices: Record<NoticeInterval, number>;
  eventsPublished: number;
  emailsSent: number;
  emailsFailed: number;
  /** Recipients (addresses) of the e-mails sent. */
  recipients: string[];
  deliveriesSkipped: number;
}

export type ExpiryNotifier = ReturnType<typeof createExpiryNotifier>;

export function createExpiryNotifier(deps: ExpiryNotifierDeps) {
  const { notices, clock, mailer } = deps;
  const leaseMs = deps.leaseMs ?? 10 * 60_000;
  const maxAttempts = deps.maxAttempts ?? 5;
  const holder = deps.holder ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const base = deps.publicUrl.replace(/\/+$/, '');
  const pageSize = deps.pageSize ?? 500;

  /**
   * Decides and records the notices due at `now`; returns how many per interval (and the deliveries
   * recorded skipped). Per band, the store returns only tokens with a notice due, a page at a time: a day
   * with nothing due reads no token rows, and a day with notices costs a few batched queries per page.
   */
  async function decide(now: Date): Promise<{ notices: Record<NoticeInterval, number>; deliveriesSkipped: number }> {
    const counts: Record<NoticeInterval, number> = { '60': 0, '30': 0, '7': 0, expired: 0 };
    let deliveriesSkipped = 0;
    // With mail disabled the deliveries are recorded as skipped at once: nothing would ever send them.
    const skipReason = mailer.enabled ? null : 'mail disabled';
    const today = utcDateOf(now);
    for (const band of noticeBands(now)) {
      let after: DueCursor | null = null;
      for (;;) {
        const due = await notices.listDue(band, after, pageSize);
        if (due.length === 0) break;
        after = due[due.length - 1]!;
        const found = await notices.findTokens(due.map((d) => d.id));
        const tokens = due.flatMap((d) => found.get(d.id) ?? []);
        const context = await loadExpiryContext(notices, tokens, { base, today });
        const batch = [];
        for (const token of tokens) {
          // The store's band already says due; the rule itself still decides (and gives daysLeft).
          const notice = dueNotice({ expiresAt: token.expiresAt, revoked: isRevokedAt(token, now) }, [], now);
          if (!notice || notice.interval !== band.interval) continue;
          batch.push({ notice: { tokenId: token.id, interval: notice.interval, expiresAt: token.expiresAt!, daysLeft: notice.daysLeft, decidedAt: now.toISOString() }, recipients: context.recipientsOf(token) });
        }
        const recorded = await notices.recordNotices(batch, skipReason);
        for (const n of recorded.notices) counts[n.interval]++;
        if (skipReason !== null) deliveriesSkipped += recorded.deliveries;
        if (due.length < pageSize) break;
      }
    }
    return { notices: counts, deliveriesSkipped };
  }

  /** Publishes the events of notices not published yet (this run's, and any a crashed run left). */
  async function publishEvents(): Promise<number> {
    let published = 0;
    let afterId = 0;
    for (;;) {
      const page = await notices.listUnpublished(afterId, pageSize);
      if (page.length === 0) break;
      afterId = page[page.length - 1]!.noticeId;
      const tokens = await notices.findTokens(page.map((n) => n.tokenId));
      const context = await loadExpiryContext(notices, [...tokens.values()], { base });
      const events = page.map((n) => {
        const token = tokens.get(n.tokenId);
        const d = token ? context.describe(token) : null;
        const data: Record<string, unknown> = {
          kind: token?.kind ?? null,
          name: token?.name ?? null,
          scopes: token?.scopes ?? [],
          project: d?.projectPath ?? null,
          group: d?.groupPath ?? null,
          expires_at: n.expiresAt,
          days_left: n.daysLeft,
          interval: n.interval,
        };
        return { noticeId: n.noticeId, event: { name: n.interval === 'expired' ? 'token.expired' : 'token.expiring', tokenId: n.tokenId, at: n.decidedAt, data } as const };
      });
      published += await notices.publishNotices(events, clock.now().toISOString());
      if (page.length < pageSize) break;
    }
    return published;
  }

  /**
   * Sends one e-mail per recipient listing all their due deliveries. Deliveries are claimed a page at a
   * time in recipient order, so only one page and the current recipient's list are in memory.
   * Stops when the lease was lost (another node took over).
   */
  // Keeps the lease while sending: a node that lost it stops and leaves the rest to the holder.
  const mailDeps: RecipientMailDeps = {
    mailer, clock, leaseMs, maxAttempts, onEmail: deps.onEmail,
    renewLease: (now, until) => notices.tryLock(EXPIRY_JOB_LOCK, holder, now, until),
    markSent: (ids, at) => notices.markSent(ids, at),
    markFailed: (ids, error, max) => notices.markFailed(ids, error, max),
  };

  async function deliver(summary: ExpiryRunSummary): Promise<void> {
    const now = clock.now();
    const staleBefore = new Date(now.getTime() - leaseMs).toISOString();
    let after: DeliveryCursor | null = null;
    // One recipient's message being built; assigned in flush() too, hence the widened type.
    let current = null as { key: string; email: string; items: ExpiringTokenItem[]; included: number[] } | null;

    /** Mails the current recipient; false when this node lost the lease and must stop. */
    async function flush(): Promise<boolean> {
      const group = current;
      current = null;
      if (!group || group.included.length === 0) return true;
      if (!mailer.enabled) {
        await notices.markSkipped(group.included, 'mail disabled');
        summary.deliveriesSkipped += group.included.length;
        return true;
      }
      return sendRecipientMail(mailDeps, { to: group.email, content: composeExpiryEmail(group.items), deliveryIds: group.included }, summary);
    }

    for (;;) {
      const page = await notices.claimDeliveries({ now: now.toISOString(), staleBefore, after, limit: pageSize });
      if (page.length === 0) break;
      const last = page[page.length - 1]!;
      after = { recipientKey: last.recipientKey, id: last.deliveryId };
      const tokens = await notices.findTokens(page.map((d) => d.tokenId));
      const context = await loadExpiryContext(notices, [...tokens.values()], { base });
      const skipped: number[] = [];
      for (const d of page) {
        if (current?.key !== d.recipientKey) {
          if (!(await flush())) return;
          current = { key: d.recipientKey, email: d.email, items: [], included: [] };
        }
        const token = tokens.get(d.tokenId);
        // Revoked or rotated since the notice was decided (crash recovery, or a change in between): nothing to rotate.
        if (!token || isRevokedAt(token, clock.now()) || token.supersededAt !== null) {
          skipped.push(d.deliveryId);
          continue;
        }
        const info = context.describe(token);
        current!.included.push(d.deliveryId);
        current!.items.push({ tokenId: d.tokenId, name: token.name, kindLabel: info.kindLabel, where: info.where, scopes: token.scopes, expiresAt: d.expiresAt, daysLeft: d.daysLeft, interval: d.interval, rotateUrl: info.rotateUrl });
      }
      if (skipped.length > 0) await notices.markSkipped(skipped, 'token revoked');
      summary.deliveriesSkipped += skipped.length;
      if (page.length < pageSize) break;
    }
    await flush();
  }

  return {
    holder,
    /** One run of the job; `ran: false` when another node holds the lock. */
    async run(): Promise<ExpiryRunSummary> {
      const now = clock.now();
      const summary: ExpiryRunSummary = {
        ran: false,
        at: now.toISOString(),
        mail: mailer.enabled ? 'enabled' : 'disabled',
        notices: { '60': 0, '30': 0, '7': 0, expired: 0 },
        eventsPublished: 0,
        emailsSent: 0,
        emailsFailed: 0,
        recipients: [],
        deliveriesSkipped: 0,
      };
      if (!(await notices.tryLock(EXPIRY_JOB_LOCK, holder, now.toISOString(), new Date(now.getTime() + leaseMs).toISOString()))) return summary;
      summary.ran = true;
      try {
        const decided = await decide(now);
        summary.notices = decided.notices;
        summary.deliveriesSkipped += decided.deliveriesSkipped;
        summary.eventsPublished = await publishEvents();
        await deliver(summary);
      } finally {
        await notices.unlock(EXPIRY_JOB_LOCK, holder, clock.now().toISOString());
      }
      return summary;
    },
    /** Only the decision step, without sending: what a node that dies right after it leaves behind (tests). */
    decide,
  };
}
