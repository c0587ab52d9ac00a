/**
 * JSON bodies: the platform's parser (linear, iterative), behind a linear pre-scan that refuses nesting
 * deeper than `maxDepth` — V8 parses a 1 MB `[[[[…` in about a second and any recursive walk over it
 * overflows the stack, while no endpoint takes more than a few levels. Prototype keys (`__proto__`,
 * `constructor`) are dropped, as Fastify's own parser does, but only walked for when the text holds one.
 */
import { BodyRefusedError } from './body-refused.js';

export const MAX_JSON_DEPTH = 32;

/** Malformed JSON; the error mapping answers it `{"error": "The request body is not valid JSON"}`. */
export class InvalidJsonError extends Error {
  readonly statusCode = 400;
  readonly code = 'LK_INVALID_JSON';
  constructor() {
    super('The request body is not valid JSON');
  }
}

const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** The deepest nesting of arrays and objects, brackets inside strings not counted; stops past `limit`. */
function nestingDepth(text: string, limit: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > deepest && (deepest = depth) > limit) return deepest;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) depth--;
  }
  return deepest;
}

const PROTOTYPE_KEYS = ['__proto__', 'constructor'];

function dropPrototypeKeys(value: unknown): void {
  if (typeof value !== 'object' || value === null) return;
  if (Array.isArray(value)) {
    for (const item of value) dropPrototypeKeys(item);
    return;
  }
  for (const key of PROTOTYPE_KEYS) if (Object.hasOwn(value, key)) delete (value as Record<string, unknown>)[key];
  for (const item of Object.values(value)) dropPrototypeKeys(item);
}

/** Parses a JSON body; an empty one is no body. Throws InvalidJsonError or BodyRefusedError (both 400). */
export function parseJsonBody(text: string, maxDepth = MAX_JSON_DEPTH): unknown {
  if (text.trim() === '') return undefined;
  if (nestingDepth(text, maxDepth) > maxDepth) throw new BodyRefusedError(`The JSON body is nested deeper than ${maxDepth} levels`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InvalidJsonError();
  }
  // The walk is bounded by maxDepth, and skipped for the bodies that hold no such key at all.
  if (text.includes('"__proto__"') || text.includes('"constructor"') || text.includes('\\u')) dropPrototypeKeys(value);
  return value;
}
