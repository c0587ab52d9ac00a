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
  /** Changes a user's name, username or email (the fields given). */
  updateUser(id: number, changes: { name?: string; username?: string; email?: string }): Promise<User>;
  /** `active`, `blocked`: a user who is not active cannot authenticate. */
  setUserState(id: number, state: string): Promise<void>;
  /** An active user provisioned (owned) by the group: its service accounts. */
  findProvisionedUser(groupId: number, userId: number): Promise<User | null>;
  listProvisionedUsers(groupId: number, order: { by: 'id' | 'username'; direction: 'asc' | 'desc' }, page: PageRequest): Promise<Page<User>>;

  insertGroup(group: NewGroup): Promise<Group>;
  findGroupById(id: number): Promise<Group | null>;
  findGroupByPath(fullPath: string): Promise<Group | null>;
  /** Groups the user is a member of (directly or via an ancestor); every group for `null` (admin). */
  listGroupsVisibleTo(userId: number | null, page: PageRequest): Promise<Page<Group>>;

  /**
   * Projects the user is a member of (directly, or through the project's group or an ancestor of it,
   * memberships ending on or before `today` not counted); every project for `null` (admin).
   */
  listProjectsVisibleTo(userId: number | null, query: ProjectQuery, today: UtcDate, page: PageRequest): Promise<Page<Project>>;

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
