/**
 * Storage of GitLab-format hooks: `webhooks` rows with format `gitlab`, owned by a project or a group.
 * Deleting one is the shared `deleteHook` (it cancels what the hook had not sent yet).
 */
import type { Kysely } from 'kysely';
import type { Database } from '../store/database.js';
import { offsetOf, type Page, type PageRequest } from '../kernel/page.js';
import type { HookContainer } from './gitlab-hook.js';
import { toHook, type StoredHook } from './webhook-store.js';

export interface GitlabHookRow {
  url: string;
  settings: string;
  secretEncrypted: string;
  customHeadersEncrypted: string | null;
}

/** What an expiring-token payload says about the token (never its secret or digest). */
export interface ExpiringTokenFacts {
  id: number;
  kind: string;
  name: string;
  userId: number | null;
  projectId: number | null;
  groupId: number | null;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export type GitlabHookStore = ReturnType<typeof createGitlabHookStore>;

export function createGitlabHookStore(db: Kysely<Database>) {
  const live = () => db.selectFrom('webhooks').where('deleted_at', 'is', null).where('format', '=', 'gitlab');
  const ofContainer = (container: HookContainer, id: number) => (container === 'project' ? live().where('project_id', '=', id) : live().where('group_id', '=', id).where('project_id', 'is', null));

  return {
    async insert(container: HookContainer, containerId: number, row: GitlabHookRow & { uuid: string; createdBy: number | null; createdAt: string }): Promise<StoredHook> {
      const inserted = await db
        .insertInto('webhooks')
        .values({
          format: 'gitlab',
          group_id: container === 'group' ? containerId : null,
          project_id: container === 'project' ? containerId : null,
          url: row.url,
          events: '[]',
          settings: row.settings,
          secret_encrypted: row.secretEncrypted,
          custom_headers_encrypted: row.customHeadersEncrypted,
          uuid: row.uuid,
          created_by: row.createdBy,
          created_at: row.createdAt,
          deleted_at: null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toHook(inserted);
    },

    async list(container: HookContainer, containerId: number, page: PageRequest): Promise<Page<StoredHook>> {
      const { n } = await ofContainer(container, containerId).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
      const rows = await ofContainer(container, containerId).selectAll().orderBy('id').limit(page.perPage).offset(offsetOf(page)).execute();
      return { items: rows.map(toHook), total: Number(n) };
    },

    async find(container: HookContainer, containerId: number, id: number): Promise<StoredHook | null> {
      const row = await ofContainer(container, containerId).selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toHook(row) : null;
    },

    async update(id: number, row: GitlabHookRow): Promise<StoredHook> {
      const updated = await db
        .updateTable('webhooks')
        .set({ url: row.url, settings: row.settings, secret_encrypted: row.secretEncrypted, custom_headers_encrypted: row.customHeadersEncrypted })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      return toHook(updated);
    },

    /** Live GitLab hooks of a project, or of any of the groups (a token's group chain). */
    async hooksFor(projectId: number | null, groupIds: readonly number[]): Promise<StoredHook[]> {
      if (projectId === null && groupIds.length === 0) return [];
      const rows = await live()
        .selectAll()
        .where((eb) => {
          const ors = [];
          if (projectId !== null) ors.push(eb('project_id', '=', projectId));
          if (groupIds.length > 0) ors.push(eb.and([eb('project_id', 'is', null), eb('group_id', 'in', [...groupIds])]));
          return eb.or(ors);
        })
        .orderBy('id')
        .execute();
      return rows.map(toHook);
    },

    async token(id: number): Promise<ExpiringTokenFacts | null> {
      const r = await db
        .selectFrom('tokens')
        .select(['id', 'kind', 'name', 'user_id', 'project_id', 'group_id', 'created_at', 'expires_at', 'last_used_at', 'revoked_at'])
        .where('id', '=', id)
        .executeTakeFirst();
      if (!r) return null;
      return { id: r.id, kind: r.kind, name: r.name, userId: r.user_id, projectId: r.project_id, groupId: r.group_id, createdAt: r.created_at, expiresAt: r.expires_at, lastUsedAt: r.last_used_at, revokedAt: r.revoked_at };
    },
  };
}
