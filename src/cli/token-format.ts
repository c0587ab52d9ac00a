/**
 * Pure helpers of `latchkey token`: reading `--scopes`, `--grace-period` and `--access-level`, and
 * describing a token's state for a table or `--json`. No I/O, no secrets.
 */
import { isExpiredAt } from '../kernel/dates.js';
import { parseDurationSeconds } from '../kernel/duration.js';
import type { Token, TokenKindLabel } from '../tokens/token.js';

export type { TokenKindLabel };

/** An input mistake on the command line: exit 2 with the message. */
export class CliInputError extends Error {}

/** `3600`, `90s`, `30m`, `1h`, `7d` → seconds (m is minutes). */
export function parseGracePeriod(input: string): number {
  const seconds = parseDurationSeconds(input);
  if (seconds === null) throw new CliInputError(`--grace-period must be seconds or a number with s, m, h or d (e.g. 3600, 1h, 7d), not "${input}"`);
  return seconds;
}

export function parseScopes(input: string): string[] {
  const scopes = input.split(',').map((s) => s.trim()).filter(Boolean);
  if (scopes.length === 0) throw new CliInputError('--scopes needs at least one scope, e.g. --scopes read_api');
  return scopes;
}

export function parseAccessLevel(input: string | undefined): number | undefined {
  if (input === undefined) return undefined;
  if (!/^[0-9]{1,2}$/.test(input)) throw new CliInputError('--access-level must be a number: 10, 15, 20, 30, 40 or 50');
  return Number(input);
}

export function parseTokenId(input: string): number {
  if (!/^[0-9]{1,10}$/.test(input)) throw new CliInputError('token id must be a number');
  return Number(input);
}

/**
 * One word for what a token can do now: `active`; `grace` while a rotated-away secret still works;
 * `rotated` once it no longer does; `revoked` (or `revoked (reuse detected)`); `expired`.
 */
export function tokenState(t: Token, now: Date): string {
  if (t.revokedAt !== null) {
    if (t.revokeReason === 'reuse_detected') return 'revoked (reuse detected)';
    return t.revokeReason === 'rotated' ? 'rotated' : 'revoked';
  }
  if (t.supersededAt !== null) {
    if (t.graceUntil !== null && now.getTime() < Date.parse(t.graceUntil)) return 'grace';
    return 'rotated';
  }
  if (isExpiredAt(t.expiresAt, now)) return 'expired';
  return 'active';
}

export interface TokenView {
  id: number;
  kind: TokenKindLabel;
  name: string;
  owner: string;
  scopes: readonly string[];
  access_level: number | null;
  expires_at: string | null;
  state: string;
  /** The instant a rotated-away secret stops working (grace period), else null. */
  grace_until: string | null;
  last_used_at: string | null;
  /** The most recent distinct client IPs, newest first. */
  last_used_ips: readonly string[];
  /** When the token was flagged as used by several automations (`latchkey token reused`), else null. */
  reuse_flagged_at: string | null;
  created_at: string;
  rotated_from_id: number | null;
}

export function tokenView(t: Token, kind: TokenKindLabel, owner: string, now: Date): TokenView {
  const state = tokenState(t, now);
  return {
    id: t.id,
    kind,
    name: t.name,
    owner,
    scopes: [...t.scopes],
    access_level: t.accessLevel,
    expires_at: t.expiresAt,
    state,
    grace_until: state === 'grace' ? t.graceUntil : null,
    last_used_at: t.lastUsedAt,
    last_used_ips: [...t.lastUsedIps],
    reuse_flagged_at: t.reuseFlaggedAt,
    created_at: t.createdAt,
    rotated_from_id: t.rotatedFromId,
  };
}

/** The columns a table shows (the JSON has every field of TokenView). */
export const TABLE_COLUMNS = ['id', 'kind', 'name', 'owner', 'scopes', 'access_level', 'expires_at', 'state', 'last_used_at', 'last_used_ips'] as const;
