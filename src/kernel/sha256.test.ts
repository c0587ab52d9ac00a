import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sha256, sha256With } from './sha256.js';

const reference = (data: string, encoding: 'hex' | 'base64') => createHash('sha256').update(data, 'utf8').digest(encoding);

describe('sha256', () => {
  it('is SHA-256 of the UTF-8 bytes, one-shot or through createHash (older Node 20)', () => {
    const fallback = sha256With(undefined);
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.constantFrom('hex' as const, 'base64' as const), (data, encoding) => {
        expect(sha256(data, encoding)).toBe(reference(data, encoding));
        expect(fallback(data, encoding)).toBe(reference(data, encoding));
      }),
    );
    expect(sha256('abc', 'hex')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('uses the one-shot crypto.hash where Node has it', () => {
    const calls: string[] = [];
    const spy = sha256With((algorithm, data, encoding) => (calls.push(`${algorithm} ${encoding}`), `${data}!`));
    expect(spy('x', 'hex')).toBe('x!');
    expect(calls).toEqual(['sha256 hex']);
  });
});
