/**
 * Protocol decisions cached per (token, request): what git's `auth_request` and the registry's
 * `/jwt/auth` decided for a verified token on a project and action, kept for a short time so that the
 * requests automation repeats all day (the same token pulling the same image, fetching the same repo)
 * cost one verification and one map look-up instead of project, group and membership reads.
 *
 * The credential itself is still verified on every request (tokens/verify-token.ts: expiry, grace,
 * revocation and the user's state are judged each time); only what follows is cached. A token that stops
 * working is published on the revocation feed and its decisions go at once (on every node when the feed
 * is broadcast), and so do those of every token of a user whose account changed (blocked, admin flag);
 * a resync drops everything. Membership, visibility and key changes are not on the feed:
 * the time-to-live (the verify cache's, LATCHKEY_VERIFY_CACHE_MS) bounds how long a decision outlives
 * them, as it bounds the verify cache itself. Bounded in entries; the oldest go first.
 */
import type { Clock } from '../kernel/clock.js';
import type { RevocationFeed } from '../tokens/revocation-feed.js';

export interface DecisionCacheDeps {
  clock: Clock;
  /** How long a decision is reused; 0 turns the cache off. */
  ttlMs: number;
  maxEntries?: number;
  revocations?: Pick<RevocationFeed, 'subscribe'> & Partial<Pick<RevocationFeed, 'subscribeUsers' | 'onResync'>>;
}

interface Entry<V> {
  readonly tokenId: number;
  /** The token's user (null for deploy tokens): an account change drops the entry. */
  readonly userId: number | null;
  readonly value: V;
  readonly until: number;
}

export type DecisionCache<V> = ReturnType<typeof createDecisionCache<V>>;

export function createDecisionCache<V>({ clock, ttlMs, maxEntries = 50_000, revocations }: DecisionCacheDeps) {
  const entries = new Map<string, Entry<V>>();
  const keysByToken = new Map<number, Set<string>>();

  function drop(key: string): void {
    const entry = entries.get(key);
    if (entry === undefined) return;
    entries.delete(key);
    const keys = keysByToken.get(entry.tokenId);
    keys?.delete(key);
    if (keys?.size === 0) keysByToken.delete(entry.tokenId);
  }

  function forget(tokenId: number): void {
    const keys = keysByToken.get(tokenId);
    if (keys === undefined) return;
    for (const key of [...keys]) drop(key);
  }

  /** Every decision made for a user's tokens (a scan: accounts change rarely). */
  function forgetUser(userId: number): void {
    for (const [key, entry] of entries) if (entry.userId === userId) drop(key);
  }

  function clear(): void {
    entries.clear();
    keysByToken.clear();
  }

  revocations?.subscribe(forget);
  revocations?.subscribeUsers?.(forgetUser);
  revocations?.onResync?.(clear);

  const keyOf = (tokenId: number, request: string) => `${tokenId}\n${request}`;

  return {
    /** The decision for this token and request, while it is fresh. */
    get(tokenId: number, request: string): V | undefined {
      if (ttlMs <= 0) return undefined;
      const key = keyOf(tokenId, request);
      const entry = entries.get(key);
      if (entry === undefined) return undefined;
      if (entry.until > clock.now().getTime()) return entry.value;
      drop(key);
      return undefined;
    },

    set(tokenId: number, userId: number | null, request: string, value: V): void {
      if (ttlMs <= 0) return;
      const key = keyOf(tokenId, request);
      drop(key);
      for (const oldest of entries.keys()) {
        if (entries.size < maxEntries) break;
        drop(oldest);
      }
      entries.set(key, { tokenId, userId, value, until: clock.now().getTime() + ttlMs });
      let keys = keysByToken.get(tokenId);
      if (keys === undefined) keysByToken.set(tokenId, (keys = new Set()));
      keys.add(key);
    },

    /** Drops every decision of a token (revoked, deleted, rotated). */
    forget,
    /** Drops everything (a signing key activated, a resync). */
    clear,
    size(): number {
      return entries.size;
    },
  };
}
