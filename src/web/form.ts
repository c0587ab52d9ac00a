/** Reading HTML form posts (the form body parser on main gives strings, and arrays for `name[]`). */
import type { FastifyRequest } from 'fastify';

type FormBody = Record<string, string | string[] | undefined>;

const bodyOf = (request: FastifyRequest): FormBody => (request.body && typeof request.body === 'object' ? (request.body as FormBody) : {});

/** One text field (the first, when repeated), or '' when absent. */
export function formText(request: FastifyRequest, name: string): string {
  const v = bodyOf(request)[name];
  return (Array.isArray(v) ? v[0] : v) ?? '';
}

/** A checkbox group (`scopes[]`): every value, or [] when none is checked. */
export function formList(request: FastifyRequest, name: string): string[] {
  const v = bodyOf(request)[name];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** A positive page number from the query (`?page=2`), 1 otherwise. */
export function queryPage(request: FastifyRequest, name = 'page'): number {
  const raw = (request.query as Record<string, unknown> | undefined)?.[name];
  const n = typeof raw === 'string' && /^[0-9]{1,6}$/.test(raw) ? Number(raw) : 1;
  return n >= 1 ? n : 1;
}

export function queryText(request: FastifyRequest, name: string): string | undefined {
  const raw = (request.query as Record<string, unknown> | undefined)?.[name];
  return typeof raw === 'string' ? raw : undefined;
}

/** A keyset cursor from the query (`?after=123`: the last id the previous page showed), null for the first page. */
export function queryAfterId(request: FastifyRequest, name = 'after'): number | null {
  const v = queryText(request, name);
  return v !== undefined && /^[0-9]{1,10}$/.test(v) ? Number(v) : null;
}
