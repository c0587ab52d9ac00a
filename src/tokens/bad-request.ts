/**
 * GitLab's answer when a service or model refuses input: `render_api_error!` / `bad_request!` with the
 * model's sentence, `{"message": "400 Bad request - <reason>"}`. Shared by the token services.
 */
import { DomainError, invalidRecord } from '../kernel/errors.js';

export const badRequest = (reason: string, code = 'BAD_REQUEST') => invalidRecord(`400 Bad request - ${reason}`, code);

/** A field error (`{name: ["can't be blank"]}`) as the sentence "Name can't be blank"; a conflict as its message. */
function translate(e: unknown): unknown {
  if (!(e instanceof DomainError)) return e;
  if (e.fields) {
    const [field, reasons] = Object.entries(e.fields)[0]!;
    const attribute = field.charAt(0).toUpperCase() + field.slice(1).replace(/_/g, ' ');
    return badRequest(`${attribute} ${reasons[0]}`, e.code);
  }
  if (e.kind === 'conflict') return badRequest(e.message, e.code);
  return e;
}

/** Runs a check or a write (sync or async) and turns field errors and conflicts into GitLab's 400. */
export function asBadRequest<T>(run: () => T): T {
  try {
    const result = run();
    if (result instanceof Promise) return result.catch((e: unknown) => Promise.reject(translate(e))) as T;
    return result;
  } catch (e) {
    throw translate(e);
  }
}
