/**
 * Randomness, injected. Services never call node:crypto for secrets themselves; they get a
 * TokenGenerator so tests can make token values reproducible.
 */
import { randomBytes } from 'node:crypto';

export interface TokenGenerator {
  randomBytes(length: number): Uint8Array;
}

/** The production generator: node:crypto's CSPRNG. */
export const cryptoTokenGenerator: TokenGenerator = {
  randomBytes: (length) => randomBytes(length),
};
