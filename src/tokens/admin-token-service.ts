/**
 * The leak response (GitLab's doc/api/admin/token.md): an admin identifies any token — personal,
 * project, group, service-account or deploy — from its value alone, and revokes it. The secret is only
 * digested, never stored or logged; look-ups are by digest, like the verifier's.
 */
import { forbidden, invalidParam, notFound } from '../kernel/errors.js';
import type { User } from '../namespaces/namespace.js';
import type { Store } from '../store/open-store.js';
import type { Token } from './token.js';
import type { TokenDigester } from './token-digest.js';
import type { TokenLifecycle } from './token-lifecycle.js';

/** Longest value worth hashing; every real token is far shorter (as the verifier's bound). */
const MAX_SECRET_LENGTH = 256;

export type AdminTokenService = ReturnType<typeof createAdminTokenService>;

export function createAdminTokenService({ store, digester, lifecycle }: { store: Store; digester: TokenDigester; lifecycle: TokenLifecycle }) {
  async function identify(actor: User, secret: unknown): Promise<{ token: Token; owner: User | null }> {
    if (!actor.isAdmin) throw forbidden();
    if (secret === undefined || secret === null) throw invalidParam('token is missing');
    if (typeof secret !== 'string') throw invalidParam('token is invalid');
    const value = secret.trim();
    if (value.length === 0) throw invalidParam('token is empty');
    const digest = digester.digest(value);
    const found = value.length > MAX_SECRET_LENGTH ? null : await store.tokens.findByDigest(digest);
    if (!found || !digester.matches(found.digest, digest)) throw notFound('Not Found', 'TOKEN_NOT_FOUND');
    const { digest: _digest, deleted, ...token } = found;
    const owner = token.userId === null ? null : await store.namespaces.findUserById(token.userId);
    // A deleted deploy token is revoked for every purpose.
    return { token: deleted && token.revokedAt === null ? { ...token, revokedAt: token.createdAt } : token, owner };
  }

  return {
    identify,
    async revoke(actor: User, secret: unknown): Promise<void> {
      const { token } = await identify(actor, secret);
      await lifecycle.revoke(token, { by: actor, reason: 'admin' });
    },
  };
}
