/**
 * Impersonation tokens (GitLab's doc/api/user_tokens.md, lib/api/users.rb): personal tokens an admin
 * issues to act as a user — API calls, git, registry and packages, exactly as the user. Admins only,
 * for every action, checked before anything else (GitLab's `before { authenticated_as_admin! }`). They
 * are personal tokens with the impersonation flag, so verification, rotation, revocation, usage and the
 * audit trail treat them as any personal token; the user's own token list leaves them out (GitLab does
 * not show them to the user).
 *
 * GitLab's answers: a user that does not exist is `404 User Not Found`; a token that is not an
 * impersonation token of that user is `404 Impersonation Token Not Found`; a refused record is
 * `render_validation_error!`, `{"message": {"scopes": ["can't be blank"]}}`.
 */
import type { Clock } from '../kernel/clock.js';
import { DomainError, forbidden, invalidField, invalidParam, notFound } from '../kernel/errors.js';
import type { Page, PageRequest } from '../kernel/page.js';
import type { User } from '../namespaces/namespace.js';
import { checkName, checkText } from '../namespaces/validation.js';
import type { Store } from '../store/open-store.js';
import type { ExpiryPolicy } from './expiry-policy.js';
import { issuePersonalToken } from './personal-token-service.js';
import { PERSONAL_TOKEN_SCOPES } from './scopes.js';
import type { Token } from './token.js';
import type { TokenIssuer } from './token-issuer.js';
import type { TokenLifecycle } from './token-lifecycle.js';

export interface ImpersonationTokenServiceDeps {
  store: Store;
  clock: Clock;
  issuer: TokenIssuer;
  lifecycle: TokenLifecycle;
  expiryPolicy: ExpiryPolicy;
  /** Where token.created goes (webhooks, the audit log); never throws. */
}

export interface CreateImpersonationTokenInput {
  name: unknown;
  scopes?: unknown;
  expiresAt?: unknown;
  description?: unknown;
}

/** GitLab's `state` filter of the list: `all` (default), `active`, `inactive`. */
export type ImpersonationTokenState = 'all' | 'active' | 'inactive';

const tokenNotFound = () => notFound('Impersonation Token Not Found', 'IMPERSONATION_TOKEN_NOT_FOUND');

/**
 * Scopes as the PersonalAccessToken model validates them (the API declares no `values`): missing or
 * empty is "can't be blank", an unknown one "can only contain available scopes".
 */
function readScopes(input: unknown): string[] {
  if (input === undefined || input === null || (Array.isArray(input) && input.length === 0)) throw invalidField('scopes', "can't be blank");
  if (!Array.isArray(input) || !input.every((s) => typeof s === 'string')) throw invalidParam('scopes is invalid');
  if (!input.every((s) => (PERSONAL_TOKEN_SCOPES as readonly string[]).includes(s))) throw invalidField('scopes', 'can only contain available scopes');
  return PERSONAL_TOKEN_SCOPES.filter((s) => input.includes(s));
}

/** The expiry policy speaks in model sentences ("Expires at must be …"); this API in field errors. */
async function asFieldError<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof DomainError && e.kind === 'invalid_record' && e.message.startsWith('Expires at ')) throw invalidField('expires_at', e.message.slice('Expires at '.length), e.code);
    throw e;
  }
}

export type ImpersonationTokenService = ReturnType<typeof createImpersonationTokenService>;

export function createImpersonationTokenService({ store, clock, issuer, lifecycle, expiryPolicy }: ImpersonationTokenServiceDeps) {
  /** Admins only, then the user (404 User Not Found), in GitLab's order. */
  async function userFor(actor: User, userId: number): Promise<User> {
    if (!actor.isAdmin) throw forbidden();
    const user = await store.namespaces.findUserById(userId);
    if (!user) throw notFound('User Not Found', 'USER_NOT_FOUND');
    return user;
  }

  async function find(actor: User, userId: number, id: number): Promise<Token> {
    const user = await userFor(actor, userId);
    const token = await store.tokens.findById(id);
    if (!token || token.kind !== 'personal' || !token.impersonation || token.userId !== user.id) throw tokenNotFound();
    return token;
  }

  return {
    /** Refuses anyone but an admin (403); the routes call it before they read any input. */
    authorize(actor: User): void {
      if (!actor.isAdmin) throw forbidden();
    },

    /** POST /users/:user_id/impersonation_tokens: the secret is in the result only. */
    async create(actor: User, userId: number, input: CreateImpersonationTokenInput): Promise<{ token: Token; secret: string }> {
      const user = await userFor(actor, userId);
      if (input.name === undefined || input.name === null) throw invalidParam('name is missing');
      if (typeof input.name !== 'string') throw invalidParam('name is invalid');
      const name = checkName('name', input.name);
      let description = '';
      if (input.description !== undefined && input.description !== null) {
        if (typeof input.description !== 'string') throw invalidParam('description is invalid');
        description = checkText('description', input.description);
      }
      const scopes = readScopes(input.scopes);
      const now = clock.now();
      const expiresAt = await asFieldError(() => expiryPolicy.forNewToken(input.expiresAt, { now }));
      return issuePersonalToken(
        { store, issuer },
        { user, name, description, scopes, expiresAt, now, createdBy: actor.id, by: actor.username, impersonation: true },
      );
    },

    /** GET /users/:user_id/impersonation_tokens (`state`: all, active, inactive), oldest first. */
    async list(actor: User, userId: number, state: ImpersonationTokenState, page: PageRequest): Promise<Page<Token>> {
      const user = await userFor(actor, userId);
      return store.tokens.searchPersonal({ userId: user.id, impersonation: true, state: state === 'all' ? undefined : state }, clock.now().toISOString(), page);
    },

    /** GET /users/:user_id/impersonation_tokens/:impersonation_token_id. */
    show: find,

    /** DELETE /users/:user_id/impersonation_tokens/:impersonation_token_id: revoked at once, on every path. */
    async revoke(actor: User, userId: number, id: number): Promise<void> {
      await lifecycle.revoke(await find(actor, userId, id), { by: actor });
    },
  };
}
