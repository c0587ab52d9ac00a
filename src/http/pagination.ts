/**
 * GitLab offset pagination: `page`/`per_page` in, X-Total, X-Total-Pages, X-Page, X-Per-Page,
 * X-Next-Page, X-Prev-Page and Link headers out, on every list. As GitLab, a list that counts more than
 * 10,000 rows leaves X-Total, X-Total-Pages and rel="last" out (the count stops there).
 *
 * Keyset pagination (`pagination=keyset`) on the token lists: the rows after `id_after` (ascending) or
 * before `id_before` (descending), and only a `Link: <…>; rel="next"` to the next page, as GitLab's
 * keyset pages by id; nothing is counted, so every page costs what the first does.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { COUNT_LIMIT, type Page, type PageRequest } from '../kernel/page.js';
import { invalidParam, notAllowed } from '../kernel/errors.js';

export const MAX_PER_PAGE = 100;
export const DEFAULT_PER_PAGE = 20;

export const PaginationQuery = {
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'Page number (default 1)' })),
  per_page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'Items per page (default 20, at most 100)' })),
};

export function readPage(query: { page?: number; per_page?: number }): PageRequest {
  return { page: query.page ?? 1, perPage: Math.min(query.per_page ?? DEFAULT_PER_PAGE, MAX_PER_PAGE) };
}

const Id = Type.Integer({ minimum: 0, maximum: 2_147_483_647 });

/** The query parameters of a list that offers keyset pagination too. */
export const KeysetPaginationQuery = {
  ...PaginationQuery,
  pagination: Type.Optional(Type.String({ enum: ['keyset', 'offset'], description: 'keyset: follow the Link rel="next" header (id_after / id_before); no totals. Default offset.' })),
  id_after: Type.Optional({ ...Id, description: 'Keyset pagination in ascending id order: the rows after this id' }),
  id_before: Type.Optional({ ...Id, description: 'Keyset pagination in descending id order: the rows before this id' }),
};

export type KeysetPaginationQueryT = { page?: number; per_page?: number; pagination?: string; id_after?: number; id_before?: number };

/**
 * The page a list request asks for: offset pages count to 10,000 at most; `pagination=keyset` pages by
 * id in `direction` (the list's order, which must be by id: GitLab's 405 otherwise).
 */
export function readListPage(query: KeysetPaginationQueryT, direction: 'asc' | 'desc' | null): PageRequest {
  const perPage = Math.min(query.per_page ?? DEFAULT_PER_PAGE, MAX_PER_PAGE);
  if (query.pagination !== 'keyset') return { page: query.page ?? 1, perPage, countLimit: COUNT_LIMIT };
  if (direction === null) throw notAllowed('Keyset pagination is not yet available for this type of request', 'KEYSET_UNAVAILABLE');
  const cursor = direction === 'asc' ? query.id_after : query.id_before;
  if ((direction === 'asc' ? query.id_before : query.id_after) !== undefined) throw invalidParam(direction === 'asc' ? 'id_before is invalid' : 'id_after is invalid');
  return { page: 1, perPage, keyset: { afterId: cursor ?? null, direction } };
}

/** The headers of a list page: a keyset page's Link rel="next", or an offset page's (see setPaginationHeaders). */
export function setListHeaders(request: FastifyRequest, reply: FastifyReply, page: PageRequest, result: Page<{ id: number }>, baseUrl: string): void {
  if (!page.keyset) {
    setPaginationHeaders(request, reply, page, result.total, baseUrl, result);
    return;
  }
  reply.header('X-Per-Page', String(page.perPage));
  const last = result.items.at(-1);
  if (!result.hasNext || last === undefined) return;
  const url = new URL(request.url, baseUrl);
  // A token in the query string is never echoed back.
  url.searchParams.delete('private_token');
  url.searchParams.delete('access_token');
  url.searchParams.delete('page');
  url.searchParams.set('pagination', 'keyset');
  url.searchParams.set('per_page', String(page.perPage));
  url.searchParams.set(page.keyset.direction === 'asc' ? 'id_after' : 'id_before', String(last.id));
  reply.header('Link', `<${url.toString()}>; rel="next"`);
}

/**
 * Offset pagination headers. `counted.exact === false`: the count stopped at its limit, so, as GitLab,
 * no X-Total, X-Total-Pages or rel="last"; the next page is known from `counted.hasNext`.
 */
export function setPaginationHeaders(request: FastifyRequest, reply: FastifyReply, page: PageRequest, total: number, baseUrl: string, counted?: { exact?: boolean; hasNext?: boolean }): void {
  if (counted?.exact === false) {
    setUncountedHeaders(request, reply, page, counted.hasNext === true, baseUrl);
    return;
  }
  const totalPages = Math.max(1, Math.ceil(total / page.perPage));
  const url = new URL(request.url, baseUrl);
  const linkTo = (p: number) => {
    url.searchParams.set('page', String(p));
    url.searchParams.set('per_page', String(page.perPage));
    return url.toString();
  };
  // Kaminari's rule, which GitLab follows: no previous page on the first page or past the last one.
  const prev = page.page > 1 && page.page <= totalPages ? page.page - 1 : null;
  const links: string[] = [];
  if (prev !== null) links.push(`<${linkTo(prev)}>; rel="prev"`);
  if (page.page < totalPages) links.push(`<${linkTo(page.page + 1)}>; rel="next"`);
  links.push(`<${linkTo(1)}>; rel="first"`, `<${linkTo(totalPages)}>; rel="last"`);
  reply.header('X-Total', String(total));
  reply.header('X-Total-Pages', String(totalPages));
  reply.header('X-Page', String(page.page));
  reply.header('X-Per-Page', String(page.perPage));
  reply.header('X-Next-Page', page.page < totalPages ? String(page.page + 1) : '');
  reply.header('X-Prev-Page', prev === null ? '' : String(prev));
  reply.header('Link', links.join(', '));
}

function setUncountedHeaders(request: FastifyRequest, reply: FastifyReply, page: PageRequest, hasNext: boolean, baseUrl: string): void {
  const url = new URL(request.url, baseUrl);
  const linkTo = (p: number) => {
    url.searchParams.set('page', String(p));
    url.searchParams.set('per_page', String(page.perPage));
    return url.toString();
  };
  const links: string[] = [];
  if (page.page > 1) links.push(`<${linkTo(page.page - 1)}>; rel="prev"`);
  if (hasNext) links.push(`<${linkTo(page.page + 1)}>; rel="next"`);
  links.push(`<${linkTo(1)}>; rel="first"`);
  reply.header('X-Page', String(page.page));
  reply.header('X-Per-Page', String(page.perPage));
  reply.header('X-Next-Page', hasNext ? String(page.page + 1) : '');
  reply.header('X-Prev-Page', page.page > 1 ? String(page.page - 1) : '');
  reply.header('Link', links.join(', '));
}
