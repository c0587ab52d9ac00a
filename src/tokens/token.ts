/** A stored token as the domain sees it. The secret itself is never here: only its digest is stored. */
import { isExpiredAt, type UtcDate } from '../kernel/dates.js';

export type TokenKind = 'deploy' | 'personal' | 'project' | 'group';

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
}

export function isRevoked(token: Token): boolean {
  return token.revokedAt !== null;
}

/** Active = neither revoked nor past 00:00 UTC of its expiry date. */
export function isActiveAt(token: Token, now: Date): boolean {
  return !isRevoked(token) && !isExpiredAt(token.expiresAt, now);
}
