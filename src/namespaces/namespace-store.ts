/** The storage port for users, groups, projects and members. Implemented in store/namespaces.ts. */
import type { PageRequest, Page } from '../kernel/page.js';
import type { UtcDate } from '../kernel/dates.js';
import type { BotKind, Group, Member, MemberSource, Project, User } from './namespace.js';

export interface NewUser {
  username: string;
  name: string;
  email: string | null;
  isAdmin: boolean;
  botKind: BotKind | null;
  passwordHash: string | null;
  createdAt: string;
  /** Service accounts: the group that owns the account. */
  provisionedByGroupId?: number | null;
}

export interface NewGroup {
  name: string;
  path: string;
  parent: Group | null;
  description: string;
  visibility: string;
  createdAt: string;
}

export interface NewProject {
  name: string;
  path: string;
  group: Group;
  description: string;
  visibility: string;
  createdAt: string;
}

/**
 * Which projects or groups a listing covers: every one (admins), the public ones (no one signed in), or
 * those a signed-in user is a member of (directly or through an ancestor group), with or without the
 * internal and public ones everybody signed in sees.
 */
/** `external`: an external user (a service account), for whom `withInternalAndPublic` adds the public ones only. */
export type ListingScope = { kind: 'all' } | { kind: 'public' } | { kind: 'user'; userId: number; withInternalAndPublic: boolean; external?: boolean };

/** The fields GitLab's PUT /projects/:id and PUT /groups/:id may change here (undefined: unchanged). */
export interface NamespaceChanges {
  name?: string;
  description?: string;
  visibility?: string;
}

/** GET /projects filters (GitLab's `search`, `order_by`, `sort`). */
export interface ProjectQuery {
  /** Case-insensitive substring of the name or path with namespace. */
  search: string | null;
  orderBy: 'id' | 'name' | 'path' | 'created_at';
  sort: 'asc' | 'desc';
}

export interface NamespaceStore {
  insertUser(user: NewUser): Promise<User>;
  findUserById(id: number): Promise<User | null>;
  findUserByUsername(username: string): Promise<User | null>;
  /** Case-insensitive, like the unique key on emails. */
  findUserByEmail(email: string): Promise<User | null>;
  findFirstAdmin(): Promise<User | null>;
  listUsers(page: PageRequest): Promise<Page<User>>;
  /** Changes a user's name, username, email, admin flag or password hash (the fields given). */
  updateUser(id: number, changes: { name?: string; username?: string; email?: string; isAdmin?: boolean; passwordHash?: string | null }): Promise<User>;
  /** The scrypt hash of a human's web UI password; null when none is set (bots never have one). */
  findPasswordHash(id: number): Promise<string | null>;
  /** `active`, `blocked`: a user who is not active cannot authenticate. */
  setUserState(id: number, state: string): Promise<void>;
  /** An active user provisioned (owned) by the group: its service accounts. */
  findProvisionedUser(groupId: number, userId: number): Promise<User | null>;
  /** Active service accounts: those the group provisioned, or (null) every one of the instance — GitLab's `User.service_account`. */
  listServiceAccounts(groupId: number | null, order: { by: 'id' | 'username'; direction: 'asc' | 'desc' }, page: PageRequest): Promise<Page<User>>;

  insertGroup(group: NewGroup): Promise<Group>;
  findGroupById(id: number): Promise<Group | null>;
  findGroupByPath(fullPath: string): Promise<Group | null>;
  /** Groups in the scope; a user is a member of a group when they are one of it or of any ancestor. */
  listGroupsVisibleTo(scope: ListingScope, page: PageRequest): Promise<Page<Group>>;

  /**
   * Projects in the scope; a user is a member of a project directly, or through its group or an
   * ancestor of it (memberships ending on or before `today` not counted).
   */
  listProjectsVisibleTo(scope: ListingScope, query: ProjectQuery, today: UtcDate, page: PageRequest): Promise<Page<Project>>;

  updateGroup(id: number, changes: NamespaceChanges): Promise<Group>;
  updateProject(id: number, changes: NamespaceChanges): Promise<Project>;
  /** The distinct visibilities of a group's direct projects and direct sub-groups. */
  childVisibilities(groupId: number): Promise<{ projects: string[]; subgroups: string[] }>;

  insertProject(project: NewProject): Promise<Project>;
  findProjectById(id: number): Promise<Project | null>;
  findProjectByPath(pathWithNamespace: string): Promise<Project | null>;

  insertMember(source: MemberSource, userId: number, accessLevel: number, expiresAt: UtcDate | null, createdBy: number | null, createdAt: string): Promise<void>;
  findDirectMember(source: MemberSource, userId: number): Promise<Member | null>;
  listDirectMembers(source: MemberSource, page: PageRequest): Promise<Page<Member>>;
  /**
   * The members of any of the sources (a resource and its ancestors), memberships ending on or before
   * `today` left out, each user once with the membership of the highest access level (the nearest
   * source on a tie: sources are given nearest first). Ordered by user id.
   */
  listEffectiveMembers(sources: readonly MemberSource[], today: UtcDate, page: PageRequest): Promise<Page<Member>>;
  /**
   * The highest access level `userId` holds on any of the sources, ignoring memberships whose expiry
   * date is on or before `today`. 0 when none.
   */
  maxAccessLevel(userId: number, sources: readonly MemberSource[], today: UtcDate): Promise<number>;
}
