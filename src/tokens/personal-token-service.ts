/**
 * Personal access tokens (GitLab's doc/api/personal_access_tokens.md and the users API's token
 * creation): create, list with GitLab's filters, show, revoke and rotate. Rules as GitLab's
 * (lib/api/personal_access_tokens.rb): a user manages their own tokens, an admin everyone's. In
 * GitLab every token tied to a user is a PersonalAccessToken, so project and group bots' tokens are
 * found here too (by an admin, or by the bot itself). Show and rotate of a token one may not see — or
 * that does not exist — are `401` (only an admin learns it does not exist: `404`); revoke of an
 * unknown id is `404 Not found`, of another user's token `400 Bad request`. Revoke and rotate go
 * through the shared token lifecycle; expiry dates through the expiry policy.
 */
import type { Clock } from '../kernel/clock.js';
import { asModelSentence, asUnprocessable } from './bad-request.js';
import type { UtcDate } from '../kernel/dates.js';
import { forbidden, invalidParam, invalidRecord, notAllowed, notFound, unauthenticated } from '../kernel/errors.js';
import type { Page, PageRequest } from '../kernel/page.js';
import type { User } from '../namespaces/namespace.js';
import { checkName, checkText } from '../namespaces/validation.js';
import type { Store } from '../store/open-store.js';
import type { ExpiryPolicy } from './expiry-policy.js';
import { PERSONAL_TOKEN_SCOPES } from './scopes.js';
import type { Token } from './token.js';
import type { TokenIssuer } from './token-issuer.js';
import type { RotateResult, TokenLifecycle } from './token-lifecycle.js';
import type { TokenSearch } from './token-store.js';

export interface PersonalTokenServiceDeps {
  store: Store;
  clock: Clock;
  issuer: TokenIssuer;
  lifecycle: TokenLifecycle;
  expiryPolicy: ExpiryPolicy;
}

export interface CreatePersonalTokenInput {
  name: unknown;
  scopes: unknown;
  expiresAt?: unknown;
  description?: unknown;
}

/** Scopes a user may give a token created for themselves by POST /user/personal_access_tokens (GitLab: k8s_proxy, self_rotate; we have no k8s_proxy). */
export const SELF_SERVICE_SCOPES = ['self_rotate'] as const;

/** GitLab's PersonalAccessToken: every kind tied to a user (a human's, a service account's, a bot's). */
const USER_TOKEN_KINDS = new Set(['personal', 'project', 'group']);
const isUserToken = (token: Token | null): token is Token => token !== null && USER_TOKEN_KINDS.has(token.kind);

const tokenNotFound = () => notFound('Not Found', 'TOKEN_NOT_FOUND');

function readScopes(input: unknown, allowed: readonly string[]): string[] {
  if (input === undefined || input === null) throw invalidParam('scopes is missing');
  if (!Array.isArray(input)) throw invalidParam('scopes is invalid');
  if (!input.every((s) => typeof s === 'string' && allowed.includes(s))) throw invalidParam('scopes does not have a valid value');
  if (input.length === 0) throw invalidRecord("Scopes can't be blank");
  return allowed.filter((s) => input.includes(s));
}

export type PersonalTokenService = ReturnType<typeof createPersonalTokenService>;

/**
 * Issues a personal token for a user (a human, or a service account) from checked input, stores its
 * digest, and publishes token.created. The secret is returned only here.
 */
export async function issuePersonalToken(
  { store, issuer }: { store: Store; issuer: TokenIssuer },
  t: { user: User; name: string; description: string; scopes: string[]; expiresAt: UtcDate | null; now: Date; createdBy: number | null; by: string | null; impersonation?: boolean },
): Promise<{ token: Token; secret: string }> {
  const { secret, digest } = issuer.issue('personal');
  // An impersonation token names whom it acts as, so the audit log shows who may act as whom.
  const data = t.impersonation ? { by: t.by, impersonation: true, user: t.user.username } : { by: t.by };
  const token = await store.transaction(async (ports) => {
    const inserted = await ports.tokens.insert({
      kind: 'personal',
      name: t.name,
      description: t.description,
      digest,
      userId: t.user.id,
      projectId: null,
      groupId: null,
      username: null,
      scopes: t.scopes,
      accessLevel: null,
      expiresAt: t.expiresAt,
      createdBy: t.createdBy,
      createdAt: t.now.toISOString(),
      impersonation: t.impersonation === true,
    });
    // With the token, in its transaction: a crash cannot leave a token without its token.created.
    await ports.events.publish({ name: 'token.created', tokenId: inserted.id, at: inserted.createdAt, data });
    return inserted;
  });
  return { token, secret };
}

export function createPersonalTokenService({ store, clock, issuer, lifecycle, expiryPolicy }: PersonalTokenServiceDeps) {
  const canManage = (actor: User, token: Token) => actor.isAdmin || token.userId === actor.id;

  async function insertFor(user: User, input: CreatePersonalTokenInput, createdBy: User | null, allowedScopes: readonly string[]) {
    if (input.name === undefined || input.name === null) throw invalidParam('name is missing');
    if (typeof input.name !== 'string') throw invalidParam('name is invalid');
    const name = asModelSentence(() => checkName('name', input.name as string));
    const scopes = readScopes(input.scopes, allowedScopes);
    let description = '';
    if (input.description !== undefined && input.description !== null) {
      if (typeof input.description !== 'string') throw invalidParam('description is invalid');
      description = asModelSentence(() => checkText('description', input.description as string));
    }
    const now = clock.now();
    const expiresAt = await expiryPolicy.forNewToken(input.expiresAt, { now });
    return issuePersonalToken({ store, issuer }, { user, name, description, scopes, expiresAt, now, createdBy: createdBy?.id ?? null, by: createdBy?.username ?? null });
  }

  /**
   * The token with this id if `actor` may manage it. GitLab: "Only admins should be informed if the
   * token doesn't exist" — 404 for them, 401 for anyone else, whether it is missing or another's.
   */
  async function findManaged(actor: User, id: number): Promise<Token> {
    const token = await store.tokens.findById(id);
    if (!isUserToken(token) || !canManage(actor, token)) throw actor.isAdmin ? tokenNotFound() : unauthenticated('TOKEN_NOT_ACCESSIBLE');
    return token;
  }

  /** The token the request authenticated with, for the /self endpoints. */
  function selfToken(authToken: Token): Token {
    if (!USER_TOKEN_KINDS.has(authToken.kind)) throw tokenNotFound();
    return authToken;
  }

  async function rotate(actor: User, token: Token, input: { expiresAt?: unknown; gracePeriodSeconds?: number }): Promise<RotateResult> {
    const expiresAt = await expiryPolicy.forRotation(input.expiresAt, { now: clock.now() });
    return lifecycle.rotate(token, { by: actor, expiresAt, gracePeriodSeconds: input.gracePeriodSeconds });
  }

  async function createForUser(actor: User, userId: number, input: CreatePersonalTokenInput): Promise<{ token: Token; secret: string }> {
    if (!actor.isAdmin) throw forbidden();
    const user = await store.namespaces.findUserById(userId);
    if (!user) throw notFound('User Not Found', 'USER_NOT_FOUND');
    return asUnprocessable(() => insertFor(user, input, actor, PERSONAL_TOKEN_SCOPES));
  }

  /** A token of `userId` that `actor` may manage (the CLI names the user); 404 otherwise. */
  async function findOfUser(actor: User, userId: number, id: number): Promise<Token> {
    const token = await findManaged(actor, id);
    if (token.userId !== userId) throw tokenNotFound();
    return token;
  }

  return {
    /** A token for `user` without the API's checks of the caller: the admin bootstrap, the CLI, test seeding. */
    async createFor(user: User, input: { name: string; scopes: string[]; expiresAt: string | null; description?: string }, createdBy: User | null): Promise<{ token: Token; secret: string }> {
      return insertFor(user, input, createdBy, PERSONAL_TOKEN_SCOPES);
    },

    /** POST /users/:user_id/personal_access_tokens: admins only. */
    createForUser: createForUser,
    /** The CLI's name for createForUser. */
    create: createForUser,

    /**
     * The web UI's Access tokens page: a signed-in person creates a token for themselves with any
     * personal scope, as GitLab's UI allows (its API's POST /user/personal_access_tokens does not).
     */
    async createOwn(actor: User, input: CreatePersonalTokenInput): Promise<{ token: Token; secret: string }> {
      if (actor.botKind !== null) throw forbidden();
      return insertFor(actor, input, actor, PERSONAL_TOKEN_SCOPES);
    },

    /** POST /user/personal_access_tokens: for oneself, with GitLab's limited scopes. */
    async createForSelf(actor: User, input: CreatePersonalTokenInput): Promise<{ token: Token; secret: string }> {
      return asUnprocessable(() => insertFor(actor, input, actor, SELF_SERVICE_SCOPES));
    },

    /**
     * GET /personal_access_tokens. A non-admin sees their own tokens only, without the impersonation
     * tokens an admin holds for them, and naming another user in `user_id` is GitLab's 401.
     */
    async list(actor: User, filter: TokenSearch, page: PageRequest): Promise<Page<Token>> {
      // An admin naming a user that does not exist: GitLab's `not_found!`.
      if (actor.isAdmin && filter.userId !== undefined && !(await store.namespaces.findUserById(filter.userId))) throw notFound('Not Found', 'USER_NOT_FOUND');
      if (!actor.isAdmin) {
        if (filter.userId !== undefined && filter.userId !== actor.id) throw unauthenticated('OTHER_USER_FILTER');
        // GitLab's finder for a non-admin: `{ user: current_user, impersonation: false }`.
        filter = { ...filter, userId: actor.id, impersonation: false };
      }
      return store.tokens.searchPersonal(filter, clock.now().toISOString(), page);
    },

    show: findManaged,

    showSelf: (authToken: Token): Token => selfToken(authToken),

    /**
     * DELETE /personal_access_tokens/:id. GitLab: an unknown id is ActiveRecord's `404 Not found`,
     * another user's token `400 Bad request` (RevokeService: not permitted).
     */
    async revoke(actor: User, id: number): Promise<void> {
      const token = await store.tokens.findById(id);
      if (!isUserToken(token)) throw notFound('Not found', 'TOKEN_NOT_FOUND');
      if (!canManage(actor, token)) throw invalidRecord('400 Bad request', 'NOT_PERMITTED_TO_REVOKE');
      await lifecycle.revoke(token, { by: actor });
    },

    async revokeSelf(actor: User, authToken: Token): Promise<void> {
      await lifecycle.revoke(selfToken(authToken), { by: actor });
    },

    async revokeOfUser(actor: User, userId: number, id: number): Promise<void> {
      await lifecycle.revoke(await findOfUser(actor, userId, id), { by: actor });
    },

    async rotateOfUser(actor: User, userId: number, id: number, input: { expiresAt?: unknown; gracePeriodSeconds?: number }): Promise<RotateResult> {
      return rotate(actor, await findOfUser(actor, userId, id), input);
    },

    async rotate(actor: User, id: number, input: { expiresAt?: unknown; gracePeriodSeconds?: number }): Promise<RotateResult> {
      return rotate(actor, await findManaged(actor, id), input);
    },

    /**
     * POST /personal_access_tokens/self/rotate. The scope check (api or self_rotate) is the
     * authentication plugin's; the verifier has already refused a token that no longer works. A
     * credential that is no access token (OAuth) is GitLab's `not_allowed!` (405).
     */
    async rotateSelf(actor: User, authToken: Token, input: { expiresAt?: unknown; gracePeriodSeconds?: number }): Promise<RotateResult> {
      if (!USER_TOKEN_KINDS.has(authToken.kind)) throw notAllowed('405 Method Not Allowed', 'SELF_ROTATE_NOT_AN_ACCESS_TOKEN');
      const token = selfToken(authToken);
      // Re-read: the authenticated copy may come from the verifier's cache.
      const fresh = (await store.tokens.findById(token.id)) ?? token;
      return rotate(actor, fresh, input);
    },
  };
}
