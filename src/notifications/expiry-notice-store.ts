/**
 * The storage port of the expiry job: due tokens, the namespace facts that say who is told, notices,
 * deliveries and the job lock. Implemented in store/expiry-notices.ts.
 *
 * Every read is a page or a batch by ids, so the job's memory does not grow with the number of tokens
 * and its round trips grow with the number of notices, not of tokens.
 */
import type { TokenEvent } from '../events/token-events.js';
import type { UtcDate } from '../kernel/dates.js';
import type { BotKind, MemberSource } from '../namespaces/namespace.js';
import type { Token } from '../tokens/token.js';
import type { NoticeBand, NoticeInterval } from './expiry-check.js';

/** A due token's key, which is also where a page of them ends (the next page starts after it). */
export interface DueCursor {
  readonly expiresAt: UtcDate;
  readonly id: number;
}

export interface Recipient {
  readonly userId: number;
  readonly email: string;
}

/** A user as the job needs it: whether they can be told, and the group owning a service account. */
export interface NoticeUser {
  readonly id: number;
  readonly username: string;
  readonly email: string | null;
  readonly state: string;
  readonly botKind: BotKind | null;
  /** Service accounts: the group that provisioned (owns) the account; null for any other user. */
  readonly provisioningGroupId: number | null;
}

export interface NoticeProject {
  readonly id: number;
  readonly groupId: number;
  readonly pathWithNamespace: string;
}

export interface NoticeGroup {
  readonly id: number;
  readonly fullPath: string;
  /** From the root group down to this one, this one included. */
  readonly ancestorIds: readonly number[];
}

/** A current membership of an active human user with an e-mail. */
export interface SourceMember {
  readonly source: MemberSource;
  readonly userId: number;
  readonly email: string;
  readonly accessLevel: number;
}

export interface NewNotice {
  readonly tokenId: number;
  readonly interval: NoticeInterval;
  readonly expiresAt: UtcDate;
  readonly daysLeft: number;
  readonly decidedAt: string;
}

export interface RecordedNotice {
  readonly tokenId: number;
  readonly interval: NoticeInterval;
}

/** Where a page of deliveries ends: the recipient key (lower-cased e-mail) and the delivery id. */
export interface DeliveryCursor {
  readonly recipientKey: string;
  readonly id: number;
}

export interface ClaimedDelivery {
  readonly deliveryId: number;
  readonly noticeId: number;
  readonly email: string;
  /** The e-mail lower-cased by the store: deliveries with the same key go into one message. */
  readonly recipientKey: string;
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
   * One page of the tokens with a notice due in `band` (their id and expiry date): expiry date in
   * [band.from, band.to], not revoked, not deleted, not rotated away (a token in its rotation grace is
   * left out: its successor is the one to warn about), and without a notice for any of
   * `band.settledBy`. Ordered by (expiry date, id), after `after`. An index-only range over active tokens
   * by expiry date, probing the notices' unique key: a scan with nothing due reads no table rows.
   */
  listDue(band: NoticeBand, after: DueCursor | null, limit: number): Promise<DueCursor[]>;
  findTokens(ids: readonly number[]): Promise<Map<number, Token>>;
  findUsers(ids: readonly number[]): Promise<Map<number, NoticeUser>>;
  findProjects(ids: readonly number[]): Promise<Map<number, NoticeProject>>;
  findGroups(ids: readonly number[]): Promise<Map<number, NoticeGroup>>;
  /**
   * The memberships on any of the sources held by active human users with an e-mail, memberships ending
   * on or before `today` left out. One row per membership; the caller picks each user's highest level.
   */
  listMembersOf(sources: readonly MemberSource[], today: UtcDate): Promise<SourceMember[]>;
  /**
   * Records notices and their deliveries (recipients deduplicated by e-mail, case-insensitively) in one
   * transaction. A token that already has a notice for that interval is skipped — the unique key
   * decides, also between nodes. Deliveries are pending, or skipped with `skipReason` when it is given
   * (mail disabled: nothing will ever send them). Returns the notices and the deliveries written.
   */
  recordNotices(notices: readonly { notice: NewNotice; recipients: readonly Recipient[] }[], skipReason: string | null): Promise<{ notices: RecordedNotice[]; deliveries: number }>;
  /**
   * Claims one page of the deliveries to send, ordered by recipient key and id, after `after`: pending
   * ones, and ones claimed before `staleBefore` (a node died mid-send). Each row is claimed by a
   * conditional update, so two runners never claim the same one.
   */
  claimDeliveries(claim: { now: string; staleBefore: string; after: DeliveryCursor | null; limit: number }): Promise<ClaimedDelivery[]>;
  markSent(deliveryIds: readonly number[], at: string): Promise<void>;
  /** Back to pending for a later run, or `failed` once `maxAttempts` tries were made. */
  markFailed(deliveryIds: readonly number[], error: string, maxAttempts: number): Promise<void>;
  /** Not sent and never will be (mail disabled, token revoked since, no longer a recipient). */
  markSkipped(deliveryIds: readonly number[], reason: string): Promise<void>;
  /** One page of the notices whose event was not published yet, by id, after `afterId`. */
  listUnpublished(afterId: number, limit: number): Promise<UnpublishedNotice[]>;
  /**
   * Publishes notices' events: in one transaction, marks the notices published at `at` and writes their
   * events into the token-event outbox (src/events/event-outbox.ts), so both commit or neither — a
   * crash can neither lose an event nor write one twice. Only notices still unpublished are marked and
   * only their events written (a runner that took over the lease may have published some). The relay
   * moves the events on after the commit. Returns how many were published.
   */
  publishNotices(published: readonly { noticeId: number; event: TokenEvent }[], at: string): Promise<number>;

  /** Takes (or renews) the named lock until `until`, unless another holder's lease runs past `now`. */
  tryLock(name: string, holder: string, now: string, until: string): Promise<boolean>;
  /** Ends the holder's lease. */
  unlock(name: string, holder: string, now: string): Promise<void>;
}
