/**
 * Ready-made snippets for a new secret, by what its scopes allow: `docker login`, the
 * DOCKER_AUTH_CONFIG value and a Kubernetes pull secret (registry scopes), `git clone` (repository
 * scopes), a curl call (API scopes). The formats are the CLI's (`latchkey export`), so both agree.
 */
import { dockerAuthConfig, k8sPullSecret, pullSecretYaml } from '../cli/export-formats.js';

export interface Snippet {
  readonly id: string;
  readonly title: string;
  readonly text: string;
}

export interface SnippetInput {
  readonly secret: string;
  /** The user name to present with it (deploy token username, the token's user or bot). */
  readonly username: string;
  readonly scopes: readonly string[];
  readonly deploy: boolean;
  /** `https://latchkey.example.com` */
  readonly baseUrl: string;
  /** host[:port] of the container registry. */
  readonly registryHost: string;
  /** `acme/web` for a project token; for a group token a placeholder project below the group. */
  readonly repositoryPath: string;
}

const REGISTRY = new Set(['read_registry', 'write_registry', 'api', 'read_api']);
const REPOSITORY = new Set(['read_repository', 'write_repository', 'api', 'read_api']);
const API = new Set(['api', 'read_api', 'read_user']);

export function snippetsFor(input: SnippetInput): Snippet[] {
  const has = (set: Set<string>) => input.scopes.some((s) => set.has(s) && (!input.deploy || s !== 'api'));
  const credential = { username: input.username, token: input.secret };
  const out: Snippet[] = [];
  if (has(REGISTRY)) {
    out.push({ id: 'docker-login', title: 'docker login', text: `echo '${input.secret}' | docker login ${input.registryHost} --username '${input.username}' --password-stdin` });
    // The export helpers refuse what would break their formats (a blank or ':' in a user name).
    try {
      out.push({ id: 'docker-auth-config', title: 'DOCKER_AUTH_CONFIG value', text: JSON.stringify(dockerAuthConfig(input.registryHost, credential)) });
      out.push({ id: 'k8s-pull-secret', title: 'Kubernetes pull secret', text: pullSecretYaml(k8sPullSecret('regcred', 'default', input.registryHost, credential)) });
    } catch {
      // no JSON/YAML snippets for such a user name; docker login above still shows the values
    }
  }
  if (has(REPOSITORY)) {
    const url = new URL(input.baseUrl);
    url.username = encodeURIComponent(input.username);
    url.password = encodeURIComponent(input.secret);
    url.pathname = `/${input.repositoryPath}.git`;
    out.push({ id: 'git-clone', title: 'git clone', text: `git clone ${url.toString()}` });
  }
  if (!input.deploy && has(API)) {
    out.push({ id: 'curl', title: 'API call', text: `curl --header 'PRIVATE-TOKEN: ${input.secret}' ${input.baseUrl}/api/v4/user` });
  }
  return out;
}
