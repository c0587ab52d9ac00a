/** Users, groups, projects and memberships as the domain sees them (camelCase, no storage details). */
import type { UtcDate } from '../kernel/dates.js';

export type BotKind = 'project_bot' | 'group_bot' | 'service_account';

export interface User {
  readonly id: number;
  readonly username: string;
  readonly name: string;
  readonly email: string | null;
  readonly isAdmin: boolean;
  readonly botKind: BotKind | null;
  readonly state: string;
  readonly createdAt: string;
}

export interface Group {
  readonly id: number;
  readonly name: string;
  readonly path: string;
  readonly fullPath: string;
  readonly parentId: number | null;
  /** Ids from the root group down to this group, this one included. */
  readonly ancestorIds: readonly number[];
  readonly description: string;
  readonly visibility: string;
  readonly createdAt: string;
}

export interface Project {
  readonly id: number;
  readonly name: string;
  readonly path: string;
  readonly pathWithNamespace: string;
  readonly groupId: number;
  readonly description: string;
  readonly visibility: string;
  readonly createdAt: string;
}

export type MemberSource = { readonly type: 'group' | 'project'; readonly id: number };

export interface Member {
  readonly source: MemberSource;
  readonly user: User;
  readonly accessLevel: number;
  readonly expiresAt: UtcDate | null;
  readonly createdAt: string;
}

/** A project or a group: what deploy tokens and access tokens belong to. */
export type Resource = { readonly type: 'project'; readonly project: Project } | { readonly type: 'group'; readonly group: Group };
