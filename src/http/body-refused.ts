/**
 * A request body the parsers refuse to take on (over a pair count or a nesting depth, or shaped so no
 * endpoint could use it). The HTTP layer answers it 400 with GitLab's `bad_request!` body.
 */
export class BodyRefusedError extends Error {
  readonly statusCode = 400;
  readonly code = 'LK_BODY_REFUSED';
}
