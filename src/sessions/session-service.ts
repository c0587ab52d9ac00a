/**
 * Web sessions: start one at sign-in, resolve the cookie of each request to its user, end it at
 * sign-out, end all of a user's when they are blocked or get a new password. The web UI uses it, and
 * so can any page that needs a signed-in person (the OAuth2 consent page): resolve() is the one check.
 *
 * Only humans hold sessions: a bot, a service account or a blocked user resolves to nothing, even with
 * a session that was valid when it started. last_seen_at is written at most once a minute per session
 * (the idle timeout is far longer), so browsing costs no write per request. Time comes from the Clock.
 */
import type { Clock } from '../kernel/clock.js';
import type { TokenGenerator } from '../kernel/random.js';
import type { User } from '../namespaces/namespace.js';
import type { NamespaceStore } from '../namespaces/namespace-store.js';
import { isSessionLiveAt, sessionEndsAt, type SecretDigester, type SessionPolicy, type WebSession } from './session.js';
import type { SessionStore } from './session-store.js';

/** Whether this user may hold a web session at all: an active human. */
export const maySignIn = (user: User): boolean => user.botKind === null && user.state === 'active';

const TOUCH_EVERY_MS = 60_000;
/** Session ids and link secrets: 256 bits, base64url (43 characters). */
const SECRET_BYTES = 32;
const SECRET_RE = /^[A-Za-z0-9_-]{43}$/;

export interface SessionServiceDeps {
  sessions: SessionStore;
  users: Pick<NamespaceStore, 'findUserById'>;
  clock: Clock;
  random: TokenGenerator;
  digester: SecretDigester;
  policy: SessionPolicy;
}

export interface SessionMeta {
  readonly ip: string | null;
  readonly userAgent: string | null;
}

export interface ResolvedSession {
  readonly session: WebSession;
  readonly user: User;
  /** When it ends unless used again (idle) or at the latest (absolute). */
  readonly endsAt: Date;
}

export type SessionService = ReturnType<typeof createSessionService>;

export function createSessionService({ sessions, users, clock, random, digester, policy }: SessionServiceDeps) {
  const newSecret = () => Buffer.from(random.randomBytes(SECRET_BYTES)).toString('base64url');

  return {
    policy,
    newSecret,
    /** A new session for a user who just proved who they are. Returns the cookie value, shown nowhere else. */
    async start(user: User, meta: SessionMeta): Promise<{ secret: string; session: WebSession }> {
      if (!maySignIn(user)) throw new Error('only active human users hold web sessions');
      const secret = newSecret();
      const session = await sessions.insertSession({
        digest: digester.digest(secret),
        userId: user.id,
        createdAt: clock.now().toISOString(),
        ip: meta.ip?.slice(0, 64) ?? null,
        userAgent: meta.userAgent?.slice(0, 512) ?? null,
      });
      return { secret, session };
    },

    /** The live session and user behind a cookie value, or null (unknown, ended, or the user may no longer sign in). */
    async resolve(secret: string | undefined): Promise<ResolvedSession | null> {
      if (!secret || !SECRET_RE.test(secret)) return null;
      const digest = digester.digest(secret);
      const found = await sessions.findSessionByDigest(digest);
      if (!found || !digester.matches(found.digest, digest)) return null;
      const now = clock.now();
      if (!isSessionLiveAt(found, now, policy)) return null;
      const user = await users.findUserById(found.userId);
      if (!user || !maySignIn(user)) return null;
      let session: WebSession = found;
      if (now.getTime() - Date.parse(found.lastSeenAt) >= TOUCH_EVERY_MS) {
        await sessions.touchSession(found.id, now.toISOString());
        session = { ...found, lastSeenAt: now.toISOString() };
      }
      return { session, user, endsAt: sessionEndsAt(session, policy) };
    },

    /** Sign-out: the session stops working on every node at once (it is looked up on each request). */
    async end(session: WebSession): Promise<void> {
      await sessions.revokeSession(session.id, clock.now().toISOString());
    },

    async endAllOf(userId: number): Promise<number> {
      return sessions.revokeSessionsOfUser(userId, clock.now().toISOString());
    },

    /** Deletes sessions unused for longer than the absolute timeout (they ended long ago). */
    async prune(): Promise<number> {
      return sessions.deleteSessionsSeenBefore(new Date(clock.now().getTime() - policy.absoluteTimeoutMs).toISOString());
    },
  };
}
