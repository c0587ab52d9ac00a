/**
 * Domain errors. Services throw these with a code and a public message; they never choose an HTTP
 * status. http/error-mapping.ts turns each kind into GitLab's status and body, in one table.
 */
export type ErrorKind = 'invalid' | 'invalid_record' | 'unprocessable' | 'unprocessable_record' | 'unauthenticated' | 'forbidden' | 'not_found' | 'not_allowed' | 'conflict' | 'unavailable';

export class DomainError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly code: string,
    message: string,
    /** For `invalid`: Rails-style field errors, `{"name": ["is too long (maximum is 255 characters)"]}`. */
    readonly fields?: Record<string, string[]>,
    /** What went wrong underneath (a driver error), for the log only: never shown to the client. */
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'DomainError';
  }
}

/** A field-level validation failure, rendered as `{"message": {field: [reason]}}`. */
export function invalidField(field: string, reason: string, code = 'INVALID_FIELD'): DomainError {
  return new DomainError('invalid', code, `${field} ${reason}`, { [field]: [reason] });
}

/** A parameter-level failure, rendered as `{"error": "<message>"}` like Grape's param validation. */
export function invalidParam(message: string, code = 'INVALID_PARAM'): DomainError {
  return new DomainError('invalid', code, message);
}

/**
 * A record that fails its model validations, rendered as GitLab's `render_api_error!` does for them
 * (e.g. deploy tokens): one sentence, `{"message": "Scopes can't be blank"}`.
 */
export function invalidRecord(message: string, code = 'INVALID_RECORD'): DomainError {
  return new DomainError('invalid_record', code, message);
}

/**
 * A service's refusal through `render_api_error!(message, :unprocessable_entity)` (e.g. the personal
 * access token create endpoints): `422 {"message": "Scopes can't be blank"}`.
 */
export function unprocessableRecord(message: string, code = 'UNPROCESSABLE_RECORD'): DomainError {
  return new DomainError('unprocessable_record', code, message);
}

/** Grape's `error!(message, 422)`: `422 {"error": "<message>"}` (e.g. hooks' "Invalid url given"). */
export function unprocessable(message: string, code = 'UNPROCESSABLE'): DomainError {
  return new DomainError('unprocessable', code, message);
}

/** `{"message": "404 <What> Not Found"}`. */
export function notFound(what: string, code = 'NOT_FOUND'): DomainError {
  return new DomainError('not_found', code, `404 ${what}`);
}

export function forbidden(code = 'FORBIDDEN'): DomainError {
  return new DomainError('forbidden', code, '403 Forbidden');
}

export function unauthenticated(code = 'UNAUTHENTICATED'): DomainError {
  return new DomainError('unauthenticated', code, '401 Unauthorized');
}

/** GitLab's `error!(message, 405)`: `{"message": "<message>"}` with 405 (e.g. keyset pagination a list does not offer). */
export function notAllowed(message: string, code = 'NOT_ALLOWED'): DomainError {
  return new DomainError('not_allowed', code, message);
}

export function conflict(message: string, code = 'CONFLICT'): DomainError {
  return new DomainError('conflict', code, message);
}

/**
 * The store cannot serve right now (the database is unreachable, restarting, failing over or
 * overloaded): GitLab's `service_unavailable!`, `{"message": "503 Service Unavailable"}`. Retrying
 * later may succeed; nothing was decided.
 */
export function unavailable(cause?: unknown, code = 'STORE_UNAVAILABLE'): DomainError {
  return new DomainError('unavailable', code, '503 Service Unavailable', undefined, cause);
}
