/**
 * Upstreams (issue 15): GitLab-compatible instances Latchkey reads token metadata from. Pure: the
 * model, the token kinds a sync reads, and the one validator of every way an upstream arrives (API
 * body, CLI, LATCHKEY_UPSTREAMS). The upstream's own token is never part of what is handed out.
 */
import { DomainError } from '../kernel/errors.js';
import type { UtcDate } from '../kernel/dates.js';

/** The token kinds a sync reads, as inventory kinds (`gitlab_…`) and in the (upstream, kind, id) key. */
export const UPSTREAM_TOKEN_KINDS = ['personal_access_token', 'project_access_token', 'group_access_token', 'project_deploy_token', 'group_deploy_token'] as const;
export type UpstreamTokenKind = (typeof UPSTREAM_TOKEN_KINDS)[number];

export interface SyncCounts {
  /** Tokens the sync read. */
  readonly seen: number;
  readonly created: number;
  readonly updated: number;
  /** Seen as revoked (or inactive) for the first time. */
  readonly revoked: number;
  /** Known before, not returned by this complete sync. */
  readonly disappeared: number;
  /** Groups and projects whose tokens the upstream token may not read (403/404): their entries are left as they were. */
  readonly skipped: number;
}

/** How the last sync went: `ok`, or `failed` with a reason a person can act on. Entries are never wiped by a failure. */
export interface SyncState {
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly status: 'ok' | 'failed' | null;
  readonly reason: string | null;
  readonly counts: SyncCounts | null;
}

export interface Upstream {
  readonly id: number;
  readonly name: string;
  /** Base URL without a trailing slash (`https://gitlab.example.com`); the API is at `<url>/api/v4`. */
  readonly url: string;
  readonly owner: { readonly id: number; readonly fullPath: string };
  /** `api` (API or CLI) or `config` (LATCHKEY_UPSTREAMS / _FILE: defined there, re-applied at start). */
  readonly source: 'api' | 'config';
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly sync: SyncState;
}

/** A token as an upstream reports it, normalised over the kinds. */
export interface RemoteToken {
  readonly kind: UpstreamTokenKind;
  readonly remoteId: number;
  /** `group:<full path>`, `project:<full path>`, `user:<id>`. */
  readonly resource: string;
  readonly name: string;
  readonly scopes: readonly string[];
  readonly accessLevel: number | null;
  readonly expiresOn: UtcDate | null;
  readonly lastUsedAt: string | null;
  readonly revoked: boolean;
  readonly active: boolean;
}

/** A synced token as kept, with its inventory entry. */
export interface SyncedToken extends RemoteToken {
  readonly credentialId: number;
  readonly credentialSlug: string;
  readonly state: 'present' | 'disappeared';
  readonly firstSeenAt: string;
  readonly lastSeenAt: string;
  readonly disappearedAt: string | null;
}

/** An upstream as given: every field checked, the URL normalised. */
export interface UpstreamInput {
  readonly name?: string;
  readonly url?: string;
  readonly token?: string;
  /** The owning Latchkey group: id or full path. */
  readonly owner?: string;
}

const NAME_RE = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const FIELDS = new Set(['name', 'url', 'token', 'owner']);

function invalid(errors: Record<string, string[]>): DomainError {
  const [field, reasons] = Object.entries(errors)[0]!;
  return new DomainError('invalid', 'INVALID_UPSTREAM', `${field} ${reasons[0]}`, errors);
}

/** `https://gitlab.example.com/` or `…/api/v4` → `https://gitlab.example.com`; null when it is no http(s) URL. */
export function normaliseUpstreamUrl(raw: string): string | null {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return null;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') return null;
  const path = url.pathname.replace(/\/+$/, '').replace(/\/api\/v4$/, '');
  return `${url.origin}${path}`;
}

/**
 * Reads an upstream from an untrusted object: a registration (`partial: false`: name, url, token and
 * owner required) or a change (every field optional, the name fixed). Throws one `invalid` error
 * naming every bad field.
 */
export function parseUpstreamInput(body: unknown, options: { partial: boolean }): UpstreamInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid({ base: ['must be an object'] });
  const b = body as Record<string, unknown>;
  const errors: Record<string, string[]> = {};
  const add = (f: string, r: string) => (errors[f] ??= []).push(r);
  for (const f of Object.keys(b)) if (!FIELDS.has(f)) add(f, 'is not an upstream field');
  const text = (f: string, max: number): string | undefined => {
    const v = b[f];
    if (v === undefined || v === null) {
      if (!options.partial) add(f, 'is missing');
      return undefined;
    }
    if (typeof v !== 'string' || v.trim() === '') add(f, "can't be blank");
    else if (v.length > max) add(f, `is too long (maximum is ${max} characters)`);
    else if (/[\u0000-\u001f\u007f]/.test(v) || /[\ud800-\udfff]/.test(v.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ''))) add(f, 'cannot contain control characters');
    else return v.trim();
    return undefined;
  };
  const out: { -readonly [K in keyof UpstreamInput]: UpstreamInput[K] } = {};
  if (options.partial && b.name !== undefined) add('name', 'cannot be changed');
  else {
    const name = text('name', 63);
    if (name !== undefined && !NAME_RE.test(name)) add('name', "can contain only lower-case letters, digits, '_' and '-', and must start with a letter or digit");
    else if (name !== undefined) out.name = name;
  }
  const url = text('url', 2048);
  if (url !== undefined) {
    const normalised = normaliseUpstreamUrl(url);
    if (normalised === null) add('url', 'must be an http:// or https:// URL without credentials, query or fragment');
    else out.url = normalised;
  }
  const token = text('token', 1024);
  if (token !== undefined) out.token = token;
  const owner = text('owner', 2048);
  if (owner !== undefined) out.owner = owner;
  if (Object.keys(errors).length > 0) throw invalid(errors);
  return out;
}

/** What a `ci_variable` placement holds compared with its entry's fingerprint. */
export const PLACEMENT_CHECK_STATUSES = ['in_sync', 'stale', 'missing', 'cannot_read', 'no_fingerprint'] as const;
export type PlacementCheckStatus = (typeof PLACEMENT_CHECK_STATUSES)[number];

/** The last check of one placement: a status and the line a person reads ("stale: holds an older secret"). */
export interface PlacementCheck {
  readonly placementId: number;
  readonly credentialId: number;
  readonly status: PlacementCheckStatus;
  readonly detail: string;
  readonly checkedAt: string;
}
