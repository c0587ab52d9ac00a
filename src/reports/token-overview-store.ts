/**
 * The read-only storage port of the expiring report and the token metrics: every token with its kind as
 * people name it and the project, group or user it belongs to. Implemented in store/token-overview.ts.
 */
import type { UtcDate } from '../kernel/dates.js';

import type { TokenKindLabel } from '../tokens/token.js';

/**
 * Token kinds as reports show them (tokens/token.ts kindLabelOf): a service account's personal tokens
 * are `service_account`, an admin's tokens acting as a user `impersonation`.
 */
export type ReportTokenKind = TokenKindLabel;
export const REPORT_TOKEN_KINDS: readonly ReportTokenKind[] = ['deploy', 'personal', 'project', 'group', 'service_account', 'impersonation'];

export type TokenState = 'active' | 'expired' | 'revoked';
export const TOKEN_STATES: readonly TokenState[] = ['active', 'expired', 'revoked'];

/** Where a token belongs: a project or group by full path, or (personal tokens) a user by username. */
export interface TokenNamespace {
  readonly type: 'project' | 'group' | 'user';
  readonly id: number;
  readonly fullPath: string;
}

export interface OverviewToken {
  readonly id: number;
  readonly kind: ReportTokenKind;
  readonly name: string;
  readonly scopes: readonly string[];
  readonly expiresAt: UtcDate;
  readonly namespace: TokenNamespace;
  /** The user a personal, service-account or impersonation token belongs to (the web UI links to its page). */
  readonly userId?: number | null;
}

export interface TokenStateCount {
  readonly kind: ReportTokenKind;
  readonly state: TokenState;
  readonly count: number;
}

export interface TokenOverviewStore {
  /**
   * Active tokens (not revoked, not expired on `today`, not rotated away — a token in its rotation grace
   * is left out, its successor is listed) that have an expiry date on or before `until` — every one with
   * an expiry date when `until` is null — by expiry date, then id. `now` is kept for callers' symmetry.
   * With `limitPerKind`, only the first that many of each kind.
   */
  activeExpiring(query: { today: UtcDate; now: string; until: UtcDate | null; limitPerKind?: number }): Promise<OverviewToken[]>;
  /**
   * Active tokens with an expiry date (as `activeExpiring` counts them) by kind, and how many of them
   * expire on or before each of `bounds` (dates after `today`, ascending): counts[i] belongs to bounds[i].
   */
  expiringWithin(query: { today: UtcDate; bounds: readonly UtcDate[] }): Promise<{ kind: ReportTokenKind; total: number; counts: number[] }[]>;
  /** Every token (deleted deploy tokens count as revoked) by kind and state. Revoked wins over expired. */
  countByKindAndState(query: { today: UtcDate; now: string }): Promise<TokenStateCount[]>;
}
