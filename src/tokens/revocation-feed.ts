/**
 * Revocations as a feed: every token id that stops working (revoke, delete, rotation, reuse detection)
 * is published here after its transaction committed, and verification caches subscribe to drop it.
 *
 * Publishers and subscribers do not know each other, so the token services can be built before the
 * verifier (which itself calls the lifecycle on reuse) without binding either late.
 */
export type RevocationListener = (tokenId: number) => void;

export interface RevocationFeed {
  /** A token stopped working; tell every subscriber. Never throws into the caller. */
  publish(tokenId: number): void;
  /** Calls `listener` for every id published from now on; returns how to stop. */
  subscribe(listener: RevocationListener): () => void;
}

/** The feed of one process: publishing calls each subscriber synchronously. */
export function createLocalRevocationFeed(): RevocationFeed {
  const listeners = new Set<RevocationListener>();
  return {
    publish(tokenId) {
      for (const listener of listeners) {
        try {
          listener(tokenId);
        } catch {
          // A cache that cannot drop an entry still expires it after its TTL; the revoke itself stands.
        }
      }
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
