/**
 * Which token scopes may call which REST API request, as GitLab decides: `api` everything,
 * `read_api` only reads, `read_user` only reads of the current user, `self_rotate` only rotates the
 * token it is presented with; any scope may read or revoke the token it is presented with (GitLab's
 * PersonalAccessTokens::SelfInformation allows every scope, since 15.4). Deploy tokens never use the general API — only the generic package
 * registry routes, where `read_package_registry` (or `write_package_registry`) downloads and
 * `write_package_registry` uploads, as GitLab's generic packages API allows.
 */
import type { Token } from '../tokens/token.js';

export type ApiScopeDecision = 'allowed' | 'insufficient_scope' | 'not_for_api';

const READ_METHODS = new Set(['GET', 'HEAD']);
const USER_READ_ROUTES = new Set(['/api/v4/user', '/api/v4/users/:id']);
/** The token's own details and revocation: any scope may call them (`allow_access_with_scope(all_available_scopes)`). */
const SELF_INFORMATION_ROUTES = new Set([
  'GET /api/v4/personal_access_tokens/self',
  'DELETE /api/v4/personal_access_tokens/self',
  'GET /api/v4/projects/:id/access_tokens/self',
  'GET /api/v4/groups/:id/access_tokens/self',
]);
/** GitLab's self-rotation endpoints, which `self_rotate` (or `api`) may call. */
const SELF_ROTATE_ROUTES = new Set(['/api/v4/personal_access_tokens/self/rotate', '/api/v4/projects/:id/access_tokens/self/rotate', '/api/v4/groups/:id/access_tokens/self/rotate']);

/**
 * GitLab's token-rotation requests (`access_tokens/(\d+|self)/rotate$` in Gitlab::Auth::AuthFinders):
 * personal, project, group and service-account tokens, by id or `self`. Only there does presenting a
 * rotated-away secret revoke its family.
 */
export function isTokenRotationRoute(routeUrl: string): boolean {
  return /access_tokens\/(:[a-z_]+|self)\/rotate$/.test(routeUrl);
}

/** The generic package file route (GET downloads, PUT uploads): deploy tokens are allowed here. */
export const GENERIC_PACKAGE_FILE_ROUTE = '/api/v4/projects/:id/packages/generic/:package_name/:package_version/:file_name';

export function isPackageRegistryRoute(routeUrl: string): boolean {
  return routeUrl === GENERIC_PACKAGE_FILE_ROUTE;
}

function decidePackageRegistryScope(scopes: readonly string[], method: string): ApiScopeDecision {
  if (scopes.includes('write_package_registry')) return 'allowed';
  if (READ_METHODS.has(method) && scopes.includes('read_package_registry')) return 'allowed';
  return 'insufficient_scope';
}

export function decideApiScope(token: Token, method: string, routeUrl: string): ApiScopeDecision {
  if (token.kind === 'deploy') return isPackageRegistryRoute(routeUrl) ? decidePackageRegistryScope(token.scopes, method) : 'not_for_api';
  const scopes = token.scopes;
  if (scopes.includes('api')) return 'allowed';
  if (SELF_INFORMATION_ROUTES.has(`${method === 'HEAD' ? 'GET' : method} ${routeUrl}`)) return 'allowed';
  if (READ_METHODS.has(method) && scopes.includes('read_api')) return 'allowed';
  if (READ_METHODS.has(method) && scopes.includes('read_user') && USER_READ_ROUTES.has(routeUrl)) return 'allowed';
  if (method === 'POST' && scopes.includes('self_rotate') && SELF_ROTATE_ROUTES.has(routeUrl)) return 'allowed';
  return 'insufficient_scope';
}

/** The scope GitLab names in an insufficient_scope answer. */
export function requiredScopeFor(method: string, token?: Token): string {
  if (token?.kind === 'deploy') return READ_METHODS.has(method) ? 'read_package_registry' : 'write_package_registry';
  return READ_METHODS.has(method) ? 'read_api' : 'api';
}
