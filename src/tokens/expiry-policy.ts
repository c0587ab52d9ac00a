/**
 * The expiry policy for personal and resource (project, group, service-account) tokens: whether an
 * expiry date is required, the instance's maximum lifetime, and a stricter one a group may set for the
 * tokens of its tree. Deploy tokens are not subject to it. Turns a client's `expires_at` into the date
 * to store, or a GitLab-shaped 400 with the reason.
 */
import { addDays, utcDateOf, type UtcDate } from '../kernel/dates.js';
import { DomainError, invalidRecord } from '../kernel/errors.js';
import type { Store } from '../store/open-store.js';
import { readExpiryInput } from './expiry-input.js';

export interface ExpiryPolicySettings {
  /** LATCHKEY_REQUIRE_TOKEN_EXPIRY (default true): a token without expires_at gets the maximum lifetime. */
  readonly requireExpiry: boolean;
  /** LATCHKEY_MAX_TOKEN_LIFETIME_DAYS (default 365). */
  readonly maxLifetimeDays: number;
}

export interface ExpiryContext {
  readonly now: Date;
  /**
   * The groups whose stricter limit applies: for a project or group token, the ids from the root
   * group down to the token's group (Group.ancestorIds). Empty for personal tokens.
   */
  readonly groupIds?: readonly number[];
}

/** GitLab's default lifetime of a rotated token when the request names no expires_at. */
export const ROTATION_DEFAULT_DAYS = 7;

export type ExpiryPolicy = ReturnType<typeof createExpiryPolicy>;

export function createExpiryPolicy(settings: ExpiryPolicySettings, store: Pick<Store, 'tokens'>) {
  async function maxDays(ctx: ExpiryContext): Promise<number> {
    const groupDays = ctx.groupIds && ctx.groupIds.length > 0 ? await store.tokens.groupLifetimeLimit(ctx.groupIds) : null;
    return groupDays === null ? settings.maxLifetimeDays : Math.min(groupDays, settings.maxLifetimeDays);
  }

  /** Reads the date and reports field errors as GitLab's model sentence (`Expires at must be …`). */
  function readDate(input: unknown, now: Date): UtcDate | null {
    try {
      return readExpiryInput(input, now);
    } catch (e) {
      if (e instanceof DomainError && e.fields) throw invalidRecord(`Expires at ${Object.values(e.fields)[0]![0]}`, 'INVALID_EXPIRES_AT');
      throw e;
    }
  }

  function checkMax(date: UtcDate, now: Date, days: number): UtcDate {
    const latest = addDays(utcDateOf(now), days);
    if (date > latest) throw invalidRecord(`Expires at must be before ${addDays(latest, 1)} (maximum lifetime ${days} days)`, 'EXPIRY_BEYOND_MAX_LIFETIME');
    return date;
  }

  return {
    settings,

    /** The maximum lifetime in days that applies in this context (instance, or a stricter group). */
    maxLifetimeDays: maxDays,

    /**
     * `expires_at` of a new token. Omitted (or null/"") with expiry required: the maximum lifetime, as
     * GitLab 16+ does; omitted otherwise: no expiry. A date past the maximum: 400 with the reason.
     */
    async forNewToken(input: unknown, ctx: ExpiryContext): Promise<UtcDate | null> {
      const date = readDate(input, ctx.now);
      const days = await maxDays(ctx);
      if (date === null) return settings.requireExpiry ? addDays(utcDateOf(ctx.now), days) : null;
      return checkMax(date, ctx.now, days);
    },

    /**
     * `expires_at` of a rotated token. Omitted: one week (GitLab's RotateService), or the maximum
     * lifetime when that is shorter. Errors carry GitLab's `400 Bad request - ` prefix of rotate.
     */
    async forRotation(input: unknown, ctx: ExpiryContext): Promise<UtcDate> {
      try {
        const date = readDate(input, ctx.now);
        const days = await maxDays(ctx);
        if (date === null) return addDays(utcDateOf(ctx.now), Math.min(ROTATION_DEFAULT_DAYS, days));
        return checkMax(date, ctx.now, days);
      } catch (e) {
        if (e instanceof DomainError && e.kind === 'invalid_record') throw invalidRecord(`400 Bad request - ${e.message}`, e.code);
        throw e;
      }
    },
  };
}
