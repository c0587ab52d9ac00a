/**
 * A list page at any depth in the time of the first (issue 13): the page's ids come from the filter's
 * index alone (a covering index: no table row is read for the rows an offset skips), then only the
 * page's rows are read; the count stops at the request's countLimit (GitLab's 10,000) instead of walking
 * a million rows; a keyset page starts at the last id seen and counts nothing. One more id than the page
 * holds tells whether rows follow.
 */
import { sql, type Kysely, type SelectQueryBuilder } from 'kysely';
import type { Page, PageRequest } from '../kernel/page.js';
import { offsetOf } from '../kernel/page.js';

/** The queries a page runs, for EXPLAIN tests: the ids (offset or keyset) and the bounded count. */
export function pageQueries(db: Kysely<any>, filtered: SelectQueryBuilder<any, any, any>, order: (q: SelectQueryBuilder<any, any, any>) => SelectQueryBuilder<any, any, any>, page: PageRequest) {
  if (page.keyset) {
    const { afterId, direction } = page.keyset;
    const from = afterId === null ? filtered : filtered.where('id', direction === 'asc' ? '>' : '<', afterId);
    return { ids: from.select('id').orderBy('id', direction).limit(page.perPage + 1), count: null };
  }
  const ids = order(filtered.select('id')).limit(page.perPage + 1).offset(offsetOf(page));
  const count =
    page.countLimit === undefined
      ? filtered.select((eb) => eb.fn.countAll().as('n'))
      : db.selectFrom(filtered.select(sql`1`.as('one')).limit(page.countLimit + 1).as('c')).select((eb) => eb.fn.countAll().as('n'));
  return { ids, count };
}

/**
 * One page of `table`'s rows matching `filtered` (a selectFrom(table) with its where clauses), in
 * `order` (which must end with id as the tie-breaker) or, for a keyset page, in id order.
 */
export async function pageRows<R extends { id: number }>(
  db: Kysely<any>,
  table: string,
  filtered: SelectQueryBuilder<any, any, any>,
  order: (q: SelectQueryBuilder<any, any, any>) => SelectQueryBuilder<any, any, any>,
  page: PageRequest,
): Promise<Page<R>> {
  const queries = pageQueries(db, filtered, order, page);
  const [idRows, count] = await Promise.all([queries.ids.execute() as Promise<{ id: number }[]>, queries.count?.executeTakeFirstOrThrow() as Promise<{ n: unknown }> | undefined]);
  const ids = idRows.slice(0, page.perPage).map((r) => Number(r.id));
  const rows = ids.length === 0 ? [] : ((await db.selectFrom(table).selectAll().where('id', 'in', ids).execute()) as R[]);
  const byId = new Map(rows.map((r) => [Number(r.id), r]));
  const items = ids.map((id) => byId.get(id)).filter((r): r is R => r !== undefined);
  const hasNext = idRows.length > page.perPage;
  if (count === undefined) return { items, total: items.length, exact: false, hasNext };
  const n = Number(count.n);
  return { items, total: n, exact: page.countLimit === undefined || n <= page.countLimit, hasNext };
}

/**
 * A keyset page of a query that selects whole rows (a join names its table's id: `projects.id`): the
 * rows after the last id seen, in id order, one more fetched to tell whether rows follow; nothing counted.
 */
export async function keysetRows<R>(selected: SelectQueryBuilder<any, any, R>, idColumn: string, keyset: NonNullable<PageRequest['keyset']>, perPage: number): Promise<Page<R>> {
  const { afterId, direction } = keyset;
  const from = afterId === null ? selected : selected.where(idColumn, direction === 'asc' ? '>' : '<', afterId);
  const rows = await from.orderBy(idColumn, direction).limit(perPage + 1).execute();
  const items = rows.slice(0, perPage);
  return { items, total: items.length, exact: false, hasNext: rows.length > perPage };
}
