/** A stored token as the domain sees it. The secret itself is never here: only its digest is stored. */
import { isExpiredAt, type UtcDate } from '../kernel/dates.js';

/** `oauth`: an OAuth2 access token (src/oauth), issued to an application to act as its user for hours. */
export type TokenKind = 'deploy' | 'personal' | 'project' | 'group' | 'oauth';

export interface Token {
  readonly id: number;
  readonly kind: TokenKind;
  readonly name: string;
  readonly description: string;
  /** Owner (personal) or bot user (project/group); null for deploy tokens. */
  readonly userId: number | null;
  readonly projectId: number | null;
  readonly groupId: number | null;
  /** Deploy tokens only: the username presented with the token. */
  readonly username: string | null;
  readonly scopes: readonly string[];
  readonly accessLevel: number | null;
  readonly expiresAt: UtcDate | null;
  readonly createdBy: number | null;
  readonly createdAt: string;
  readonly revokedAt: string | null;
  readonly lastUsedAt: string | null;
  /** Rotation chain: the token this one replaced. */
  readonly rotatedFromId: number | null;
  /** When a rotation replaced this token. */
  readonly supersededAt: string | null;
  /** A rotated-away token keeps working until this instant (Latchkey's grace_period); null = revoked at rotation. */
  readonly graceUntil: string | null;
  /** `revoked`, `rotated`, `reuse_detected`, `admin` — why `revokedAt` is set. */
  readonly revokeReason: string | null;
  /** When this rotated-away secret was presented after its grace and its chain was revoked. */
  readonly reuseDetectedAt: string | null;
  /** The most recent distinct client IPs that used it, newest first (at most five, as GitLab). */
  readonly lastUsedIps: readonly string[];
  /** When it was seen from more distinct user agents or IPs than the reuse policy allows (token-usage.ts). */
  readonly reuseFlaggedAt: string | null;
  /** A personal token an admin issued to act as its user (GitLab's impersonation token). */
  readonly impersonation: boolean;
  /** OAuth access tokens: the instant they stop working; absent or null for the others (they expire by date). */
  readonly validUntil?: string | null;
}

/**
 * The kind as people and reports name it: a personal token of a service account is a
 * `service_account` token, one an admin issued to act as its user an `impersonation` token.
 */
export type TokenKindLabel = TokenKind | 'service_account' | 'impersonation';

export function kindLabelOf(token: Pick<Token, 'kind' | 'impersonation'>, ownerBotKind: string | null): TokenKindLabel {
  if (token.kind !== 'personal') return token.kind;
  if (token.impersonation) return 'impersonation';
  return ownerBotKind === 'service_account' ? 'service_account' : 'personal';
}

/** Revoked by an explicit revoke, or rotated away and past its grace period. */
export function isRevokedAt(token: Token, now: Date): boolean {
  if (token.revokedAt !== null) return true;
  return token.graceUntil !== null && now.getTime() >= Date.parse(token.graceUntil);
}

/** Past 00:00 UTC of its expiry date, or (OAuth access tokens) past its `validUntil` instant. */
export function isTokenExpiredAt(token: Pick<Token, 'expiresAt' | 'validUntil'>, now: Date): boolean {
  if (token.validUntil && now.getTime() >= Date.parse(token.validUntil)) return true;
  return isExpiredAt(token.expiresAt, now);
}

/** Active = neither revoked (nor past its rotation grace) nor expired. */
export function isActiveAt(token: Token, now: Date): boolean {
  return !isRevokedAt(token, now) && !isTokenExpiredAt(token, now);
}

/** A rotated-away secret presented when it no longer works: the reuse that revokes its chain. */
export function isReuseOfRotatedSecret(token: Token, now: Date): boolean {
  return token.supersededAt !== null && isRevokedAt(token, now);
}
