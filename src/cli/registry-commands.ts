/**
 * `latchkey registry cert`: prints the PEM certificate of the registry token signing key (generating
 * the key on first use), for the registry's `auth.token.rootcertbundle`. `--json` adds kid and issuer.
 */
import type { Command } from 'commander';
import type { Services } from '../services.js';
import type { Config } from '../config.js';
import { emit, type Output } from './output.js';

export interface RegistryCommandDeps {
  withServices<T>(fn: (built: { services: Services }) => Promise<T>): Promise<T>;
  config(): Config;
  out(opts: { json?: boolean }): Output;
}

export function registerRegistryCommands(program: Command, deps: RegistryCommandDeps): void {
  const registry = program.command('registry').description('Docker registry token service (/jwt/auth)');
  registry
    .command('cert')
    .description("Print the signing certificate (PEM) for the registry's auth.token.rootcertbundle")
    .option('--json', 'machine-readable output (certificate, kid, service, issuer)')
    .action(async (opts: { json?: boolean }) => {
      const { service, issuer } = deps.config().registry;
      await deps.withServices(async ({ services }) => {
        const key = await services.registry.keys.current();
        emit(deps.out(opts), { certificate: key.certificatePem, kid: key.kid, algorithm: key.algorithm, service, issuer }, () => key.certificatePem.trimEnd());
      });
    });
}
