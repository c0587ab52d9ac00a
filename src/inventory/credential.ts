/**
 * The credential inventory's model: an entry for a credential a team must renew (one Latchkey did not
 * issue, or an annotation on one it did), its renewal rule, and its placements (where it is configured).
 * Pure: no I/O. `parseCredentialInput` is the one validator of every way an entry arrives (API body,
 * imported YAML): it collects every problem, each under the field's path (`renewal.every_days`,
 * `placements[0].key`), so the HTTP answer and the import's line numbers name the field.
 */
import { DomainError } from '../kernel/errors.js';
import { addDays, parseExpiryDate, type UtcDate } from '../kernel/dates.js';
import { hasLoneSurrogate } from '../namespaces/validation.js';

export const PLACEMENT_KINDS = ['ci_variable', 'file', 'kubernetes_secret', 'manual'] as const;
export type PlacementKind = (typeof PLACEMENT_KINDS)[number];

/** What a CI variable (or a file key) holds: the raw value, DOCKER_AUTH_CONFIG JSON, a netrc line, user:password. */
export const VALUE_FORMATS = ['raw', 'docker_auth_config', 'netrc', 'user_password'] as const;
export type ValueFormat = (typeof VALUE_FORMATS)[number];

/**
 * One place a credential is configured. Flat: every kind uses some of the fields, the others are null.
 * - ci_variable: `instance` (the GitLab host), `project` or `group` path (neither: an instance variable),
 *   `key`, `format`, `registry` (docker_auth_config), `username` (netrc, user_password, docker_auth_config)
 * - file: `host` (optional), `path`, `key` (optional), `format`
 * - kubernetes_secret: `cluster` (optional), `namespace`, `name`, `key`
 * - manual: `where` (free text: an integration only a person can update)
 */
export interface PlacementFields {
  readonly kind: PlacementKind;
  readonly instance: string | null;
  readonly project: string | null;
  readonly group: string | null;
  readonly key: string | null;
  readonly format: ValueFormat | null;
  readonly registry: string | null;
  readonly username: string | null;
  readonly host: string | null;
  readonly path: string | null;
  readonly cluster: string | null;
  readonly namespace: string | null;
  readonly name: string | null;
  readonly where: string | null;
}

export interface Placement extends PlacementFields {
  readonly id: number;
  readonly credentialId: number;
}

/** The fields each placement kind uses, in the order they are written out (API, YAML, CSV). */
export const PLACEMENT_FIELDS: Record<PlacementKind, readonly (keyof PlacementFields)[]> = {
  ci_variable: ['instance', 'project', 'group', 'key', 'format', 'registry', 'username'],
  file: ['host', 'path', 'key', 'format'],
  kubernetes_secret: ['cluster', 'namespace', 'name', 'key'],
  manual: ['where'],
};

const REQUIRED_FIELDS: Record<PlacementKind, readonly (keyof PlacementFields)[]> = {
  ci_variable: ['instance', 'key'],
  file: ['path'],
  kubernetes_secret: ['namespace', 'name', 'key'],
  manual: ['where'],
};

/**
 * When a credential is due. `expires_at`: a fixed date (00:00 UTC). `every_days`: due that many days
 * after the last renewal (or creation). `event`: renewed during a recurring task; reviewed (reminded)
 * every `review_every_days` after the last renewal.
 */
export type Renewal =
  | { readonly type: 'expires_at'; readonly expiresAt: UtcDate }
  | { readonly type: 'every_days'; readonly everyDays: number }
  | { readonly type: 'event'; readonly event: string; readonly reviewEveryDays: number };

/** The fields of an entry a user sets (everything but ids, owner resolution and bookkeeping). */
export interface CredentialAttributes {
  readonly slug: string;
  readonly name: string;
  readonly kind: string;
  readonly provider: string | null;
  /** What the credential belongs to at the provider (a group, a project, an account). */
  readonly resource: string | null;
  readonly scopes: readonly string[];
  readonly role: string | null;
  readonly purpose: string | null;
  readonly renewal: Renewal;
  /** The renewal procedure, Markdown. */
  readonly procedure: string | null;
}

/** An entry as the service hands it out. The fingerprint itself never leaves the store. */
export interface Credential extends CredentialAttributes {
  readonly id: number;
  readonly owner: { readonly id: number; readonly fullPath: string };
  /** The date of the last renewal, null until the first one. */
  readonly renewedOn: UtcDate | null;
  /** When the credential expires or is next due for renewal or review: what reminders count down to. */
  readonly dueOn: UtcDate;
  readonly hasFingerprint: boolean;
  /** The Latchkey token this entry annotates (inventory fields on an issued token); null for outside credentials. */
  readonly tokenId: number | null;
  readonly placements: readonly Placement[];
  readonly createdAt: string;
  readonly updatedAt: string;
}

/**
 * What a token's entry says of the token itself: `active`, `expired` (its expiry date has passed),
 * `revoked` or `deleted`, with the day it became so (null for an active token). Read from the token at
 * every read (token-entry.ts): nothing copies it.
 */
export const TOKEN_STATES = ['active', 'expired', 'revoked', 'deleted'] as const;
export type TokenState = (typeof TOKEN_STATES)[number];
export interface TokenStatus {
  readonly state: TokenState;
  readonly since: UtcDate | null;
}

/**
 * An entry as lists and look-ups answer it: a stored entry, or a Latchkey token's (token-entry.ts),
 * which has no id until inventory fields are added to it and no owner while it is a person's token
 * without one.
 */
export type InventoryEntry = Omit<Credential, 'id' | 'owner'> & {
  readonly id: number | null;
  /** A Latchkey token's entry: the token's state now (revoked, expired… and since when); absent for outside entries. */
  readonly tokenStatus?: TokenStatus;
  readonly owner: { readonly id: number; readonly fullPath: string } | null;
};

/**
 * A create or update as parsed: absent fields are undefined (an update keeps them). `owner` is the
 * group's id or full path, resolved by the service. `value` is the secret to fingerprint (null clears
 * the fingerprint); it is hashed at once and never kept.
 */
export interface CredentialInput {
  readonly slug?: string;
  readonly name?: string;
  readonly kind?: string;
  readonly provider?: string | null;
  readonly resource?: string | null;
  readonly owner?: string;
  readonly scopes?: readonly string[];
  readonly role?: string | null;
  readonly purpose?: string | null;
  readonly renewal?: Renewal;
  readonly procedure?: string | null;
  readonly value?: string | null;
  readonly placements?: readonly PlacementFields[];
}

export const MAX_SHORT = 255;
export const MAX_TEXT = 20_000;
export const MAX_SCOPES = 50;
export const MAX_PLACEMENTS = 100;
export const MAX_DAYS = 3650;
const SLUG_RE = /^[a-z0-9][a-z0-9._-]*$/;
const KIND_RE = /^[a-z0-9][a-z0-9_.-]*$/;

export type FieldErrors = Record<string, string[]>;

/** GitLab's `render_validation_error!`: `{"message": {field: [reasons]}}` with every field's errors. */
export function invalidCredential(errors: FieldErrors, code = 'INVALID_CREDENTIAL'): DomainError {
  const [field, reasons] = Object.entries(errors)[0]!;
  return new DomainError('invalid', code, `${field} ${reasons[0]}`, errors);
}

/** A slug from a name: lower case, runs of anything else than letters and digits become one '-'. */
export function slugFromName(name: string): string {
  const slug = name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 90);
  // Digits alone would read as an id.
  return /^[0-9]+$/.test(slug) ? `credential-${slug}` : slug;
}

/**
 * The date a credential is due: its expiry date, or `base` (the last renewal, else creation) plus the
 * rule's days.
 */
export function dueDate(renewal: Renewal, base: UtcDate): UtcDate {
  switch (renewal.type) {
    case 'expires_at':
      return renewal.expiresAt;
    case 'every_days':
      return addDays(base, renewal.everyDays);
    case 'event':
      return addDays(base, renewal.reviewEveryDays);
  }
}

/** Collects field errors while reading an untrusted object. */
class Reader {
  readonly errors: FieldErrors = {};
  add(field: string, reason: string): void {
    (this.errors[field] ??= []).push(reason);
  }

  /** A string field: absent → undefined; null allowed when `nullable` (or blank, which becomes null). */
  text(obj: Record<string, unknown>, field: string, path: string, opts: { max?: number; nullable?: boolean; multiline?: boolean; required?: boolean } = {}): string | null | undefined {
    const max = opts.max ?? MAX_SHORT;
    const v = obj[field];
    if (v === undefined) {
      if (opts.required) this.add(path, 'is missing');
      return undefined;
    }
    if (v === null) {
      if (opts.nullable) return null;
      this.add(path, "can't be blank");
      return undefined;
    }
    // YAML numbers and booleans (`resource: 2024`) read as text, as a person wrote them.
    const s = typeof v === 'number' || typeof v === 'boolean' ? String(v) : v;
    if (typeof s !== 'string') {
      this.add(path, 'must be a string');
      return undefined;
    }
    const value = opts.multiline ? s.replace(/\r\n/g, '\n') : s.trim();
    if (value.length === 0) {
      if (opts.nullable) return null;
      this.add(path, "can't be blank");
      return undefined;
    }
    if (value.length > max) this.add(path, `is too long (maximum is ${max} characters)`);
    else if (value.includes('\u0000') || hasLoneSurrogate(value)) this.add(path, 'is not valid text');
    else if (!opts.multiline && /[\u0000-\u001f\u007f]/.test(value)) this.add(path, 'cannot contain control characters');
    else return value;
    return undefined;
  }

  days(obj: Record<string, unknown>, field: string, path: string): number | undefined {
    const v = obj[field];
    if (v === undefined || v === null) {
      this.add(path, 'is missing');
      return undefined;
    }
    const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v.trim()) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_DAYS) {
      this.add(path, `must be a whole number of days from 1 to ${MAX_DAYS}`);
      return undefined;
    }
    return n;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The set fields of a renewal object: exactly one rule. */
function readRenewal(r: Reader, v: unknown, path: string): Renewal | undefined {
  if (!isObject(v)) {
    r.add(path, 'must be an object with expires_at, every_days, or event and review_every_days');
    return undefined;
  }
  const rules = ['expires_at', 'every_days', 'event'].filter((k) => v[k] !== undefined && v[k] !== null);
  const known = new Set(['expires_at', 'every_days', 'event', 'review_every_days']);
  for (const k of Object.keys(v)) if (!known.has(k)) r.add(`${path}.${k}`, 'is not a renewal field');
  if (rules.length !== 1) {
    r.add(path, rules.length === 0 ? 'must have one of expires_at, every_days, or event' : `must have only one of expires_at, every_days, or event (got ${rules.join(', ')})`);
    return undefined;
  }
  if (rules[0] !== 'event' && v.review_every_days !== undefined) r.add(`${path}.review_every_days`, 'is only allowed with event');
  if (rules[0] === 'expires_at') {
    // YAML reads an unquoted date as a Date at 00:00 UTC.
    const raw = v.expires_at instanceof Date && !Number.isNaN(v.expires_at.getTime()) ? v.expires_at.toISOString().slice(0, 10) : v.expires_at;
    const date = typeof raw === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(raw.trim()) ? parseExpiryDate(raw) : null;
    if (date === null) {
      r.add(`${path}.expires_at`, 'must be a date (YYYY-MM-DD)');
      return undefined;
    }
    return { type: 'expires_at', expiresAt: date };
  }
  if (rules[0] === 'every_days') {
    const n = r.days(v, 'every_days', `${path}.every_days`);
    return n === undefined ? undefined : { type: 'every_days', everyDays: n };
  }
  const event = r.text(v, 'event', `${path}.event`);
  const review = r.days(v, 'review_every_days', `${path}.review_every_days`);
  return typeof event === 'string' && review !== undefined ? { type: 'event', event, reviewEveryDays: review } : undefined;
}

const PLACEMENT_FIELD_NAMES = new Set<string>(['kind', ...Object.values(PLACEMENT_FIELDS).flat()]);

/** One placement object; errors under `path` (`placements[0]`). */
function readPlacement(r: Reader, v: unknown, path: string): PlacementFields | undefined {
  if (!isObject(v)) {
    r.add(path, 'must be an object');
    return undefined;
  }
  const kind = v.kind;
  if (typeof kind !== 'string' || !(PLACEMENT_KINDS as readonly string[]).includes(kind)) {
    r.add(`${path}.kind`, kind === undefined ? 'is missing' : `must be one of ${PLACEMENT_KINDS.join(', ')}`);
    return undefined;
  }
  const k = kind as PlacementKind;
  const uses = new Set<string>(PLACEMENT_FIELDS[k]);
  const before = Object.keys(r.errors).length;
  for (const f of Object.keys(v)) {
    if (f === 'kind' || uses.has(f)) continue;
    r.add(`${path}.${f}`, PLACEMENT_FIELD_NAMES.has(f) ? `is not used by a ${k} placement` : 'is not a placement field');
  }
  const out: Record<string, unknown> = { kind: k };
  for (const f of Object.keys(PLACEMENT_FIELDS).flatMap((pk) => PLACEMENT_FIELDS[pk as PlacementKind])) out[f] = null;
  for (const f of PLACEMENT_FIELDS[k]) {
    if (f === 'format') continue;
    const required = REQUIRED_FIELDS[k].includes(f);
    const value = r.text(v, f, `${path}.${f}`, { nullable: !required, required, max: f === 'where' ? 2000 : MAX_SHORT });
    out[f] = value ?? null;
  }
  if (uses.has('format')) {
    const format = v.format ?? 'raw';
    if (typeof format !== 'string' || !(VALUE_FORMATS as readonly string[]).includes(format)) r.add(`${path}.format`, `must be one of ${VALUE_FORMATS.join(', ')}`);
    else out.format = format;
  }
  if (k === 'ci_variable') {
    if (out.project !== null && out.group !== null) r.add(`${path}.group`, 'cannot be set together with project');
    if (out.format === 'docker_auth_config' && out.registry === null) r.add(`${path}.registry`, "can't be blank when format is docker_auth_config");
    if (out.format !== 'docker_auth_config' && out.registry !== null) r.add(`${path}.registry`, 'is only used with format docker_auth_config');
  }
  return Object.keys(r.errors).length === before ? (out as unknown as PlacementFields) : undefined;
}

const CREDENTIAL_FIELDS = new Set(['slug', 'name', 'kind', 'provider', 'resource', 'owner', 'scopes', 'role', 'purpose', 'renewal', 'procedure', 'value', 'placements']);

/**
 * Reads a create (`partial: false`: name, kind, owner and renewal required) or an update (every field
 * optional) from an untrusted object. Throws one `invalid` error naming every bad field.
 */
export function parseCredentialInput(body: unknown, options: { partial: boolean; extraFields?: readonly string[] }): CredentialInput {
  const r = new Reader();
  if (!isObject(body)) throw invalidCredential({ base: ['must be an object'] });
  const allowed = new Set([...CREDENTIAL_FIELDS, ...(options.extraFields ?? [])]);
  for (const f of Object.keys(body)) if (!allowed.has(f)) r.add(f, 'is not a credential field');
  const required = !options.partial;
  const slug = r.text(body, 'slug', 'slug', { max: 100 });
  if (typeof slug === 'string' && !SLUG_RE.test(slug)) r.add('slug', "can contain only lower-case letters, digits, '.', '_' and '-', and must start with a letter or digit");
  else if (typeof slug === 'string' && /^[0-9]+$/.test(slug)) r.add('slug', 'cannot be only digits (an entry is named by its id or its slug)');
  const name = r.text(body, 'name', 'name', { required });
  const kind = r.text(body, 'kind', 'kind', { required, max: 64 });
  if (typeof kind === 'string' && !KIND_RE.test(kind)) r.add('kind', "can contain only lower-case letters, digits, '.', '_' and '-' (e.g. npm_token, api_key, gitlab_group_token)");
  const owner = r.text(body, 'owner', 'owner', { required, max: 2048 });
  const provider = r.text(body, 'provider', 'provider', { nullable: true });
  const resource = r.text(body, 'resource', 'resource', { nullable: true });
  const role = r.text(body, 'role', 'role', { nullable: true, max: 100 });
  const purpose = r.text(body, 'purpose', 'purpose', { nullable: true, multiline: true, max: MAX_TEXT });
  const procedure = r.text(body, 'procedure', 'procedure', { nullable: true, multiline: true, max: MAX_TEXT });
  let scopes: string[] | undefined;
  if (body.scopes !== undefined && body.scopes !== null) {
    const list = typeof body.scopes === 'string' ? body.scopes.split(',').map((s) => s.trim()).filter(Boolean) : body.scopes;
    if (!Array.isArray(list)) r.add('scopes', 'must be a list of strings');
    else if (list.length > MAX_SCOPES) r.add('scopes', `has too many items (maximum is ${MAX_SCOPES})`);
    else {
      const read = list.map((s, i) => r.text({ s }, 's', `scopes[${i}]`, { max: 100 }));
      if (read.every((s): s is string => typeof s === 'string')) scopes = [...new Set(read)];
    }
  } else if (body.scopes === null) scopes = [];
  let renewal: Renewal | undefined;
  if (body.renewal === undefined || body.renewal === null) {
    if (required) r.add('renewal', 'is missing');
  } else renewal = readRenewal(r, body.renewal, 'renewal');
  let value: string | null | undefined;
  if (body.value === null) value = null;
  else if (body.value !== undefined) {
    if (typeof body.value !== 'string' || body.value.length === 0) r.add('value', 'must be a non-empty string');
    else if (body.value.length > 10_000) r.add('value', 'is too long (maximum is 10000 characters)');
    else value = body.value;
  }
  let placements: PlacementFields[] | undefined;
  if (body.placements === null) placements = [];
  else if (body.placements !== undefined) {
    if (!Array.isArray(body.placements)) r.add('placements', 'must be a list');
    else if (body.placements.length > MAX_PLACEMENTS) r.add('placements', `has too many items (maximum is ${MAX_PLACEMENTS})`);
    else {
      const read = body.placements.map((p, i) => readPlacement(r, p, `placements[${i}]`));
      if (read.every((p): p is PlacementFields => p !== undefined)) placements = read;
    }
  }
  if (Object.keys(r.errors).length > 0) throw invalidCredential(r.errors);
  const input: Record<string, unknown> = { slug, name, kind, provider, resource, owner, scopes, role, purpose, renewal, procedure, value, placements };
  for (const k of Object.keys(input)) if (input[k] === undefined) delete input[k];
  return input as CredentialInput;
}

/** One placement from an untrusted object (POST/PUT …/placements); throws naming the bad fields. */
export function parsePlacementInput(body: unknown): PlacementFields {
  const r = new Reader();
  const p = readPlacement(r, body, 'placement');
  if (p === undefined || Object.keys(r.errors).length > 0) throw invalidCredential(Object.keys(r.errors).length > 0 ? r.errors : { placement: ['is invalid'] });
  return p;
}

/** A placement's own fields (those its kind uses, set ones only), for answers and exports. */
export function placementFieldsOf(p: PlacementFields): Record<string, string> {
  const out: Record<string, string> = { kind: p.kind };
  for (const f of PLACEMENT_FIELDS[p.kind]) {
    const v = p[f];
    if (v !== null) out[f] = v;
  }
  return out;
}

/** One line a person reads: "CI variable DOCKER_AUTH_CONFIG of project tocco-client on gitlab.com". */
export function describePlacement(p: PlacementFields): string {
  switch (p.kind) {
    case 'ci_variable': {
      const where = p.project !== null ? `project ${p.project}` : p.group !== null ? `group ${p.group}` : 'the instance';
      return `CI variable ${p.key} of ${where} on ${p.instance}${p.format && p.format !== 'raw' ? ` (${p.format})` : ''}`;
    }
    case 'file':
      return `key ${p.key ?? '(whole file)'} in ${p.path}${p.host !== null ? ` on ${p.host}` : ''}`;
    case 'kubernetes_secret':
      return `Kubernetes secret ${p.namespace}/${p.name}, key ${p.key}${p.cluster !== null ? ` (cluster ${p.cluster})` : ''}`;
    case 'manual':
      return p.where!;
  }
}
