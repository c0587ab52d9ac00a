/** Turns a client's `expires_at` into a UTC date, with GitLab-shaped errors. */
import { parseExpiryDate, utcDateOf, type UtcDate } from '../kernel/dates.js';
import { invalidField, invalidParam } from '../kernel/errors.js';

/**
 * `undefined`/`null`/`""` → no expiry. A date on or before today is refused: the token would stop
 * working at 00:00 UTC of that date, i.e. it would be dead on arrival.
 */
export function readExpiryInput(input: unknown, now: Date): UtcDate | null {
  if (input === undefined || input === null || input === '') return null;
  if (typeof input !== 'string') throw invalidParam('expires_at is invalid');
  const date = parseExpiryDate(input);
  if (date === null) throw invalidParam('expires_at is invalid');
  if (date <= utcDateOf(now)) throw invalidField('expires_at', 'must be a date in the future');
  return date;
}
