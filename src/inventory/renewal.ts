/**
 * "Mark renewed": the input a renewal takes and the rules it follows. Pure: no I/O. A renewal records
 * the day it happened (not in the future), the new expiry date (required, and only allowed, when the
 * rule is a fixed date; it must be after the renewal day) and which placements were updated with the new
 * value (all by default). The next due date follows from the rule and the renewal day.
 */
import { parseExpiryDate, type UtcDate } from '../kernel/dates.js';
import { hasLoneSurrogate } from '../namespaces/validation.js';
import { dueDate, invalidCredential, type Credential, type FieldErrors, type Renewal } from './credential.js';

export interface RenewalInput {
  /** The day it was renewed; default today. */
  readonly renewedOn?: string;
  /** The new expiry date: the rule `expires_at` only. */
  readonly expiresAt?: string;
  /** Placements updated with the new value: ids of this entry's placements, or every one. */
  readonly placementIds?: readonly number[] | 'all';
  readonly note?: string | null;
  /** The new value, to fingerprint (never kept); null clears the fingerprint. */
  readonly value?: string | null;
}

/** What a valid renewal changes: the rule (a new date), the renewal day, the new due date, the placements. */
export interface RenewalPlan {
  readonly renewal: Renewal;
  readonly renewedOn: UtcDate;
  readonly dueOn: UtcDate;
  readonly placements: readonly { readonly id: number; readonly description: string }[];
  readonly note: string | null;
}

const date = (v: string | undefined): UtcDate | null => (v !== undefined && /^\d{4}-\d{2}-\d{2}$/.test(v.trim()) ? parseExpiryDate(v) : null);

/** Checks a renewal of `credential` on `today`; throws one 400 naming every bad field. */
export function planRenewal(credential: Credential, input: RenewalInput, today: UtcDate, describe: (id: number) => string | null): RenewalPlan {
  const errors: FieldErrors = {};
  const add = (f: string, reason: string) => (errors[f] ??= []).push(reason);
  let renewedOn = today;
  if (input.renewedOn !== undefined) {
    const d = date(input.renewedOn);
    if (d === null) add('renewed_on', 'must be a date (YYYY-MM-DD)');
    else if (d > today) add('renewed_on', 'cannot be in the future');
    else renewedOn = d;
  }
  let renewal: Renewal = credential.renewal;
  if (credential.renewal.type === 'expires_at') {
    const d = date(input.expiresAt);
    if (input.expiresAt === undefined) add('expires_at', 'is missing (the rule is a fixed expiry date: give the new one)');
    else if (d === null) add('expires_at', 'must be a date (YYYY-MM-DD)');
    else if (d <= renewedOn) add('expires_at', 'must be after the renewal date');
    else renewal = { type: 'expires_at', expiresAt: d };
  } else if (input.expiresAt !== undefined) add('expires_at', `is only used when the renewal rule is a fixed date (this one is ${credential.renewal.type})`);
  const ids = input.placementIds === undefined || input.placementIds === 'all' ? credential.placements.map((p) => p.id) : [...new Set(input.placementIds)];
  const placements: { id: number; description: string }[] = [];
  for (const id of ids) {
    const description = describe(id);
    if (description === null) add('placements_updated', `(${id}) is not a placement of this credential`);
    else placements.push({ id, description });
  }
  if (input.note !== undefined && input.note !== null) {
    if (input.note.length > 2000) add('note', 'is too long (maximum is 2000 characters)');
    else if (input.note.includes('\u0000') || hasLoneSurrogate(input.note)) add('note', 'is not valid text');
  }
  if (Object.keys(errors).length > 0) throw invalidCredential(errors, 'INVALID_RENEWAL');
  return { renewal, renewedOn, dueOn: dueDate(renewal, renewedOn), placements, note: input.note?.trim() || null };
}
