/**
 * Personal access tokens. For now: creating one for a user (the admin bootstrap and the CLI). The full
 * GitLab personal_access_tokens API builds on this.
 */
import type { Clock } from '../kernel/clock.js';
import { invalidParam } from '../kernel/errors.js';
import type { User } from '../namespaces/namespace.js';
import { checkName } from '../namespaces/validation.js';
import type { Store } from '../store/open-store.js';
import { readExpiryInput } from './expiry-input.js';
import { PERSONAL_TOKEN_SCOPES } from './scopes.js';
import type { Token } from './token.js';
import type { TokenIssuer } from './token-issuer.js';

export function createPersonalTokenService({ store, clock, issuer }: { store: Store; clock: Clock; issuer: TokenIssuer }) {
  return {
    async createFor(user: User, input: { name: string; scopes: string[]; expiresAt: string | null }, createdBy: User | null): Promise<{ token: Token; secret: string }> {
      const name = checkName('name', input.name);
      if (input.scopes.length === 0) throw invalidParam('scopes is missing');
      if (!input.scopes.every((s) => (PERSONAL_TOKEN_SCOPES as readonly string[]).includes(s))) throw invalidParam('scopes does not have a valid value');
      const now = clock.now();
      const expiresAt = readExpiryInput(input.expiresAt, now);
      const { secret, digest } = issuer.issue('personal');
      const token = await store.transaction((ports) =>
        ports.tokens.insert({
          kind: 'personal',
          name,
          description: '',
          digest,
          userId: user.id,
          projectId: null,
          groupId: null,
          username: null,
          scopes: [...new Set(input.scopes)],
          accessLevel: null,
          expiresAt,
          createdBy: createdBy?.id ?? null,
          createdAt: now.toISOString(),
        }),
      );
      return { token, secret };
    },
  };
}
export type PersonalTokenService = ReturnType<typeof createPersonalTokenService>;
