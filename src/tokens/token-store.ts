/** The storage port for tokens of every kind. Implemented in store/tokens.ts. */
import type { Page, PageRequest } from '../kernel/page.js';
import type { UtcDate } from '../kernel/dates.js';
import type { Token, TokenKind } from './token.js';
import type { User } from '../namespaces/namespace.js';
import type { UsageRow } from './token-usage.js';

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
  /** Set by rotation: the token this one replaces. */
  rotatedFromId?: number | null;
  /** An impersonation token (personal kind only); false when absent. */
  impersonation?: boolean;
  /** OAuth access tokens: the instant they stop working. */
  validUntil?: string | null;
}

/**
 * GitLab's `sort` values for token lists (PersonalAccessToken.simple_sorts). Ties are broken by id, as
 * GitLab does for the expiry and last-use orders, so pages never overlap.
 */
export const TOKEN_SORTS = ['id_asc', 'id_desc', 'created_asc', 'created_desc', 'name_asc', 'name_desc', 'expires_asc', 'expires_desc', 'last_used_asc', 'last_used_desc'] as const;
export type TokenSort = (typeof TOKEN_SORTS)[number];

/**
 * Filters of GitLab's token lists (PersonalAccessTokensFinder: GET /personal_access_tokens, the project
 * and group access token lists, a service account's tokens). In GitLab every token tied to a user is a
 * PersonalAccessToken — a human's, a service account's, a project or group bot's — so the scope is
 * every kind but deploy tokens, narrowed by owner or resource. Instants are ISO strings; bounds are
 * inclusive as GitLab's scopes are, except `expiresBefore` (strictly before).
 */
export interface TokenSearch {
  /** Only this user's tokens (a human's, a service account's or a bot's); undefined = every user (admin). */
  userId?: number;
  /** Only this project's access tokens (its bots'). */
  projectId?: number;
  /** Only this group's access tokens (its bots'). */
  groupId?: number;
  /** true: revoked (or past a rotation grace); false: not. */
  revoked?: boolean;
  /** active: not revoked and not expired; inactive: the others. */
  state?: 'active' | 'inactive';
  /** Case-insensitive substring of the name. */
  search?: string;
  createdBefore?: string;
  createdAfter?: string;
  lastUsedBefore?: string;
  lastUsedAfter?: string;
  /** Dates (YYYY-MM-DD): tokens whose expiry date is before / after this. */
  expiresBefore?: string;
  expiresAfter?: string;
  /** false: leave impersonation tokens out (what a user sees of their own tokens, as GitLab); undefined: all. */
  impersonation?: boolean;
  /** Order of the results; id ascending when absent. */
  sort?: TokenSort;
}

export interface Supersede {
  at: string;
  /** null: the old secret stops at once (revoked with reason `rotated`). */
  graceUntil: string | null;
}

export interface TokenFilter {
  kind: TokenKind;
  projectId?: number;
  groupId?: number;
  userId?: number;
  /** true: only active on `today`; false: only revoked or expired; undefined: all. */
  active?: boolean;
  today: UtcDate;
  /** When given, a rotated-away token past its grace counts as revoked for `active`. */
  now?: string;
}

/** A token as the verifier reads it (with its digest and deleted flag) and its user. */
export interface TokenWithUser {
  readonly token: Token & { digest: string; deleted: boolean };
  readonly user: User | null;
  /** The row's usage columns the Token does not carry (for the usage tracker's first write); absent when not read. */
  readonly usage?: UsageRow;
}

export interface TokenStore {
  insert(token: NewToken): Promise<Token>;
  /** Deploy tokens get their default username from their id, known only after insert. */
  setUsername(id: number, username: string): Promise<void>;
  findById(id: number): Promise<Token | null>;
  /** Looks a presented secret up by its HMAC digest; deleted tokens are still found (leak look-ups). */
  findByDigest(digest: string): Promise<(Token & { digest: string; deleted: boolean }) | null>;
  /** Moves a token to a digest under the newest server secret (key ring); only while it still has `from`. */
  replaceDigest(id: number, from: string, to: string): Promise<void>;
  /**
   * findByDigest and each token's user (null for deploy tokens), for many digests in one query: the
   * verifier's cache misses, coalesced. Digests without a token are absent from the map.
   */
  findByDigestsWithUser(digests: readonly string[]): Promise<Map<string, TokenWithUser>>;
  list(filter: TokenFilter, page: PageRequest): Promise<Page<Token>>;
  /** Revokes a token that is not revoked yet; false when it already was (nothing written). */
  markRevoked(id: number, at: string, reason?: string): Promise<boolean>;
  /** Marks a token as rotated away; false when it already was (a concurrent rotation won). */
  markSuperseded(id: number, supersede: Supersede): Promise<boolean>;
  /** The token that replaced `id` by rotation, if any (deleted ones included). */
  findSuccessor(id: number): Promise<Token | null>;
  markReuseDetected(id: number, at: string): Promise<void>;
  /** Tokens matching GitLab's PersonalAccessToken filters (every kind but deploy), in `filter.sort` order. */
  searchPersonal(filter: TokenSearch, now: string, page: PageRequest): Promise<Page<Token>>;
  /** The strictest `max_token_lifetime_days` among these groups; null when none sets one. */
  groupLifetimeLimit(groupIds: readonly number[]): Promise<number | null>;
  /** Sets (or clears, with null) a group's stricter token lifetime. */
  setGroupLifetimeLimit(groupId: number, days: number | null): Promise<void>;
  /** Revokes and hides a token from listings (GitLab's DELETE of a deploy token). */
  markDeleted(id: number, at: string): Promise<void>;
}
