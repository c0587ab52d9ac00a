/**
 * Makes a new secret for a token kind and its digest. The plaintext leaves this module only in the
 * result of a create (or, later, rotate) and is never stored or logged.
 */
import type { TokenGenerator } from '../kernel/random.js';
import type { TokenDigester } from './token-digest.js';
import { generateToken } from './token-format.js';
import type { TokenKind } from './token.js';

export interface TokenPrefixes {
  readonly deploy: string;
  readonly personal: string;
}

export interface IssuedSecret {
  readonly secret: string;
  readonly digest: string;
}

export function createTokenIssuer(random: TokenGenerator, digester: TokenDigester, prefixes: TokenPrefixes) {
  return {
    issue(kind: TokenKind): IssuedSecret {
      // Project and group access tokens use the personal prefix, as GitLab's glpat- does.
      const secret = generateToken(kind === 'deploy' ? prefixes.deploy : prefixes.personal, random);
      return { secret, digest: digester.digest(secret) };
    },
  };
}
export type TokenIssuer = ReturnType<typeof createTokenIssuer>;
