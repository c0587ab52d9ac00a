/**
 * `latchkey export docker-auth-config | k8s-pull-secret | netrc`: credential snippets for a deploy
 * token. Secrets are shown only once, so the credential comes in one of two ways:
 *   - an existing one: `--username` plus the token from `--token-file <path>` (`-` = stdin), or the
 *     LATCHKEY_EXPORT_TOKEN variable; `--token <value>` works but warns (shell history, `ps`);
 *   - a new deploy token: `--project <path>` or `--group <path>` (with `--scopes`, least privilege by
 *     default, and `--token-name`), created through the services as the instance admin — the output is
 *     then the only place its secret ever appears.
 */
import type { Command } from 'commander';
import type { Services } from '../services.js';
import type { Clock } from '../kernel/clock.js';
import type { Resource, User } from '../namespaces/namespace.js';
import { checkRegistry, dockerAuthConfig, k8sPullSecret, netrcLine, pullSecretYaml, type RegistryCredential } from './export-formats.js';
import { CliInputError, parseScopes } from './token-format.js';

export interface ExportCommandDeps {
  withServices<T>(fn: (built: { services: Services; clock: Clock }) => Promise<T>): Promise<T>;
  actorOf(services: Services): Promise<User>;
  readStdin(): Promise<string>;
  readFile(path: string): Promise<string>;
  env: Record<string, string | undefined>;
  print(text: string): void;
  /** Notes and warnings go to stderr, so stdout stays the snippet alone. */
  error(text: string): void;
}

interface CredentialOptions {
  username?: string;
  token?: string;
  tokenFile?: string;
  project?: string;
  group?: string;
  scopes?: string;
  tokenName?: string;
  expiresAt?: string;
}

const withCredentialOptions = (c: Command, defaultScopes: string, defaultName: string) =>
  c
    .option('--username <name>', 'user name of an existing token (a deploy token: gitlab+deploy-token-N)')
    .option('--token-file <path>', 'read the existing token from this file; "-" reads stdin (or set LATCHKEY_EXPORT_TOKEN)')
    .option('--token <value>', 'the existing token itself (discouraged: it lands in shell history and `ps`)')
    .option('--project <path>', 'instead: create a new deploy token in this project (id or full path)')
    .option('--group <path>', 'instead: create a new deploy token in this group (id or full path)')
    .option('--scopes <list>', `scopes of the new deploy token (default ${defaultScopes})`, defaultScopes)
    .option('--token-name <name>', 'name of the new deploy token', defaultName)
    .option('--expires-at <date>', 'expiry date of the new deploy token (YYYY-MM-DD); none when omitted');

export function registerExportCommands(program: Command, deps: ExportCommandDeps): void {
  async function existingToken(opts: CredentialOptions): Promise<string> {
    const sources = [opts.token !== undefined, opts.tokenFile !== undefined].filter(Boolean).length;
    if (sources > 1) throw new CliInputError('give either --token-file or --token, not both');
    if (opts.tokenFile !== undefined) {
      const text = opts.tokenFile === '-' ? await deps.readStdin() : await deps.readFile(opts.tokenFile).catch((e: Error) => {
        throw new CliInputError(`--token-file: cannot read ${opts.tokenFile}: ${e.message}`);
      });
      return text.trim();
    }
    if (opts.token !== undefined) {
      deps.error('latchkey: warning: --token puts the secret in your shell history and the process list; prefer --token-file or LATCHKEY_EXPORT_TOKEN');
      return opts.token;
    }
    const fromEnv = deps.env.LATCHKEY_EXPORT_TOKEN;
    if (fromEnv) return fromEnv.trim();
    throw new CliInputError('no token: give --username with --token-file <path|-> (or LATCHKEY_EXPORT_TOKEN), or --project/--group to create a new deploy token');
  }

  async function credentialFor(opts: CredentialOptions): Promise<RegistryCredential> {
    const creating = opts.project !== undefined || opts.group !== undefined;
    if (!creating) {
      if (opts.username === undefined) throw new CliInputError('--username is required with an existing token (or give --project/--group to create a new deploy token)');
      return { username: opts.username, token: await existingToken(opts) };
    }
    if (opts.project !== undefined && opts.group !== undefined) throw new CliInputError('give either --project or --group, not both');
    if (opts.username !== undefined || opts.token !== undefined || opts.tokenFile !== undefined) throw new CliInputError('--project/--group create a new deploy token: do not give --username, --token or --token-file with them');
    const scopes = parseScopes(opts.scopes ?? '');
    return deps.withServices(async ({ services }) => {
      const kind = opts.project !== undefined ? 'project' : 'group';
      const resource: Resource = await services.namespaces.resolveResourceAsAdmin(kind, (opts.project ?? opts.group)!);
      const { token, secret } = await services.deployTokens.create(await deps.actorOf(services), resource, { name: opts.tokenName, scopes, expiresAt: opts.expiresAt });
      const where = resource.type === 'project' ? resource.project.pathWithNamespace : resource.group.fullPath;
      deps.error(`latchkey: created deploy token ${token.id} "${token.name}" (${token.scopes.join(',')}) in ${kind} ${where}; its secret is only in this output`);
      return { username: token.username!, token: secret };
    });
  }

  const exp = program.command('export').description('Print credential snippets for a deploy token (Docker, Kubernetes, netrc)');

  withCredentialOptions(exp.command('docker-auth-config').description('DOCKER_AUTH_CONFIG JSON: {"auths": {"<registry>": {"auth": base64(user:token)}}}'), 'read_registry', 'docker-auth-config')
    .requiredOption('--registry <host:port>', 'registry host (and port) as docker names it')
    .action(async (opts: CredentialOptions & { registry: string }) => {
      checkRegistry(opts.registry);
      deps.print(JSON.stringify(dockerAuthConfig(opts.registry, await credentialFor(opts))));
    });

  withCredentialOptions(exp.command('k8s-pull-secret').description('A kubernetes.io/dockerconfigjson Secret manifest (YAML; --json for JSON)'), 'read_registry', 'k8s-pull-secret')
    .requiredOption('--name <name>', 'Secret name')
    .requiredOption('--namespace <namespace>', 'Kubernetes namespace')
    .requiredOption('--registry <host:port>', 'registry host (and port)')
    .option('--json', 'print the manifest as JSON')
    .action(async (opts: CredentialOptions & { name: string; namespace: string; registry: string; json?: boolean }) => {
      // Checked before a token is created: a typo must not leave an orphaned deploy token behind.
      k8sPullSecret(opts.name, opts.namespace, opts.registry, { username: 'check', token: 'check' });
      const secret = k8sPullSecret(opts.name, opts.namespace, opts.registry, await credentialFor(opts));
      deps.print(opts.json ? JSON.stringify(secret, null, 2) : pullSecretYaml(secret));
    });

  withCredentialOptions(exp.command('netrc').description('A .netrc line: machine <host> login <user> password <token>'), 'read_repository', 'netrc')
    .requiredOption('--machine <host>', 'host name the line is for, e.g. gitlab.example.com')
    .action(async (opts: CredentialOptions & { machine: string }) => {
      netrcLine(opts.machine, { username: 'check', token: 'check' });
      deps.print(netrcLine(opts.machine, await credentialFor(opts)));
    });
}
