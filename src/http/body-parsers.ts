/**
 * Request bodies as GitLab accepts them: JSON (an empty body is no body, since python-gitlab sends a
 * JSON content type on DELETE and GET), and form-encoded `name=x&scopes[]=a&scopes[]=b` as curl sends
 * (src/http/form-body.ts). Both are parsed only after authentication and the rate limit (see
 * plugins/authenticate.ts and plugins/rate-limit.ts), so an anonymous client cannot make us parse.
 */
import type { FastifyInstance } from 'fastify';
import { parseFormBody } from './form-body.js';
import { parseJsonBody } from './json-body.js';

export function registerBodyParsers(app: FastifyInstance): void {
  // Fastify also parses text/plain by default; GitLab's API takes JSON or form bodies only, so any other
  // type is answered 415 instead of reaching validation as a bare string.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  // Nesting bounded before parsing, prototype keys dropped (json-body.ts); refusals are 400s.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(String(body)));
    } catch (e) {
      done(e as Error, undefined);
    }
  });
  // Linear, with Rack's limits on pairs and nesting (form-body.ts); a refusal is a 400.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseFormBody(String(body)));
    } catch (e) {
      done(e as Error, undefined);
    }
  });
}
