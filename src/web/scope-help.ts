/** GitLab's one-line scope descriptions, as its token forms show them beside each checkbox. */
import { DEPLOY_TOKEN_SCOPES, PERSONAL_TOKEN_SCOPES } from '../tokens/scopes.js';
import { RESOURCE_TOKEN_SCOPES } from '../tokens/resource-token-service.js';

export interface ScopeOption {
  readonly name: string;
  readonly help: string;
}

// GitLab's AccessTokens| messages (app/assets/javascripts/vue_shared/access_tokens).
const ACCESS_TOKEN_HELP: Record<string, string> = {
  api: 'Grants complete read/write access to the API, including all groups and projects, the container registry, the dependency proxy, and the package registry.',
  read_api: 'Grants read access to the API, including all groups and projects, the container registry, and the package registry.',
  read_user: 'Grants read-only access to your profile through the /user API endpoint, which includes username, public email, and full name. Also grants access to read-only API endpoints under /users.',
  read_repository: 'Grants read-only access to repositories on private projects using Git-over-HTTP or the Repository Files API.',
  write_repository: 'Grants read-write access to repositories on private projects using Git-over-HTTP (not using the API).',
  read_registry: 'Grants read-only access to container registry images on private projects.',
  write_registry: 'Grants write access to container registry images on private projects. You need both read and write access to push images.',
  read_virtual_registry: 'Grants read-only access to container images through the dependency proxy in private projects.',
  write_virtual_registry: 'Grants read, write, and delete access to container images through the dependency proxy in private projects.',
  self_rotate: 'Grants permission for token to rotate itself.',
};

// GitLab's DeployTokens| messages.
const DEPLOY_TOKEN_HELP: Record<string, string> = {
  read_repository: 'Allows read-only access to the repository.',
  read_registry: 'Allows read-only access to registry images.',
  write_registry: 'Allows write access to registry images. You need both read and write access to push images.',
  read_package_registry: 'Allows read-only access to the package registry.',
  write_package_registry: 'Allows read and write access to the package registry.',
  read_virtual_registry: 'Allows read-only access to container images through the dependency proxy.',
  write_virtual_registry: 'Allows read, write, and delete access to container images through the dependency proxy.',
};

const options = (names: readonly string[], help: Record<string, string>): ScopeOption[] => names.map((name) => ({ name, help: help[name] ?? '' }));

export const PERSONAL_SCOPE_OPTIONS = options(PERSONAL_TOKEN_SCOPES, ACCESS_TOKEN_HELP);
export const RESOURCE_SCOPE_OPTIONS = options(RESOURCE_TOKEN_SCOPES, ACCESS_TOKEN_HELP);
export const DEPLOY_SCOPE_OPTIONS = options(DEPLOY_TOKEN_SCOPES, DEPLOY_TOKEN_HELP);
