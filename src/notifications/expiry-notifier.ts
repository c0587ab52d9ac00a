/**
 * The expiry job: decides the notices due now (expiry-check), records them with their recipients,
 * publishes token.expiring / token.expired events, and mails each recipient one message listing their
 * tokens. Runs under a database lock with a lease so one node at a time does it.
 *
 * Delivery is at-least-once: a delivery row is claimed (pending → sending) before the SMTP send and
 * marked sent after it. A node that dies between the server's acceptance and that mark leaves the row
 * 'sending'; once its lease has passed, the next run sends it again (a possible duplicate, never a lost
 * notice). Notices themselves are unique per token and interval, so a run never decides one twice.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Clock } from '../kernel/clock.js';
import { addDays, utcDateOf } from '../kernel/dates.js';
import { AccessLevel } from '../namespaces/access-levels.js';
import type { MemberSource } from '../namespaces/namespace.js';
import type { Store } from '../store/open-store.js';
import type { TokenEventSink } from '../events/token-events.js';
import { isRevokedAt, type Token } from '../tokens/token.js';
import { dueNotice, EXPIRED_LOOKBACK_DAYS, WARNING_DAYS, type NoticeInterval } from './expiry-check.js';
import { composeExpiryEmail, type ExpiringTokenItem } from './expiry-email.js';
import type { ClaimedDelivery, ExpiryNoticeStore, Recipient } from './expiry-notice-store.js';
import type { Mailer } from './mailer.js';

export const EXPIRY_JOB_LOCK = 'expiry-notifications';

export interface ExpiryNotifierDeps {
  store: Store;
  notices: ExpiryNoticeStore;
  clock: Clock;
  mailer: Mailer;
  events: TokenEventSink;
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

const KIND_LABEL: Record<string, string> = {
  deploy: 'deploy token',
  personal: 'personal access token',
  project: 'project access token',
  group: 'group access token',
};

interface Described {
  token: Token;
  kindLabel: string;
  where: string;
  projectPath: string | null;
  groupPath: string | null;
  rotateUrl: string;
}

export type ExpiryNotifier = ReturnType<typeof createExpiryNotifier>;

export function createExpiryNotifier(deps: ExpiryNotifierDeps) {
  const { store, notices, clock, mailer, events } = deps;
  const leaseMs = deps.leaseMs ?? 10 * 60_000;
  const maxAttempts = deps.maxAttempts ?? 5;
  const holder = deps.holder ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const base = deps.publicUrl.replace(/\/+$/, '');

  async function sourcesOfProject(projectId: number): Promise<MemberSource[]> {
    const project = await store.namespaces.findProjectById(projectId);
    if (!project) return [];
    const group = await store.namespaces.findGroupById(project.groupId);
    return [{ type: 'project', id: project.id }, ...(group?.ancestorIds ?? []).map((id) => ({ type: 'group' as const, id }))];
  }
  async function sourcesOfGroup(groupId: number): Promise<MemberSource[]> {
    const group = await store.namespaces.findGroupById(groupId);
    return (group?.ancestorIds ?? []).map((id) => ({ type: 'group' as const, id }));
  }

  /**
   * Who is told about a token: a human's personal token → that user; a service account's token → the
   * Owners of the group that owns the account (they manage it); deploy, project and group tokens → the
   * Maintainers and Owners (inherited memberships included) of the project or group. Bots, blocked users
   * and users without an e-mail are never recipients.
   */
  async function recipientsOf(token: Token, today: string): Promise<Recipient[]> {
    if (token.kind === 'personal') {
      if (token.userId === null) return [];
      const user = await store.namespaces.findUserById(token.userId);
      if (!user) return [];
      if (user.botKind === 'service_account') {
        const groupId = await notices.provisioningGroupOf(user.id);
        return groupId === null ? [] : notices.managersOf(await sourcesOfGroup(groupId), AccessLevel.OWNER, today);
      }
      if (user.botKind !== null || user.state !== 'active' || !user.email) return [];
      return [{ userId: user.id, email: user.email }];
    }
    const sources = token.projectId !== null ? await sourcesOfProject(token.projectId) : token.groupId !== null ? await sourcesOfGroup(token.groupId) : [];
    return notices.managersOf(sources, AccessLevel.MAINTAINER, today);
  }

  async function describe(token: Token): Promise<Described> {
    let kindLabel = KIND_LABEL[token.kind] ?? token.kind;
    let projectPath: string | null = null;
    let groupPath: string | null = null;
    let where = '';
    let rotateUrl = base;
    if (token.projectId !== null) {
      projectPath = (await store.namespaces.findProjectById(token.projectId))?.pathWithNamespace ?? `project ${token.projectId}`;
      where = `project ${projectPath}`;
      rotateUrl = `${base}/${projectPath}/-/settings/${token.kind === 'deploy' ? 'repository#js-deploy-tokens' : 'access_tokens'}`;
    } else if (token.groupId !== null) {
      groupPath = (await store.namespaces.findGroupById(token.groupId))?.fullPath ?? `group ${token.groupId}`;
      where = `group ${groupPath}`;
      rotateUrl = `${base}/groups/${groupPath}/-/settings/${token.kind === 'deploy' ? 'repository#js-deploy-tokens' : 'access_tokens'}`;
    } else if (token.userId !== null) {
      const user = await store.namespaces.findUserById(token.userId);
      const groupId = user?.botKind === 'service_account' ? await notices.provisioningGroupOf(user.id) : null;
      if (groupId !== null) {
        groupPath = (await store.namespaces.findGroupById(groupId))?.fullPath ?? `group ${groupId}`;
        kindLabel = 'service account token';
        where = `service account ${user!.username} of group ${groupPath}`;
        rotateUrl = `${base}/groups/${groupPath}/-/settings/service_accounts`;
      } else {
        where = `user ${user?.username ?? token.userId}`;
        rotateUrl = `${base}/-/user_settings/personal_access_tokens`;
      }
    }
    return { token, kindLabel, where, projectPath, groupPath, rotateUrl };
  }

  /** Decides and records the notices due at `now`; returns how many per interval. */
  async function decide(now: Date): Promise<Record<NoticeInterval, number>> {
    const counts: Record<NoticeInterval, number> = { '60': 0, '30': 0, '7': 0, expired: 0 };
    const today = utcDateOf(now);
    const horizon = Math.max(...WARNING_DAYS);
    const candidates = await notices.listCandidates({ from: addDays(today, -EXPIRED_LOOKBACK_DAYS), to: addDays(today, horizon) });
    for (const { token, noticed } of candidates) {
      const due = dueNotice({ expiresAt: token.expiresAt, revoked: isRevokedAt(token, now) }, noticed, now);
      if (!due) continue;
      const recipients = await recipientsOf(token, today);
      const recorded = await notices.recordNotice({ tokenId: token.id, interval: due.interval, expiresAt: token.expiresAt!, daysLeft: due.daysLeft, decidedAt: now.toISOString() }, recipients);
      if (recorded) counts[due.interval]++;
    }
    return counts;
  }

  /** Publishes the events of notices not published yet (this run's, and any a crashed run left). */
  async function publishEvents(): Promise<number> {
    let published = 0;
    for (const n of await notices.listUnpublished()) {
      const token = await store.tokens.findById(n.tokenId);
      const d = token ? await describe(token) : null;
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
      try {
        await events.publish({ name: n.interval === 'expired' ? 'token.expired' : 'token.expiring', tokenId: n.tokenId, at: n.decidedAt, data });
      } catch {
        continue; // a sink should not throw; if one does, the next run publishes again
      }
      await notices.markPublished(n.noticeId, clock.now().toISOString());
      published++;
    }
    return published;
  }

  async function deliver(summary: ExpiryRunSummary): Promise<void> {
    const now = clock.now();
    const claimed = await notices.claimDeliveries(now.toISOString(), new Date(now.getTime() - leaseMs).toISOString());
    const byRecipient = new Map<string, ClaimedDelivery[]>();
    for (const d of claimed) byRecipient.set(d.email.toLowerCase(), [...(byRecipient.get(d.email.toLowerCase()) ?? []), d]);
    const described = new Map<number, Described | null>();
    for (const deliveries of byRecipient.values()) {
      const items: ExpiringTokenItem[] = [];
      const included: number[] = [];
      const skipped: number[] = [];
      for (const d of deliveries) {
        if (!described.has(d.tokenId)) {
          const token = await store.tokens.findById(d.tokenId);
          described.set(d.tokenId, token ? await describe(token) : null);
        }
        const info = described.get(d.tokenId);
        // Revoked or rotated since the notice was decided (crash recovery, or a change in between): nothing to rotate.
        if (!info || isRevokedAt(info.token, clock.now()) || info.token.supersededAt !== null) {
          skipped.push(d.deliveryId);
          continue;
        }
        included.push(d.deliveryId);
        items.push({ tokenId: d.tokenId, name: info.token.name, kindLabel: info.kindLabel, where: info.where, scopes: info.token.scopes, expiresAt: d.expiresAt, daysLeft: d.daysLeft, interval: d.interval, rotateUrl: info.rotateUrl });
      }
      if (skipped.length > 0) await notices.markSkipped(skipped, 'token revoked');
      summary.deliveriesSkipped += skipped.length;
      if (included.length === 0) continue;
      if (!mailer.enabled) {
        await notices.markSkipped(included, 'mail disabled');
        summary.deliveriesSkipped += included.length;
        continue;
      }
      // Keep the lease while sending; a node that lost it stops here and leaves the rest to the holder.
      const t = clock.now();
      if (!(await notices.tryLock(EXPIRY_JOB_LOCK, holder, t.toISOString(), new Date(t.getTime() + leaseMs).toISOString()))) break;
      try {
        await mailer.send({ to: deliveries[0]!.email, ...composeExpiryEmail(items) });
      } catch (e) {
        await notices.markFailed(included, (e as Error).message, maxAttempts);
        summary.emailsFailed++;
        deps.onEmail?.('failed');
        continue;
      }
      await notices.markSent(included, clock.now().toISOString());
      summary.emailsSent++;
      deps.onEmail?.('sent');
      summary.recipients.push(deliveries[0]!.email);
    }
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
        summary.notices = await decide(now);
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
