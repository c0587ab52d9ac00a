/**
 * Request bodies as GitLab accepts them: JSON (an empty body is no body, since python-gitlab sends a
 * JSON content type on DELETE and GET), and form-encoded `name=x&scopes[]=a&scopes[]=b` as curl sends.
 */
import type { FastifyInstance } from 'fastify';

function parseForm(body: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [rawKey, value] of new URLSearchParams(body)) {
    const isArray = rawKey.endsWith('[]');
    const key = isArray ? rawKey.slice(0, -2) : rawKey;
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') continue;
    const existing = out[key];
    if (isArray || existing !== undefined) out[key] = [...(existing === undefined ? [] : Array.isArray(existing) ? existing : [existing]), value];
    else out[key] = value;
  }
  return out;
}

export function registerBodyParsers(app: FastifyInstance): void {
  // Fastify also parses text/plain by default; GitLab's API takes JSON or form bodies only, so any other
  // type is answered 415 instead of reaching validation as a bare string.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      // Prototype-pollution keys are dropped, as Fastify's own parser does.
      done(null, JSON.parse(text, (k, v) => (k === '__proto__' || k === 'constructor' ? undefined : v)));
    } catch {
      const err = new Error('The request body is not valid JSON') as Error & { statusCode: number; code: string };
      err.statusCode = 400;
      err.code = 'LK_INVALID_JSON';
      done(err, undefined);
    }
  });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, parseForm(String(body)));
  });
}
