/**
 * What admins (and the CLI) change on a person's account: profile fields, the admin flag, the web UI
 * password, blocking. GitLab's `PUT /users/:id`, `POST /users/:id/block|unblock`, and
 * `latchkey user set-password`. Any change that should end what a person is signed in with ends their
 * web sessions: a new password, being blocked, losing admin. Bots never get a password.
 *
 * Every committed change to a user is published (`onUserChanged`: the revocation feed), so each node's
 * verify cache reads that user's tokens afresh at once: a blocked user's token is refused, an unblocked
 * one's accepted, a lost admin flag lost, on every node within milliseconds rather than the cache's TTL.
 */
import { hashPasswordAsync, passwordProblem } from '../auth/password.js';
import { forbidden, invalidField, invalidParam, notFound } from '../kernel/errors.js';
import type { TokenGenerator } from '../kernel/random.js';
import type { User } from '../namespaces/namespace.js';
import type { NamespaceService } from '../namespaces/namespace-service.js';
import type { NamespaceStore } from '../namespaces/namespace-store.js';
import type { SessionService } from '../sessions/session-service.js';

export interface AccountServiceDeps {
  namespaces: NamespaceService;
  users: Pick<NamespaceStore, 'findUserById' | 'findUserByUsername'>;
  sessions: Pick<SessionService, 'endAllOf'>;
  random: TokenGenerator;
  /** After a user's change committed: verification caches drop the user's tokens, on every node. */
  onUserChanged?: (userId: number) => void;
}

export interface UpdateAccountInput {
  name?: unknown;
  username?: unknown;
  email?: unknown;
  admin?: unknown;
  password?: unknown;
}

export type AccountService = ReturnType<typeof createAccountService>;

export function createAccountService({ namespaces, users, sessions, random, onUserChanged = () => {} }: AccountServiceDeps) {
  const userNotFound = () => notFound('User Not Found', 'USER_NOT_FOUND');

  async function findAsAdmin(actor: User, id: number): Promise<User> {
    if (!actor.isAdmin) throw forbidden();
    const user = await users.findUserById(id);
    if (!user) throw userNotFound();
    return user;
  }

  async function checkedPasswordHash(user: User, password: unknown): Promise<string> {
    if (typeof password !== 'string') throw invalidParam('password is invalid');
    if (user.botKind !== null) throw invalidField('password', 'cannot be set for a bot or service account', 'BOT_PASSWORD');
    const problem = passwordProblem(password);
    if (problem) throw invalidField('password', problem, 'PASSWORD_INVALID');
    return hashPasswordAsync(password, random);
  }

  const text = (name: string, v: unknown): string | undefined => {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw invalidParam(`${name} is invalid`);
    return v;
  };

  return {
    /** POST /users (admin): a person, with a web UI password when one is given (checked, then hashed). */
    async create(actor: User, input: { username: string; name: string; email: string; password?: string; admin?: boolean }): Promise<User> {
      if (!actor.isAdmin) throw forbidden();
      const problem = input.password === undefined ? null : passwordProblem(input.password);
      if (problem) throw invalidField('password', problem);
      const passwordHash = input.password === undefined ? null : await hashPasswordAsync(input.password, random);
      return namespaces.createUser(actor, { username: input.username, name: input.name, email: input.email, admin: input.admin, passwordHash });
    },

    /** PUT /users/:id (admin): the fields given change; a password or a lost admin flag ends the user's sessions. */
    async update(actor: User, id: number, input: UpdateAccountInput): Promise<User> {
      const user = await findAsAdmin(actor, id);
      if (input.admin !== undefined && typeof input.admin !== 'boolean') throw invalidParam('admin is invalid');
      const admin = input.admin as boolean | undefined;
      // Nobody removes their own admin flag: an instance must keep an admin who can sign in.
      if (admin === false && user.id === actor.id) throw invalidField('admin', 'cannot be removed from yourself', 'SELF_DEMOTE');
      const passwordHash = input.password === undefined ? undefined : await checkedPasswordHash(user, input.password);
      const updated = await namespaces.updateUserChecked(user, {
        name: text('name', input.name),
        username: text('username', input.username),
        email: text('email', input.email),
        isAdmin: admin,
        passwordHash,
      });
      onUserChanged(user.id);
      if (passwordHash !== undefined || (admin === false && user.isAdmin)) await sessions.endAllOf(user.id);
      return updated;
    },

    /** `latchkey user set-password <username>`: the CLI acts as the instance admin. */
    async setPasswordByUsername(username: string, password: string): Promise<User> {
      const user = await users.findUserByUsername(username);
      if (!user) throw userNotFound();
      const passwordHash = await checkedPasswordHash(user, password);
      const updated = await namespaces.updateUserChecked(user, { passwordHash });
      await sessions.endAllOf(user.id);
      return updated;
    },

    /** POST /users/:id/block (admin): the user's tokens and sessions stop working at once. */
    async block(actor: User, id: number): Promise<User> {
      const user = await findAsAdmin(actor, id);
      if (user.id === actor.id) throw forbidden('SELF_BLOCK');
      const blocked = await namespaces.setUserState(user, 'blocked');
      onUserChanged(user.id);
      await sessions.endAllOf(user.id);
      return blocked;
    },

    /** POST /users/:id/unblock (admin). */
    async unblock(actor: User, id: number): Promise<User> {
      const user = await findAsAdmin(actor, id);
      const unblocked = await namespaces.setUserState(user, 'active');
      onUserChanged(user.id);
      return unblocked;
    },
  };
}
