/** NamespaceStore over Kysely (both dialects). */
import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database, GroupsTable, ProjectsTable, UsersTable } from './database.js';
import type { NamespaceChanges, NamespaceStore } from '../namespaces/namespace-store.js';
import type { UtcDate } from '../kernel/dates.js';
import type { BotKind, Group, Member, MemberSource, Project, User } from '../namespaces/namespace.js';
import { offsetOf, type Page } from '../kernel/page.js';
import { containsPattern } from './like.js';
import { keysetRows, pageRows } from './paging.js';

export function toUser(r: Selectable<UsersTable>): User {
  return {
    id: r.id,
    username: r.username,
    name: r.name,
    email: r.email,
    isAdmin: r.is_admin === 1,
    botKind: r.bot_kind as BotKind | null,
    state: r.state,
    createdAt: r.created_at,
  };
}

const mapItems = <R, T>(page: Page<R>, to: (r: R) => T): Page<T> => ({ ...page, items: page.items.map(to) });

/** The visibilities a non-member of the listing's user sees: an external user (a service account) the public ones only. */
const visibleToNonMembers = (scope: { external?: boolean }) => (scope.external ? ['public'] : ['internal', 'public']);

function toGroup(r: Selectable<GroupsTable>): Group {
  return {
    id: r.id,
    name: r.name,
    path: r.path,
    fullPath: r.full_path,
    parentId: r.parent_id,
    ancestorIds: r.traversal_path.split('/').filter(Boolean).map(Number),
    description: r.description,
    visibility: r.visibility,
    createdAt: r.created_at,
  };
}

function toProject(r: Selectable<ProjectsTable>): Project {
  return {
    id: r.id,
    name: r.name,
    path: r.path,
    pathWithNamespace: r.path_with_namespace,
    groupId: r.group_id,
    description: r.description,
    visibility: r.visibility,
    createdAt: r.created_at,
  };
}

/** Only the fields given; callers never update with none. */
function definedOf(changes: NamespaceChanges): NamespaceChanges {
  const set: NamespaceChanges = {};
  if (changes.name !== undefined) set.name = changes.name;
  if (changes.description !== undefined) set.description = changes.description;
  if (changes.visibility !== undefined) set.visibility = changes.visibility;
  return set;
}

export function createNamespaceStore(db: Kysely<Database>): NamespaceStore {
  const userById = async (id: number) => {
    const r = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toUser(r) : null;
  };
  const groupById = async (id: number) => {
    const r = await db.selectFrom('groups').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toGroup(r) : null;
  };

  return {
    async insertUser(u) {
      const r = await db
        .insertInto('users')
        .values({
          username: u.username,
          username_key: u.username.toLowerCase(),
          name: u.name,
          email: u.email,
          email_key: u.email?.toLowerCase() ?? null,
          is_admin: u.isAdmin ? 1 : 0,
          bot_kind: u.botKind,
          state: 'active',
          password_hash: u.passwordHash,
          created_at: u.createdAt,
          provisioned_by_group_id: u.provisionedByGroupId ?? null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toUser(r);
    },
    async updateUser(id, changes) {
      const set: Record<string, string> = {};
      if (changes.name !== undefined) set.name = changes.name;
      if (changes.username !== undefined) Object.assign(set, { username: changes.username, username_key: changes.username.toLowerCase() });
      if (changes.email !== undefined) Object.assign(set, { email: changes.email, email_key: changes.email.toLowerCase() });
      const flags: { is_admin?: number; password_hash?: string | null } = {};
      if (changes.isAdmin !== undefined) flags.is_admin = changes.isAdmin ? 1 : 0;
      if (changes.passwordHash !== undefined) flags.password_hash = changes.passwordHash;
      const r = await db.updateTable('users').set({ ...set, ...flags }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
      return toUser(r);
    },
    findUserById: userById,
    async findPasswordHash(id) {
      const r = await db.selectFrom('users').select('password_hash').where('id', '=', id).executeTakeFirst();
      return r?.password_hash ?? null;
    },
    async findUserByUsername(username) {
      const r = await db.selectFrom('users').selectAll().where('username_key', '=', username.toLowerCase()).executeTakeFirst();
      return r ? toUser(r) : null;
    },
    async findUserByEmail(email) {
      const r = await db.selectFrom('users').selectAll().where('email_key', '=', email.toLowerCase()).executeTakeFirst();
      return r ? toUser(r) : null;
    },
    async findFirstAdmin() {
      const r = await db.selectFrom('users').selectAll().where('is_admin', '=', 1).orderBy('id').limit(1).executeTakeFirst();
      return r ? toUser(r) : null;
    },
    async listUsers(page) {
      return mapItems(await pageRows<Selectable<UsersTable>>(db, 'users', db.selectFrom('users'), (q) => q.orderBy('id'), page), toUser);
    },
    async setUserState(id, state) {
      await db.updateTable('users').set({ state }).where('id', '=', id).execute();
    },
    async findProvisionedUser(groupId, userId) {
      const r = await db.selectFrom('users').selectAll().where('id', '=', userId).where('provisioned_by_group_id', '=', groupId).where('state', '=', 'active').executeTakeFirst();
      return r ? toUser(r) : null;
    },
    async listServiceAccounts(groupId, order, page) {
      const accounts = db.selectFrom('users').where('bot_kind', '=', 'service_account').where('state', '=', 'active');
      const q = groupId === null ? accounts : accounts.where('provisioned_by_group_id', '=', groupId);
      if (page.keyset) return mapItems(await keysetRows(q.selectAll(), 'id', page.keyset, page.perPage), toUser);
      const [rows, count] = await Promise.all([
        q.selectAll().orderBy(order.by === 'username' ? 'username_key' : 'id', order.direction).orderBy('id', order.direction).limit(page.perPage).offset(offsetOf(page)).execute(),
        q.select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow(),
      ]);
      return { items: rows.map(toUser), total: Number(count.n) };
    },

    async insertGroup(g) {
      const fullPath = g.parent ? `${g.parent.fullPath}/${g.path}` : g.path;
      const r = await db
        .insertInto('groups')
        .values({
          name: g.name,
          path: g.path,
          full_path: fullPath,
          full_path_key: fullPath.toLowerCase(),
          parent_id: g.parent?.id ?? null,
          traversal_path: '/',
          description: g.description,
          visibility: g.visibility,
          created_at: g.createdAt,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      const traversal = `/${[...(g.parent?.ancestorIds ?? []), r.id].join('/')}/`;
      await db.updateTable('groups').set({ traversal_path: traversal }).where('id', '=', r.id).execute();
      return toGroup({ ...r, traversal_path: traversal });
    },
    findGroupById: groupById,
    async findGroupByPath(fullPath) {
      const r = await db.selectFrom('groups').selectAll().where('full_path_key', '=', fullPath.toLowerCase()).executeTakeFirst();
      return r ? toGroup(r) : null;
    },
    async listGroupsVisibleTo(scope, page) {
      let q = db.selectFrom('groups');
      if (scope.kind === 'public') q = q.where('groups.visibility', '=', 'public');
      if (scope.kind === 'user') {
        const userId = scope.userId;
        // A group is visible when the user is a member of it or of any ancestor.
        const member = (eb: any) =>
          eb.exists(
            eb
              .selectFrom('members as m')
              .select('m.id')
              .where('m.source_type', '=', 'group')
              .where('m.user_id', '=', userId)
              .where(sql<boolean>`groups.traversal_path like '%/' || ${sql.ref('m.source_id')} || '/%'`),
          );
        q = scope.withInternalAndPublic ? q.where((eb) => eb.or([member(eb), eb('groups.visibility', 'in', visibleToNonMembers(scope))])) : q.where(member);
      }
      if (page.keyset) return mapItems(await keysetRows(q.selectAll('groups'), 'groups.id', page.keyset, page.perPage), toGroup);
      const [rows, count] = await Promise.all([
        q.selectAll('groups').orderBy('groups.id').limit(page.perPage).offset(offsetOf(page)).execute(),
        q.select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow(),
      ]);
      return { items: rows.map(toGroup), total: Number(count.n) };
    },

    async listProjectsVisibleTo(scope, query, today, page) {
      let q = db.selectFrom('projects').innerJoin('groups', 'groups.id', 'projects.group_id');
      if (scope.kind === 'public') q = q.where('projects.visibility', '=', 'public');
      if (scope.kind === 'user') {
        const userId = scope.userId;
        const current = (eb: any) => eb.or([eb('m.expires_at', 'is', null), eb('m.expires_at', '>', today)]);
        q = q.where((eb) =>
          eb.or([
            eb.exists(eb.selectFrom('members as m').select('m.id').where('m.source_type', '=', 'project').where('m.user_id', '=', userId).whereRef('m.source_id', '=', 'projects.id').where(current)),
            eb.exists(
              eb
                .selectFrom('members as m')
                .select('m.id')
                .where('m.source_type', '=', 'group')
                .where('m.user_id', '=', userId)
                .where(current)
                .where(sql<boolean>`groups.traversal_path like '%/' || ${sql.ref('m.source_id')} || '/%'`),
            ),
            ...(scope.withInternalAndPublic ? [eb('projects.visibility', 'in', visibleToNonMembers(scope))] : []),
          ]),
        );
      }
      if (query.search !== null) {
        const pattern = containsPattern(query.search);
        q = q.where((eb) => eb.or([sql<boolean>`lower(projects.name) like ${pattern} escape '\\'`, sql<boolean>`projects.path_key like ${pattern} escape '\\'`]));
      }
      const column = query.orderBy === 'path' ? 'projects.path_key' : query.orderBy === 'name' ? 'projects.name' : query.orderBy === 'created_at' ? 'projects.created_at' : 'projects.id';
      if (page.keyset) return mapItems(await keysetRows(q.selectAll('projects'), 'projects.id', page.keyset, page.perPage), toProject);
      const [rows, count] = await Promise.all([
        q.selectAll('projects').orderBy(column, query.sort).orderBy('projects.id', query.sort).limit(page.perPage).offset(offsetOf(page)).execute(),
        q.select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow(),
      ]);
      return { items: rows.map(toProject), total: Number(count.n) };
    },

    async updateGroup(id, changes) {
      const r = await db.updateTable('groups').set(definedOf(changes)).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
      return toGroup(r);
    },
    async updateProject(id, changes) {
      const r = await db.updateTable('projects').set(definedOf(changes)).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
      return toProject(r);
    },
    async childVisibilities(groupId) {
      const [projects, subgroups] = await Promise.all([
        db.selectFrom('projects').select('visibility').distinct().where('group_id', '=', groupId).execute(),
        db.selectFrom('groups').select('visibility').distinct().where('parent_id', '=', groupId).execute(),
      ]);
      return { projects: projects.map((r) => r.visibility), subgroups: subgroups.map((r) => r.visibility) };
    },

    async insertProject(p) {
      const full = `${p.group.fullPath}/${p.path}`;
      const r = await db
        .insertInto('projects')
        .values({
          name: p.name,
          path: p.path,
          path_with_namespace: full,
          path_key: full.toLowerCase(),
          group_id: p.group.id,
          description: p.description,
          visibility: p.visibility,
          created_at: p.createdAt,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toProject(r);
    },
    async findProjectById(id) {
      const r = await db.selectFrom('projects').selectAll().where('id', '=', id).executeTakeFirst();
      return r ? toProject(r) : null;
    },
    async findProjectByPath(path) {
      const r = await db.selectFrom('projects').selectAll().where('path_key', '=', path.toLowerCase()).executeTakeFirst();
      return r ? toProject(r) : null;
    },

    async insertMember(source, userId, accessLevel, expiresAt, createdBy, createdAt) {
      await db
        .insertInto('members')
        .values({ source_type: source.type, source_id: source.id, user_id: userId, access_level: accessLevel, expires_at: expiresAt, created_by: createdBy, created_at: createdAt })
        .execute();
    },
    async findDirectMember(source, userId) {
      const r = await db
        .selectFrom('members')
        .innerJoin('users', 'users.id', 'members.user_id')
        .selectAll('users')
        .select(['members.access_level', 'members.expires_at as member_expires_at', 'members.created_at as member_created_at'])
        .where('members.source_type', '=', source.type)
        .where('members.source_id', '=', source.id)
        .where('members.user_id', '=', userId)
        .executeTakeFirst();
      return r ? { source, user: toUser(r), accessLevel: r.access_level, expiresAt: r.member_expires_at, createdAt: r.member_created_at } : null;
    },
    async listDirectMembers(source, page) {
      const base = db.selectFrom('members').where('members.source_type', '=', source.type).where('members.source_id', '=', source.id);
      const [rows, count] = await Promise.all([
        base
          .innerJoin('users', 'users.id', 'members.user_id')
          .selectAll('users')
          .select(['members.access_level', 'members.expires_at as member_expires_at', 'members.created_at as member_created_at'])
          .orderBy('members.id')
          .limit(page.perPage)
          .offset(offsetOf(page))
          .execute(),
        base.select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow(),
      ]);
      return {
        items: rows.map((r): Member => ({ source, user: toUser(r), accessLevel: r.access_level, expiresAt: r.member_expires_at, createdAt: r.member_created_at })),
        total: Number(count.n),
      };
    },
    async listEffectiveMembers(sources, today: UtcDate, page) {
      if (sources.length === 0) return { items: [], total: 0 };
      const rows = await db
        .selectFrom('members')
        .innerJoin('users', 'users.id', 'members.user_id')
        .selectAll('users')
        .select(['members.source_type', 'members.source_id', 'members.access_level', 'members.expires_at as member_expires_at', 'members.created_at as member_created_at'])
        .where((eb) => eb.or(sources.map((s) => eb.and([eb('members.source_type', '=', s.type), eb('members.source_id', '=', s.id)]))))
        .where((eb) => eb.or([eb('members.expires_at', 'is', null), eb('members.expires_at', '>', today)]))
        .orderBy('users.id')
        .execute();
      const nearness = (type: string, id: number) => sources.findIndex((s) => s.type === type && s.id === id);
      const best = new Map<number, (typeof rows)[number]>();
      for (const r of rows) {
        const held = best.get(r.id);
        if (!held || r.access_level > held.access_level || (r.access_level === held.access_level && nearness(r.source_type, r.source_id) < nearness(held.source_type, held.source_id))) best.set(r.id, r);
      }
      const all = [...best.values()];
      const start = offsetOf(page);
      const items = all.slice(start, start + page.perPage).map(
        (r): Member => ({ source: { type: r.source_type as MemberSource['type'], id: r.source_id }, user: toUser(r), accessLevel: r.access_level, expiresAt: r.member_expires_at, createdAt: r.member_created_at }),
      );
      return { items, total: all.length };
    },
    async maxAccessLevel(userId, sources, today) {
      if (sources.length === 0) return 0;
      const r = await db
        .selectFrom('members')
        .select((eb) => eb.fn.max('access_level').as('level'))
        .where('user_id', '=', userId)
        .where((eb) => eb.or(sources.map((s) => eb.and([eb('source_type', '=', s.type), eb('source_id', '=', s.id)]))))
        .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', today)]))
        .executeTakeFirst();
      return Number(r?.level ?? 0);
    },
  };
}
