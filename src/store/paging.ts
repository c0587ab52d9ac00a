/**
 * A list page at any depth in the time of the first (issue 13): the page's ids come from the filter's
 * index alone (a covering index: no table row is read for the rows an offset skips), then only the
 * page's rows are read; the count stops at the request's countLimit (GitLab's 10,000) instead of walking
 * a million rows; a keyset page starts at the last id seen and counts nothing. One more id than the page
 * holds tells whether rows follow.
 *
 * A count that passed its limit is remembered for PAST_LIMIT_MS: the next pages of the same filter within
 * that time do not count again (on PostgreSQL, walking 10,001 index entries took 4–6 ms of a 10 ms page on
 * the bench machine). Only "more than the limit" is remembered, never a number: a list under the limit
 * is counted on every page, so its X-Total is exact at once; a list that shrinks below the limit within the
 * time (a mass revoke) goes on without X-Total, as GitLab sends none above 10,000, until the memory lapses.
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

/** How long a count past its limit is taken as still past it (see the top of this file). */
export const PAST_LIMIT_MS = 10_000;
/** Distinct count queries remembered per database (searches make many); emptied when full. */
const PAST_LIMIT_KEPT = 1_000;
/** Per database handle: the count query (text and parameters) → until when it is past its limit (epoch ms). */
const pastLimit = new WeakMap<object, Map<string, number>>();

/**
 * The page's count, bounded by the limit: limit + 1 when past it — counted, or taken from a count past it
 * within PAST_LIMIT_MS without counting again.
 */
async function countOf(db: Kysely<any>, count: NonNullable<ReturnType<typeof pageQueries>['count']>, limit: number | undefined, now: () => number): Promise<number> {
  if (limit === undefined) return Number((await count.executeTakeFirstOrThrow()).n);
  const compiled = count.compile();
  const key = `${compiled.sql}\u0000${JSON.stringify(compiled.parameters)}`;
  let remembered = pastLimit.get(db);
  const until = remembered?.get(key);
  if (until !== undefined && until > now()) return limit + 1;
  const n = Number(((await db.executeQuery<{ n: unknown }>(compiled)).rows[0] ?? { n: 0 }).n);
  if (n > limit) {
    if (remembered === undefined) pastLimit.set(db, (remembered = new Map()));
    if (remembered.size >= PAST_LIMIT_KEPT) remembered.clear();
    remembered.set(key, now() + PAST_LIMIT_MS);
  } else remembered?.delete(key);
  return n;
}

/**
 * One page of `table`'s rows matching `filtered` (a selectFrom(table) with its where clauses), in
 * `order` (which must end with id as the tie-breaker) or, for a keyset page, in id order. `now`: the
 * clock of the past-the-limit memory (tests).
 */
export async function pageRows<R extends { id: number }>(
  db: Kysely<any>,
  table: string,
  filtered: SelectQueryBuilder<any, any, any>,
  order: (q: SelectQueryBuilder<any, any, any>) => SelectQueryBuilder<any, any, any>,
  page: PageRequest,
  { now = Date.now }: { now?: () => number } = {},
): Promise<Page<R>> {
  const queries = pageQueries(db, filtered, order, page);
  const [idRows, counted] = await Promise.all([queries.ids.execute() as Promise<{ id: number }[]>, queries.count === null ? undefined : countOf(db, queries.count, page.countLimit, now)]);
  const ids = idRows.slice(0, page.perPage).map((r) => Number(r.id));
  const rows = ids.length === 0 ? [] : ((await db.selectFrom(table).selectAll().where('id', 'in', ids).execute()) as R[]);
  const byId = new Map(rows.map((r) => [Number(r.id), r]));
  const items = ids.map((id) => byId.get(id)).filter((r): r is R => r !== undefined);
  const hasNext = idRows.length > page.perPage;
  if (counted === undefined) return { items, total: items.length, exact: false, hasNext };
  return { items, total: counted, exact: page.countLimit === undefined || counted <= page.countLimit, hasNext };
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
