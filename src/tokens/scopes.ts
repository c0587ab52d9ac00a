/** Scope names per token kind, as GitLab defines them. Minimum privilege is the caller's choice. */
// In GitLab's DeployToken::AVAILABLE_SCOPES order, which is the order its API presents them in.
export const DEPLOY_TOKEN_SCOPES = [
  'read_repository',
  'read_registry',
  'write_registry',
  'read_package_registry',
  'write_package_registry',
  'read_virtual_registry',
  'write_virtual_registry',
] as const;

export const PERSONAL_TOKEN_SCOPES = [
  'api',
  'read_api',
  'read_user',
  'read_repository',
  'write_repository',
  'read_registry',
  'write_registry',
  'read_virtual_registry',
  'write_virtual_registry',
  'self_rotate',
] as const;

export type DeployTokenScope = (typeof DEPLOY_TOKEN_SCOPES)[number];
export type PersonalTokenScope = (typeof PERSONAL_TOKEN_SCOPES)[number];
