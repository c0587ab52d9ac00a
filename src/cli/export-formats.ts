/**
 * The credential snippets users otherwise write by hand: Docker's DOCKER_AUTH_CONFIG JSON, a
 * Kubernetes `kubernetes.io/dockerconfigjson` Secret, and a `.netrc` line. Pure: inputs are checked
 * here (a value that would break the format is refused, never escaped into something else).
 */
import { CliInputError } from './token-format.js';

export interface RegistryCredential {
  readonly username: string;
  readonly token: string;
}

// host, host:port, or [IPv6]:port — what docker uses as the key of `auths`.
const REGISTRY_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;
// Kubernetes object names: a DNS subdomain (RFC 1123); namespaces: a DNS label.
const K8S_NAME_RE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const K8S_NAMESPACE_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
// netrc fields are separated by blanks; a value with one would be read as two.
const NETRC_VALUE_RE = /^[!-~]+$/;

export function checkRegistry(registry: string): string {
  if (!REGISTRY_RE.test(registry) || registry.length > 255) throw new CliInputError(`--registry must be host or host:port without a scheme or path, e.g. registry.example.com:5000 (got ${JSON.stringify(registry)})`);
  return registry;
}

function checkCredential(c: RegistryCredential): void {
  // A ':' in the user name would split `user:token` in the wrong place.
  if (c.username.length === 0 || c.username.includes(':') || !NETRC_VALUE_RE.test(c.username)) throw new CliInputError('--username must be non-empty, without blanks or ":"');
  if (c.token.length === 0 || !NETRC_VALUE_RE.test(c.token)) throw new CliInputError('the token must be non-empty and without blanks');
}

/** `{"auths": {"<registry>": {"auth": base64("user:token")}}}`, the value of DOCKER_AUTH_CONFIG. */
export function dockerAuthConfig(registry: string, c: RegistryCredential): { auths: Record<string, { auth: string }> } {
  checkCredential(c);
  return { auths: { [checkRegistry(registry)]: { auth: Buffer.from(`${c.username}:${c.token}`, 'utf8').toString('base64') } } };
}

export interface PullSecret {
  apiVersion: 'v1';
  kind: 'Secret';
  metadata: { name: string; namespace: string };
  type: 'kubernetes.io/dockerconfigjson';
  data: { '.dockerconfigjson': string };
}

export function k8sPullSecret(name: string, namespace: string, registry: string, c: RegistryCredential): PullSecret {
  if (name.length > 253 || !K8S_NAME_RE.test(name)) throw new CliInputError(`--name must be a Kubernetes object name (lower-case letters, digits, "-" and "."), got ${JSON.stringify(name)}`);
  if (namespace.length > 63 || !K8S_NAMESPACE_RE.test(namespace)) throw new CliInputError(`--namespace must be a Kubernetes namespace (lower-case letters, digits and "-", at most 63), got ${JSON.stringify(namespace)}`);
  const config = JSON.stringify(dockerAuthConfig(registry, c));
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': Buffer.from(config, 'utf8').toString('base64') },
  };
}

/** The manifest as YAML; every value was checked above, so none needs quoting. */
export function pullSecretYaml(s: PullSecret): string {
  return [
    'apiVersion: v1',
    'kind: Secret',
    'metadata:',
    `  name: ${s.metadata.name}`,
    `  namespace: ${s.metadata.namespace}`,
    'type: kubernetes.io/dockerconfigjson',
    'data:',
    `  .dockerconfigjson: ${s.data['.dockerconfigjson']}`,
  ].join('\n');
}

export function netrcLine(machine: string, c: RegistryCredential): string {
  if (!NETRC_VALUE_RE.test(machine) || /[/:]/.test(machine)) throw new CliInputError(`--machine must be a host name without a scheme, port or path, e.g. gitlab.example.com (got ${JSON.stringify(machine)})`);
  checkCredential(c);
  return `machine ${machine} login ${c.username} password ${c.token}`;
}
