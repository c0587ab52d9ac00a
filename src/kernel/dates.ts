/**
 * Calendar dates in UTC. A token's `expires_at` is a date (`YYYY-MM-DD`); the token stops working at
 * 00:00 UTC of that date on every node, whatever the server's time zone. This file is the only place
 * that turns dates into instants.
 */
export type UtcDate = string;

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
// ISO 8601 date-time with optional fraction and a Z or ±hh:mm offset (or none: read as UTC).
const DATETIME_RE = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/** The UTC calendar date of an instant. */
export function utcDateOf(instant: Date): UtcDate {
  return instant.toISOString().slice(0, 10);
}

/** The instant at which a token expiring on `date` stops working: 00:00 UTC of that date. */
export function midnightUtc(date: UtcDate): Date {
  return new Date(`${date}T00:00:00.000Z`);
}

/**
 * 00:00 UTC of the dates seen lately, in epoch ms: isExpiredAt runs on every verification, cache hits
 * included, and parsing a date costs 0.7–2 µs where a look-up here costs 0.05. Bounded: emptied when
 * it reaches MIDNIGHTS_KEPT dates (a store holds far fewer distinct expiry dates).
 */
const midnights = new Map<UtcDate, number>();
export const MIDNIGHTS_KEPT = 10_000;
function midnightMsOf(date: UtcDate): number {
  let ms = midnights.get(date);
  if (ms === undefined) {
    if (midnights.size >= MIDNIGHTS_KEPT) midnights.clear();
    ms = midnightUtc(date).getTime();
    midnights.set(date, ms);
  }
  return ms;
}

/** True when a token with this expiry date no longer works at `now`. */
export function isExpiredAt(expiresOn: UtcDate | null, now: Date): boolean {
  return expiresOn !== null && now.getTime() >= midnightMsOf(expiresOn);
}

/** Adds whole days to a date. */
export function addDays(date: UtcDate, days: number): UtcDate {
  return utcDateOf(new Date(midnightUtc(date).getTime() + days * 86_400_000));
}

/** Whole days from `now`'s date to `date` (negative when past). */
export function daysUntil(date: UtcDate, now: Date): number {
  return Math.round((midnightUtc(date).getTime() - midnightUtc(utcDateOf(now)).getTime()) / 86_400_000);
}

/**
 * Parses an ISO 8601 date or date-time as GitLab's `expires_at` accepts it and returns the UTC date it
 * falls on, or null when it is not a real date (`2026-02-30`, `tomorrow`, `2026-13-01`).
 */
export function parseExpiryDate(input: string): UtcDate | null {
  const text = input.trim();
  if (DATE_RE.test(text)) {
    const d = new Date(`${text}T00:00:00.000Z`);
    return !Number.isNaN(d.getTime()) && utcDateOf(d) === text ? text : null;
  }
  const m = DATETIME_RE.exec(text);
  if (!m) return null;
  const datePart = m[1]!;
  const check = new Date(`${datePart}T00:00:00.000Z`);
  if (Number.isNaN(check.getTime()) || utcDateOf(check) !== datePart) return null;
  if (Number(m[2]) > 23 || Number(m[3]) > 59 || Number(m[4] ?? 0) > 59) return null;
  const zone = m[5] ? (m[5].toUpperCase() === 'Z' ? 'Z' : m[5].replace(/^([+-]\d{2})(\d{2})$/, '$1:$2')) : 'Z';
  const iso = `${datePart}T${m[2]}:${m[3]}:${m[4] ?? '00'}${zone}`;
  const instant = new Date(iso);
  return Number.isNaN(instant.getTime()) ? null : utcDateOf(instant);
}

/** GitLab's wire form of an expiry date: `2021-01-01T00:00:00.000Z`. */
export function presentExpiryDate(date: UtcDate | null): string | null {
  return date === null ? null : midnightUtc(date).toISOString();
}
