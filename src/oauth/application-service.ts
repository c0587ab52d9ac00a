/**
 * OAuth2 applications: instance applications (GitLab's Applications API, admin only), a user's own
 * (User settings → Applications) and a group's (its Settings → Applications, Owners only): register, list,
 * delete, renew the secret. The client secret (`gloas-…`) is returned once, on create and on renewal, and
 * stored only as its HMAC digest. Deleting an application ends every grant and token issued to it.
 */
import { DomainError, forbidden, notFound } from '../kernel/errors.js';
import type { Clock } from '../kernel/clock.js';
import type { TokenGenerator } from '../kernel/random.js';
import { AccessLevel } from '../namespaces/access-levels.js';
import type { Group, User } from '../namespaces/namespace.js';
import type { NamespaceService } from '../namespaces/namespace-service.js';
import type { TokenDigester } from '../tokens/token-digest.js';
import { generateToken } from '../tokens/token-format.js';
import { isOwnedBy, type ApplicationOwner, type OAuthApplication } from './application.js';
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

/** Whose applications a call reaches: the instance's (admins only), the actor's own, or a group's (by path). */
export type ApplicationReach = 'instance' | 'own' | { readonly group: string };

export interface ApplicationServiceDeps {
  store: OAuthStore;
  clock: Clock;
  random: TokenGenerator;
  digester: TokenDigester;
  /** Finds a group with the actor's level on it (group applications are its Owners'). */
  namespaces: Pick<NamespaceService, 'findGroup'>;
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

export function createApplicationService({ store, clock, random, digester, namespaces, onApplicationDeleted }: ApplicationServiceDeps) {
  const requireAdmin = (actor: User) => {
    if (!actor.isAdmin) throw forbidden();
  };
  const newSecret = () => {
    const secret = generateToken(APPLICATION_SECRET_PREFIX, random);
    return { secret, digest: digester.digest(secret) };
  };
  const notFoundApp = () => notFound('Application Not Found', 'APPLICATION_NOT_FOUND');

  /**
   * The owner a call may act for. A group's applications are its Owners' (admins count as Owner); to anyone
   * else the group's page does not exist (404, as GitLab answers its group settings).
   */
  async function ownerOf(actor: User, reach: ApplicationReach): Promise<ApplicationOwner> {
    if (reach === 'own') return { kind: 'user', id: actor.id };
    if (reach === 'instance') {
      requireAdmin(actor);
      return { kind: 'instance' };
    }
    return { kind: 'group', id: (await ownedGroup(actor, reach.group)).id };
  }

  async function ownedGroup(actor: User, path: string): Promise<Group> {
    const { group, level } = await namespaces.findGroup(actor, path);
    if (level < AccessLevel.OWNER) throw notFound('Group Not Found', 'GROUP_NOT_FOUND');
    return group;
  }

  async function create(actor: User, input: ApplicationInput, reach: ApplicationReach = 'instance'): Promise<{ application: OAuthApplication; secret: string }> {
    const owner = await ownerOf(actor, reach);
    const valid = validate(input);
    const { secret, digest } = newSecret();
    const uid = Buffer.from(random.randomBytes(32)).toString('hex');
    const application = await store.insertApplication({
      uid, name: valid.name, redirectUris: valid.redirectUris, scopes: valid.scopes, confidential: input.confidential ?? true, secretDigest: digest, owner, createdAt: clock.now().toISOString(),
    });
    return { application, secret };
  }

  /** The application if it is the owner's; another owner's is a 404, as one that does not exist. */
  async function owned(actor: User, id: number, reach: ApplicationReach): Promise<OAuthApplication> {
    const owner = await ownerOf(actor, reach);
    const app = await store.findApplication(id);
    if (!app || !isOwnedBy(app, owner)) throw notFoundApp();
    return app;
  }

  async function remove(actor: User, id: number, reach: ApplicationReach = 'instance'): Promise<void> {
    await owned(actor, id, reach);
    await onApplicationDeleted?.(id);
    await store.transaction((tx) => tx.deleteApplication(id));
  }

  async function renewSecret(actor: User, id: number, reach: ApplicationReach = 'instance'): Promise<{ application: OAuthApplication; secret: string }> {
    const application = await owned(actor, id, reach);
    const { secret, digest } = newSecret();
    await store.setSecretDigest(id, digest);
    return { application, secret };
  }

  const list = async (actor: User, reach: ApplicationReach = 'instance') => store.listApplications(await ownerOf(actor, reach));

  return {
    create,
    remove,
    renewSecret,
    list,
    /** The group by path if the actor is its Owner (admins are); else a 404. */
    ownedGroup,
  };
}
export type ApplicationService = ReturnType<typeof createApplicationService>;
