/**
 * Who is told about each token of a batch, and how each is described in e-mails and events — from a
 * handful of batched look-ups (users, projects, groups, memberships) per batch, never per token.
 *
 * The rules: a human's personal token → that user; a service account's token → the Owners of the group
 * that owns the account (they manage it); an impersonation token → the admin who issued it (the user it
 * acts as does not see it, as in GitLab, which mails nobody about it); deploy, project and group tokens
 * → the Maintainers and Owners (inherited memberships included) of the project or group. Bots, blocked
 * users and users without an e-mail are never recipients.
 */
import type { UtcDate } from '../kernel/dates.js';
import { AccessLevel } from '../namespaces/access-levels.js';
import type { MemberSource } from '../namespaces/namespace.js';
import type { Token } from '../tokens/token.js';
import type { ExpiryNoticeStore, NoticeGroup, NoticeProject, NoticeUser, Recipient, SourceMember } from './expiry-notice-store.js';

const KIND_LABEL: Record<string, string> = {
  deploy: 'deploy token',
  personal: 'personal access token',
  project: 'project access token',
  group: 'group access token',
  impersonation: 'impersonation token',
};

export interface DescribedToken {
  readonly token: Token;
  readonly kindLabel: string;
  readonly where: string;
  readonly projectPath: string | null;
  readonly groupPath: string | null;
  readonly rotateUrl: string;
}

export interface ExpiryContext {
  /** Empty unless the context was loaded with `today` (recipients need the memberships). */
  recipientsOf(token: Token): Recipient[];
  describe(token: Token): DescribedToken;
}

const sourceKey = (s: MemberSource) => `${s.type}:${s.id}`;
const distinct = (ids: Iterable<number | null | undefined>) => [...new Set([...ids].filter((id): id is number => id !== null && id !== undefined))];

/**
 * Loads what the tokens' recipients and descriptions need. `base` is the public URL the rotate links
 * start with; `today` (when recipients are wanted) decides which memberships still count.
 */
export async function loadExpiryContext(notices: ExpiryNoticeStore, tokens: readonly Token[], options: { base: string; today?: UtcDate }): Promise<ExpiryContext> {
  const { base } = options;
  // A token's user matters only when it belongs to no project or group (personal and service-account tokens).
  const users = await notices.findUsers(
    distinct([...tokens.filter((t) => t.projectId === null && t.groupId === null).map((t) => t.userId), ...tokens.filter((t) => t.impersonation).map((t) => t.createdBy)]),
  );
  const projects = await notices.findProjects(distinct(tokens.map((t) => t.projectId)));
  const groups = await notices.findGroups(distinct([...tokens.map((t) => t.groupId), ...[...projects.values()].map((p) => p.groupId), ...[...users.values()].map((u) => u.provisioningGroupId)]));

  const groupSources = (groupId: number | null): MemberSource[] => (groups.get(groupId ?? -1)?.ancestorIds ?? []).map((id) => ({ type: 'group' as const, id }));
  const projectSources = (project: NoticeProject | undefined): MemberSource[] => (project ? [{ type: 'project' as const, id: project.id }, ...groupSources(project.groupId)] : []);
  const serviceAccountGroup = (user: NoticeUser | undefined): number | null => (user?.botKind === 'service_account' ? user.provisioningGroupId : null);

  /** The sources whose managers are told, and the level that makes one a manager; null for a human's own token. */
  function audienceOf(token: Token): { sources: MemberSource[]; minLevel: number } | null {
    if (token.projectId !== null) return { sources: projectSources(projects.get(token.projectId)), minLevel: AccessLevel.MAINTAINER };
    if (token.groupId !== null) return { sources: groupSources(token.groupId), minLevel: AccessLevel.MAINTAINER };
    if (token.kind === 'personal' && token.userId !== null) {
      if (token.impersonation) return null;
      const user = users.get(token.userId);
      if (user?.botKind !== 'service_account') return null;
      const groupId = serviceAccountGroup(user);
      return { sources: groupId === null ? [] : groupSources(groupId), minLevel: AccessLevel.OWNER };
    }
    return { sources: [], minLevel: AccessLevel.MAINTAINER };
  }

  const membersBySource = new Map<string, SourceMember[]>();
  if (options.today !== undefined) {
    const wanted = new Map<string, MemberSource>();
    for (const t of tokens) for (const s of audienceOf(t)?.sources ?? []) wanted.set(sourceKey(s), s);
    for (const m of await notices.listMembersOf([...wanted.values()], options.today)) {
      const key = sourceKey(m.source);
      membersBySource.set(key, [...(membersBySource.get(key) ?? []), m]);
    }
  }

  return {
    recipientsOf(token) {
      if (options.today === undefined) return [];
      const audience = audienceOf(token);
      if (audience === null) {
        // The admin who issued an impersonation token answers for it; the user it acts as never sees it.
        const recipientId = token.impersonation ? token.createdBy : token.userId;
        const user = recipientId === null ? undefined : users.get(recipientId);
        if (!user || user.botKind !== null || user.state !== 'active' || !user.email) return [];
        return [{ userId: user.id, email: user.email }];
      }
      // Each user's highest level on any of the sources decides.
      const best = new Map<number, { email: string; level: number }>();
      for (const s of audience.sources) {
        for (const m of membersBySource.get(sourceKey(s)) ?? []) {
          const seen = best.get(m.userId);
          if (!seen || m.accessLevel > seen.level) best.set(m.userId, { email: m.email, level: m.accessLevel });
        }
      }
      return [...best.entries()]
        .filter(([, v]) => v.level >= audience.minLevel)
        .map(([userId, v]): Recipient => ({ userId, email: v.email }))
        .sort((a, b) => a.userId - b.userId);
    },

    describe(token) {
      const settings = token.kind === 'deploy' ? 'repository#js-deploy-tokens' : 'access_tokens';
      if (token.projectId !== null) {
        const projectPath = projects.get(token.projectId)?.pathWithNamespace ?? `project ${token.projectId}`;
        return { token, kindLabel: KIND_LABEL[token.kind] ?? token.kind, where: `project ${projectPath}`, projectPath, groupPath: null, rotateUrl: `${base}/${projectPath}/-/settings/${settings}` };
      }
      if (token.groupId !== null) {
        const groupPath = pathOf(groups.get(token.groupId), token.groupId);
        return { token, kindLabel: KIND_LABEL[token.kind] ?? token.kind, where: `group ${groupPath}`, projectPath: null, groupPath, rotateUrl: `${base}/groups/${groupPath}/-/settings/${settings}` };
      }
      if (token.userId !== null) {
        const user = users.get(token.userId);
        const groupId = serviceAccountGroup(user);
        if (groupId !== null) {
          const groupPath = pathOf(groups.get(groupId), groupId);
          return { token, kindLabel: 'service account token', where: `service account ${user!.username} of group ${groupPath}`, projectPath: null, groupPath, rotateUrl: `${base}/groups/${groupPath}/-/settings/service_accounts` };
        }
        if (token.impersonation) {
          const username = user?.username ?? String(token.userId);
          return { token, kindLabel: KIND_LABEL.impersonation!, where: `acting as user ${username}`, projectPath: null, groupPath: null, rotateUrl: `${base}/admin/users/${username}/impersonation_tokens` };
        }
        return { token, kindLabel: KIND_LABEL[token.kind] ?? token.kind, where: `user ${user?.username ?? token.userId}`, projectPath: null, groupPath: null, rotateUrl: `${base}/-/user_settings/personal_access_tokens` };
      }
      return { token, kindLabel: KIND_LABEL[token.kind] ?? token.kind, where: '', projectPath: null, groupPath: null, rotateUrl: base };
    },
  };
}

const pathOf = (group: NoticeGroup | undefined, id: number) => group?.fullPath ?? `group ${id}`;
