/**
 * Signing in to the web UI: with username (or e-mail) and password, or with a one-time link that
 * `latchkey admin bootstrap` prints.
 *
 * Failed attempts are counted per username and per client IP (GitLab's Devise lockable: 10 failures
 * lock an account for 10 minutes). An unknown username is counted and locked exactly like a known one,
 * a wrong password takes as long as a right one (scrypt against a dummy hash), and bots, service
 * accounts and blocked users fail like a wrong password: no answer tells whether a username exists.
 * Counters live in the database, so every node sees the same lock.
 */
import type { Clock } from '../kernel/clock.js';
import type { TokenGenerator } from '../kernel/random.js';
import type { User } from '../namespaces/namespace.js';
import type { NamespaceStore } from '../namespaces/namespace-store.js';
import { hashPassword, verifyPasswordAsync } from '../auth/password.js';
import type { SecretDigester } from './session.js';
import type { SessionStore } from './session-store.js';
import { maySignIn, type SessionMeta, type SessionService } from './session-service.js';

export interface SignInPolicy {
  /** Failures of one username within `windowMs` that lock it (GitLab: 10). */
  readonly maxFailuresPerUser: number;
  /** Failures from one client IP within `windowMs` that lock the IP out (many usernames tried). */
  readonly maxFailuresPerIp: number;
  readonly windowMs: number;
  /** How long a lock lasts (GitLab: 10 minutes). */
  readonly lockMs: number;
  /** How long a sign-in link works. */
  readonly linkTtlMs: number;
}

export const DEFAULT_SIGN_IN_POLICY: SignInPolicy = {
  maxFailuresPerUser: 10,
  maxFailuresPerIp: 50,
  windowMs: 60 * 60_000,
  lockMs: 10 * 60_000,
  linkTtlMs: 60 * 60_000,
};

export type SignInResult =
  | { ok: true; user: User; secret: string }
  | { ok: false; reason: 'invalid' }
  /** Too many failures for this username or from this address: try again after `retryAfterSeconds`. */
  | { ok: false; reason: 'locked'; retryAfterSeconds: number };

export interface SignInServiceDeps {
  store: SessionStore;
  users: Pick<NamespaceStore, 'findUserByUsername' | 'findUserByEmail' | 'findUserById' | 'findPasswordHash'>;
  sessions: SessionService;
  clock: Clock;
  random: TokenGenerator;
  digester: SecretDigester;
  policy?: SignInPolicy;
}

export type SignInService = ReturnType<typeof createSignInService>;

export function createSignInService({ store, users, sessions, clock, random, digester, policy = DEFAULT_SIGN_IN_POLICY }: SignInServiceDeps) {
  // Compared against when there is no real hash, so every failure costs one scrypt.
  const dummyHash = hashPassword(Buffer.from(random.randomBytes(16)).toString('hex'), random);

  const userKey = (login: string) => `user:${login.trim().toLowerCase().slice(0, 255)}`;
  const ipKey = (ip: string | null) => `ip:${ip ?? 'unknown'}`;

  async function lockedFor(keys: string[], now: Date): Promise<number> {
    let until = 0;
    for (const t of await store.findThrottles(keys)) if (t.lockedUntil !== null) until = Math.max(until, Date.parse(t.lockedUntil));
    return until > now.getTime() ? Math.ceil((until - now.getTime()) / 1000) : 0;
  }

  async function countFailure(key: string, max: number, now: Date): Promise<void> {
    const at = now.toISOString();
    const row = await store.recordFailure(key, at, new Date(now.getTime() - policy.windowMs).toISOString());
    if (row.failures >= max) await store.lockIfAtLeast(key, max, new Date(now.getTime() + policy.lockMs).toISOString(), at);
  }

  async function findByLogin(login: string): Promise<User | null> {
    const trimmed = login.trim();
    if (trimmed.length === 0 || trimmed.length > 255) return null;
    return (await users.findUserByUsername(trimmed)) ?? (trimmed.includes('@') ? await users.findUserByEmail(trimmed) : null);
  }

  return {
    policy,

    async signInWithPassword(login: string, password: string, meta: SessionMeta): Promise<SignInResult> {
      const now = clock.now();
      const keys = [userKey(login), ipKey(meta.ip)];
      const wait = await lockedFor(keys, now);
      if (wait > 0) return { ok: false, reason: 'locked', retryAfterSeconds: wait };
      const user = await findByLogin(login);
      const hash = user && maySignIn(user) ? await users.findPasswordHash(user.id) : null;
      // Always one scrypt, whether or not there is a user or a hash to compare with.
      const matches = await verifyPasswordAsync(password.slice(0, 1024), hash ?? dummyHash);
      if (!user || hash === null || !matches || !maySignIn(user)) {
        await countFailure(keys[0]!, policy.maxFailuresPerUser, now);
        await countFailure(keys[1]!, policy.maxFailuresPerIp, now);
        return { ok: false, reason: 'invalid' };
      }
      await store.clearThrottle(keys[0]!);
      const { secret } = await sessions.start(user, meta);
      return { ok: true, user, secret };
    },

    /** A one-time link secret for a human (the admin bootstrap): works once, for `linkTtlMs`. */
    async createLink(user: User): Promise<{ secret: string; expiresAt: string }> {
      if (!maySignIn(user)) throw new Error('sign-in links are for active human users');
      const secret = sessions.newSecret();
      const now = clock.now();
      const expiresAt = new Date(now.getTime() + policy.linkTtlMs).toISOString();
      await store.insertLink({ digest: digester.digest(secret), userId: user.id, createdAt: now.toISOString(), expiresAt });
      return { secret, expiresAt };
    },

    /** Whether a link would sign someone in now (to show its page), without using it. */
    async peekLink(secret: string): Promise<User | null> {
      if (!/^[A-Za-z0-9_-]{43}$/.test(secret)) return null;
      const digest = digester.digest(secret);
      const link = await store.findLinkByDigest(digest);
      if (!link || !digester.matches(link.digest, digest) || link.usedAt !== null || Date.parse(link.expiresAt) <= clock.now().getTime()) return null;
      const user = await users.findUserById(link.userId);
      return user && maySignIn(user) ? user : null;
    },

    /** Uses the link (once: concurrent uses race on a compare-and-set) and starts a session. */
    async signInWithLink(secret: string, meta: SessionMeta): Promise<{ user: User; secret: string } | null> {
      const user = await this.peekLink(secret);
      if (!user) return null;
      const link = (await store.findLinkByDigest(digester.digest(secret)))!;
      if (!(await store.markLinkUsed(link.id, clock.now().toISOString()))) return null;
      const started = await sessions.start(user, meta);
      return { user, secret: started.secret };
    },
  };
}
