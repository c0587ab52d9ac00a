/**
 * Browser sessions of the web UI, modelled on Lucia's auth_session: the cookie holds a random id
 * (256 bits from the injected generator, base64url); the store keeps only its HMAC digest under the
 * server secret, so a database dump opens no session. A session ends at whichever comes first: its
 * idle timeout after the last request, its absolute timeout after sign-in, sign-out, or the user being
 * blocked, demoted to a bot, or given a new password. Pure rules here; the service applies them.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface WebSession {
  readonly id: number;
  readonly userId: number;
  readonly createdAt: string;
  readonly lastSeenAt: string;
  readonly revokedAt: string | null;
  readonly ip: string | null;
  readonly userAgent: string | null;
}

export interface SessionPolicy {
  /** A session unused this long ends (LATCHKEY_SESSION_IDLE_TIMEOUT). */
  readonly idleTimeoutMs: number;
  /** A session ends this long after sign-in, however busy (LATCHKEY_SESSION_MAX_LIFETIME). */
  readonly absoluteTimeoutMs: number;
}

/** The instant the session stops working if nothing else ends it first. */
export function sessionEndsAt(session: WebSession, policy: SessionPolicy): Date {
  const idle = Date.parse(session.lastSeenAt) + policy.idleTimeoutMs;
  const absolute = Date.parse(session.createdAt) + policy.absoluteTimeoutMs;
  return new Date(Math.min(idle, absolute));
}

export function isSessionLiveAt(session: WebSession, now: Date, policy: SessionPolicy): boolean {
  return session.revokedAt === null && now.getTime() < sessionEndsAt(session, policy).getTime();
}

/** HMAC-SHA256 of session ids and sign-in link secrets, keyed apart from token digests by a label. */
export interface SecretDigester {
  digest(secret: string): string;
  matches(a: string, b: string): boolean;
}

export function createSecretDigester(serverSecret: string, label: string): SecretDigester {
  const key = createHmac('sha256', serverSecret).update(`latchkey:${label}`).digest();
  return {
    digest: (secret) => createHmac('sha256', key).update(secret, 'utf8').digest('hex'),
    matches(a, b) {
      const x = Buffer.from(a, 'hex');
      const y = Buffer.from(b, 'hex');
      return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
    },
  };
}
