/**
 * `latchkey registry cert`: prints the certificate bundle of the registry token signing keys (PEM; the
 * key is generated on first use), for the registry's `auth.token.rootcertbundle`: the current key's
 * certificate, a staged next key's, and those of retired keys whose JWTs may still be valid. `--json`
 * adds kid, service, issuer and each bundled key.
 *
 * Rotation (README: Rotating the registry signing key): `registry rotate-key` stages a new key, the
 * operator deploys the new bundle and restarts the registry, `registry activate-key` switches signing.
 */
import type { Command } from 'commander';
import type { Services } from '../services.js';
import type { Config } from '../config.js';
import { emit, formatTable, type Output } from './output.js';
import type { BundledCertificate } from '../protocols/registry/signing-key.js';

export interface RegistryCommandDeps {
  withServices<T>(fn: (built: { services: Services }) => Promise<T>): Promise<T>;
  config(): Config;
  out(opts: { json?: boolean }): Output;
}

const pemBundle = (certificates: readonly BundledCertificate[]) => certificates.map((c) => c.certificatePem.trimEnd()).join('\n');
const keyRows = (certificates: readonly BundledCertificate[]) =>
  certificates.map((c) => ({ role: c.role, kid: c.kid, created_at: c.createdAt, retired_at: c.retiredAt, bundled_until: c.bundledUntil }));

export function registerRegistryCommands(program: Command, deps: RegistryCommandDeps): void {
  const registry = program.command('registry').description('Docker registry token service (/jwt/auth)');
  registry
    .command('cert')
    .description("Print the certificate bundle (PEM) for the registry's auth.token.rootcertbundle: current, staged and still-valid retired keys")
    .option('--json', 'machine-readable output (certificate, kid, service, issuer, bundle, keys)')
    .action(async (opts: { json?: boolean }) => {
      const { service, issuer } = deps.config().registry;
      await deps.withServices(async ({ services }) => {
        const key = await services.registry.keys.current();
        const bundle = await services.registry.keys.bundle();
        emit(deps.out(opts), { certificate: key.certificatePem, kid: key.kid, algorithm: key.algorithm, service, issuer, bundle: `${pemBundle(bundle)}\n`, keys: keyRows(bundle) }, () => pemBundle(bundle));
      });
    });
  registry
    .command('rotate-key')
    .description('Stage a new signing key: it joins the bundle (latchkey registry cert) but signs nothing until activate-key')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      await deps.withServices(async ({ services }) => {
        const staged = await services.registry.keys.stage();
        const bundle = await services.registry.keys.bundle();
        emit(deps.out(opts), { staged: staged.kid, keys: keyRows(bundle) }, () =>
          [`Staged registry signing key ${staged.kid}.`, 'Next: write `latchkey registry cert` to the registry\'s rootcertbundle, restart the registry, then run `latchkey registry activate-key`.', '', formatTable(keyRows(bundle))].join('\n'),
        );
      });
    });
  registry
    .command('activate-key')
    .description('Sign with the staged key from now on; the old key stays in the bundle until its JWTs have expired')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      await deps.withServices(async ({ services }) => {
        const { current, retired } = await services.registry.keys.activate();
        emit(deps.out(opts), { current: current.kid, retired: retired.kid, retired_bundled_until: retired.bundledUntil }, () =>
          `Signing with ${current.kid}. The certificate of ${retired.kid} stays in \`latchkey registry cert\` until ${retired.bundledUntil}; after that, update the registry's bundle again and restart it.`,
        );
      });
    });
}
