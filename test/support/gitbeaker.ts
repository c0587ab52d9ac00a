/** Helpers for the @gitbeaker/rest suites. */
import { GitbeakerRequestError } from '@gitbeaker/rest';

/** The HTTP status and body a gitbeaker call was refused with; fails when the call succeeded. */
export async function refusal(call: Promise<unknown>): Promise<{ status: number; body: string }> {
  try {
    await call;
  } catch (e) {
    if (e instanceof GitbeakerRequestError && e.cause) return { status: e.cause.response.status, body: e.cause.description };
    throw e;
  }
  throw new Error('expected the request to be refused');
}
