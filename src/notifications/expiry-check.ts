/**
 * Which expiry notice a token is due at `now` — pure rules, no I/O. A token is warned 60, 30 and 7 days
 * before its expiry date, once per interval, and only in the interval it is in now: a token first seen
 * 25 days out gets the 30-day notice, later the 7-day one, and never the 60-day one afterwards.
 */
import { addDays, daysUntil, isExpiredAt, utcDateOf, type UtcDate } from '../kernel/dates.js';

export type NoticeInterval = '60' | '30' | '7' | 'expired';

/** The warning intervals, most urgent first. */
export const WARNING_DAYS = [7, 30, 60] as const;

/**
 * An expired token gets its 'expired' notice only if it expired at most this many days ago: the first run
 * after an upgrade must not mail about every token that expired years before; a job that stays down for
 * longer than this loses those notices (documented in the README).
 */
export const EXPIRED_LOOKBACK_DAYS = 30;

/** Urgency order: a notice of lower rank must never follow one of higher rank. */
const RANK: Record<NoticeInterval, number> = { '60': 0, '30': 1, '7': 2, expired: 3 };

export interface ExpiryFacts {
  /** The token's expiry date; null = never expires (no notice). */
  readonly expiresAt: UtcDate | null;
  /** Revoked at `now` (explicitly, or rotated away and past its grace): no notice of any kind. */
  readonly revoked: boolean;
}

export interface DueNotice {
  readonly interval: NoticeInterval;
  /** Whole days from `now`'s date to the expiry date; 0 or negative once expired. */
  readonly daysLeft: number;
}

/** The interval a token is in at `now`, whatever was sent before; null when outside every window. */
export function currentInterval(expiresAt: UtcDate, now: Date): NoticeInterval | null {
  if (isExpiredAt(expiresAt, now)) return -daysUntil(expiresAt, now) <= EXPIRED_LOOKBACK_DAYS ? 'expired' : null;
  const left = daysUntil(expiresAt, now);
  for (const days of WARNING_DAYS) if (left <= days) return String(days) as NoticeInterval;
  return null;
}

/**
 * The notice due for a token at `now`, given the intervals already noticed for it; null when none is.
 * Never an interval already noticed, never a less urgent one than a notice already given.
 */
export function dueNotice(token: ExpiryFacts, alreadyNoticed: Iterable<NoticeInterval>, now: Date): DueNotice | null {
  if (token.revoked || token.expiresAt === null) return null;
  const interval = currentInterval(token.expiresAt, now);
  if (interval === null) return null;
  for (const given of alreadyNoticed) if (RANK[given] >= RANK[interval]) return null;
  return { interval, daysLeft: daysUntil(token.expiresAt, now) };
}

/**
 * The expiry dates each interval covers at `now` (inclusive), and the notices that settle it: a token
 * whose expiry date is in a band has a notice due unless it was already noticed for that interval or a
 * more urgent one. This is `currentInterval` and `dueNotice` turned into ranges, so the scan can ask the
 * store for exactly the due tokens (an index range per band) instead of reading every candidate.
 */
export interface NoticeBand {
  readonly interval: NoticeInterval;
  readonly from: UtcDate;
  readonly to: UtcDate;
  /** A notice for any of these intervals means nothing is due for the token in this band. */
  readonly settledBy: readonly NoticeInterval[];
}

export function noticeBands(now: Date): NoticeBand[] {
  const today = utcDateOf(now);
  const settledBy = (interval: NoticeInterval) => (Object.keys(RANK) as NoticeInterval[]).filter((i) => RANK[i] >= RANK[interval]);
  // Most urgent first, as the mails list them.
  const bands: NoticeBand[] = [{ interval: 'expired', from: addDays(today, -EXPIRED_LOOKBACK_DAYS), to: today, settledBy: settledBy('expired') }];
  let after = 0;
  for (const days of WARNING_DAYS) {
    const interval = String(days) as NoticeInterval;
    bands.push({ interval, from: addDays(today, after + 1), to: addDays(today, days), settledBy: settledBy(interval) });
    after = days;
  }
  return bands;
}
