import { describe, expect, it } from 'vitest';
import { createSecretBox } from './secret-box.js';

const SERVER_SECRET = 'k'.repeat(40);

describe('secret box', () => {
  it('opens what it sealed, with a fresh ciphertext each time and no plain text in it', () => {
    const box = createSecretBox(SERVER_SECRET, 'test purpose');
    const a = box.seal('gldt-secret-value');
    expect(box.open(a)).toBe('gldt-secret-value');
    expect(box.seal('gldt-secret-value')).not.toBe(a);
    expect(a).not.toContain('secret-value');
  });

  it('keeps purposes and server secrets apart, and refuses a tampered value', () => {
    const sealed = createSecretBox(SERVER_SECRET, 'gitlab-deploy-token v1').seal('x');
    expect(() => createSecretBox(SERVER_SECRET, 'webhook signing secret v1').open(sealed)).toThrow();
    expect(() => createSecretBox('o'.repeat(40), 'gitlab-deploy-token v1').open(sealed)).toThrow();
    const [v, iv, tag, ct] = sealed.split(':');
    const flipped = Buffer.from(ct!, 'base64url');
    flipped[0] = flipped[0]! ^ 1;
    expect(() => createSecretBox(SERVER_SECRET, 'gitlab-deploy-token v1').open([v, iv, tag, flipped.toString('base64url')].join(':'))).toThrow();
  });
});
