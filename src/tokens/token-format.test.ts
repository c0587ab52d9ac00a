import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { generateToken, hasValidChecksum } from './token-format.js';
import { crc32 } from './crc32.js';

const fixed = (bytes: number[]) => ({ randomBytes: (n: number) => Uint8Array.from(bytes.slice(0, n)) });

describe('token format', () => {
  it('crc32 matches the IEEE check value', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });

  it('generated tokens carry the prefix and a valid checksum', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 20, maxLength: 20 }), fc.constantFrom('gldt-', 'glpat-'), (bytes, prefix) => {
        const token = generateToken(prefix, fixed([...bytes]));
        expect(token.startsWith(prefix)).toBe(true);
        expect(hasValidChecksum(token, prefix)).toBe(true);
      }),
    );
  });

  it('any single-character change breaks the checksum', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 20, maxLength: 20 }), fc.nat(), (bytes, at) => {
        const token = generateToken('gldt-', fixed([...bytes]));
        const i = 5 + (at % (token.length - 5));
        const swapped = token[i] === 'a' ? 'b' : 'a';
        const bad = token.slice(0, i) + swapped + token.slice(i + 1);
        expect(hasValidChecksum(bad, 'gldt-')).toBe(false);
      }),
    );
  });

  it('different random bytes give different tokens', () => {
    const a = generateToken('gldt-', fixed(new Array(20).fill(1)));
    const b = generateToken('gldt-', fixed(new Array(20).fill(2)));
    expect(a).not.toBe(b);
    expect(hasValidChecksum(a, 'glpat-')).toBe(false);
  });
});
