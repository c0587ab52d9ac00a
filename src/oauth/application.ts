/** An OAuth2 application as the domain sees it. Its client secret is never here: only the digest is stored. */
export interface OAuthApplication {
  readonly id: number;
  /** The public client id (GitLab's `application_id`, Doorkeeper's `uid`). */
  readonly uid: string;
  readonly name: string;
  /** Registered redirect URIs; a request's `redirect_uri` must equal one of them exactly. */
  readonly redirectUris: readonly string[];
  readonly scopes: readonly string[];
  /** A confidential client authenticates with its secret; a public one (SPA, CLI) must use PKCE. */
  readonly confidential: boolean;
  /** null: an instance application (Applications API). */
  readonly ownerId: number | null;
  readonly createdAt: string;
}

/** The redirect URI as GitLab's API shows it (`callback_url`): Doorkeeper's newline-joined list. */
export function callbackUrlOf(app: OAuthApplication): string {
  return app.redirectUris.join('\n');
}
