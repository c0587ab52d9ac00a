/**
 * Deploy tokens of a project or a group: create, list, show, delete (GitLab's deploy_tokens API).
 *
 * Who may: project tokens need Maintainer or Owner; group tokens are listed by Maintainers and created
 * or deleted only by Owners (GitLab's doc/api/deploy_tokens.md); admins may do everything. The secret
 * is returned once, from create. Delete revokes the token at once on this node (verifier cache) and
 * hides it from listings; the row stays for audit and leak look-ups.
 */
import type { Clock } from '../kernel/clock.js';
import { utcDateOf } from '../kernel/dates.js';
import { DomainError, forbidden, invalidParam, invalidRecord, notFound } from '../kernel/errors.js';
import type { Page, PageRequest } from '../kernel/page.js';
import { AccessLevel } from '../namespaces/access-levels.js';
import type { Resource, User } from '../namespaces/namespace.js';
import type { NamespaceService } from '../namespaces/namespace-service.js';
import { checkName } from '../namespaces/validation.js';
import type { Store } from '../store/open-store.js';
import { readExpiryInput } from './expiry-input.js';
import { DEPLOY_TOKEN_SCOPES } from './scopes.js';
import type { Token } from './token.js';
import type { TokenIssuer } from './token-issuer.js';
import type { SecretBox } from '../kernel/secret-box.js';
import { GITLAB_DEPLOY_TOKEN_NAME } from './deploy-token-secret-store.js';

export interface DeployTokenServiceDeps {
  store: Store;
  clock: Clock;
  issuer: TokenIssuer;
  namespaces: NamespaceService;
  /** Called after a token is revoked, so verification caches drop it. */
  onRevoked: (tokenId: number) => void;
  /** Seals the secret of a `gitlab-deploy-token` (kept for CI_DEPLOY_PASSWORD); others stay digest-only. */
  ciSecretBox?: SecretBox;
}

export interface CreateDeployTokenInput {
  name: unknown;
  scopes: unknown;
  expiresAt?: unknown;
  username?: unknown;
}

const USERNAME_RE = /^[a-zA-Z0-9.+_-]+$/;
export const defaultDeployTokenUsername = (id: number) => `gitlab+deploy-token-${id}`;

/**
 * GitLab validates a deploy token in two steps: Grape's params (`{"error": "scopes is missing"}`) and
 * then the model, whose errors come back as one sentence (`{"message": "Scopes can't be blank"}`).
 */
function readScopes(input: unknown): string[] {
  if (input === undefined || input === null) throw invalidParam('scopes is missing');
  if (!Array.isArray(input)) throw invalidParam('scopes is invalid');
  if (!input.every((s) => typeof s === 'string' && (DEPLOY_TOKEN_SCOPES as readonly string[]).includes(s))) {
    throw invalidParam('scopes does not have a valid value');
  }
  if (input.length === 0) throw invalidRecord("Scopes can't be blank");
  // Stored once each, in GitLab's order, whatever order the client sent.
  return DEPLOY_TOKEN_SCOPES.filter((scope) => input.includes(scope));
}

function readUsername(input: unknown): string | null {
  if (input === undefined || input === null || input === '') return null;
  if (typeof input !== 'string') throw invalidParam('username is invalid');
  if (input.length > 255) throw invalidRecord('Username is too long (maximum is 255 characters)');
  if (!USERNAME_RE.test(input)) throw invalidRecord("Username can contain only letters, digits, '_', '-', '+', and '.'");
  return input;
}

/** Shared field checks throw Rails-style field errors; a deploy token reports them as a model sentence. */
function asModelError<T>(check: () => T): T {
  try {
    return check();
  } catch (e) {
    if (e instanceof DomainError && e.fields) {
      const [field, reasons] = Object.entries(e.fields)[0]!;
      const attribute = field.charAt(0).toUpperCase() + field.slice(1).replace(/_/g, ' ');
      throw invalidRecord(`${attribute} ${reasons[0]}`);
    }
    throw e;
  }
}

export type DeployTokenService = ReturnType<typeof createDeployTokenService>;

/** GitLab filters by `active` only when it is true (`params[:active] ? items.active : items`): `active=false` lists every token. */
const onlyActive = (options: { active?: boolean }): true | undefined => (options.active === true ? true : undefined);

export function createDeployTokenService({ store, clock, issuer, namespaces, onRevoked, ciSecretBox }: DeployTokenServiceDeps) {
  const ownerOf = (r: Resource) => (r.type === 'project' ? { projectId: r.project.id } : { groupId: r.group.id });
  const notFoundToken = () => notFound('Not found', 'TOKEN_NOT_FOUND');

  async function authorize(actor: User, resource: Resource, action: 'read' | 'write'): Promise<void> {
    const level = await namespaces.accessLevel(actor, resource);
    const needed = resource.type === 'group' && action === 'write' ? AccessLevel.OWNER : AccessLevel.MAINTAINER;
    if (level < needed) throw forbidden();
  }

  async function findInResource(resource: Resource, tokenId: number): Promise<Token> {
    const token = await store.tokens.findById(tokenId);
    if (!token || token.kind !== 'deploy') throw notFoundToken();
    const owner = ownerOf(resource);
    if ('projectId' in owner ? token.projectId !== owner.projectId : token.groupId !== owner.groupId) throw notFoundToken();
    return token;
  }

  return {
    async create(actor: User, resource: Resource, input: CreateDeployTokenInput): Promise<{ token: Token; secret: string }> {
      await authorize(actor, resource, 'write');
      if (input.name === undefined || input.name === null) throw invalidParam('name is missing');
      if (typeof input.name !== 'string') throw invalidParam('name is invalid');
      const name = asModelError(() => checkName('name', input.name as string));
      const scopes = readScopes(input.scopes);
      const now = clock.now();
      const expiresAt = asModelError(() => readExpiryInput(input.expiresAt, now));
      const username = readUsername(input.username);
      const { secret, digest } = issuer.issue('deploy');
      const token = await store.transaction(async (ports) => {
        const inserted = await ports.tokens.insert({
          kind: 'deploy',
          name,
          description: '',
          digest,
          userId: null,
          projectId: resource.type === 'project' ? resource.project.id : null,
          groupId: resource.type === 'group' ? resource.group.id : null,
          username,
          scopes,
          accessLevel: null,
          expiresAt,
          createdBy: actor.id === 0 ? null : actor.id,
          createdAt: now.toISOString(),
        });
        // In the same transaction: a CI token without its sealed secret would never reach CI.
        if (name === GITLAB_DEPLOY_TOKEN_NAME && ciSecretBox) await ports.deployTokenSecrets.insert(inserted.id, ciSecretBox.seal(secret), now.toISOString());
        await ports.events.publish({ name: 'token.created', tokenId: inserted.id, at: inserted.createdAt, data: { by: actor.username } });
        if (username !== null) return inserted;
        const defaultName = defaultDeployTokenUsername(inserted.id);
        await ports.tokens.setUsername(inserted.id, defaultName);
        return { ...inserted, username: defaultName };
      });
      return { token, secret };
    },

    /** `active`: the API's GitLab filter (see onlyActive); `state`: the web UI's active and inactive tables. */
    async list(actor: User, resource: Resource, options: { active?: boolean; state?: 'active' | 'inactive' }, page: PageRequest): Promise<Page<Token>> {
      await authorize(actor, resource, 'read');
      const active = options.state === undefined ? onlyActive(options) : options.state === 'active';
      return store.tokens.list({ kind: 'deploy', ...ownerOf(resource), active, today: utcDateOf(clock.now()) }, page);
    },

    /** Every deploy token of the instance; admins only. */
    async listAll(actor: User, options: { active?: boolean }, page: PageRequest): Promise<Page<Token>> {
      if (!actor.isAdmin) throw forbidden();
      return store.tokens.list({ kind: 'deploy', active: onlyActive(options), today: utcDateOf(clock.now()) }, page);
    },

    async show(actor: User, resource: Resource, tokenId: number): Promise<Token> {
      await authorize(actor, resource, 'read');
      return findInResource(resource, tokenId);
    },

    async remove(actor: User, resource: Resource, tokenId: number): Promise<void> {
      await authorize(actor, resource, 'write');
      const token = await findInResource(resource, tokenId);
      const at = clock.now().toISOString();
      await store.transaction(async (ports) => {
        await ports.tokens.markDeleted(token.id, at);
        if (token.revokedAt === null) await ports.events.publish({ name: 'token.revoked', tokenId: token.id, at, data: { reason: 'deleted', by: actor.username } });
      });
      onRevoked(token.id);
    },
  };
}
