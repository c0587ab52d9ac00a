/**
 * Project and group access tokens (GitLab's resource access tokens): create, list, show, revoke,
 * rotate. Each token has its own bot user — created with the token, a member of the project or group
 * at the token's access level — and the token's user is that bot, so the bot's membership is what the
 * token may do.
 *
 * Who may (GitLab's ProjectPolicy/GroupPolicy): project tokens need Maintainer+, group tokens Owner
 * (admins count as Owner); bots never create resource tokens, and rotate only themselves (through
 * `self/rotate`); nobody creates, rotates or revokes a token above their own level (a Maintainer
 * cannot touch an Owner-level token, as GitLab refuses acting above one's own level). GitLab's answers
 * are kept: list/show by a member without the right → 401, create and delete refusals → 400 with the
 * reason, rotate of an unknown or inaccessible token, or by another token's bot → 401 (404 for admins).
 */
import { asBadRequest, badRequest } from './bad-request.js';
import type { Clock } from '../kernel/clock.js';
import { utcDateOf, type UtcDate } from '../kernel/dates.js';
import { DomainError, invalidParam, invalidRecord, notAllowed, notFound, unauthenticated } from '../kernel/errors.js';
import type { Page, PageRequest } from '../kernel/page.js';
import type { TokenGenerator } from '../kernel/random.js';
import { AccessLevel, isValidAccessLevel } from '../namespaces/access-levels.js';
import type { Resource, User } from '../namespaces/namespace.js';
import type { NamespaceService } from '../namespaces/namespace-service.js';
import { checkName, checkText } from '../namespaces/validation.js';
import type { Store } from '../store/open-store.js';
import type { ExpiryPolicy } from './expiry-policy.js';
import { PERSONAL_TOKEN_SCOPES } from './scopes.js';
import type { Token } from './token.js';
import type { TokenIssuer } from './token-issuer.js';
import type { TokenLifecycle } from './token-lifecycle.js';
import type { TokenSearch } from './token-store.js';

/** GitLab's `resource_bot_scopes`: every personal scope but read_user (a bot has no profile to read). */
export const RESOURCE_TOKEN_SCOPES = PERSONAL_TOKEN_SCOPES.filter((s) => s !== 'read_user');

export interface ResourceTokenServiceDeps {
  store: Store;
  clock: Clock;
  issuer: TokenIssuer;
  random: TokenGenerator;
  namespaces: NamespaceService;
  lifecycle: TokenLifecycle;
  expiryPolicy: ExpiryPolicy;
  /** Domain of bot e-mail addresses: `noreply.<host>`, as GitLab's `noreply.#{Gitlab.config.gitlab.host}`. */
  noreplyDomain: string;
  /** Called after a token stops working, so verification caches drop it. */
  onRevoked: (tokenId: number) => void;
  /** Called after a bot user was blocked (removed), so verification caches drop all of its tokens. */
  onUserChanged?: (userId: number) => void;
}

export interface CreateResourceTokenInput {
  name: unknown;
  description?: unknown;
  scopes: unknown;
  accessLevel?: unknown;
  expiresAt?: unknown;
}

export interface RotateResourceTokenInput {
  expiresAt?: unknown;
  /** Seconds the old secret keeps working (Latchkey extension). */
  gracePeriodSeconds?: number;
}

/** Grape's checks of `scopes` (`scopes is missing`, `does not have a valid value`), then the model's. */
export function readScopes(input: unknown, allowed: readonly string[]): string[] {
  if (input === undefined || input === null) throw invalidParam('scopes is missing');
  if (!Array.isArray(input)) throw invalidParam('scopes is invalid');
  if (!input.every((s) => typeof s === 'string' && allowed.includes(s))) throw invalidParam('scopes does not have a valid value');
  if (input.length === 0) throw badRequest("Scopes can't be blank");
  return allowed.filter((scope) => input.includes(scope));
}

export function readTokenName(input: unknown): string {
  if (input === undefined || input === null) throw invalidParam('name is missing');
  if (typeof input !== 'string') throw invalidParam('name is invalid');
  return asBadRequest(() => checkName('name', input));
}

export function readDescription(input: unknown): string {
  if (input === undefined || input === null) return '';
  if (typeof input !== 'string') throw invalidParam('description is invalid');
  return asBadRequest(() => checkText('description', input));
}

const isResourceBot = (user: User) => user.botKind === 'project_bot' || user.botKind === 'group_bot';

export type ResourceTokenService = ReturnType<typeof createResourceTokenService>;

export function createResourceTokenService(deps: ResourceTokenServiceDeps) {
  const { store, clock, issuer, random, namespaces, lifecycle, expiryPolicy, noreplyDomain, onRevoked } = deps;

  const typeOf = (r: Resource) => r.type;
  const idOf = (r: Resource) => (r.type === 'project' ? r.project.id : r.group.id);
  const nameOf = (r: Resource) => (r.type === 'project' ? r.project.name : r.group.name);
  const neededLevel = (r: Resource) => (r.type === 'project' ? AccessLevel.MAINTAINER : AccessLevel.OWNER);
  const ownerFilter = (r: Resource) => (r.type === 'project' ? { projectId: r.project.id } : { groupId: r.group.id });
  const tokenNotFound = (r: Resource) => notFound(`${typeOf(r)} Access Token Not Found`, 'TOKEN_NOT_FOUND');
  /** GitLab's GET and DELETE of an unknown id: `not_found!("Could not find project access token with token_id: 7")`. */
  const tokenIdNotFound = (r: Resource, tokenId: number) => notFound(`Could not find ${typeOf(r)} access token with token_id: ${tokenId} Not Found`, 'TOKEN_NOT_FOUND');
  const hex = (bytes: number) => Buffer.from(random.randomBytes(bytes)).toString('hex');

  /** The groups whose stricter token lifetime applies: the resource's group and its ancestors. */
  async function groupChainOf(resource: Resource): Promise<readonly number[]> {
    if (resource.type === 'group') return resource.group.ancestorIds;
    return (await store.namespaces.findGroupById(resource.project.groupId))?.ancestorIds ?? [];
  }

  async function levelOf(actor: User, resource: Resource): Promise<number> {
    return namespaces.accessLevel(actor, resource);
  }

  /** GitLab's `read_resource_access_tokens` refusal is `unauthorized!`. */
  async function authorizeRead(actor: User, resource: Resource): Promise<void> {
    if ((await levelOf(actor, resource)) < neededLevel(resource)) throw unauthenticated('RESOURCE_TOKENS_FORBIDDEN');
  }

  /** A token of this resource (a token of its bots), or null. */
  async function findInResource(resource: Resource, tokenId: number): Promise<Token | null> {
    const token = await store.tokens.findById(tokenId);
    if (!token || token.kind !== resource.type) return null;
    const owner = ownerFilter(resource);
    if ('projectId' in owner ? token.projectId !== owner.projectId : token.groupId !== owner.groupId) return null;
    return token;
  }

  return {
    async create(actor: User, resource: Resource, input: CreateResourceTokenInput): Promise<{ token: Token; secret: string; bot: User }> {
      const level = await levelOf(actor, resource);
      if (isResourceBot(actor) || level < neededLevel(resource)) throw badRequest(`User does not have permission to create ${typeOf(resource)} access token`, 'FORBIDDEN');
      const name = readTokenName(input.name);
      const description = readDescription(input.description);
      const scopes = readScopes(input.scopes, RESOURCE_TOKEN_SCOPES);
      const accessLevel = input.accessLevel === undefined || input.accessLevel === null ? AccessLevel.MAINTAINER : input.accessLevel;
      if (!isValidAccessLevel(accessLevel)) throw invalidParam('access_level does not have a valid value');
      if (accessLevel > level) throw badRequest('Access level of the token contains permissions not held by the creating user', 'ACCESS_LEVEL_ABOVE_OWN');
      const now = clock.now();
      const expiresAt = await expiryPolicy.forNewToken(input.expiresAt, { now, groupIds: await groupChainOf(resource) }).catch((e: unknown) => {
        // A resource token's service errors come back through `bad_request!`.
        if (e instanceof DomainError && e.kind === 'invalid_record') throw badRequest(e.message, e.code);
        throw e;
      });

      // GitLab's UsernameAndEmailGenerator: `<type>_<id>_bot_<32 hex>` at the no-reply domain.
      const username = `${typeOf(resource)}_${idOf(resource)}_bot_${hex(16)}`;
      const { secret, digest } = issuer.issue(typeOf(resource));
      const at = now.toISOString();
      // Bot, membership and token in one transaction: a failure anywhere leaves none of them.
      const { token, bot } = await store.transaction(async (ports) => {
        const bot = await ports.namespaces.insertUser({
          username,
          name: name || `${nameOf(resource)} bot`,
          email: `${username}@${noreplyDomain}`,
          isAdmin: false,
          botKind: resource.type === 'project' ? 'project_bot' : 'group_bot',
          passwordHash: null,
          createdAt: at,
        });
        await ports.namespaces.insertMember({ type: resource.type, id: idOf(resource) }, bot.id, accessLevel, null, actor.id === 0 ? null : actor.id, at);
        const token = await ports.tokens.insert({
          kind: resource.type,
          name,
          description,
          digest,
          userId: bot.id,
          projectId: resource.type === 'project' ? resource.project.id : null,
          groupId: resource.type === 'group' ? resource.group.id : null,
          username: null,
          scopes,
          accessLevel,
          expiresAt,
          createdBy: actor.id === 0 ? null : actor.id,
          createdAt: at,
        });
        await ports.events.publish({ name: 'token.created', tokenId: token.id, at, data: { by: actor.username } });
        return { token, bot };
      });
      return { token, secret, bot };
    },

    /** GitLab's list with its PersonalAccessTokensFinder filters and sorts, over the resource's bots' tokens. */
    async list(actor: User, resource: Resource, filter: TokenSearch, page: PageRequest): Promise<Page<Token>> {
      await authorizeRead(actor, resource);
      return store.tokens.searchPersonal({ ...filter, ...ownerFilter(resource), userId: undefined, impersonation: undefined }, clock.now().toISOString(), page);
    },

    /**
     * `GET /:kind/:id/access_tokens/self`: the resource access token the request authenticates with
     * (any scope, like /personal_access_tokens/self). Any other credential, or a token of another
     * resource, is 404.
     */
    async showSelf(actor: User, resource: Resource, authToken: Token | null): Promise<Token> {
      const token = authToken && authToken.userId === actor.id ? await findInResource(resource, authToken.id) : null;
      if (!token) throw tokenNotFound(resource);
      return token;
    },

    async show(actor: User, resource: Resource, tokenId: number): Promise<Token> {
      await authorizeRead(actor, resource);
      const token = await findInResource(resource, tokenId);
      if (!token) throw tokenIdNotFound(resource, tokenId);
      return token;
    },

    /**
     * GitLab's DELETE: revokes the token and deletes its bot user. Latchkey keeps the rows (audit,
     * leak look-ups) and blocks the bot instead, and revokes every other token of the bot (a secret
     * still in a rotation grace period), so nothing the bot held keeps working.
     */
    async revoke(actor: User, resource: Resource, tokenId: number): Promise<void> {
      const token = await findInResource(resource, tokenId);
      if (!token) throw tokenIdNotFound(resource, tokenId);
      const bot = token.userId === null ? null : await store.namespaces.findUserById(token.userId);
      const level = await levelOf(actor, resource);
      if (level < neededLevel(resource)) throw badRequest(`${actor.name} cannot delete ${bot?.name ?? 'the bot user'}`, 'FORBIDDEN');
      // Never above one's own level: a Maintainer cannot remove an Owner-level bot (GitLab's members rule).
      if (!actor.isAdmin && (token.accessLevel ?? 0) > level) throw badRequest(`${actor.name} cannot delete ${bot?.name ?? 'the bot user'}`, 'ACCESS_LEVEL_ABOVE_OWN');
      const at = clock.now().toISOString();
      const family = bot === null ? [token] : (await store.tokens.list({ kind: resource.type, userId: bot.id, today: utcDateOf(clock.now()) }, { page: 1, perPage: 10_000 })).items;
      const revokedIds = await store.transaction(async (ports) => {
        const ids: number[] = [];
        for (const t of family) if (await ports.tokens.markRevoked(t.id, at, 'revoked')) ids.push(t.id);
        if (bot !== null) await ports.namespaces.setUserState(bot.id, 'blocked');
        for (const id of ids) await ports.events.publish({ name: 'token.revoked', tokenId: id, at, data: { reason: 'revoked', by: actor.username } });
        return ids;
      });
      for (const id of [token.id, ...revokedIds]) onRevoked(id);
      if (bot !== null) deps.onUserChanged?.(bot.id);
    },

    async rotate(actor: User, resource: Resource, tokenId: number, input: RotateResourceTokenInput): Promise<{ token: Token; secret: string; previous: Token }> {
      const level = await levelOf(actor, resource);
      // A bot rotates only itself, through self/rotate: "You're using a project access token to rotate
      // another project access token" is GitLab's 401.
      const token = level >= neededLevel(resource) && !isResourceBot(actor) ? await findInResource(resource, tokenId) : null;
      // Only admins learn whether the token exists.
      if (!token) throw actor.isAdmin ? notFound('Not Found') : unauthenticated('RESOURCE_TOKENS_FORBIDDEN');
      if (!actor.isAdmin && (token.accessLevel ?? 0) > level) throw badRequest('Not eligible to rotate tokens with permissions not held by the user', 'ACCESS_LEVEL_ABOVE_OWN');
      const expiresAt: UtcDate = await expiryPolicy.forRotation(input.expiresAt, { now: clock.now(), groupIds: await groupChainOf(resource) });
      return lifecycle.rotate(token, { by: actor, expiresAt, gracePeriodSeconds: input.gracePeriodSeconds });
    },

    /**
     * GitLab's first checks of `POST /:kind/:id/access_tokens/self/rotate`, before the resource is
     * looked up: `405 Method Not Allowed` unless the credential is an access token (personal, project
     * or group — not OAuth) of a project or group bot.
     */
    assertSelfRotatable(actor: User, authToken: Token | null): void {
      const accessToken = authToken !== null && (authToken.kind === 'personal' || authToken.kind === 'project' || authToken.kind === 'group');
      if (!accessToken || (actor.botKind !== 'project_bot' && actor.botKind !== 'group_bot')) throw notAllowed('405 Method Not Allowed', 'SELF_ROTATE_NOT_A_BOT_TOKEN');
    },

    /**
     * `POST /:kind/:id/access_tokens/self/rotate`: the bot rotates the very token it authenticates
     * with (`api` or `self_rotate` scope). A bot token of another resource is GitLab's `401 Unauthorized`.
     */
    async rotateSelf(actor: User, resource: Resource, authToken: Token | null, input: RotateResourceTokenInput): Promise<{ token: Token; secret: string; previous: Token }> {
      // Re-read: the authenticated copy may come from the verifier's cache.
      const token = authToken && authToken.userId === actor.id ? await findInResource(resource, authToken.id) : null;
      if (!token) throw unauthenticated('SELF_ROTATE_OTHER_RESOURCE');
      const expiresAt: UtcDate = await expiryPolicy.forRotation(input.expiresAt, { now: clock.now(), groupIds: await groupChainOf(resource) });
      return lifecycle.rotate(token, { by: actor, expiresAt, gracePeriodSeconds: input.gracePeriodSeconds });
    },
  };
}
