/**
 * GitLab offset pagination: `page`/`per_page` in, X-Total, X-Total-Pages, X-Page, X-Per-Page,
 * X-Next-Page, X-Prev-Page and Link headers out, on every list.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { PageRequest } from '../kernel/page.js';

export const MAX_PER_PAGE = 100;
export const DEFAULT_PER_PAGE = 20;

export const PaginationQuery = {
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'Page number (default 1)' })),
  per_page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'Items per page (default 20, at most 100)' })),
};

export function readPage(query: { page?: number; per_page?: number }): PageRequest {
  return { page: query.page ?? 1, perPage: Math.min(query.per_page ?? DEFAULT_PER_PAGE, MAX_PER_PAGE) };
}

export function setPaginationHeaders(request: FastifyRequest, reply: FastifyReply, page: PageRequest, total: number, baseUrl: string): void {
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
