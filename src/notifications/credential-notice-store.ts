/**
 * The storage port of the credential reminders (issue 14 item 4): outside credentials with a notice
 * due, the notices with their e-mail deliveries and webhook deliveries, and the claims of the sender.
 * Implemented in store/credential-notices.ts. Pages and batches only, as the token expiry job's port.
 */
import type { UtcDate } from '../kernel/dates.js';
import type { NoticeBand, NoticeInterval } from './expiry-check.js';
import type { DeliveryCursor, Recipient } from './expiry-notice-store.js';

/** A credential with a notice due, and where a page of them ends. */
export interface DueCredential {
  readonly id: number;
  readonly dueOn: UtcDate;
}

export type CredentialInterval = Exclude<NoticeInterval, 'expired'>;

export interface NewCredentialNotice {
  readonly credentialId: number;
  readonly interval: CredentialInterval;
  readonly dueOn: UtcDate;
  readonly daysLeft: number;
  readonly decidedAt: string;
  readonly recipients: readonly Recipient[];
  /** The `credential.expiring` webhook deliveries this notice makes (hook and exact body). */
  readonly webhooks: readonly { readonly hookId: number; readonly payload: string }[];
}

export interface ClaimedCredentialDelivery {
  readonly deliveryId: number;
  readonly email: string;
  readonly recipientKey: string;
  readonly credentialId: number;
  readonly interval: CredentialInterval;
  readonly dueOn: UtcDate;
  readonly daysLeft: number;
}

export interface CredentialNoticeStore {
  /**
   * One page of outside credentials (not annotations of Latchkey's own tokens) due in `band`, without a
   * notice for this due date and any of `band.settledBy`; by (due date, id) after `after`. A range over
   * the partial index `inventory_credentials_outside_due`.
   */
  listDue(band: NoticeBand, after: DueCredential | null, limit: number): Promise<DueCredential[]>;
  /**
   * Records the notices, their deliveries (recipients deduplicated by e-mail) and their webhook
   * deliveries in one transaction; a notice that exists already (same credential, due date, interval)
   * is skipped with all it would have made. Returns the intervals of the notices written.
   */
  recordNotices(notices: readonly NewCredentialNotice[], skipReason: string | null): Promise<{ intervals: CredentialInterval[]; deliveries: number; webhooks: number }>;
  /** One page of open deliveries (pending, or claimed before `staleBefore`) claimed for sending, in (recipient key, id) order. */
  claimDeliveries(claim: { now: string; staleBefore: string; after: DeliveryCursor | null; limit: number }): Promise<ClaimedCredentialDelivery[]>;
  markSent(ids: readonly number[], at: string): Promise<void>;
  markFailed(ids: readonly number[], error: string, maxAttempts: number): Promise<void>;
  markSkipped(ids: readonly number[], reason: string): Promise<void>;
}
