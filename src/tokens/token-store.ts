/** The storage port for tokens of every kind. Implemented in store/tokens.ts. */
import type { Page, PageRequest } from '../kernel/page.js';
import type { UtcDate } from '../kernel/dates.js';
import type { Token, TokenKind } from './token.js';

export interface NewToken {
  kind: TokenKind;
  name: string;
  description: string;
  digest: string;
  userId: number | null;
  projectId: number | null;
  groupId: number | null;
  username: string | null;
  scopes: readonly string[];
  accessLevel: number | null;
  expiresAt: UtcDate | null;
  createdBy: number | null;
  createdAt: string;
}

export interface TokenFilter {
  kind: TokenKind;
  projectId?: number;
  groupId?: number;
  userId?: number;
  /** true: only active on `today`; false: only revoked or expired; undefined: all. */
  active?: boolean;
  today: UtcDate;
}

export interface TokenStore {
  insert(token: NewToken): Promise<Token>;
  /** Deploy tokens get their default username from their id, known only after insert. */
  setUsername(id: number, username: string): Promise<void>;
  findById(id: number): Promise<Token | null>;
  /** Looks a presented secret up by its HMAC digest; deleted tokens are still found (leak look-ups). */
  findByDigest(digest: string): Promise<(Token & { digest: string; deleted: boolean }) | null>;
  list(filter: TokenFilter, page: PageRequest): Promise<Page<Token>>;
  markRevoked(id: number, at: string): Promise<void>;
  /** Revokes and hides a token from listings (GitLab's DELETE of a deploy token). */
  markDeleted(id: number, at: string): Promise<void>;
  touchLastUsed(id: number, at: string): Promise<void>;
}
