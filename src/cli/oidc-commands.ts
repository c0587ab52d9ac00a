/**
 * `latchkey oidc rotate-key`: a new OpenID Connect signing key (sealed under the server secret like the
 * first) signs ID tokens from now on — on every node within the key ring's cache time; the replaced keys
 * stay in the JWKS (/oauth/discovery/keys) for a day, far longer than an ID token lives, so relying parties
 * keep validating the tokens already issued. `latchkey oidc keys` lists the published key ids.
 */
import type { Command } from 'commander';
import type { Services } from '../services.js';
import { emit, type Output } from './output.js';

export interface OidcCommandDeps {
  withServices<T>(fn: (built: { services: Services }) => Promise<T>): Promise<T>;
  out(opts: { json?: boolean }): Output;
}

export function registerOidcCommands(program: Command, deps: OidcCommandDeps): void {
  const oidc = program.command('oidc').description('OpenID Connect provider (ID token signing keys)');
  oidc
    .command('keys')
    .description('The key ids published in the JWKS, the signing one first')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      await deps.withServices(async ({ services }) => {
        const kids = (await services.oidc.jwks()).keys.map((k) => String(k.kid));
        emit(deps.out(opts), { signing: kids[0], published: kids }, () => kids.map((kid, i) => (i === 0 ? `${kid} (signing)` : kid)).join('\n'));
      });
    });
  oidc
    .command('rotate-key')
    .description('Sign ID tokens with a new key from now on; the replaced key stays published for a day')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      await deps.withServices(async ({ services }) => {
        const kid = await services.oidc.rotateKey();
        const kids = (await services.oidc.jwks()).keys.map((k) => String(k.kid));
        emit(deps.out(opts), { signing: kid, published: kids }, () => [`New OpenID Connect signing key ${kid}.`, `Published in the JWKS: ${kids.join(', ')} (replaced keys for a day).`].join('\n'));
      });
    });
}
