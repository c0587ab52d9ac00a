/**
 * Group service accounts (GitLab's doc/api/service_accounts.md, "Group service accounts"): bot users
 * owned by a top-level group, and their personal access tokens, managed by the group's Owners (and
 * admins). A service account gets no membership by itself; it is added to groups and projects like a
 * human, and its tokens act with those memberships.
 *
 * Deleting a service account blocks it and revokes its tokens (GitLab deletes the user; Latchkey keeps
 * the rows for audit and leak look-ups).
 *
 * Instance service accounts (the same document, "Instance service accounts"): owned by no group, managed
 * by admins only — created, listed and changed here, their tokens through the personal access tokens API.
 */
import { utcDateOf } from '../kernel/dates.js';
import { forbidden, invalidRecord, notFound } from '../kernel/errors.js';
import type { Page, PageRequest } from '../kernel/page.js';
import { AccessLevel } from '../namespaces/access-levels.js';
import type { Group, User } from '../namespaces/namespace.js';
import { asBadRequest, asUnprocessable, badRequest } from './bad-request.js';
import { readDescription, readScopes, readTokenName, type ResourceTokenServiceDeps } from './resource-token-service.js';
import { issuePersonalToken } from './personal-token-service.js';
import { PERSONAL_TOKEN_SCOPES } from './scopes.js';
import type { Token } from './token.js';
import type { TokenSearch } from './token-store.js';

/** The same collaborators as project and group bots. */
export type ServiceAccountServiceDeps = ResourceTokenServiceDeps;

export interface CreateServiceAccountInput {
  name?: string;
  username?: string;
  email?: string;
}

export interface ServiceAccountOrder {
  by: 'id' | 'username';
  direction: 'asc' | 'desc';
}

export type ServiceAccountService = ReturnType<typeof createServiceAccountService>;

export function createServiceAccountService(deps: ServiceAccountServiceDeps) {
  const { store, clock, issuer, random, namespaces, lifecycle, expiryPolicy, noreplyDomain, onRevoked } = deps;
  const hex = (bytes: number) => Buffer.from(random.randomBytes(bytes)).toString('hex');
  const userNotFound = () => notFound('User Not Found', 'USER_NOT_FOUND');

  /** GitLab's `authorize! :admin_service_accounts`: Owners of the group and admins; 403 otherwise. */
  async function authorize(actor: User, group: Group): Promise<void> {
    if ((await namespaces.accessLevel(actor, { type: 'group', group })) < AccessLevel.OWNER) throw forbidden();
  }

  /** GitLab's `authenticated_as_admin!`: the instance service accounts API is for admins only. */
  function authorizeAdmin(actor: User): void {
    if (!actor.isAdmin) throw forbidden();
  }

  /** Creation's defaults (GitLab's Users::ServiceAccounts::CreateService), under `prefix`. */
  function withDefaults(input: CreateServiceAccountInput, prefix: string) {
    const username = input.username ?? `${prefix}${hex(16)}`;
    return { username, name: input.name ?? 'Service account user', email: input.email ?? `${username}@${noreplyDomain}` };
  }

  /** PATCH: a new name, username or email with the rules of creation; none given changes nothing (GitLab answers the account). */
  async function updateAccount(account: User, input: CreateServiceAccountInput): Promise<User> {
    if (input.name === undefined && input.username === undefined && input.email === undefined) return account;
    return asBadRequest(() => namespaces.updateUserChecked(account, input));
  }

  async function findAccount(group: Group, userId: number): Promise<User> {
    const user = await store.namespaces.findProvisionedUser(group.id, userId);
    if (!user) throw userNotFound();
    return user;
  }

  async function findToken(account: User, tokenId: number): Promise<Token | null> {
    const token = await store.tokens.findById(tokenId);
    return token && token.kind === 'personal' && token.userId === account.id ? token : null;
  }

  return {
    async create(actor: User, group: Group, input: CreateServiceAccountInput): Promise<User> {
      await authorize(actor, group);
      // "This endpoint only works on top-level groups."
      if (group.parentId !== null) throw badRequest('User does not have permission to create a service account in this namespace.', 'NOT_TOP_LEVEL');
      return asBadRequest(() => namespaces.createProvisionedUser(withDefaults(input, `service_account_group_${group.id}_`), 'service_account', group.id));
    },

    async update(actor: User, group: Group, userId: number, input: CreateServiceAccountInput): Promise<User> {
      await authorize(actor, group);
      return updateAccount(await findAccount(group, userId), input);
    },

    async list(actor: User, group: Group, order: ServiceAccountOrder, page: PageRequest): Promise<Page<User>> {
      await authorize(actor, group);
      return store.namespaces.listServiceAccounts(group.id, order, page);
    },

    /** Admins: the caller's first check, before any input is read (403 for everyone else). */
    authorizeAdmin,

    /** POST /service_accounts: an instance service account, `service_account_<hex>` unless named. */
    async createInstance(actor: User, input: CreateServiceAccountInput): Promise<User> {
      authorizeAdmin(actor);
      return asBadRequest(() => namespaces.createProvisionedUser(withDefaults(input, 'service_account_'), 'service_account', null));
    },

    /** GET /service_accounts: every active service account of the instance, group ones included (GitLab's `User.service_account`). */
    async listInstance(actor: User, order: ServiceAccountOrder, page: PageRequest): Promise<Page<User>> {
      authorizeAdmin(actor);
      return store.namespaces.listServiceAccounts(null, order, page);
    },

    /**
     * PATCH /service_accounts/:user_id: any service account (GitLab's `User.find`, then the update
     * service's check): no such user `404 Not found`, a user of another kind `400 User is not a service account`.
     */
    async updateInstance(actor: User, userId: number, input: CreateServiceAccountInput): Promise<User> {
      authorizeAdmin(actor);
      const user = await store.namespaces.findUserById(userId);
      if (!user || (user.botKind === 'service_account' && user.state !== 'active')) throw notFound('Not found', 'USER_NOT_FOUND');
      if (user.botKind !== 'service_account') throw invalidRecord('User is not a service account', 'NOT_A_SERVICE_ACCOUNT');
      return updateAccount(user, input);
    },

    async remove(actor: User, group: Group, userId: number): Promise<void> {
      await authorize(actor, group);
      const account = await findAccount(group, userId);
      const at = clock.now().toISOString();
      const tokens = (await store.tokens.list({ kind: 'personal', userId: account.id, today: utcDateOf(clock.now()) }, { page: 1, perPage: 10_000 })).items;
      const revoked = await store.transaction(async (ports) => {
        const ids: number[] = [];
        for (const t of tokens) if (await ports.tokens.markRevoked(t.id, at, 'revoked')) ids.push(t.id);
        await ports.namespaces.setUserState(account.id, 'blocked');
        for (const id of ids) await ports.events.publish({ name: 'token.revoked', tokenId: id, at, data: { reason: 'revoked', by: actor.username } });
        return ids;
      });
      for (const id of revoked) onRevoked(id);
      // A token issued meanwhile (not in the list above) is refused too: its user is blocked, on every node.
      deps.onUserChanged?.(account.id);
    },

    async createToken(
      actor: User,
      group: Group,
      userId: number,
      input: { name: unknown; description?: unknown; scopes: unknown; expiresAt?: unknown },
    ): Promise<{ token: Token; secret: string }> {
      await authorize(actor, group);
      const account = await findAccount(group, userId);
      // GitLab's PersonalAccessTokens::CreateService, answered with `render_api_error!(…, 422)`.
      return asUnprocessable(async () => {
        const name = readTokenName(input.name);
        const description = readDescription(input.description);
        const scopes = readScopes(input.scopes, PERSONAL_TOKEN_SCOPES);
        const now = clock.now();
        const expiresAt = await expiryPolicy.forNewToken(input.expiresAt, { now, groupIds: group.ancestorIds });
        return issuePersonalToken({ store, issuer }, { user: account, name, description, scopes, expiresAt, now, createdBy: actor.id === 0 ? null : actor.id, by: actor.username });
      });
    },

    /** The account's tokens with GitLab's PersonalAccessTokensFinder filters and sorts; impersonation tokens an admin made for it are not listed (GitLab's `impersonation: false`). */
    async listTokens(actor: User, group: Group, userId: number, filter: TokenSearch, page: PageRequest): Promise<Page<Token>> {
      await authorize(actor, group);
      const account = await findAccount(group, userId);
      return store.tokens.searchPersonal({ ...filter, userId: account.id, projectId: undefined, groupId: undefined, impersonation: false }, clock.now().toISOString(), page);
    },

    /** One token of a service account (the web UI's confirmation pages); 404 when it is not the account's. */
    async showToken(actor: User, group: Group, userId: number, tokenId: number): Promise<Token> {
      await authorize(actor, group);
      const token = await findToken(await findAccount(group, userId), tokenId);
      if (!token) throw notFound('Personal Access Token Not Found', 'TOKEN_NOT_FOUND');
      return token;
    },

    /** One service account of the group (the web UI's account page). */
    async show(actor: User, group: Group, userId: number): Promise<User> {
      await authorize(actor, group);
      return findAccount(group, userId);
    },

    async revokeToken(actor: User, group: Group, userId: number, tokenId: number): Promise<void> {
      await authorize(actor, group);
      const account = await findAccount(group, userId);
      const token = await findToken(account, tokenId);
      if (!token) throw notFound('Personal Access Token Not Found', 'TOKEN_NOT_FOUND');
      if (!(await lifecycle.revoke(token, { by: actor }))) throw badRequest('Token already revoked', 'TOKEN_ALREADY_REVOKED');
    },

    async rotateToken(actor: User, group: Group, userId: number, tokenId: number, input: { expiresAt?: unknown; gracePeriodSeconds?: number }) {
      await authorize(actor, group);
      const account = await findAccount(group, userId);
      const token = await findToken(account, tokenId);
      if (!token) throw notFound('Not Found', 'TOKEN_NOT_FOUND');
      const expiresAt = await expiryPolicy.forRotation(input.expiresAt, { now: clock.now(), groupIds: group.ancestorIds });
      return lifecycle.rotate(token, { by: actor, expiresAt, gracePeriodSeconds: input.gracePeriodSeconds });
    },
  };
}
