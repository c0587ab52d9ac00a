/**
 * The list queries read their pages from an index on both stores (issue 13, item 3): the ids of an offset
 * page (at any depth) and of a keyset page, and the count bounded at 10,000, for the admin lists of
 * personal and deploy tokens, a project's and a group's deploy tokens, a project's access tokens and the
 * users. SQLite: a covering index (the offset's skipped rows are never read from the table) and no sort
 * of the whole range (no TEMP B-TREE). PostgreSQL: the tables are tiny here, so sequential scans are
 * priced out (as in the expiry scan's plan test) and the plan names the index, with no Sort node. A lost
 * or unmatched index fails here rather than at a million tokens.
 */
import { CompiledQuery, sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COUNT_LIMIT, type PageRequest } from '../../../src/kernel/page.js';
import type { Database } from '../../../src/store/database.js';
import { openStore, type Store } from '../../../src/store/open-store.js';
import { pageQueries } from '../../../src/store/paging.js';
import { orderTokens, personalSearchFilter, tokenListFilter } from '../../../src/store/tokens.js';
import { createTestDatabase, DIALECTS } from '../../support/dialects.js';

async function plan(db: Kysely<Database>, dialect: string, query: { compile(): CompiledQuery }): Promise<string> {
  const { sql, parameters } = query.compile();
  if (dialect === 'sqlite') {
    const rows = await db.executeQuery<{ detail: string }>(CompiledQuery.raw(`explain query plan ${sql}`, [...parameters]));
    return rows.rows.map((r) => r.detail).join('\n');
  }
  return db.transaction().execute(async (trx) => {
    await trx.executeQuery(CompiledQuery.raw('set local enable_seqscan = off'));
    const rows = await trx.executeQuery<{ 'QUERY PLAN': string }>(CompiledQuery.raw(`explain ${sql}`, [...parameters]));
    return rows.rows.map((r) => r['QUERY PLAN']).join('\n');
  });
}

const now = '2026-12-03T04:00:00.000Z';

/** A user, 40 groups and a project in each, straight into the tables. */
async function seedOwners(db: Kysely<Database>) {
  const user = await db.insertInto('users').values({ username: 'u', username_key: 'u', name: 'U', created_at: now } as any).returning('id').executeTakeFirstOrThrow();
  const groups: number[] = [];
  const projects: number[] = [];
  for (let g = 0; g < 40; g++) {
    const group = await db.insertInto('groups').values({ name: `g${g}`, path: `g${g}`, full_path: `g${g}`, full_path_key: `g${g}`, traversal_path: `${g}/`, created_at: now } as any).returning('id').executeTakeFirstOrThrow();
    groups.push(group.id);
    const project = await db.insertInto('projects').values({ name: `p${g}`, path: `p${g}`, path_with_namespace: `g${g}/p${g}`, path_key: `g${g}/p${g}`, group_id: group.id, created_at: now } as any).returning('id').executeTakeFirstOrThrow();
    projects.push(project.id);
  }
  return { user: user.id, groups, projects };
}

const PAGES: [string, PageRequest][] = [
  ['page 1', { page: 1, perPage: 20, countLimit: COUNT_LIMIT }],
  ['page 1000', { page: 1000, perPage: 20, countLimit: COUNT_LIMIT }],
  ['keyset, first', { page: 1, perPage: 20, keyset: { afterId: null, direction: 'asc' } }],
  ['keyset, after an id', { page: 1, perPage: 20, keyset: { afterId: 2000, direction: 'asc' } }],
  ['keyset, descending', { page: 1, perPage: 20, keyset: { afterId: 2000, direction: 'desc' } }],
];

describe.each(DIALECTS)('list query plans on %s', (dialect) => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let store: Store;
  let owners: Awaited<ReturnType<typeof seedOwners>>;
  beforeAll(async () => {
    db = await createTestDatabase(dialect);
    store = await openStore(db.location);
    await store.migrate();
    // Rows and planner statistics as a live instance has them, shaped like the bench's: one big project
    // and one big group (the lists that get deep), tokens of every kind elsewhere; vacuumed, as autovacuum
    // leaves a PostgreSQL table (index-only scans rely on its visibility map).
    owners = await seedOwners(store.db);
    const rows = Array.from({ length: 4000 }, (_, i) => {
      const kind = (['personal', 'deploy', 'deploy', 'project', 'group'] as const)[i % 5]!;
      const big = i % 10 < 5;
      return {
        kind, name: `t${i}`, description: '', digest: `plan-${i}`, scopes: '["api"]', created_at: now, impersonation: 0,
        user_id: kind === 'deploy' ? null : owners.user,
        project_id: kind === 'project' || (kind === 'deploy' && i % 2 === 1) ? owners.projects[big ? 0 : i % 40]! : null,
        group_id: kind === 'group' || (kind === 'deploy' && i % 2 === 0) ? owners.groups[big ? 0 : i % 40]! : null,
      };
    });
    for (let k = 0; k < rows.length; k += 200) await store.db.insertInto('tokens').values(rows.slice(k, k + 200) as any).execute();
    await sql.raw(dialect === 'postgres' ? 'vacuum analyze' : 'analyze').execute(store.db);
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  /**
   * Offset pages (ids and count) read `index` alone, in order, at any depth. A keyset page starts at its
   * cursor in an index that has the list's equality filter (`equality`, SQLite's plan text) in front, so
   * it reads about a page of rows, whichever index the planner prefers for that.
   */
  async function expectPlans(filtered: any, order: (q: any) => any, index: string, equality: string | null) {
    for (const [label, page] of PAGES) {
      const queries = pageQueries(store.db, filtered, order, page);
      for (const [part, query] of [['ids', queries.ids], ['count', queries.count]] as const) {
        if (query === null) continue;
        const text = await plan(store.db, dialect, query);
        const where = `${label}, ${part}:\n${text}`;
        if (dialect === 'postgres') {
          expect(text, where).toContain(index);
          expect(text, where).not.toMatch(/\bSort\b/);
          if (!page.keyset) expect(text, where).toContain(`Index Only Scan`);
        } else if (page.keyset) {
          // In index order from the cursor; the first page of an unfiltered list walks an index from its start.
          expect(text, where).toMatch(page.keyset.afterId === null && equality === null ? /^(SEARCH|SCAN) tokens USING (COVERING )?INDEX/ : /^SEARCH tokens USING/);
          if (equality !== null) expect(text, where).toContain(equality);
          expect(text, where).not.toContain('TEMP B-TREE');
        } else {
          expect(text, where).toContain(`COVERING INDEX ${index}`);
          expect(text, where).not.toContain('TEMP B-TREE');
        }
      }
    }
  }

  const today = '2026-12-03';
  const byId = (q: any) => q.orderBy('id');

  it('admin list of deploy tokens: tokens_listed_kind', async () => {
    await expectPlans(tokenListFilter(store.db, { kind: 'deploy', today }), byId, 'tokens_listed_kind', 'kind=?');
  });

  it("a project's and a group's deploy tokens: tokens_listed_project, tokens_listed_group", async () => {
    await expectPlans(tokenListFilter(store.db, { kind: 'deploy', projectId: owners.projects[0], today }), byId, 'tokens_listed_project', 'project_id=?');
    await expectPlans(tokenListFilter(store.db, { kind: 'deploy', groupId: owners.groups[0], today }), byId, 'tokens_listed_group', 'group_id=?');
  });

  it('admin list of personal access tokens (every kind but deploy): tokens_listed_personal_kinds, ascending and descending', async () => {
    await expectPlans(personalSearchFilter(store.db, {}, now), (q) => orderTokens(q, 'id_asc'), 'tokens_listed_personal_kinds', null);
    await expectPlans(personalSearchFilter(store.db, {}, now), (q) => orderTokens(q, 'id_desc'), 'tokens_listed_personal_kinds', null);
  });

  it("a project's and a group's access tokens: tokens_listed_project, tokens_listed_group", async () => {
    await expectPlans(personalSearchFilter(store.db, { projectId: owners.projects[0] }, now), (q) => orderTokens(q, 'id_asc'), 'tokens_listed_project', 'project_id=?');
    await expectPlans(personalSearchFilter(store.db, { groupId: owners.groups[0] }, now), (q) => orderTokens(q, 'id_asc'), 'tokens_listed_group', 'group_id=?');
  });

  it('users: the primary key', async () => {
    const index = dialect === 'sqlite' ? 'PRIMARY KEY' : 'users_pkey';
    for (const [label, page] of PAGES) {
      const queries = pageQueries(store.db, store.db.selectFrom('users'), byId, page);
      const text = await plan(store.db, dialect, queries.ids);
      expect(text, label).toMatch(dialect === 'sqlite' ? /USING (INTEGER PRIMARY KEY|COVERING INDEX)|SCAN users/ : new RegExp(index));
      if (dialect === 'sqlite') expect(text, label).not.toContain('TEMP B-TREE');
      else expect(text, label).not.toMatch(/\bSort\b/);
    }
  });
});
