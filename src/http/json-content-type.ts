/**
 * JSON answers carry `Content-Type: application/json` exactly, as GitLab's do. python-gitlab compares
 * that header for equality and refuses Fastify's default `application/json; charset=utf-8` (JSON is
 * UTF-8 by definition, so the parameter says nothing).
 */
import type { FastifyInstance } from 'fastify';

/** What Fastify sets for a serialised object: most answers, compared before the pattern. */
const FASTIFY_JSON = 'application/json; charset=utf-8';
const JSON_UTF8 = /^application\/json;\s*charset=utf-8$/i;

export function registerPlainJsonContentType(app: FastifyInstance): void {
  // A callback hook: no promise per answer.
  app.addHook('onSend', (_request, reply, payload, done) => {
    const type = reply.getHeader('content-type');
    if (typeof type === 'string' && (type === FASTIFY_JSON || JSON_UTF8.test(type))) reply.header('content-type', 'application/json');
    done(null, payload);
  });
}
