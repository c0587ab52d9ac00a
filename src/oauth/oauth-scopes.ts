/**
 * The scopes an OAuth2 application may ask for (issue 17): GitLab's token scopes that Latchkey enforces
 * and the three OpenID Connect ones. Pure data.
 */
export const OAUTH_SCOPES = ['api', 'read_api', 'read_user', 'read_repository', 'write_repository', 'read_registry', 'openid', 'profile', 'email'] as const;
export type OAuthScope = (typeof OAUTH_SCOPES)[number];

/** What each scope grants, as the consent page shows it (GitLab's wording, shortened). */
export const OAUTH_SCOPE_DESCRIPTIONS: Record<OAuthScope, string> = {
  api: 'Complete read/write access to the API, including all groups and projects, the container registry and the package registry.',
  read_api: 'Read access to the API, including all groups and projects, the container registry and the package registry.',
  read_user: 'Read-only access to your profile through the /user API endpoint.',
  read_repository: 'Read-only access to repositories on private projects using Git-over-HTTP.',
  write_repository: 'Read-write access to repositories on private projects using Git-over-HTTP.',
  read_registry: 'Read-only access to container registry images on private projects.',
  openid: 'Authenticate using OpenID Connect: your user ID in an ID token.',
  profile: 'Read-only access to your name, username and avatar through OpenID Connect.',
  email: 'Read-only access to your primary email address through OpenID Connect.',
};

export function isOAuthScope(s: string): s is OAuthScope {
  return (OAUTH_SCOPES as readonly string[]).includes(s);
}

/** A scope parameter as clients send it: space-separated (RFC 6749 3.3); a list is accepted too. Order kept, duplicates dropped. */
export function parseScopeParam(value: unknown): string[] {
  const parts = Array.isArray(value) ? value.flatMap((v) => (typeof v === 'string' ? v.split(/[\s,]+/) : [])) : typeof value === 'string' ? value.split(/\s+/) : [];
  return [...new Set(parts.filter((p) => p.length > 0))];
}
