/**
 * Latchkey's own tokens as inventory entries (issue 14): every listed token is an entry without extra
 * work. Its core fields (name, kind, scopes, role, expiry, owning group) are read from the token; the
 * inventory fields (owner where the token has no group, purpose, procedure, placements) live in an
 * inventory row keyed to the first token of its rotation chain, so they follow the token through
 * every rotation without a write. Pure: no I/O.
 */
import { utcDateOf, type UtcDate } from '../kernel/dates.js';
import { accessLevelName } from '../namespaces/access-levels.js';
import type { Credential, InventoryEntry, TokenStatus } from './credential.js';

/** The entry kinds of Latchkey's tokens (`kind` in lists and filters). */
export const TOKEN_ENTRY_KINDS = ['personal_access_token', 'impersonation_token', 'service_account_token', 'project_access_token', 'group_access_token', 'deploy_token'] as const;
export type TokenEntryKind = (typeof TOKEN_ENTRY_KINDS)[number];

/** The provider of a token entry: this Latchkey. */
export const LATCHKEY_PROVIDER = 'latchkey';

/** The due date of a token that never expires (some deploy tokens): sorts after every real date. */
export const NO_EXPIRY: UtcDate = '9999-12-31';

/** `token-<id>`: a token entry's ref and slug (any token of the chain names it; the slug uses the first). */
const TOKEN_REF = /^token-([1-9][0-9]{0,9})$/;

/** The token id a ref names (`token-42` → 42), or null when the ref is not a token's. */
export function tokenIdOfRef(ref: string): number | null {
  const m = TOKEN_REF.exec(ref);
  return m && Number(m[1]) <= 2147483647 ? Number(m[1]) : null;
}

export const tokenSlug = (rootId: number): string => `token-${rootId}`;

/** The fields of a token entry a user sets; every other field is the token's. */
export const TOKEN_ENTRY_FIELDS = ['owner', 'purpose', 'procedure', 'placements'] as const;

/** Which tokens a list of entries returns: `active` (the default), one dead state, or `all`. */
export type TokenStateFilter = 'active' | 'expired' | 'revoked' | 'all';

/** The state of a token on `today`: deleted (a deleted token is revoked too), revoked, then expired (a revoked token's expiry no longer matters). */
export function tokenStatusOf(token: Pick<TokenCore, 'expiresAt' | 'revokedAt' | 'deletedAt'>, today: UtcDate): TokenStatus {
  if (token.deletedAt !== null) return { state: 'deleted', since: utcDateOf(new Date(token.deletedAt)) };
  if (token.revokedAt !== null) return { state: 'revoked', since: utcDateOf(new Date(token.revokedAt)) };
  if (token.expiresAt !== null && token.expiresAt < today) return { state: 'expired', since: token.expiresAt };
  return { state: 'active', since: null };
}

/** A token as the inventory reads it: its own columns and where it lives. */
export interface TokenCore {
  /** The live token (the head of its rotation chain). */
  readonly id: number;
  /** The first token of the chain: the key of its inventory fields. */
  readonly rootId: number;
  readonly kind: TokenEntryKind;
  readonly name: string;
  readonly scopes: readonly string[];
  readonly accessLevel: number | null;
  readonly expiresAt: UtcDate | null;
  readonly createdAt: string;
  /** When it was revoked or deleted (ISO timestamps); null while it was not. */
  readonly revokedAt: string | null;
  readonly deletedAt: string | null;
  /** The token replaced another by rotation. */
  readonly rotated: boolean;
  /** The token's user (personal, impersonation and service-account tokens). */
  readonly userId: number | null;
  /** The project path, group path or username the token belongs to. */
  readonly resource: string | null;
  /** The group of its project, its group, or its service account's group; null for a person's tokens. */
  readonly group: { readonly id: number; readonly fullPath: string } | null;
}

/** The entry kind of a token row: GitLab's token types, as the inventory names them. */
export function tokenEntryKind(kind: string, impersonation: boolean, botKind: string | null): TokenEntryKind | null {
  switch (kind) {
    case 'deploy':
      return 'deploy_token';
    case 'project':
      return 'project_access_token';
    case 'group':
      return 'group_access_token';
    case 'personal':
      return impersonation ? 'impersonation_token' : botKind === 'service_account' ? 'service_account_token' : 'personal_access_token';
    default:
      return null;
  }
}

/**
 * The entry of a token: its core fields and, when it has some, its inventory fields (`fields`, the row
 * keyed to the chain's first token). The owner is the token's group; a person's token takes the owner
 * its inventory fields name (none until then). Every field but the inventory fields is the token's as
 * it is now (`today` tells whether it has expired): the row's own copies of them are never read.
 */
export function tokenEntryOf(token: TokenCore, fields: Credential | null, today: UtcDate): InventoryEntry {
  const due = token.expiresAt ?? NO_EXPIRY;
  return {
    id: fields?.id ?? null,
    slug: tokenSlug(token.rootId),
    name: token.name,
    kind: token.kind,
    provider: LATCHKEY_PROVIDER,
    resource: token.resource,
    owner: token.group ?? fields?.owner ?? null,
    scopes: token.scopes,
    role: token.accessLevel === null ? null : accessLevelName(token.accessLevel).toLowerCase(),
    purpose: fields?.purpose ?? null,
    renewal: { type: 'expires_at', expiresAt: due },
    procedure: fields?.procedure ?? null,
    // A rotation is the token's renewal: the live token was issued that day.
    renewedOn: token.rotated ? utcDateOf(new Date(token.createdAt)) : null,
    dueOn: due,
    // Latchkey keeps every token's HMAC: a leaked value is recognised by POST /admin/token.
    hasFingerprint: true,
    tokenId: token.id,
    tokenStatus: tokenStatusOf(token, today),
    placements: fields?.placements ?? [],
    createdAt: fields?.createdAt ?? token.createdAt,
    updatedAt: fields?.updatedAt ?? token.createdAt,
  };
}
