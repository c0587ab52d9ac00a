/**
 * `latchkey secret reseal`: moves every sealed value in the database (webhook secrets and headers,
 * gitlab-deploy-token secrets, CI/CD variable values, registry signing keys) to the newest server
 * secret, step 3 of a re-key (README: Re-keying the server secret). Exit code 1 when a value opens
 * under no configured secret.
 */
import type { Command } from 'commander';
import type { Services } from '../services.js';
import { emit, formatTable, type Output } from './output.js';

export interface SecretCommandDeps {
  withServices<T>(fn: (built: { services: Services }) => Promise<T>): Promise<T>;
  out(opts: { json?: boolean }): Output;
  setExitCode(code: number): void;
}

export function registerSecretCommands(program: Command, deps: SecretCommandDeps): void {
  const secret = program.command('secret').description('The server secret (LATCHKEY_SECRET) and its key ring');
  secret
    .command('reseal')
    .description('Re-seal every stored sealed value under the newest LATCHKEY_SECRET (after a re-key; older ones in LATCHKEY_SECRET_PREVIOUS)')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      await deps.withServices(async ({ services }) => {
        const report = await services.secretResealer.resealAll();
        const out = deps.out(opts);
        emit(out, report, () => formatTable(Object.entries(report).map(([what, c]) => ({ what, ...c }))));
        const unreadable = Object.values(report).reduce((n, c) => n + c.unreadable, 0);
        if (unreadable > 0) {
          out.error(`${unreadable} sealed value(s) open under no configured secret: add the secret they were sealed with to LATCHKEY_SECRET_PREVIOUS`);
          deps.setExitCode(1);
        }
      });
    });
}
