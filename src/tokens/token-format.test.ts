import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BODY_LENGTH, generateToken, hasValidChecksum } from './token-format.js';
import { cryptoTokenGenerator } from '../kernel/random.js';
import { crc32 } from './crc32.js';

/** Hands out the given bytes in order, then repeats them: a deterministic stand-in for the CSPRNG. */
const fixed = (bytes: number[]) => {
  let at = 0;
  return { randomBytes: (n: number) => Uint8Array.from({ length: n }, () => bytes[at++ % bytes.length]!) };
};

describe('token format', () => {
  it('crc32 matches the IEEE check value', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });

  it('generated tokens carry the prefix and a valid checksum', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 56, maxLength: 56 }), fc.constantFrom('gldt-', 'glpat-'), (bytes, prefix) => {
        const token = generateToken(prefix, fixed([...bytes]));
        expect(token.startsWith(prefix)).toBe(true);
        expect(hasValidChecksum(token, prefix)).toBe(true);
      }),
    );
  });

  it('any single-character change breaks the checksum', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 56, maxLength: 56 }), fc.nat(), (bytes, at) => {
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

  it('every body position takes every character (no constant digit), with the same frequency', () => {
    const positions = Array.from({ length: BODY_LENGTH }, () => new Map<string, number>());
    const n = 6200;
    for (let i = 0; i < n; i++) {
      const body = generateToken('glpat-', cryptoTokenGenerator).slice('glpat-'.length, 'glpat-'.length + BODY_LENGTH);
      [...body].forEach((ch, p) => positions[p]!.set(ch, (positions[p]!.get(ch) ?? 0) + 1));
    }
    for (const counts of positions) {
      // 62 symbols, 100 expected each: all appear, none is wildly over-represented (a bias towards
      // the first characters, or a constant leading digit, would fail this).
      expect(counts.size).toBe(62);
      expect(Math.max(...counts.values())).toBeLessThan(175);
    }
  });

  it('skips bytes whose low 6 bits are 62 or 63 instead of folding them onto other characters', () => {
    const token = generateToken('gldt-', fixed([62, 63, 126, 255, 0, 61]));
    expect(token.slice(5, 5 + BODY_LENGTH)).toBe('0z'.repeat(BODY_LENGTH / 2));
  });
});
