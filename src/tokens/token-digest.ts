/**
 * Token digests: HMAC-SHA256 of the secret under the server secret. Only the digest is stored, so a
 * database dump does not reveal usable tokens, and without the server secret digests cannot be
 * brute-forced offline.
 *
 * Key ring: new digests use the newest server secret; `olderDigests` gives the digests under the
 * previous ones (LATCHKEY_SECRET_PREVIOUS), which the verifier looks up when the newest finds nothing
 * and then moves the token to the newest (a digest cannot be re-keyed without the token itself).
 */
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { ringOf, type ServerSecrets } from '../kernel/secret-box.js';

export interface TokenDigester {
  /** The digest under the newest server secret: what is stored for a new token. */
  digest(secret: string): string;
  /** The digests under the previous server secrets, newest first; empty without a ring. */
  olderDigests(secret: string): string[];
  /** Constant-time comparison of two hex digests. */
  matches(a: string, b: string): boolean;
  /** Whether `secret` digests to `stored` under any key of the ring (every key is tried, constant time each). */
  verifies(secret: string, stored: string): boolean;
}

export function createTokenDigester(serverSecrets: ServerSecrets): TokenDigester {
  // Key objects made once: an HMAC under a KeyObject skips copying the key into a new one on every call
  // (about 1 µs of the ~3 µs each verification spends here; the digest is the same).
  const [newest, ...older] = ringOf(serverSecrets).map((s) => createSecretKey(Buffer.from(s, 'utf8')));
  const hmac = (key: KeyObject, secret: string) => createHmac('sha256', key).update(secret, 'utf8').digest('hex');
  const matches = (a: string, b: string) => {
    const x = Buffer.from(a, 'hex');
    const y = Buffer.from(b, 'hex');
    return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
  };
  return {
    digest: (secret) => hmac(newest!, secret),
    olderDigests: (secret) => older.map((key) => hmac(key, secret)),
    matches,
    verifies(secret, stored) {
      let ok = matches(hmac(newest!, secret), stored);
      for (const key of older) ok = matches(hmac(key, secret), stored) || ok;
      return ok;
    },
  };
}
