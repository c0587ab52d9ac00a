/**
 * GitLab's answer when a service or model refuses input: `render_api_error!` / `bad_request!` with the
 * model's sentence, `{"message": "400 Bad request - <reason>"}`. Shared by the token services.
 */
import { DomainError, invalidRecord, unprocessableRecord } from '../kernel/errors.js';

export const badRequest = (reason: string, code = 'BAD_REQUEST') => invalidRecord(`400 Bad request - ${reason}`, code);

type Sentence = (reason: string, code: string) => Error;

/** A field error (`{name: ["can't be blank"]}`) as the sentence "Name can't be blank"; a conflict as its message. */
function translate(e: unknown, as: Sentence): unknown {
  if (!(e instanceof DomainError)) return e;
  if (e.fields) {
    const [field, reasons] = Object.entries(e.fields)[0]!;
    const attribute = field.charAt(0).toUpperCase() + field.slice(1).replace(/_/g, ' ');
    return as(`${attribute} ${reasons[0]}`, e.code);
  }
  if (e.kind === 'conflict') return as(e.message, e.code);
  return e;
}

function translating<T>(run: () => T, as: Sentence): T {
  try {
    const result = run();
    if (result instanceof Promise) return result.catch((e: unknown) => Promise.reject(translate(e, as))) as T;
    return result;
  } catch (e) {
    throw translate(e, as);
  }
}

/** Runs a check or a write (sync or async) and turns field errors and conflicts into GitLab's 400. */
export const asBadRequest = <T>(run: () => T): T => translating(run, badRequest);

/**
 * A personal access token create endpoint's answer to a refused record: GitLab's
 * `render_api_error!(response.message, response.http_status || :unprocessable_entity)`, the bare
 * sentence with 422 (`{"message": "Scopes can't be blank"}`). Parameter errors (`{"error": …}`) stay 400.
 */
export async function asUnprocessable<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof DomainError && e.kind === 'invalid_record') throw unprocessableRecord(e.message.replace(/^400 Bad request - /, ''), e.code);
    throw e;
  }
}

/** The same as the bare model sentence, `{"message": "Name can't be blank"}` (the personal token API). */
export const asModelSentence = <T>(run: () => T): T => translating(run, (reason, code) => invalidRecord(reason, code));
