/**
 * Token digests: HMAC-SHA256 of the secret under the server secret. Only the digest is stored, so a
 * database dump does not reveal usable tokens, and without the server secret digests cannot be
 * brute-forced offline.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface TokenDigester {
  digest(secret: string): string;
  /** Constant-time comparison of two hex digests. */
  matches(a: string, b: string): boolean;
}

export function createTokenDigester(serverSecret: string): TokenDigester {
  const key = Buffer.from(serverSecret, 'utf8');
  return {
    digest: (secret) => createHmac('sha256', key).update(secret, 'utf8').digest('hex'),
    matches(a, b) {
      const x = Buffer.from(a, 'hex');
      const y = Buffer.from(b, 'hex');
      return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
    },
  };
}
