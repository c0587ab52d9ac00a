/** The storage port of the expiry job: candidates, notices, deliveries and the job lock. Implemented in store/expiry-notices.ts. */
import type { UtcDate } from '../kernel/dates.js';
import type { MemberSource } from '../namespaces/namespace.js';
import type { Token } from '../tokens/token.js';
import type { NoticeInterval } from './expiry-check.js';

export interface NoticeCandidate {
  readonly token: Token;
  /** Intervals already noticed for this token (any state). */
  readonly noticed: readonly NoticeInterval[];
}

export interface Recipient {
  readonly userId: number;
  readonly email: string;
}

export interface NewNotice {
  readonly tokenId: number;
  readonly interval: NoticeInterval;
  readonly expiresAt: UtcDate;
  readonly daysLeft: number;
  readonly decidedAt: string;
}

export interface ClaimedDelivery {
  readonly deliveryId: number;
  readonly noticeId: number;
  readonly email: string;
  readonly userId: number | null;
  readonly tokenId: number;
  readonly interval: NoticeInterval;
  readonly daysLeft: number;
  readonly expiresAt: UtcDate;
  /** 1 for the first try. */
  readonly attempt: number;
}

export interface UnpublishedNotice {
  readonly noticeId: number;
  readonly tokenId: number;
  readonly interval: NoticeInterval;
  readonly daysLeft: number;
  readonly expiresAt: UtcDate;
  readonly decidedAt: string;
}

export interface ExpiryNoticeStore {
  /**
   * Tokens not revoked, not deleted and not rotated away (a token in its rotation grace is left out: its
   * successor is the one to warn about), whose expiry date is within [from, to], with the intervals
   * already noticed for each.
   */
  listCandidates(range: { from: UtcDate; to: UtcDate }): Promise<NoticeCandidate[]>;
  /** The service account's owning group, or null for any other user. */
  provisioningGroupOf(userId: number): Promise<number | null>;
  /** Active human users with an e-mail whose highest non-expired level on any source is at least `minLevel`. */
  managersOf(sources: readonly MemberSource[], minLevel: number, today: UtcDate): Promise<Recipient[]>;
  /**
   * Records a notice and its deliveries in one transaction; false (nothing written) when the token
   * already has a notice for that interval — the unique key decides, also between nodes.
   */
  recordNotice(notice: NewNotice, recipients: readonly Recipient[]): Promise<boolean>;
  /**
   * Claims the deliveries to send: pending ones, and ones claimed before `staleBefore` (a node died
   * mid-send). Each row is claimed by a conditional update, so two runners never claim the same one.
   */
  claimDeliveries(now: string, staleBefore: string): Promise<ClaimedDelivery[]>;
  markSent(deliveryIds: readonly number[], at: string): Promise<void>;
  /** Back to pending for a later run, or `failed` once `maxAttempts` tries were made. */
  markFailed(deliveryIds: readonly number[], error: string, maxAttempts: number): Promise<void>;
  /** Not sent and never will be (mail disabled, token revoked since, no longer a recipient). */
  markSkipped(deliveryIds: readonly number[], reason: string): Promise<void>;
  listUnpublished(): Promise<UnpublishedNotice[]>;
  markPublished(noticeId: number, at: string): Promise<void>;

  /** Takes (or renews) the named lock until `until`, unless another holder's lease runs past `now`. */
  tryLock(name: string, holder: string, now: string, until: string): Promise<boolean>;
  /** Ends the holder's lease. */
  unlock(name: string, holder: string, now: string): Promise<void>;
}
