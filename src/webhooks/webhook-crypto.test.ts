/** Signing-secret encryption (tamper-evident, keyed by the server secret) and the retry schedule. */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MAX_ATTEMPTS, RETRY_DELAYS_SECONDS, retryDelaySeconds } from './backoff.js';
import { createSecretBox } from './secret-box.js';
import { signDelivery } from './signature.js';

describe('secret box', () => {
  const box = createSecretBox('server-secret-0123456789abcdef0123456789');
  it('round-trips, with a fresh nonce each time and no plain text in the sealed form', () => {
    const a = box.seal('whsec_abc');
    const b = box.seal('whsec_abc');
    expect(a).not.toBe(b);
    expect(a).not.toContain('whsec_abc');
    expect(box.open(a)).toBe('whsec_abc');
  });
  it('refuses a tampered value and another server secret', () => {
    const sealed = box.seal('whsec_abc');
    const [v, iv, tag, ct] = sealed.split(':');
    const flipped = Buffer.from(ct!, 'base64url');
    flipped[0] = flipped[0]! ^ 1;
    expect(() => box.open([v, iv, tag, flipped.toString('base64url')].join(':'))).toThrow();
    expect(() => createSecretBox('another-server-secret-0123456789abcdef').open(sealed)).toThrow();
    expect(() => box.open('plain')).toThrow();
  });
});

describe('signature and backoff', () => {
  it('signs `<timestamp>.<body>` with HMAC-SHA256', () => {
    expect(signDelivery('s', 1700000000, '{"a":1}')).toBe(`sha256=${createHmac('sha256', 's').update('1700000000.{"a":1}').digest('hex')}`);
  });
  it('retries with growing waits for most of a day, at most an hour apart in the first hours', () => {
    expect([...RETRY_DELAYS_SECONDS]).toEqual([...RETRY_DELAYS_SECONDS].sort((x, y) => x - y));
    const total = RETRY_DELAYS_SECONDS.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(12 * 3600);
    const firstHours = RETRY_DELAYS_SECONDS.slice(0, 10);
    expect(Math.max(...firstHours)).toBeLessThanOrEqual(3600);
    expect(firstHours.reduce((a, b) => a + b, 0)).toBeGreaterThan(3 * 3600);
    expect(retryDelaySeconds(1)).toBe(10);
    expect(retryDelaySeconds(MAX_ATTEMPTS)).toBeNull();
  });
});
