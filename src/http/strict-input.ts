/**
 * The one guard on what a request names in its path and query string, for every route (a root
 * preValidation hook, so routes added later are covered): an integer field takes decimal digits only,
 * and no string carries a NUL or a lone surrogate. Without it Ajv's coercion lets `Infinity`, `1e400`,
 * `0x10` or `1e3` through as ids, and PostgreSQL refuses them (and a NUL in `search`) with a 500.
 * A body's integer fields are read the same way; its text keeps its own validation (a CI variable's value
 * may hold any character: it is sealed). A malformed Host header is refused before anything builds a
 * link from it. Boolean fields take Grape's spellings (`True`, `1`, `yes`, `off`, …).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalidParam } from '../kernel/errors.js';
import { hasLoneSurrogate } from '../namespaces/validation.js';

/** The largest id a PostgreSQL `integer` column holds, and the bound every `:id` schema uses. */
export const MAX_ID = 2_147_483_647;

/** Decimal digits, an optional minus, no leading zeros, no exponent, no spaces. */
const DECIMAL = /^(0|-?[1-9][0-9]*)$/;

interface SchemaLike {
  type?: string | string[];
  anyOf?: SchemaLike[];
  oneOf?: SchemaLike[];
  properties?: Record<string, SchemaLike>;
  maximum?: number;
  minimum?: number;
  items?: SchemaLike;
}

/**
 * What a field's schema takes, worked out once per schema object (route schemas do not change after
 * they are registered): every request of a route asks it again for each of its fields.
 */
const integerOnlyOf = new WeakMap<SchemaLike, boolean>();
function isIntegerOnly(schema: SchemaLike): boolean {
  let known = integerOnlyOf.get(schema);
  if (known === undefined) integerOnlyOf.set(schema, (known = integerOnly(schema)));
  return known;
}
const booleanOnlyOf = new WeakMap<SchemaLike, boolean>();
function isBooleanOnly(schema: SchemaLike): boolean {
  let known = booleanOnlyOf.get(schema);
  if (known === undefined) booleanOnlyOf.set(schema, (known = typesOf(schema).join() === 'boolean'));
  return known;
}

/** Whether a schema takes an integer and no string (a union with a string, like grace_period, takes any text). */
function integerOnly(schema: SchemaLike): boolean {
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) return alternatives.some(integerOnly) && !alternatives.some((s) => typesOf(s).includes('string'));
  return typesOf(schema).includes('integer') && !typesOf(schema).includes('string');
}

function typesOf(schema: SchemaLike): string[] {
  return schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
}

/** A string that names nothing any store can hold: a NUL (PostgreSQL refuses it) or broken UTF-16. */
export function unstorableText(value: string): boolean {
  return value.includes('\u0000') || hasLoneSurrogate(value);
}

/** Refuses, as Grape does (`{"error": "<field> is invalid"}`), the first value its schema cannot mean. */
function checkPart(values: unknown, schema: SchemaLike | undefined, text: boolean): void {
  if (values === null || typeof values !== 'object' || Array.isArray(values)) return;
  const part = values as Record<string, unknown>;
  for (const field of Object.keys(part)) {
    const raw = part[field];
    if (Array.isArray(raw)) for (const value of raw) checkValue(field, value, schema, text);
    else checkValue(field, raw, schema, text);
  }
}

function checkValue(field: string, value: unknown, schema: SchemaLike | undefined, text: boolean): void {
  if (typeof value !== 'string') return;
  if (text && unstorableText(value)) throw invalidParam(`${field} is invalid`);
  const property = schema?.properties?.[field];
  if (property && isIntegerOnly(property) && value !== '') {
    if (!DECIMAL.test(value)) throw invalidParam(`${field} is invalid`);
    // Digits past what a double holds exactly would be rounded into some other id.
    if (!Number.isSafeInteger(Number(value)) && property.maximum === undefined) throw invalidParam(`${field} is invalid`);
  }
}

/**
 * A Host header is a name or an address and a port (RFC 9110 §7.2; RFC 9112 §3.2 wants a 400 for a bad
 * one). Links (pagination, web_url) are built from it when LATCHKEY_PUBLIC_URL is unset, and `new URL()`
 * throws on anything else.
 */
const HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(:[0-9]{1,5})?$/;
export function validHost(host: string): boolean {
  const m = HOST.exec(host);
  if (!m || (m[2] !== undefined && Number(m[2].slice(1)) > 65_535)) return false;
  return URL.canParse(`http://${host}/`);
}

/** Grape's Boolean params (dry-types' `Params::Bool`): python-gitlab sends `active=True`, curl users `active=1` or `yes`. */
const GRAPE_BOOLEANS: ReadonlyMap<string, boolean> = new Map([
  ...['1', 'on', 'On', 'ON', 't', 'true', 'True', 'TRUE', 'T', 'y', 'yes', 'Yes', 'YES', 'Y'].map((v) => [v, true] as const),
  ...['0', 'off', 'Off', 'OFF', 'f', 'false', 'False', 'FALSE', 'F', 'n', 'no', 'No', 'NO', 'N'].map((v) => [v, false] as const),
]);

/** Reads the text of each boolean-only field as Grape does, before Ajv (which knows only `true`/`false`) sees it. */
function readBooleans(values: unknown, schema: SchemaLike | undefined): void {
  if (values === null || typeof values !== 'object' || Array.isArray(values) || !schema?.properties) return;
  const part = values as Record<string, unknown>;
  for (const [field, raw] of Object.entries(part)) {
    const property = schema.properties[field];
    if (typeof raw !== 'string' || !property || !isBooleanOnly(property)) continue;
    // Grape reads an empty non-String param as nil: `active=` is no filter at all.
    if (raw === '') {
      delete part[field];
      continue;
    }
    const value = GRAPE_BOOLEANS.get(raw);
    if (value !== undefined) part[field] = value;
  }
}

/** Host headers already found valid: a server answers under a handful of names, checked once each. */
const KNOWN_HOSTS_MAX = 64;

export function registerStrictInput(app: FastifyInstance): void {
  const knownHosts = new Set<string>();
  // Callback hooks (no promise per request): they never wait, and an error goes to `done` as a throw would.
  app.addHook('onRequest', (request, _reply, done) => {
    const host = request.headers.host;
    if (host === undefined || knownHosts.has(host)) return done();
    if (!validHost(host)) return done(invalidParam('Host header is invalid'));
    if (knownHosts.size >= KNOWN_HOSTS_MAX) knownHosts.clear();
    knownHosts.add(host);
    done();
  });
  app.addHook('preValidation', (request: FastifyRequest, _reply, done) => {
    const schema = request.routeOptions.schema as { params?: SchemaLike; querystring?: SchemaLike; body?: SchemaLike } | undefined;
    try {
      checkPart(request.params, schema?.params, true);
      checkPart(request.query, schema?.querystring, true);
      // A body's integers too (a form body's are strings, and Ajv coerces them the same way).
      checkPart(request.body, schema?.body, false);
      readBooleans(request.query, schema?.querystring);
      readBooleans(request.body, schema?.body);
    } catch (e) {
      return done(e as Error);
    }
    done();
  });
}
