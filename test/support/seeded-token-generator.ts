/** A reproducible TokenGenerator for tests: SHA-256 in counter mode over a seed. */
import { createHash } from 'node:crypto';
import type { TokenGenerator } from '../../src/kernel/random.js';

export function seededTokenGenerator(seed: string): TokenGenerator {
  let counter = 0;
  return {
    randomBytes(length: number): Uint8Array {
      const out = Buffer.alloc(length);
      let filled = 0;
      while (filled < length) {
        const block = createHash('sha256').update(`${seed}:${counter++}`).digest();
        filled += block.copy(out, filled);
      }
      return out;
    },
  };
}
