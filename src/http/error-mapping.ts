/**
 * The one place errors become HTTP. Services throw DomainErrors; schema validation, body parsing and
 * body-size failures come from Fastify. Each becomes GitLab's status and body; nothing else builds
 * error JSON. A 5xx never echoes an internal message.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, type ErrorKind } from '../kernel/errors.js';

const STATUS: Record<ErrorKind, number> = {
  invalid: 400,
  invalid_record: 400,
  unprocessable: 422,
  unprocessable_record: 422,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  not_allowed: 405,
  conflict: 409,
  unavailable: 503,
};

interface AjvErrorLike {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
}

/** Grape-style message for the first schema violation: "name is missing", "scopes is invalid". */
export function describeValidationError(errors: readonly AjvErrorLike[], context: string | undefined): string {
  const e = errors[0];
  if (!e) return 'request is invalid';
  const path = e.instancePath.split('/').filter(Boolean);
  // Array items ('/scopes/0') are reported against the array, as Grape does.
  const field = path.find((p) => !/^\d+$/.test(p)) ?? (context === 'params' ? 'id' : context ?? 'body');
  if (e.keyword === 'required') return `${String(e.params.missingProperty)} is missing`;
  // Out-of-range numbers (`page=0`) get Grape's `values` message, as GitLab's pagination check does.
  if (e.keyword === 'enum' || e.keyword === 'minimum' || e.keyword === 'maximum') return `${field} does not have a valid value`;
  if (e.keyword === 'maxLength') return `${field} is too long`;
  return `${field} is invalid`;
}

export function sendError(error: FastifyError | DomainError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error instanceof DomainError) {
    const status = STATUS[error.kind];
    if (error.kind === 'unprocessable') return reply.status(status).send({ error: error.message });
    if (error.kind === 'invalid') {
      return reply.status(status).send(error.fields ? { message: error.fields } : { error: error.message });
    }
    if (error.kind === 'conflict') return reply.status(status).send({ message: error.message });
    if (error.kind === 'unavailable') {
      // One line, no stack: during an outage every request lands here. The cause is the driver's message.
      request.log.warn({ err: { message: (error.cause as Error | undefined)?.message, code: (error.cause as { code?: string } | undefined)?.code } }, 'database unavailable');
    }
    return reply.status(status).send({ message: error.message });
  }
  const fe = error as FastifyError & { validation?: AjvErrorLike[]; validationContext?: string };
  if (fe.validation) {
    return reply.status(400).send({ error: describeValidationError(fe.validation, fe.validationContext) });
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return reply.status(413).send({ message: '413 Request Entity Too Large' });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return reply.status(415).send({ message: '415 Unsupported Media Type' });
    // Router-level failures (Fastify's frameworkErrors): a broken percent-encoding, and an `:id` longer
    // than any id or path can be, which names nothing.
    case 'FST_ERR_BAD_URL':
      return reply.status(400).send({ error: 'The request URL is not valid' });
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return reply.status(404).send({ error: '404 Not Found' });
    // A body over the parsers' limits (http/form-body.ts, http/json-body.ts): GitLab's bad_request! shape.
    case 'LK_BODY_REFUSED':
      return reply.status(400).send({ message: `400 Bad request - ${fe.message}` });
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return reply.status(400).send({ error: 'The request body is invalid' });
  }
  if (fe.statusCode === 400 && (fe.message?.includes('JSON') || fe.name === 'SyntaxError')) {
    return reply.status(400).send({ error: 'The request body is not valid JSON' });
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return reply.status(fe.statusCode).send({ message: `${fe.statusCode} ${fe.message ?? 'Bad Request'}` });
  }
  request.log.error({ err: { message: error.message, stack: error.stack, code: fe.code } }, 'unhandled error');
  return reply.status(500).send({ message: '500 Internal Server Error' });
}
