/** The storage port for web sessions, failed sign-in counters and sign-in links. Implemented in store/sessions.ts. */
import type { WebSession } from './session.js';

export interface SignInThrottle {
  readonly key: string;
  readonly failures: number;
  readonly windowStartedAt: string;
  readonly lockedUntil: string | null;
}

export interface SignInLink {
  readonly id: number;
  readonly digest: string;
  readonly userId: number;
  readonly expiresAt: string;
  readonly usedAt: string | null;
}

export interface SessionStore {
  insertSession(s: { digest: string; userId: number; createdAt: string; ip: string | null; userAgent: string | null }): Promise<WebSession>;
  findSessionByDigest(digest: string): Promise<(WebSession & { digest: string }) | null>;
  /** Moves last_seen_at forward (never back: two nodes may touch the same session). */
  touchSession(id: number, at: string): Promise<void>;
  revokeSession(id: number, at: string): Promise<void>;
  /** Ends every live session of the user; returns how many. */
  revokeSessionsOfUser(userId: number, at: string): Promise<number>;
  /** Deletes sessions that ended (revoked, or idle since) before `before`: housekeeping. */
  deleteSessionsSeenBefore(before: string): Promise<number>;

  findThrottles(keys: readonly string[]): Promise<SignInThrottle[]>;
  /**
   * Counts one failure for `key` atomically (several nodes may count at once): a new window starts
   * when the current one began before `windowStart`. Returns the row after the count.
   */
  recordFailure(key: string, at: string, windowStart: string): Promise<SignInThrottle>;
  /** Locks the key until `until` and restarts its count, if it still has `failures` or more. */
  lockIfAtLeast(key: string, failures: number, until: string, at: string): Promise<void>;
  clearThrottle(key: string): Promise<void>;

  insertLink(link: { digest: string; userId: number; createdAt: string; expiresAt: string }): Promise<void>;
  findLinkByDigest(digest: string): Promise<SignInLink | null>;
  /** Marks the link used if nobody did yet (compare-and-set); false when it was already used. */
  markLinkUsed(id: number, at: string): Promise<boolean>;
}
