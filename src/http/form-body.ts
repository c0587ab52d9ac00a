/**
 * Form-encoded bodies (`name=x&scopes[]=a&scopes[]=b`, `a[b][]=c`) parsed as Rack does for GitLab, in one
 * pass: every pair is decoded once and appended in place, so the cost is linear in the body's length
 * (the previous parser copied an array per repeated key: 100 KB of `a[]=&` took 14-40 s).
 *
 * Limits, as `qs` and Rack have them, refuse what no client sends: more than `maxParameters` pairs, or
 * a key nested deeper than `maxDepth` brackets. Parsing stops at the first pair over the limit.
 * Prototype keys (`__proto__`, `constructor`, `prototype`) are dropped at every level.
 */
import { unescape } from 'node:querystring';
import { BodyRefusedError } from './body-refused.js';

export type FormValue = string | FormValue[] | { [key: string]: FormValue };

export interface FormLimits {
  /** Pairs (`k=v`) in one body; Rack's default is 4096, qs's 1000. */
  readonly maxParameters: number;
  /** Bracket groups in one key: `a[b][c]` is depth 2, `a[]` depth 1. */
  readonly maxDepth: number;
}

export const DEFAULT_FORM_LIMITS: FormLimits = Object.freeze({ maxParameters: 1000, maxDepth: 5 });


const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** `+` is a space in forms; bad percent-encoding is kept as written, as URLSearchParams does. */
function decode(text: string): string {
  const spaced = text.includes('+') ? text.replaceAll('+', ' ') : text;
  return spaced.includes('%') ? unescape(spaced) : spaced;
}

/**
 * `a[b][]` → `['a', 'b', '']`; a key without brackets is one segment. Text after an unclosed `[` stays
 * part of the name, as Rack reads it.
 */
function splitKey(key: string, maxDepth: number): string[] {
  const open = key.indexOf('[');
  if (open <= 0) return [key];
  const segments = [key.slice(0, open)];
  let at = open;
  while (at < key.length && key[at] === '[') {
    const close = key.indexOf(']', at);
    if (close < 0) break;
    segments.push(key.slice(at + 1, close));
    if (segments.length - 1 > maxDepth) throw new BodyRefusedError(`Parameter ${JSON.stringify(segments[0]!.slice(0, 40))} is nested deeper than ${maxDepth} levels`);
    at = close + 1;
  }
  // Trailing text after the brackets (`a[b]c`) is ignored, as Rack does.
  return segments;
}

function conflict(name: string): BodyRefusedError {
  return new BodyRefusedError(`Parameter ${JSON.stringify(name.slice(0, 40))} is given both as a value and as a list or hash`);
}

function isHash(v: FormValue | undefined): v is { [key: string]: FormValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Stores `value` at `segments` below `target`; each step is O(1) (push, or one property write). */
function assign(target: { [key: string]: FormValue }, segments: string[], value: string): void {
  let node = target;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    if (FORBIDDEN_KEYS.has(segment)) return;
    const last = i === segments.length - 1;
    const next = segments[i + 1];
    if (last) {
      const existing = node[segment];
      // A repeated plain key becomes a list (`scopes=a&scopes=b`), as the API always accepted.
      if (existing === undefined) node[segment] = value;
      else if (Array.isArray(existing)) existing.push(value);
      else if (typeof existing === 'string') node[segment] = [existing, value];
      else throw conflict(segments[0]!);
      return;
    }
    if (next === '') {
      // `name[]`: append. Lists of hashes (`a[][b]=`) are Rack's too, but no endpoint takes one.
      if (i + 1 !== segments.length - 1) throw new BodyRefusedError(`Parameter ${JSON.stringify(segments[0]!.slice(0, 40))} nests keys inside a list, which no endpoint takes`);
      const existing = node[segment];
      // `a=1&a[]=2` is one list, as this API always read it.
      const list = existing === undefined ? (node[segment] = []) : typeof existing === 'string' ? (node[segment] = [existing]) : existing;
      if (!Array.isArray(list)) throw conflict(segments[0]!);
      list.push(value);
      return;
    }
    const existing = node[segment];
    if (existing === undefined) node = node[segment] = {};
    else if (isHash(existing)) node = existing;
    else throw conflict(segments[0]!);
  }
}

/** Parses a form body in one linear pass; throws BodyRefusedError (a 400) past a limit or on a type clash. */
export function parseFormBody(body: string, limits: FormLimits = DEFAULT_FORM_LIMITS): { [key: string]: FormValue } {
  const out: { [key: string]: FormValue } = {};
  let count = 0;
  let start = 0;
  while (start <= body.length) {
    let end = body.indexOf('&', start);
    if (end < 0) end = body.length;
    if (end > start) {
      if (++count > limits.maxParameters) throw new BodyRefusedError(`Too many parameters (at most ${limits.maxParameters})`);
      const pair = body.slice(start, end);
      const eq = pair.indexOf('=');
      const key = decode(eq < 0 ? pair : pair.slice(0, eq));
      const value = eq < 0 ? '' : decode(pair.slice(eq + 1));
      if (key !== '') assign(out, splitKey(key, limits.maxDepth), value);
    }
    start = end + 1;
  }
  return out;
}
