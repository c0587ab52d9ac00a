/**
 * Revocations as a feed: every token id that stops working (revoke, delete, rotation, reuse detection)
 * is published here after its transaction committed, and verification caches subscribe to drop it.
 * So is every user whose account changed in a way a cached credential must see at once (blocked,
 * unblocked, admin flag or identity changed): caches drop every entry of theirs.
 *
 * Publishers and subscribers do not know each other, so the token services can be built before the
 * verifier (which itself calls the lifecycle on reuse) without binding either late.
 *
 * Across nodes (revocation-broadcast.ts) the feed also carries ids published by other nodes, and a
 * resync: after a dropped connection to the broadcast channel some ids may have been missed, so every
 * cache drops everything it holds.
 */
export type RevocationListener = (id: number) => void;

/** What a message on the feed names: one token, or every credential of one user. */
export type Revocation = { readonly kind: 'token' | 'user'; readonly id: number };

export interface RevocationFeed {
  /** A token stopped working; tell every subscriber. Never throws into the caller. */
  publish(tokenId: number): void;
  /** A user's account changed (state, admin flag, identity); tell every subscriber. Never throws. */
  publishUser(userId: number): void;
  /** Calls `listener` for every token id published from now on; returns how to stop. */
  subscribe(listener: RevocationListener): () => void;
  /** Calls `listener` for every user id published from now on; returns how to stop. */
  subscribeUsers(listener: RevocationListener): () => void;
  /** Calls `listener` when ids may have been missed (a broadcast channel reconnected): drop every cached entry. */
  onResync(listener: () => void): () => void;
}

/** The subscribers of one process, and how to call them (a failing subscriber never stops the others). */
export function createRevocationListeners() {
  const listeners = { token: new Set<RevocationListener>(), user: new Set<RevocationListener>() };
  const resyncListeners = new Set<() => void>();
  const safely = (fn: () => void) => {
    try {
      fn();
    } catch {
      // A cache that cannot drop an entry still expires it after its TTL; the revoke itself stands.
    }
  };
  const subscribeTo = (set: Set<RevocationListener>) => (listener: RevocationListener) => {
    set.add(listener);
    return () => set.delete(listener);
  };
  return {
    deliver({ kind, id }: Revocation): void {
      for (const listener of listeners[kind]) safely(() => listener(id));
    },
    resync(): void {
      for (const listener of resyncListeners) safely(listener);
    },
    subscribe: subscribeTo(listeners.token),
    subscribeUsers: subscribeTo(listeners.user),
    onResync(listener: () => void): () => void {
      resyncListeners.add(listener);
      return () => resyncListeners.delete(listener);
    },
  };
}

/** The feed of one process: publishing calls each subscriber synchronously. */
export function createLocalRevocationFeed(): RevocationFeed {
  const listeners = createRevocationListeners();
  return {
    publish: (id) => listeners.deliver({ kind: 'token', id }),
    publishUser: (id) => listeners.deliver({ kind: 'user', id }),
    subscribe: listeners.subscribe,
    subscribeUsers: listeners.subscribeUsers,
    onResync: listeners.onResync,
  };
}
