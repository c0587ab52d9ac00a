/**
 * OAuth2 applications: instance applications (GitLab's Applications API, admin only) and a user's own
 * (User settings → Applications in the web UI): register, list, delete, renew the secret. The client secret (`gloas-…`) is returned once, on create and on renewal, and stored only as
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

  /** Whose applications a call reaches: the instance's (null, admins only) or the actor's own. */
  const ownerOf = (actor: User, own: boolean): number | null => {
    if (own) return actor.id;
    requireAdmin(actor);
    return null;
  };

  async function create(actor: User, input: ApplicationInput, own = false): Promise<{ application: OAuthApplication; secret: string }> {
    const ownerId = ownerOf(actor, own);
    const valid = validate(input);
    const { secret, digest } = newSecret();
    const uid = Buffer.from(random.randomBytes(32)).toString('hex');
    const application = await store.insertApplication({
      uid, name: valid.name, redirectUris: valid.redirectUris, scopes: valid.scopes, confidential: input.confidential ?? true, secretDigest: digest, ownerId, createdAt: clock.now().toISOString(),
    });
    return { application, secret };
  }

  /** The application if it is the owner's; another owner's is a 404, as one that does not exist. */
  async function owned(actor: User, id: number, own: boolean): Promise<OAuthApplication> {
    const ownerId = ownerOf(actor, own);
    const app = await store.findApplication(id);
    if (!app || app.ownerId !== ownerId) throw notFoundApp();
    return app;
  }

  async function remove(actor: User, id: number, own = false): Promise<void> {
    await owned(actor, id, own);
    await onApplicationDeleted?.(id);
    await store.transaction((tx) => tx.deleteApplication(id));
  }

  async function renewSecret(actor: User, id: number, own = false): Promise<{ application: OAuthApplication; secret: string }> {
    const application = await owned(actor, id, own);
    const { secret, digest } = newSecret();
    await store.setSecretDigest(id, digest);
    return { application, secret };
  }

  return {
    create,
    remove,
    renewSecret,
    async list(actor: User): Promise<OAuthApplication[]> {
      requireAdmin(actor);
      return store.listApplications(null);
    },

    /** The signed-in user's own applications (GitLab's User settings → Applications). */
    createOwn: (actor: User, input: ApplicationInput) => create(actor, input, true),
    listOwn: (actor: User) => store.listApplications(actor.id),
    removeOwn: (actor: User, id: number) => remove(actor, id, true),
    renewOwnSecret: (actor: User, id: number) => renewSecret(actor, id, true),
  };
}
export type ApplicationService = ReturnType<typeof createApplicationService>;
