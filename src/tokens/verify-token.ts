/**
 * The one verification function every credential path uses (REST API auth now; registry, git and
 * package endpoints later). It is the hot path: one hash, one cache look-up, and a database read only
 * on a miss. It returns a closed set of outcomes instead of throwing; each adapter maps the reason
 * to its own wire answer.
 *
 * The cache is keyed by the presented secret's fingerprint — SHA-256 of it under a random salt this
 * process draws at start and never stores or sends — rather than by its HMAC digest: a cache hit costs one
 * one-shot hash (0.8 µs on the bench machine) instead of the HMAC (4 µs), and the HMAC, what the store
 * knows a token by, is computed on a miss only. Neither the secret nor anything usable outside this
 * process is kept.
 *
 * The cache keeps a verified token for `cacheMs` (default 1 s), bounded by `maxBytes` (an estimate of each
 * entry's heap size: LATCHKEY_VERIFY_CACHE_BYTES, default 32 MiB) and `maxEntries`; the oldest entries go
 * first. A miss costs one query that returns the token and its user together (one round trip on
 * PostgreSQL), and misses arriving while one is read share the next query. A revocation published on the
 * revocation feed drops it at once — on every node when the feed is broadcast (revocation-broadcast.ts)
 * — and so does a change to its user (blocked, unblocked, admin flag); `cacheMs` bounds how stale an
 * entry can be if a message is lost.
 *
 * Rotation: a rotated-away token works until its grace ends (judged against the clock on every call,
 * cached or not). Presented after that — or after an immediate rotation — the verifier answers
 * `revoked` and first awaits `onRotatedSecretPresented` (token-lifecycle.ts): on a rotate endpoint
 * (`context.rotation`) that revokes the chain that came from it, anywhere else it only reports a
 * reuse attempt. Only that rare path awaits a write; usage (last_used_at, last_used_ips, reuse
 * flagging) is noted synchronously and written by the usage tracker in the background.
 */
import type { Clock } from '../kernel/clock.js';
import { cryptoTokenGenerator } from '../kernel/random.js';
import { sha256 } from '../kernel/sha256.js';
import type { User } from '../namespaces/namespace.js';
import type { Store } from '../store/open-store.js';
import { isReuseOfRotatedSecret, isTokenExpiredAt, type Token } from './token.js';
import type { RevocationFeed } from './revocation-feed.js';
import type { TokenDigester } from './token-digest.js';
import type { TokenUsageTracker } from './token-usage-tracker.js';
import type { TokenWithUser } from './token-store.js';
import type { UsageRow } from './token-usage.js';

export type VerifyFailure = 'unknown' | 'expired' | 'revoked' | 'user_blocked';
/** Where a credential was presented (for usage tracking and the audit log); optional everywhere. */
export interface VerifyContext {
  readonly ip?: string | null;
  readonly userAgent?: string | null;
  /** What was asked for, `METHOD /path` without the query string: names a stale consumer in the audit log. */
  readonly endpoint?: string | null;
  /**
   * The request rotates a token (GitLab's `access_tokens/(id|self)/rotate`): the only place where
   * presenting a rotated-away secret revokes its family.
   */
  readonly rotation?: boolean;
  /**
   * A digest the fast lane read for this very request and found nowhere (verifyCachedOrLoad's `absent`):
   * `verify` takes that read as its own instead of reading it again, and goes on to the older keys.
   */
  readonly absentDigest?: string;
}

/** What the fast lane's verification answers: the token and its user. */
export type Verified = { token: Token; user: User | null };

export type VerifyResult = { ok: true; token: Token; user: User | null } | { ok: false; reason: VerifyFailure; token?: Token };

interface CacheEntry {
  readonly token: Token & { digest: string; deleted: boolean };
  readonly user: User | null;
  readonly until: number;
  /** Estimated heap bytes of the entry and its key. */
  readonly bytes: number;
}

/** Default byte budget of the verify cache (LATCHKEY_VERIFY_CACHE_BYTES). */
export const DEFAULT_VERIFY_CACHE_BYTES = 32 * 1024 * 1024;

/**
 * Heap bytes of a string: a 16-byte header and a byte a character (two for characters past Latin-1), in
 * 8-byte steps, as V8 lays out the flat strings the database driver hands over.
 */
const stringBytes = (s: string | null | undefined): number => (s == null ? 0 : 16 + Math.ceil((s.length * (/^[\x00-\xff]*$/.test(s) ? 1 : 2)) / 8) * 8);

/**
 * An entry's estimated heap size: the key, the strings it holds and a fixed cost per object and field
 * (V8: about 8 bytes a field plus headers), on the high side so the bound holds.
 */
export function estimateEntryBytes(key: string, token: Token & { digest: string }, user: User | null): number {
  let bytes = 160 + stringBytes(key) * 2; // Map slot, the entry object, the key (twice: the by-id map too)
  bytes += 40 + 8 * 24; // the token object and its fields
  for (const v of [token.kind, token.name, token.description, token.username, token.expiresAt, token.createdAt, token.revokedAt, token.lastUsedAt, token.supersededAt, token.graceUntil, token.revokeReason, token.reuseDetectedAt, token.reuseFlaggedAt, token.validUntil, token.digest]) bytes += stringBytes(v);
  bytes += 32 + token.scopes.reduce((n, s) => n + 8 + stringBytes(s), 0) + token.lastUsedIps.reduce((n, s) => n + 8 + stringBytes(s), 0);
  if (user) bytes += 40 + 8 * 8 + stringBytes(user.username) + stringBytes(user.name) + stringBytes(user.email) + stringBytes(user.botKind) + stringBytes(user.state) + stringBytes(user.createdAt);
  return bytes;
}

export interface TokenVerifierDeps {
  store: Store;
  digester: TokenDigester;
  clock: Clock;
  cacheMs: number;
  /** Bound on cached entries; the oldest go first. */
  maxEntries?: number;
  /** Bound on the cache's estimated heap bytes (estimateEntryBytes); the oldest go first. */
  maxBytes?: number;
  /** Revoked ids to drop from the cache, and resyncs that drop everything (revocation-feed.ts). */
  revocations?: Pick<RevocationFeed, 'subscribe'> & Partial<Pick<RevocationFeed, 'subscribeUsers' | 'onResync'>>;
  /** Reuse detection or a reuse attempt (token-lifecycle.ts rotatedSecretPresented); must not throw. */
  onRotatedSecretPresented?: (token: Token, context: VerifyContext) => Promise<unknown>;
  /**
   * Usage tracking (token-usage-tracker.ts): last_used_at/last_used_ips and the reuse flag. Called
   * synchronously on every success; it writes at most once a minute per token and never makes the
   * request wait.
   */
  usage?: Pick<TokenUsageTracker, 'note'>;
  /** The salt of the cache's fingerprints (tests); default 16 random bytes drawn at start. */
  fingerprintSalt?: string;
}

/** Longest value worth hashing: every real token is far shorter. */
const MAX_SECRET_LENGTH = 256;

export type TokenVerifier = ReturnType<typeof createTokenVerifier>;

export function createTokenVerifier({
  store, digester, clock, cacheMs, maxEntries = 100_000, maxBytes = DEFAULT_VERIFY_CACHE_BYTES, revocations, onRotatedSecretPresented, usage,
  fingerprintSalt = Buffer.from(cryptoTokenGenerator.randomBytes(16)).toString('hex'),
}: TokenVerifierDeps) {
  /** The cache's key for a presented secret (see the top of this file). */
  const fingerprint = (secret: string): string => sha256(`${fingerprintSalt}\n${secret}`, 'base64');
  /** Fingerprint → entry. */
  const cache = new Map<string, CacheEntry>();
  const keyById = new Map<number, string>();
  let cachedBytes = 0;
  /** Counts invalidations: a look-up that saw it change while it ran does not cache what it read. */
  let invalidations = 0;

  /**
   * Cache misses coalesced (group commit): the first goes at once; those that arrive while a look-up
   * runs wait for it and then go together in one query, so a burst of distinct tokens costs one round
   * trip per batch instead of one per request.
   */
  type Found = TokenWithUser | null;
  let waiting = new Map<string, { resolve: (found: Found) => void; reject: (error: unknown) => void }[]>();
  let lookingUp = false;

  function lookUp(digest: string): Promise<Found> {
    return new Promise((resolve, reject) => {
      const waiters = waiting.get(digest);
      if (waiters) waiters.push({ resolve, reject });
      else waiting.set(digest, [{ resolve, reject }]);
      if (!lookingUp) {
        lookingUp = true;
        queueMicrotask(runLookUps);
      }
    });
  }

  async function runLookUps(): Promise<void> {
    const batch = waiting;
    waiting = new Map();
    try {
      const found = await store.tokens.findByDigestsWithUser([...batch.keys()]);
      for (const [digest, waiters] of batch) for (const w of waiters) w.resolve(found.get(digest) ?? null);
    } catch (error) {
      for (const waiters of batch.values()) for (const w of waiters) w.reject(error);
    }
    if (waiting.size > 0) queueMicrotask(runLookUps);
    else lookingUp = false;
  }

  function drop(key: string): void {
    const entry = cache.get(key);
    if (entry === undefined) return;
    cache.delete(key);
    cachedBytes -= entry.bytes;
    if (keyById.get(entry.token.id) === key) keyById.delete(entry.token.id);
  }

  function remember(key: string, entry: CacheEntry): void {
    drop(key);
    if (entry.bytes > maxBytes) return;
    // Oldest first (a Map iterates in insertion order) until the new entry fits both bounds. Only when
    // it does not fit already: a Map's iteration walks over the slots of deleted keys (every miss
    // deletes an expired entry and adds it again), so starting one on every miss costs more than the rest.
    if (cache.size >= maxEntries || cachedBytes + entry.bytes > maxBytes) {
      for (const oldest of cache.keys()) {
        if (cache.size < maxEntries && cachedBytes + entry.bytes <= maxBytes) break;
        drop(oldest);
      }
    }
    cache.set(key, entry);
    cachedBytes += entry.bytes;
    keyById.set(entry.token.id, key);
  }

  function judge(entry: { token: Token & { deleted: boolean }; user: User | null }, now: Date): VerifyResult {
    const { token, user } = entry;
    // GitLab's AccessTokenValidationService order: expired before revoked.
    if (isTokenExpiredAt(token, now)) return { ok: false, reason: 'expired', token };
    if (token.revokedAt !== null || token.deleted) return { ok: false, reason: 'revoked', token };
    if (token.graceUntil !== null && now.getTime() >= Date.parse(token.graceUntil)) return { ok: false, reason: 'revoked', token };
    if (user && user.state !== 'active') return { ok: false, reason: 'user_blocked', token };
    return { ok: true, token, user };
  }

  function forget(tokenId: number): void {
    invalidations++;
    const key = keyById.get(tokenId);
    if (key !== undefined) drop(key);
    keyById.delete(tokenId);
  }
  /** Every entry of a user's tokens (a scan: users change rarely, and the hot path keeps no second index). */
  function forgetUser(userId: number): void {
    invalidations++;
    for (const [key, entry] of cache) if (entry.user?.id === userId || entry.token.userId === userId) drop(key);
  }
  revocations?.subscribe(forget);
  revocations?.subscribeUsers?.(forgetUser);
  revocations?.onResync?.(() => {
    invalidations++;
    cache.clear();
    keyById.clear();
    cachedBytes = 0;
  });

  /**
   * Key ring (LATCHKEY_SECRET_PREVIOUS): a token digested under a previous server secret is found by
   * that digest and moved to the newest one, so it is found at once next time. Only a miss pays this.
   */
  async function underOlderKey(secret: string, digest: string) {
    for (const older of digester.olderDigests(secret)) {
      const token = await store.tokens.findByDigest(older);
      if (!token || !digester.matches(token.digest, older)) continue;
      await store.tokens.replaceDigest(token.id, older, digest);
      return { ...token, digest };
    }
    return null;
  }

  /** The cache's entry for a fingerprint while it is still fresh (a stale one is read again). */
  function fresh(key: string, now: Date): CacheEntry | undefined {
    const cached = cache.get(key);
    return cached !== undefined && cached.until > now.getTime() ? cached : undefined;
  }

  /** A token read from the store, kept in the cache unless a revocation (or an account change) arrived while it was read: the row may predate it. */
  function keep(key: string, { token, user }: TokenWithUser, now: Date, epoch: number): CacheEntry {
    const entry: CacheEntry = { token, user, until: now.getTime() + cacheMs, bytes: estimateEntryBytes(key, token, user) };
    if (cacheMs > 0 && invalidations === epoch) remember(key, entry);
    return entry;
  }

  /** The fast lane's judgement: a working token that `accepts` takes, its usage then noted as `verify` notes it; else null, nothing noted. */
  function accepted(entry: CacheEntry, now: Date, context: VerifyContext, accepts: (token: Token, user: User | null) => boolean, row?: UsageRow): Verified | null {
    const result = judge(entry, now);
    if (!result.ok || !accepts(result.token, result.user)) return null;
    usage?.note(result.token, context, now, row);
    return result;
  }

  /** The one non-hot branch: a rotated-away secret presented when it no longer works. */
  function afterJudging(result: VerifyResult, now: Date, context: VerifyContext, row?: UsageRow): VerifyResult | Promise<VerifyResult> {
    if (result.ok) {
      usage?.note(result.token, context, now, row);
      return result;
    }
    if (result.reason !== 'revoked' || !onRotatedSecretPresented) return result;
    const token = result.token!;
    if (!isReuseOfRotatedSecret(token, now)) return result;
    // The cached copy will not know the chain was revoked; the next look-up reads it afresh.
    if (context.rotation === true && token.reuseDetectedAt === null) forget(token.id);
    return onRotatedSecretPresented(token, context).then(() => result);
  }

  return {
    async verify(secret: string, context: VerifyContext = {}): Promise<VerifyResult> {
      if (secret.length === 0 || secret.length > MAX_SECRET_LENGTH) return { ok: false, reason: 'unknown' };
      const key = fingerprint(secret);
      const now = clock.now();
      const cached = fresh(key, now);
      if (cached) return afterJudging(judge(cached, now), now, context);
      const digest = digester.digest(secret);

      // One query for the token and its user (one round trip on PostgreSQL), shared with the misses
      // waiting beside it; a token digested under a previous server secret (the rare path) reads its
      // user afterwards.
      const epoch = invalidations;
      let found = context.absentDigest === digest ? null : await lookUp(digest);
      if (!found) {
        const moved = await underOlderKey(secret, digest);
        if (moved) found = { token: moved, user: moved.userId === null ? null : await store.namespaces.findUserById(moved.userId) };
      }
      // The look-up is by digest; compare again in constant time so equality never short-circuits.
      if (!found || !digester.matches(found.token.digest, digest)) return { ok: false, reason: 'unknown' };
      const entry = keep(key, found, now, epoch);
      // The row's usage columns go to the usage tracker (its first write of the token reads nothing).
      return afterJudging(judge(entry, now), now, context, found.usage);
    },

    /**
     * The fast lane's verification (http/fast-lane.ts): a token the cache holds, still fresh, that works
     * and that `accepts` takes (the lane's own checks: username, scope, a cached protocol decision). Then
     * its usage is noted exactly as `verify` notes it, and the answer is the token and its user. Anything
     * else — not cached, stale, refused, not accepted — is null with no side effect at all, and the caller
     * takes the full path (`verify`), which then does everything once.
     */
    verifyCached(secret: string, context: VerifyContext, accepts: (token: Token, user: User | null) => boolean): Verified | null {
      if (secret.length === 0 || secret.length > MAX_SECRET_LENGTH) return null;
      const now = clock.now();
      const cached = fresh(fingerprint(secret), now);
      return cached === undefined ? null : accepted(cached, now, context, accepts);
    },

    /**
     * verifyCached, and on a miss the look-up `verify` would make (the same query, shared with the misses
     * beside it), its result kept in the cache as `verify` keeps it; then the same judgement. Synchronous
     * when the cache answers; otherwise a promise of the token and its user, null (refused or not accepted:
     * nothing noted, and the entry cached for `verify` to judge again), or `{ absent: digest }` when the
     * store does not hold it under the current server secret — the caller passes that digest to `verify`
     * as `absentDigest` so the request reads it once (the older keys are `verify`'s). A failed look-up
     * rejects, having taken no side effect.
     */
    verifyCachedOrLoad(secret: string, context: VerifyContext, accepts: (token: Token, user: User | null) => boolean): Verified | null | Promise<Verified | null | { absent: string }> {
      if (secret.length === 0 || secret.length > MAX_SECRET_LENGTH) return null;
      const key = fingerprint(secret);
      const now = clock.now();
      const cached = fresh(key, now);
      if (cached !== undefined) return accepted(cached, now, context, accepts);
      const digest = digester.digest(secret);
      const epoch = invalidations;
      return lookUp(digest).then((found) => {
        if (!found || !digester.matches(found.token.digest, digest)) return { absent: digest };
        return accepted(keep(key, found, now, epoch), now, context, accepts, found.usage);
      });
    },

    /** What the cache holds now: entries and their estimated bytes (tests, metrics). */
    cacheSize(): { entries: number; bytes: number } {
      return { entries: cache.size, bytes: cachedBytes };
    },

    /** Drops a token from the cache (after revoke, delete or rotate). */
    invalidate(tokenId: number): void {
      forget(tokenId);
    },
  };
}
