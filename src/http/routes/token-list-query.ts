/**
 * The query parameters GitLab's token lists share (API::Helpers::PersonalAccessTokensHelpers
 * `access_token_params`): GET /personal_access_tokens, /projects/:id/access_tokens,
 * /groups/:id/access_tokens and a service account's personal_access_tokens. Read once, here, into
 * the store's TokenSearch.
 */
import { Type } from '@sinclair/typebox';
import { parseExpiryDate } from '../../kernel/dates.js';
import { invalidParam } from '../../kernel/errors.js';
import { TOKEN_SORTS, type TokenSearch, type TokenSort } from '../../tokens/token-store.js';

const DateTime = (description: string) => Type.Optional(Type.String({ maxLength: 64, description }));

export const TokenListQuery = {
  state: Type.Optional(Type.String({ enum: ['active', 'inactive'], description: 'active (neither revoked nor expired) or inactive' })),
  revoked: Type.Optional(Type.Boolean({ description: 'true: only revoked tokens; false: only tokens not revoked' })),
  search: Type.Optional(Type.String({ maxLength: 255, description: 'Part of the name (case-insensitive)' })),
  created_before: DateTime('ISO 8601 date-time: created at or before'),
  created_after: DateTime('ISO 8601 date-time: created at or after'),
  last_used_before: DateTime('ISO 8601 date-time: last used at or before'),
  last_used_after: DateTime('ISO 8601 date-time: last used at or after'),
  expires_before: DateTime('ISO 8601 date: expiring before'),
  expires_after: DateTime('ISO 8601 date: expiring on or after'),
  sort: Type.Optional(
    Type.String({
      maxLength: 64,
      description: 'created_asc, created_desc, expires_asc, expires_desc, last_used_asc, last_used_desc, name_asc, name_desc (also id_asc, id_desc); other values are ignored, as GitLab does',
    }),
  ),
};

export type TokenListQueryT = {
  state?: 'active' | 'inactive';
  revoked?: boolean;
  search?: string;
  sort?: string;
} & Record<string, unknown>;

/** GitLab's aliases (Sortable.simple_sorts) for the orders Latchkey keeps. */
const SORT_ALIASES: Record<string, TokenSort> = { created_at_asc: 'created_asc', created_at_desc: 'created_desc', created_date: 'created_desc' };

/** A `sort` value as GitLab's finder reads it: a known order, or none (an unknown value is ignored). */
export function readTokenSort(value: unknown): TokenSort | undefined {
  if (typeof value !== 'string') return undefined;
  if ((TOKEN_SORTS as readonly string[]).includes(value)) return value as TokenSort;
  return SORT_ALIASES[value];
}

/** A datetime filter as an ISO instant; Grape's answer for a bad one. */
function instant(query: Record<string, unknown>, field: string): string | undefined {
  const raw = query[field];
  if (raw === undefined || raw === '') return undefined;
  const text = String(raw).trim();
  // Date-only values mean 00:00 UTC; anything Date cannot read is refused.
  const ms = /^\d{4}-\d{2}-\d{2}$/.test(text) ? Date.parse(`${text}T00:00:00Z`) : /^\d{4}-\d{2}-\d{2}[T ]/.test(text) ? Date.parse(/[zZ]|[+-]\d{2}:?\d{2}$/.test(text) ? text : `${text}Z`) : NaN;
  if (Number.isNaN(ms)) throw invalidParam(`${field} is invalid`);
  return new Date(ms).toISOString();
}

function date(query: Record<string, unknown>, field: string): string | undefined {
  const raw = query[field];
  if (raw === undefined || raw === '') return undefined;
  const d = parseExpiryDate(String(raw));
  if (d === null) throw invalidParam(`${field} is invalid`);
  return d;
}

/** The filters and order of a token list request (the scope — user, project, group — is the caller's). */
export function readTokenSearch(query: TokenListQueryT): TokenSearch {
  return {
    state: query.state,
    revoked: query.revoked,
    search: query.search,
    createdBefore: instant(query, 'created_before'),
    createdAfter: instant(query, 'created_after'),
    lastUsedBefore: instant(query, 'last_used_before'),
    lastUsedAfter: instant(query, 'last_used_after'),
    expiresBefore: date(query, 'expires_before'),
    expiresAfter: date(query, 'expires_after'),
    sort: readTokenSort(query.sort),
  };
}

/** The id direction of a token list's order for keyset pagination; null when it is not ordered by id (GitLab's 405). */
export function keysetDirectionOf(search: TokenSearch): 'asc' | 'desc' | null {
  const sort = search.sort ?? 'id_asc';
  return sort === 'id_asc' ? 'asc' : sort === 'id_desc' ? 'desc' : null;
}
