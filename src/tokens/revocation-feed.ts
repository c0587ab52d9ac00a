/**
 * Revocations as a feed: every token id that stops working (revoke, delete, rotation, reuse detection)
 * is published here after its transaction committed, and verification caches subscribe to drop it.
 *
 * Publishers and subscribers do not know each other, so the token services can be built before the
 * verifier (which itself calls the lifecycle on reuse) without binding either late.
 *
 * Across nodes (revocation-broadcast.ts) the feed also carries ids published by other nodes, and a
 * resync: after a dropped connection to the broadcast channel some ids may have been missed, so every
 * cache drops everything it holds.
 */
export type RevocationListener = (tokenId: number) => void;

export interface RevocationFeed {
  /** A token stopped working; tell every subscriber. Never throws into the caller. */
  publish(tokenId: number): void;
  /** Calls `listener` for every id published from now on; returns how to stop. */
  subscribe(listener: RevocationListener): () => void;
  /** Calls `listener` when ids may have been missed (a broadcast channel reconnected): drop every cached entry. */
  onResync(listener: () => void): () => void;
}

/** The subscribers of one process, and how to call them (a failing subscriber never stops the others). */
export function createRevocationListeners() {
  const listeners = new Set<RevocationListener>();
  const resyncListeners = new Set<() => void>();
  const safely = (fn: () => void) => {
    try {
      fn();
    } catch {
      // A cache that cannot drop an entry still expires it after its TTL; the revoke itself stands.
    }
  };
  return {
    deliver(tokenId: number): void {
      for (const listener of listeners) safely(() => listener(tokenId));
    },
    resync(): void {
      for (const listener of resyncListeners) safely(listener);
    },
    subscribe(listener: RevocationListener): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onResync(listener: () => void): () => void {
      resyncListeners.add(listener);
      return () => resyncListeners.delete(listener);
    },
  };
}

/** The feed of one process: publishing calls each subscriber synchronously. */
export function createLocalRevocationFeed(): RevocationFeed {
  const listeners = createRevocationListeners();
  return { publish: listeners.deliver, subscribe: listeners.subscribe, onResync: listeners.onResync };
}
