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
  /** The user who registered it; null: a group's or the instance's application. */
  readonly ownerId: number | null;
  /** The group that owns it (registered by its Owners); null: a user's or the instance's application. */
  readonly ownerGroupId: number | null;
  readonly createdAt: string;
}

/** The redirect URI as GitLab's API shows it (`callback_url`): Doorkeeper's newline-joined list. */
export function callbackUrlOf(app: OAuthApplication): string {
  return app.redirectUris.join('\n');
}

/** Whose an application is: the instance's (the Applications API), a user's or a group's (settings pages). */
export type ApplicationOwner = { readonly kind: 'instance' } | { readonly kind: 'user' | 'group'; readonly id: number };

export function isOwnedBy(app: OAuthApplication, owner: ApplicationOwner): boolean {
  if (owner.kind === 'user') return app.ownerId === owner.id;
  if (owner.kind === 'group') return app.ownerGroupId === owner.id;
  return app.ownerId === null && app.ownerGroupId === null;
}
