/**
 * Users, groups, projects and members: creation, look-up by id or path, the effective access level
 * (the highest along the group chain) and visibility (visibility.ts): a project or group is seen by its
 * members, by admins, and — when internal — by anyone signed in or — when public — by anyone at all,
 * `null` standing for a request without a token. Authorisation rules for namespaces live here; the
 * HTTP layer only maps the errors.
 */
import type { Clock } from '../kernel/clock.js';
import { utcDateOf, type UtcDate } from '../kernel/dates.js';
import { conflict, DomainError, forbidden, invalidField, invalidParam, notFound } from '../kernel/errors.js';
import type { Page, PageRequest } from '../kernel/page.js';
import type { Store } from '../store/open-store.js';
import type { ListingScope, NamespaceChanges, NamespaceStore, ProjectQuery } from './namespace-store.js';
import { AccessLevel, isValidAccessLevel } from './access-levels.js';
import type { Group, Member, MemberSource, Project, Resource, User } from './namespace.js';
import { checkName, checkPath, checkText, hasLoneSurrogate, pathFromName } from './validation.js';
import { isMoreVisible, isVisibility, isVisibleWithoutMembership, mostVisible, viewerOf, visibilityOf, type Visibility } from './visibility.js';

export interface NamespaceServiceDeps {
  store: Store;
  clock: Clock;
}

export interface NewUserInput {
  username: string;
  name: string;
  email: string | null;
  admin?: boolean;
  passwordHash?: string | null;
}

const USERNAME_RE = /^[a-zA-Z0-9_][a-zA-Z0-9_.-]*$/;
// No blanks or control characters (NUL cannot even be stored by PostgreSQL) on either side of one @.
const EMAIL_RE = /^[^\s@\u0000-\u001f\u007f]+@[^\s@\u0000-\u001f\u007f]+$/;
// A numeric id, or a path made of path segments (no empty, '.' or '..' segments). Digits only always
// mean an id, as in GitLab's find_group/find_project; ids are 32-bit, so a larger number names nothing
// (and must not reach PostgreSQL, which refuses to compare an integer column with it).
const NUMERIC_ID_RE = /^[0-9]+$/;
const MAX_ID = 2147483647;
const idFrom = (digits: string): number | null => (digits.length <= 10 && Number(digits) <= MAX_ID ? Number(digits) : null);
const FULL_PATH_RE = /^[a-zA-Z0-9_.][a-zA-Z0-9_.-]*(\/[a-zA-Z0-9_.][a-zA-Z0-9_.-]*)*$/;

function isSafeFullPath(path: string): boolean {
  return path.length <= 2048 && FULL_PATH_RE.test(path) && !path.split('/').some((s) => s === '.' || s === '..');
}

export type NamespaceService = ReturnType<typeof createNamespaceService>;

/**
 * Runs a write guarded by a unique key. The service checks first, but a concurrent request can insert
 * between the check and the write; the store then reports ALREADY_EXISTS (and rolls the transaction
 * back), and the caller gets the same answer the check would have given.
 */
async function insertUnique<T>(write: () => Promise<T>, taken: () => Error | Promise<Error>): Promise<T> {
  try {
    return await write();
  } catch (e) {
    if ((e as { code?: string }).code === 'ALREADY_EXISTS') throw await taken();
    throw e;
  }
}

export function createNamespaceService({ store, clock }: NamespaceServiceDeps) {
  const now = () => clock.now().toISOString();
  const today = (): UtcDate => utcDateOf(clock.now());

  function sourcesOf(resource: Resource): MemberSource[] {
    const groupIds = resource.type === 'project' ? null : resource.group.ancestorIds;
    if (resource.type === 'group') return groupIds!.map((id) => ({ type: 'group' as const, id }));
    return [{ type: 'project', id: resource.project.id }];
  }

  /** The user's effective level on a resource: the highest along project → group chain. Admins count as Owner; nobody (null) as nothing. */
  async function accessLevel(user: User | null, resource: Resource): Promise<number> {
    if (user === null) return 0;
    if (user.isAdmin) return AccessLevel.OWNER;
    let sources = sourcesOf(resource);
    if (resource.type === 'project') {
      const group = await store.namespaces.findGroupById(resource.project.groupId);
      sources = [...sources, ...(group?.ancestorIds ?? []).map((id) => ({ type: 'group' as const, id }))];
    }
    return store.namespaces.maxAccessLevel(user.id, sources, today());
  }


  /** Members (Guest+), admins, and whoever the visibility lets in without membership. */
  const sees = (user: User | null, visibility: string, level: number) => level >= AccessLevel.GUEST || isVisibleWithoutMembership(visibility, viewerOf(user));

  /**
   * Resolves `:id` (number or full path) to a project the user (null: nobody signed in) may see; 404
   * otherwise (no existence leak). `level` is the user's membership level, 0 for a visible non-member.
   */
  async function findProject(user: User | null, idOrPath: string): Promise<{ project: Project; level: number }> {
    let project: Project | null = null;
    if (NUMERIC_ID_RE.test(idOrPath)) {
      const id = idFrom(idOrPath);
      project = id === null ? null : await store.namespaces.findProjectById(id);
    }
    else if (isSafeFullPath(idOrPath)) project = await store.namespaces.findProjectByPath(idOrPath);
    if (!project) throw notFound('Project Not Found', 'PROJECT_NOT_FOUND');
    const level = await accessLevel(user, { type: 'project', project });
    if (!sees(user, project.visibility, level)) throw notFound('Project Not Found', 'PROJECT_NOT_FOUND');
    return { project, level };
  }

  async function findGroup(user: User | null, idOrPath: string): Promise<{ group: Group; level: number }> {
    let group: Group | null = null;
    if (NUMERIC_ID_RE.test(idOrPath)) {
      const id = idFrom(idOrPath);
      group = id === null ? null : await store.namespaces.findGroupById(id);
    }
    else if (isSafeFullPath(idOrPath)) group = await store.namespaces.findGroupByPath(idOrPath);
    if (!group) throw notFound('Group Not Found', 'GROUP_NOT_FOUND');
    const level = await accessLevel(user, { type: 'group', group });
    if (!sees(user, group.visibility, level)) throw notFound('Group Not Found', 'GROUP_NOT_FOUND');
    return { group, level };
  }

  /** `visibility` of a create or update: one of GitLab's three; `fallback` when absent. */
  function readVisibility(input: unknown, fallback: Visibility): Visibility {
    if (input === undefined || input === null) return fallback;
    if (!isVisibility(input)) throw invalidParam('visibility does not have a valid value');
    return input;
  }

  /** GitLab's model errors, all of them, as `{"message": {"visibility_level": [...]}}`. */
  function visibilityErrors(reasons: string[]): void {
    if (reasons.length > 0) throw new DomainError('invalid', 'VISIBILITY_NOT_ALLOWED', `visibility_level ${reasons[0]}`, { visibility_level: reasons });
  }

  /**
   * A group's visibility may not exceed its parent's nor fall below its projects' and sub-groups'.
   * `namespaces` is the store port to read children with (a transaction's, when inside one).
   */
  async function checkGroupVisibility(visibility: Visibility, parent: Group | null, self: Group | null, namespaces: Pick<NamespaceStore, 'childVisibilities'> = store.namespaces): Promise<void> {
    const reasons: string[] = [];
    if (parent && isMoreVisible(visibility, visibilityOf(parent.visibility))) reasons.push(`${visibility} is not allowed since the parent group has a ${visibilityOf(parent.visibility)} visibility.`);
    if (self) {
      const children = await namespaces.childVisibilities(self.id);
      if (isMoreVisible(mostVisible(children.projects), visibility)) reasons.push(`${visibility} is not allowed since this group contains projects with higher visibility.`);
      if (isMoreVisible(mostVisible(children.subgroups), visibility)) reasons.push(`${visibility} is not allowed since there are sub-groups with higher visibility.`);
    }
    visibilityErrors(reasons);
  }

  /** A project is never more visible than its group (GitLab's visibility_level_allowed_by_group). */
  function checkProjectVisibility(visibility: Visibility, group: Group): void {
    const groupVisibility = visibilityOf(group.visibility);
    visibilityErrors(isMoreVisible(visibility, groupVisibility) ? [`${visibility} is not allowed in a ${groupVisibility} group.`] : []);
  }

  function checkChanges(input: { name?: string; description?: string }): NamespaceChanges {
    const changes: NamespaceChanges = {};
    if (input.name !== undefined) changes.name = checkName('name', input.name);
    if (input.description !== undefined) changes.description = checkText('description', input.description);
    return changes;
  }

  function checkUsername(input: string): string {
    const username = input.trim();
    if (username.length === 0) throw invalidField('username', "can't be blank");
    if (username.length > 255) throw invalidField('username', 'is too long (maximum is 255 characters)');
    if (!USERNAME_RE.test(username)) throw invalidField('username', "can contain only letters, digits, '_', '-' and '.'");
    return username;
  }
  function checkEmail(email: string): string {
    if (email.length > 255 || !EMAIL_RE.test(email) || hasLoneSurrogate(email)) throw invalidField('email', 'is invalid');
    return email;
  }

  /**
   * GitLab reports a taken email before a taken username. `self` (on update) is the user being changed:
   * its own username and email are not "taken".
   */
  async function takenConflict(username: string | null, email: string | null, self: number | null = null): Promise<Error | null> {
    const other = (u: User | null) => u !== null && u.id !== self;
    const usernameTaken = username !== null && other(await store.namespaces.findUserByUsername(username));
    const emailTaken = email !== null && other(await store.namespaces.findUserByEmail(email));
    if (emailTaken) return conflict('Email has already been taken', 'EMAIL_TAKEN');
    return usernameTaken ? conflict('Username has already been taken', 'USERNAME_TAKEN') : null;
  }

  async function insertUserChecked(input: NewUserInput, botKind: User['botKind'] = null, provisionedByGroupId: number | null = null): Promise<User> {
    const username = checkUsername(input.username);
    const name = checkName('name', input.name);
    if (input.email !== null) checkEmail(input.email);
    // The username is looked up first so that a user created by a concurrent request between the two
    // look-ups is still reported by its email.
    const taken = await takenConflict(username, input.email);
    if (taken) throw taken;
    return insertUnique(
      () =>
        store.transaction((ports) =>
          ports.namespaces.insertUser({ username, name, email: input.email, isAdmin: input.admin === true, botKind, passwordHash: input.passwordHash ?? null, createdAt: now(), provisionedByGroupId }),
        ),
      // Lost a race: the winner is committed by now, so the look-ups see it.
      async () => (await takenConflict(username, input.email)) ?? conflict('Username has already been taken', 'USERNAME_TAKEN'),
    );
  }

  return {
    accessLevel,
    findProject,
    findGroup,

    /**
     * Whether `user` (null: nobody signed in) may read a project's content — git fetch, package
     * download, registry pull — by membership (Reporter+) or, without it, by the project's visibility.
     */
    async canReadContent(user: User | null, project: Project): Promise<boolean> {
      if (isVisibleWithoutMembership(project.visibility, viewerOf(user))) return true;
      return (await accessLevel(user, { type: 'project', project })) >= AccessLevel.REPORTER;
    },

    async findUser(actor: User, id: number): Promise<User> {
      const user = await store.namespaces.findUserById(id);
      if (!user) throw notFound('User Not Found', 'USER_NOT_FOUND');
      return user;
    },

    async createUser(actor: User, input: NewUserInput): Promise<User> {
      if (!actor.isAdmin) throw forbidden();
      return insertUserChecked(input);
    },

    /**
     * A service account — owned by a group, or (null) an instance one — with the same username/email
     * rules as any user. The caller decides who may; this only validates and inserts.
     */
    async createProvisionedUser(input: NewUserInput, botKind: 'service_account', groupId: number | null): Promise<User> {
      return insertUserChecked({ ...input, admin: false, passwordHash: null }, botKind, groupId);
    },

    /**
     * Changes a user's name, username or email with the rules of creation (the caller decides who may).
     * Fields left undefined stay as they are.
     */
    async updateUserChecked(user: User, changes: { name?: string; username?: string; email?: string; isAdmin?: boolean; passwordHash?: string }): Promise<User> {
      const fields: { name?: string; username?: string; email?: string; isAdmin?: boolean; passwordHash?: string } = {};
      if (changes.isAdmin !== undefined) fields.isAdmin = changes.isAdmin;
      // Hashed by the caller (accounts/account-service.ts), which checked the password's rules.
      if (changes.passwordHash !== undefined) fields.passwordHash = changes.passwordHash;
      if (changes.name !== undefined) fields.name = checkName('name', changes.name);
      if (changes.username !== undefined) fields.username = checkUsername(changes.username);
      if (changes.email !== undefined) fields.email = checkEmail(changes.email);
      const taken = await takenConflict(fields.username ?? null, fields.email ?? null, user.id);
      if (taken) throw taken;
      return insertUnique(
        () => store.transaction((ports) => ports.namespaces.updateUser(user.id, fields)),
        async () => (await takenConflict(fields.username ?? null, fields.email ?? null, user.id)) ?? conflict('Username has already been taken', 'USERNAME_TAKEN'),
      );
    },

    /** `active` or `blocked` (the caller decides who may); a user who is not active cannot authenticate. */
    async setUserState(user: User, state: 'active' | 'blocked'): Promise<User> {
      await store.transaction((ports) => ports.namespaces.setUserState(user.id, state));
      return { ...user, state };
    },

    async listUsers(actor: User, page: PageRequest): Promise<Page<User>> {
      if (!actor.isAdmin) throw forbidden();
      return store.namespaces.listUsers(page);
    },

    /** Creates the first admin when there is none; returns it and whether it was created now. */
    async ensureFirstAdmin(username: string, email: string): Promise<{ admin: User; created: boolean }> {
      const existing = await store.namespaces.findFirstAdmin();
      if (existing) return { admin: existing, created: false };
      const admin = await insertUserChecked({ username, name: 'Administrator', email, admin: true });
      return { admin, created: true };
    },

    async createGroup(actor: User, input: { name: string; path?: string; parentId?: number; description?: string; visibility?: string }): Promise<Group> {
      const name = checkName('name', input.name);
      const path = checkPath('path', input.path ?? pathFromName(name));
      const description = checkText('description', input.description ?? '');
      const visibility = readVisibility(input.visibility, 'private');
      let parent: Group | null = null;
      if (input.parentId !== undefined) {
        parent = (await findGroup(actor, String(input.parentId))).group;
        // GitLab's default subgroup creation level: Maintainers and Owners of the parent.
        if ((await accessLevel(actor, { type: 'group', group: parent })) < AccessLevel.MAINTAINER) throw forbidden();
      } else if (actor.botKind !== null) {
        throw forbidden();
      }
      await checkGroupVisibility(visibility, parent, null);
      const fullPath = parent ? `${parent.fullPath}/${path}` : path;
      const pathTaken = () => invalidField('path', 'has already been taken', 'PATH_TAKEN');
      if (await store.namespaces.findGroupByPath(fullPath)) throw pathTaken();
      return insertUnique(
        () =>
          store.transaction(async (ports) => {
            const group = await ports.namespaces.insertGroup({ name, path, parent, description, visibility, createdAt: now() });
            // The creator owns the new group, top-level or sub-group, as GitLab's Groups::CreateService
            // does (admins too, so the group has an owner to notify).
            await ports.namespaces.insertMember({ type: 'group', id: group.id }, actor.id, AccessLevel.OWNER, null, actor.id, now());
            return group;
          }),
        pathTaken,
      );
    },

    async createProject(actor: User, input: { name?: string; path?: string; namespaceId?: number | string; description?: string; visibility?: string }): Promise<Project> {
      if (input.name === undefined && input.path === undefined) throw invalidParam('name, path are missing, at least one parameter must be provided');
      if (input.namespaceId === undefined) throw invalidParam('namespace_id is missing');
      const name = checkName('name', input.name ?? input.path!);
      const path = checkPath('path', input.path ?? pathFromName(name));
      const description = checkText('description', input.description ?? '');
      const visibility = readVisibility(input.visibility, 'private');
      const { group } = await findGroup(actor, String(input.namespaceId)).catch(() => {
        throw notFound('Namespace Not Found', 'NAMESPACE_NOT_FOUND');
      });
      // GitLab's default project creation level: Developers, Maintainers and Owners.
      if ((await accessLevel(actor, { type: 'group', group })) < AccessLevel.DEVELOPER) throw forbidden();
      checkProjectVisibility(visibility, group);
      const full = `${group.fullPath}/${path}`;
      const pathTaken = () => invalidField('path', 'has already been taken', 'PATH_TAKEN');
      if (await store.namespaces.findProjectByPath(full)) throw pathTaken();
      return insertUnique(
        () => store.transaction((ports) => ports.namespaces.insertProject({ name, path, group, description, visibility, createdAt: now() })),
        pathTaken,
      );
    },

    /**
     * PUT /projects/:id (GitLab's rules): Maintainer+ may change the description; renaming and a new
     * visibility take an Owner (`rename_project`, `change_visibility_level`); the visibility never
     * exceeds the group's.
     */
    async updateProject(actor: User, project: Project, input: { name?: string; description?: string; visibility?: string }): Promise<Project> {
      const level = await accessLevel(actor, { type: 'project', project });
      if (level < AccessLevel.MAINTAINER) throw forbidden();
      if ((input.name !== undefined || input.visibility !== undefined) && level < AccessLevel.OWNER) throw forbidden();
      const changes = checkChanges(input);
      if (input.visibility !== undefined) {
        changes.visibility = readVisibility(input.visibility, 'private');
        const group = await store.namespaces.findGroupById(project.groupId);
        if (group) checkProjectVisibility(changes.visibility as Visibility, group);
      }
      if (Object.keys(changes).length === 0) return project;
      return store.transaction((ports) => ports.namespaces.updateProject(project.id, changes));
    },

    /**
     * PUT /groups/:id: Owners only (`admin_group`). The visibility stays between the parent's (at most)
     * and the most visible project or sub-group's (at least), as GitLab validates it; checked and
     * written in one transaction.
     */
    async updateGroup(actor: User, group: Group, input: { name?: string; description?: string; visibility?: string }): Promise<Group> {
      if ((await accessLevel(actor, { type: 'group', group })) < AccessLevel.OWNER) throw forbidden();
      const changes = checkChanges(input);
      if (input.visibility !== undefined) changes.visibility = readVisibility(input.visibility, 'private');
      if (Object.keys(changes).length === 0) return group;
      return store.transaction(async (ports) => {
        if (changes.visibility !== undefined) {
          const parent = group.parentId === null ? null : await ports.namespaces.findGroupById(group.parentId);
          await checkGroupVisibility(changes.visibility as Visibility, parent, group, ports.namespaces);
        }
        return ports.namespaces.updateGroup(group.id, changes);
      });
    },

    async addMember(actor: User, resource: Resource, input: { userId: number; accessLevel: number; expiresAt: UtcDate | null }): Promise<Member> {
      const actorLevel = await accessLevel(actor, resource);
      if (actorLevel < AccessLevel.MAINTAINER) throw forbidden();
      if (!isValidAccessLevel(input.accessLevel)) throw invalidParam('access_level does not have a valid value');
      // Nobody grants more than they hold (admins hold Owner everywhere).
      if (input.accessLevel > actorLevel) throw forbidden('ACCESS_LEVEL_ABOVE_OWN');
      if (input.expiresAt !== null && input.expiresAt <= today()) throw invalidField('expires_at', 'cannot be a date in the past');
      const user = await store.namespaces.findUserById(input.userId);
      if (!user) throw notFound('User Not Found', 'USER_NOT_FOUND');
      const source: MemberSource = resource.type === 'project' ? { type: 'project', id: resource.project.id } : { type: 'group', id: resource.group.id };
      const exists = () => conflict('Member already exists', 'MEMBER_EXISTS');
      if (await store.namespaces.findDirectMember(source, user.id)) throw exists();
      await insertUnique(() => store.transaction((ports) => ports.namespaces.insertMember(source, user.id, input.accessLevel, input.expiresAt, actor.id, now())), exists);
      return (await store.namespaces.findDirectMember(source, user.id))!;
    },

    async listMembers(actor: User, resource: Resource, page: PageRequest): Promise<Page<Member>> {
      const source: MemberSource = resource.type === 'project' ? { type: 'project', id: resource.project.id } : { type: 'group', id: resource.group.id };
      return store.namespaces.listDirectMembers(source, page);
    },

    /**
     * GET /projects/:id/members/all and /groups/:id/members/all: direct and inherited members, each user
     * once with their highest membership (as GitLab). Whoever may see the resource may list them.
     */
    async listAllMembers(_actor: User, resource: Resource, page: PageRequest): Promise<Page<Member>> {
      const groupChain = async (groupId: number) => ((await store.namespaces.findGroupById(groupId))?.ancestorIds ?? []).map((id) => ({ type: 'group' as const, id })).reverse();
      const sources: MemberSource[] = resource.type === 'project' ? [{ type: 'project', id: resource.project.id }, ...(await groupChain(resource.project.groupId))] : await groupChain(resource.group.id);
      return store.namespaces.listEffectiveMembers(sources, today(), page);
    },

    /**
     * GET /projects as GitLab answers it: without a token the public projects; a signed-in user every
     * project they can see (their memberships, internal and public ones), or only their memberships
     * with `membership`; admins everything, unless `membership`.
     */
    async listProjects(actor: User | null, query: ProjectQuery & { membership: boolean }, page: PageRequest): Promise<Page<Project>> {
      if (query.search !== null && (query.search.includes('\u0000') || hasLoneSurrogate(query.search))) throw invalidParam('search is invalid');
      const search = query.search === '' ? null : query.search;
      const scope: ListingScope =
        actor === null ? { kind: 'public' } : actor.isAdmin && !query.membership ? { kind: 'all' } : { kind: 'user', userId: actor.id, withInternalAndPublic: !query.membership, external: viewerOf(actor) === 'external' };
      return store.namespaces.listProjectsVisibleTo(scope, { ...query, search }, today(), page);
    },

    /**
     * GET /groups as GitLab answers it: without a token the public groups; a signed-in user the groups
     * they are a member of, or every group they can see with `all_available`; admins every group.
     */
    async listGroups(actor: User | null, query: { allAvailable: boolean }, page: PageRequest): Promise<Page<Group>> {
      const scope: ListingScope = actor === null ? { kind: 'public' } : actor.isAdmin ? { kind: 'all' } : { kind: 'user', userId: actor.id, withInternalAndPublic: query.allAvailable, external: viewerOf(actor) === 'external' };
      return store.namespaces.listGroupsVisibleTo(scope, page);
    },

    /** For the CLI: resolve a path with the rights of an admin. */
    async resolveResourceAsAdmin(kind: 'project' | 'group', path: string): Promise<Resource> {
      const admin = { id: 0, username: 'cli', name: 'cli', email: null, isAdmin: true, botKind: null, state: 'active', createdAt: now() } satisfies User;
      if (kind === 'project') return { type: 'project', project: (await findProject(admin, path)).project };
      return { type: 'group', group: (await findGroup(admin, path)).group };
    },
  };
}
