/**
 * Users, groups, projects and members: creation, look-up by id or path, and the effective access
 * level (the highest along the group chain). Authorisation rules for namespaces live here; the
 * HTTP layer only maps the errors.
 */
import type { Clock } from '../kernel/clock.js';
import { utcDateOf, type UtcDate } from '../kernel/dates.js';
import { conflict, forbidden, invalidField, invalidParam, notFound } from '../kernel/errors.js';
import type { Page, PageRequest } from '../kernel/page.js';
import type { Store } from '../store/open-store.js';
import { AccessLevel, isValidAccessLevel } from './access-levels.js';
import type { Group, Member, MemberSource, Project, Resource, User } from './namespace.js';
import { checkName, checkPath, pathFromName } from './validation.js';

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
const EMAIL_RE = /^[^\s@]+@[^\s@]+$/;
// A numeric id, or a path made of path segments (no empty, '.' or '..' segments).
const NUMERIC_ID_RE = /^[0-9]{1,15}$/;
const FULL_PATH_RE = /^[a-zA-Z0-9_.][a-zA-Z0-9_.-]*(\/[a-zA-Z0-9_.][a-zA-Z0-9_.-]*)*$/;

function isSafeFullPath(path: string): boolean {
  return path.length <= 2048 && FULL_PATH_RE.test(path) && !path.split('/').some((s) => s === '.' || s === '..');
}

export type NamespaceService = ReturnType<typeof createNamespaceService>;

export function createNamespaceService({ store, clock }: NamespaceServiceDeps) {
  const now = () => clock.now().toISOString();
  const today = (): UtcDate => utcDateOf(clock.now());

  function sourcesOf(resource: Resource): MemberSource[] {
    const groupIds = resource.type === 'project' ? null : resource.group.ancestorIds;
    if (resource.type === 'group') return groupIds!.map((id) => ({ type: 'group' as const, id }));
    return [{ type: 'project', id: resource.project.id }];
  }

  /** The user's effective level on a resource: the highest along project → group chain. Admins count as Owner. */
  async function accessLevel(user: User, resource: Resource): Promise<number> {
    if (user.isAdmin) return AccessLevel.OWNER;
    let sources = sourcesOf(resource);
    if (resource.type === 'project') {
      const group = await store.namespaces.findGroupById(resource.project.groupId);
      sources = [...sources, ...(group?.ancestorIds ?? []).map((id) => ({ type: 'group' as const, id }))];
    }
    return store.namespaces.maxAccessLevel(user.id, sources, today());
  }

  /** Resolves `:id` (number or full path) to a project the user may see; 404 otherwise (no existence leak). */
  async function findProject(user: User, idOrPath: string): Promise<{ project: Project; level: number }> {
    let project: Project | null = null;
    if (NUMERIC_ID_RE.test(idOrPath)) project = await store.namespaces.findProjectById(Number(idOrPath));
    else if (isSafeFullPath(idOrPath)) project = await store.namespaces.findProjectByPath(idOrPath);
    if (!project) throw notFound('Project Not Found', 'PROJECT_NOT_FOUND');
    const level = await accessLevel(user, { type: 'project', project });
    if (level < AccessLevel.GUEST) throw notFound('Project Not Found', 'PROJECT_NOT_FOUND');
    return { project, level };
  }

  async function findGroup(user: User, idOrPath: string): Promise<{ group: Group; level: number }> {
    let group: Group | null = null;
    if (NUMERIC_ID_RE.test(idOrPath)) group = await store.namespaces.findGroupById(Number(idOrPath));
    else if (isSafeFullPath(idOrPath)) group = await store.namespaces.findGroupByPath(idOrPath);
    if (!group) throw notFound('Group Not Found', 'GROUP_NOT_FOUND');
    const level = await accessLevel(user, { type: 'group', group });
    if (level < AccessLevel.GUEST) throw notFound('Group Not Found', 'GROUP_NOT_FOUND');
    return { group, level };
  }

  async function insertUserChecked(input: NewUserInput, botKind: User['botKind'] = null): Promise<User> {
    const username = input.username.trim();
    if (username.length === 0) throw invalidField('username', "can't be blank");
    if (username.length > 255) throw invalidField('username', 'is too long (maximum is 255 characters)');
    if (!USERNAME_RE.test(username)) throw invalidField('username', "can contain only letters, digits, '_', '-' and '.'");
    const name = checkName('name', input.name);
    if (input.email !== null) {
      if (input.email.length > 255 || !EMAIL_RE.test(input.email)) throw invalidField('email', 'is invalid');
    }
    if (await store.namespaces.findUserByUsername(username)) throw conflict('Username has already been taken', 'USERNAME_TAKEN');
    try {
      return await store.transaction((ports) =>
        ports.namespaces.insertUser({ username, name, email: input.email, isAdmin: input.admin === true, botKind, passwordHash: input.passwordHash ?? null, createdAt: now() }),
      );
    } catch (e) {
      if ((e as { code?: string }).code === 'ALREADY_EXISTS') throw conflict('Email has already been taken', 'EMAIL_TAKEN');
      throw e;
    }
  }

  return {
    accessLevel,
    findProject,
    findGroup,

    async findUser(actor: User, id: number): Promise<User> {
      const user = await store.namespaces.findUserById(id);
      if (!user) throw notFound('User Not Found', 'USER_NOT_FOUND');
      return user;
    },

    async createUser(actor: User, input: NewUserInput): Promise<User> {
      if (!actor.isAdmin) throw forbidden();
      return insertUserChecked(input);
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
      let parent: Group | null = null;
      if (input.parentId !== undefined) {
        parent = (await findGroup(actor, String(input.parentId))).group;
        // GitLab's default subgroup creation level: Maintainers and Owners of the parent.
        if ((await accessLevel(actor, { type: 'group', group: parent })) < AccessLevel.MAINTAINER) throw forbidden();
      } else if (actor.botKind !== null) {
        throw forbidden();
      }
      const fullPath = parent ? `${parent.fullPath}/${path}` : path;
      if (await store.namespaces.findGroupByPath(fullPath)) throw invalidField('path', 'has already been taken', 'PATH_TAKEN');
      return store.transaction(async (ports) => {
        const group = await ports.namespaces.insertGroup({ name, path, parent, description: input.description ?? '', visibility: input.visibility ?? 'private', createdAt: now() });
        // The creator of a top-level group owns it (admins too, so the group has an owner to notify).
        if (!parent) await ports.namespaces.insertMember({ type: 'group', id: group.id }, actor.id, AccessLevel.OWNER, null, actor.id, now());
        return group;
      });
    },

    async createProject(actor: User, input: { name?: string; path?: string; namespaceId?: number | string; description?: string; visibility?: string }): Promise<Project> {
      if (input.name === undefined && input.path === undefined) throw invalidParam('name, path are missing, at least one parameter must be provided');
      if (input.namespaceId === undefined) throw invalidParam('namespace_id is missing');
      const name = checkName('name', input.name ?? input.path!);
      const path = checkPath('path', input.path ?? pathFromName(name));
      const { group } = await findGroup(actor, String(input.namespaceId)).catch(() => {
        throw notFound('Namespace Not Found', 'NAMESPACE_NOT_FOUND');
      });
      // GitLab's default project creation level: Developers, Maintainers and Owners.
      if ((await accessLevel(actor, { type: 'group', group })) < AccessLevel.DEVELOPER) throw forbidden();
      const full = `${group.fullPath}/${path}`;
      if (await store.namespaces.findProjectByPath(full)) throw invalidField('path', 'has already been taken', 'PATH_TAKEN');
      return store.transaction((ports) =>
        ports.namespaces.insertProject({ name, path, group, description: input.description ?? '', visibility: input.visibility ?? 'private', createdAt: now() }),
      );
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
      if (await store.namespaces.findDirectMember(source, user.id)) throw conflict('Member already exists', 'MEMBER_EXISTS');
      await store.transaction((ports) => ports.namespaces.insertMember(source, user.id, input.accessLevel, input.expiresAt, actor.id, now()));
      return (await store.namespaces.findDirectMember(source, user.id))!;
    },

    async listMembers(actor: User, resource: Resource, page: PageRequest): Promise<Page<Member>> {
      const source: MemberSource = resource.type === 'project' ? { type: 'project', id: resource.project.id } : { type: 'group', id: resource.group.id };
      return store.namespaces.listDirectMembers(source, page);
    },

    async listGroups(actor: User, page: PageRequest): Promise<Page<Group>> {
      return store.namespaces.listGroupsVisibleTo(actor.isAdmin ? null : actor.id, page);
    },

    /** For the CLI: resolve a path with the rights of an admin. */
    async resolveResourceAsAdmin(kind: 'project' | 'group', path: string): Promise<Resource> {
      const admin = { id: 0, username: 'cli', name: 'cli', email: null, isAdmin: true, botKind: null, state: 'active', createdAt: now() } satisfies User;
      if (kind === 'project') return { type: 'project', project: (await findProject(admin, path)).project };
      return { type: 'group', group: (await findGroup(admin, path)).group };
    },
  };
}
