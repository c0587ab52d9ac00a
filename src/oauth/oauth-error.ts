/**
 * RFC 6749's error responses (section 5.2 for the token endpoint, 4.1.2.1 for redirects), RFC 7009's
 * and RFC 8628's: a code, a description (Doorkeeper's wording, which GitLab answers with) and the status.
 * Services throw these; the OAuth routes render them in one place (oauth-routes.ts).
 */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'access_denied'
  | 'unsupported_response_type'
  | 'unsupported_token_type'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'authorization_pending'
  | 'slow_down'
  | 'expired_token'
  | 'invalid_redirect_uri';

const DESCRIPTIONS: Partial<Record<OAuthErrorCode, string>> = {
  invalid_client: 'Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.',
  invalid_grant:
    'The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.',
  unsupported_grant_type: 'The authorization grant type is not supported by the authorization server.',
  invalid_scope: 'The requested scope is invalid, unknown, or malformed.',
  access_denied: 'The resource owner or authorization server denied the request.',
  unsupported_response_type: 'The authorization server does not support this response type.',
  invalid_redirect_uri: "The requested redirect uri is malformed or doesn't match client redirect URI.",
  authorization_pending: 'The authorization request is still pending as the end user hasn\'t yet completed the user-interaction steps.',
  slow_down: 'The authorization request is still pending and polling should be slowed down.',
  expired_token: 'The device code has expired.',
};

export class OAuthError extends Error {
  readonly description: string;
  constructor(
    readonly code: OAuthErrorCode,
    description?: string,
    /** 401 for client authentication failures (RFC 6749 5.2), 400 otherwise. */
    readonly status: number = code === 'invalid_client' || code === 'invalid_token' ? 401 : 400,
  ) {
    super(code);
    this.name = 'OAuthError';
    this.description = description ?? DESCRIPTIONS[code] ?? 'The request is missing a required parameter, includes an unsupported parameter value, or is otherwise malformed.';
  }
}
