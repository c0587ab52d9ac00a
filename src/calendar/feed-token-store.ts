/**
 * The storage port of calendar feed tokens: one per user, kept as an HMAC digest only (the token is shown
 * once). Implemented in store/calendar-feed-tokens.ts.
 */
export interface FeedTokenRecord {
  readonly userId: number;
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
}

export interface FeedTokenStore {
  /** Sets the user's token digest, replacing the one before (a reset invalidates the old feed URLs). */
  replace(userId: number, digest: string, at: string): Promise<FeedTokenRecord>;
  find(userId: number): Promise<FeedTokenRecord | null>;
  /** Deletes the user's token; false when there was none. */
  revoke(userId: number): Promise<boolean>;
  /** The token whose digest is one of `digests` (the newest server secret's first, then older ones), with its digest. */
  findByDigest(digests: readonly string[]): Promise<(FeedTokenRecord & { digest: string }) | null>;
  touch(userId: number, at: string): Promise<void>;
}
