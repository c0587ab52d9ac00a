/**
 * OAuth2 applications (GitLab's Applications API, admin only): register, list, delete, renew the
 * secret. The client secret (`gloas-…`) is returned once, on create and on renewal, and stored only as
 * its HMAC digest. Deleting an application ends every grant and token issued to it.
 */
import { DomainError, forbidden, notFound } from '../kernel/errors.js';
import type { Clock } from '../kernel/clock.js';
import type { TokenGenerator } from '../kernel/random.js';
import type { User } from '../namespaces/namespace.js';
import type { TokenDigester } from '../tokens/token-digest.js';
import { generateToken } from '../tokens/token-format.js';
import type { OAuthApplication } from './application.js';
import type { OAuthStore } from './oauth-store.js';
import { isOAuthScope, parseScopeParam } from './oauth-scopes.js';

/** GitLab's prefix of OAuth application secrets (its token prefix table: `gloas-`). */
export const APPLICATION_SECRET_PREFIX = 'gloas-';

export interface ApplicationInput {
  name: unknown;
  redirectUri: unknown;
  scopes: unknown;
  confidential?: boolean;
}

export interface ApplicationServiceDeps {
  store: OAuthStore;
  clock: Clock;
  random: TokenGenerator;
  digester: TokenDigester;
  /** Ends the grants and tokens of a deleted application (set by the OAuth module once grants exist). */
  onApplicationDeleted?: (applicationId: number) => Promise<void>;
}

/** Doorkeeper's RedirectUriValidator, with GitLab's forbidden schemes: the first reason a URI list is refused. */
export function redirectUriProblem(uris: readonly string[]): string | null {
  if (uris.length === 0) return "can't be blank";
  for (const uri of uris) {
    if (uri === 'urn:ietf:wg:oauth:2.0:oob') continue;
    let parsed: URL;
    try {
      parsed = new URL(uri);
    } catch {
      return 'must be an absolute URI.';
    }
    if (!/^[a-z][a-z0-9+.-]*:/i.test(uri)) return 'must be an absolute URI.';
    if (['javascript:', 'data:', 'vbscript:'].includes(parsed.protocol.toLowerCase())) return 'is forbidden by the server.';
    if (uri.includes('#')) return 'cannot contain a fragment.';
  }
  return null;
}

function validate(input: ApplicationInput): { name: string; redirectUris: string[]; scopes: string[] } {
  const fields: Record<string, string[]> = {};
  const name = typeof input.name === 'string' ? input.name.trim() : '';
  if (name === '') fields.name = ["can't be blank"];
  else if (name.length > 255) fields.name = ['is too long (maximum is 255 characters)'];
  const redirectUris = typeof input.redirectUri === 'string' ? [...new Set(input.redirectUri.split(/\s+/).filter(Boolean))] : [];
  const uriProblem = typeof input.redirectUri === 'string' && input.redirectUri.length > 4096 ? 'is too long (maximum is 4096 characters)' : redirectUriProblem(redirectUris);
  if (uriProblem) fields.redirect_uri = [uriProblem];
  const scopes = parseScopeParam(input.scopes);
  if (scopes.length === 0) fields.scopes = ["can't be blank"];
  else if (!scopes.every(isOAuthScope)) fields.scopes = ["doesn't match configured on the server."];
  if (Object.keys(fields).length > 0) {
    const [field, reasons] = Object.entries(fields)[0]!;
    throw new DomainError('invalid', 'INVALID_APPLICATION', `${field} ${reasons[0]}`, fields);
  }
  return { name, redirectUris, scopes };
}

export function createApplicationService({ store, clock, random, digester, onApplicationDeleted }: ApplicationServiceDeps) {
  const requireAdmin = (actor: User) => {
    if (!actor.isAdmin) throw forbidden();
  };
  const newSecret = () => {
    const secret = generateToken(APPLICATION_SECRET_PREFIX, random);
    return { secret, digest: digester.digest(secret) };
  };
  const notFoundApp = () => notFound('Application Not Found', 'APPLICATION_NOT_FOUND');

  return {
    async create(actor: User, input: ApplicationInput): Promise<{ application: OAuthApplication; secret: string }> {
      requireAdmin(actor);
      const valid = validate(input);
      const { secret, digest } = newSecret();
      const uid = Buffer.from(random.randomBytes(32)).toString('hex');
      const application = await store.insertApplication({
        uid, name: valid.name, redirectUris: valid.redirectUris, scopes: valid.scopes, confidential: input.confidential ?? true, secretDigest: digest, ownerId: null, createdAt: clock.now().toISOString(),
      });
      return { application, secret };
    },

    async list(actor: User): Promise<OAuthApplication[]> {
      requireAdmin(actor);
      return store.listApplications();
    },

    async remove(actor: User, id: number): Promise<void> {
      requireAdmin(actor);
      const app = await store.findApplication(id);
      if (!app || app.ownerId !== null) throw notFoundApp();
      await onApplicationDeleted?.(id);
      await store.transaction((tx) => tx.deleteApplication(id));
    },

    async renewSecret(actor: User, id: number): Promise<{ application: OAuthApplication; secret: string }> {
      requireAdmin(actor);
      const application = await store.findApplication(id);
      if (!application || application.ownerId !== null) throw notFoundApp();
      const { secret, digest } = newSecret();
      await store.setSecretDigest(id, digest);
      return { application, secret };
    },
  };
}
export type ApplicationService = ReturnType<typeof createApplicationService>;
