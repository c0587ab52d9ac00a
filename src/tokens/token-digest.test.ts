import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTokenDigester } from './token-digest.js';

const NEWEST = 'latchkey-test-secret-0123456789abcdef0123';
const PREVIOUS = 'previous-secret-0123456789abcdef0123456789';
const SECRET = 'glpat-example-token-é';

describe('token digests', () => {
  // Stored digests must never change: every token in every database was digested this way.
  it('are HMAC-SHA256 of the secret (UTF-8) under the server secret, as hex', () => {
    const digester = createTokenDigester([NEWEST, PREVIOUS]);
    expect(digester.digest(SECRET)).toBe('204d1b330274b4baf92885c2d65aa0c0ca729821ac60f385246c9726cdecae41');
    expect(digester.olderDigests(SECRET)).toEqual(['c5925aaa6bf6d197f32d03e3c6c9e4c0ce1cb43c39ddb72d63dcae6739a3baf3']);
    for (const secret of ['', 'a', 'x'.repeat(300), 'glpat-abc.01.0123456']) {
      expect(digester.digest(secret)).toBe(createHmac('sha256', Buffer.from(NEWEST, 'utf8')).update(secret, 'utf8').digest('hex'));
    }
  });

  it('verify under any key of the ring and compare in full', () => {
    const digester = createTokenDigester([NEWEST, PREVIOUS]);
    const older = digester.olderDigests(SECRET)[0]!;
    expect(digester.verifies(SECRET, digester.digest(SECRET))).toBe(true);
    expect(digester.verifies(SECRET, older)).toBe(true);
    expect(digester.verifies(`${SECRET}x`, older)).toBe(false);
    expect(digester.matches(older, older.slice(0, -2))).toBe(false);
  });
});
