/**
 * `latchkey upstream add|list|check|remove|sync|tokens`: upstream GitLab instances from the command
 * line, as the instance admin. The token is read from a file or standard input (`--token-file -`),
 * never from the command line, where other users of the machine could read it.
 */
import type { Command } from 'commander';
import type { User } from '../namespaces/namespace.js';
import type { Services } from '../services.js';
import { parseUpstreamInput, type SyncedToken } from '../upstreams/upstream.js';
import type { SyncResult } from '../upstreams/upstream-service.js';
import { presentCheck, presentSyncedToken, presentSyncResult, presentUpstream } from '../upstreams/upstream-json.js';
import { emit, formatTable, type Output } from './output.js';
import { CliInputError } from './token-format.js';

export interface UpstreamCommandDeps {
  withServices<T>(fn: (built: { services: Services }) => Promise<T>): Promise<T>;
  actorOf(services: Services): Promise<User>;
  out(opts: { json?: boolean }): Output;
  readFile(path: string): Promise<string>;
  readStdin(): Promise<string>;
  setExitCode(code: number): void;
}

const syncLine = (r: SyncResult): string =>
  r.status === 'ok' && r.counts
    ? `Synced ${r.upstream}: ${r.counts.seen} tokens seen, ${r.counts.created} created, ${r.counts.updated} updated, ${r.counts.revoked} revoked, ${r.counts.disappeared} disappeared, ${r.counts.skipped} groups/projects skipped (${r.requests} requests${r.rateLimitWaits > 0 ? `, ${r.rateLimitWaits} rate-limit waits` : ''}).`
    : `Sync of ${r.upstream} ${r.status}: ${r.reason}`;

export function registerUpstreamCommands(program: Command, deps: UpstreamCommandDeps): void {
  const upstream = program.command('upstream').description('Upstream GitLab instances whose token metadata is synced into the credential inventory');

  const readToken = async (file: string): Promise<string> => {
    const text = file === '-' ? await deps.readStdin() : await deps.readFile(file).catch((e: Error) => {
      throw new CliInputError(`--token-file: cannot read ${file}: ${e.message}`);
    });
    const token = text.trim();
    if (token === '') throw new CliInputError('--token-file: the file is empty');
    return token;
  };

  upstream
    .command('add')
    .description('Register an upstream; its token is sealed under the server secret and never shown again')
    .argument('<name>', 'a short name (lower-case letters, digits, _ and -)')
    .requiredOption('--url <url>', 'base URL, e.g. https://gitlab.com or https://gitlab.example.com')
    .requiredOption('--token-file <path>', "file holding the upstream token (read_api; api to rotate and write variables), '-' for standard input")
    .requiredOption('--owner <group>', 'Latchkey group owning the synced inventory entries (id or full path)')
    .option('--json', 'machine-readable output')
    .action(async (name: string, opts: { url: string; tokenFile: string; owner: string; json?: boolean }) => {
      const token = await readToken(opts.tokenFile);
      const input = parseUpstreamInput({ name, url: opts.url, token, owner: opts.owner }, { partial: false });
      await deps.withServices(async ({ services }) => {
        const created = await services.upstreams.create(await deps.actorOf(services), input);
        emit(deps.out(opts), presentUpstream(created), () => `Registered upstream ${created.name} (${created.url}); entries owned by ${created.owner.fullPath}. Check it with: latchkey upstream check ${created.name}`);
      });
    });

  upstream
    .command('list')
    .description('List upstreams and how their last sync went')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      await deps.withServices(async ({ services }) => {
        const list = await services.upstreams.list(await deps.actorOf(services));
        emit(deps.out(opts), list.map(presentUpstream), () =>
          formatTable(list.map((u) => ({ name: u.name, url: u.url, owner: u.owner.fullPath, source: u.source, last_sync: u.sync.finishedAt, status: u.sync.status, reason: u.sync.reason }))),
        );
      });
    });

  upstream
    .command('check')
    .description("Show what the upstream token can see: its user, scopes and whether it is an admin")
    .argument('<name>', 'upstream name')
    .option('--json', 'machine-readable output')
    .action(async (name: string, opts: { json?: boolean }) => {
      await deps.withServices(async ({ services }) => {
        const result = await services.upstreams.check(await deps.actorOf(services), name);
        if (!result.ok) deps.setExitCode(1);
        emit(deps.out(opts), presentCheck(result), () => {
          if (!result.ok || !result.identity) return `Upstream ${name}: cannot check: ${result.reason}`;
          const i = result.identity;
          return [
            `Upstream ${name}: token of ${i.user.username} (id ${i.user.id})${i.isAdmin ? ', an admin' : ''}`,
            `  scopes:  ${i.scopes === null ? 'unknown (the upstream has no /personal_access_tokens/self)' : i.scopes.join(', ')}`,
            ...(i.expiresOn ? [`  expires: ${i.expiresOn}`] : []),
            ...result.warnings.map((w) => `  note:    ${w}`),
          ].join('\n');
        });
      });
    });

  upstream
    .command('remove')
    .description('Remove an upstream; the inventory entries its syncs made stay')
    .argument('<name>', 'upstream name')
    .option('--json', 'machine-readable output')
    .action(async (name: string, opts: { json?: boolean }) => {
      await deps.withServices(async ({ services }) => {
        await services.upstreams.remove(await deps.actorOf(services), name);
        emit(deps.out(opts), { name, removed: true }, () => `Removed upstream ${name}.`);
      });
    });

  upstream
    .command('sync')
    .description('Sync an upstream now (every upstream with --all); exits 1 when a sync failed')
    .argument('[name]', 'upstream name')
    .option('--all', 'every upstream')
    .option('--json', 'machine-readable output')
    .action(async (name: string | undefined, opts: { all?: boolean; json?: boolean }) => {
      if ((name === undefined) === (opts.all !== true)) throw new CliInputError('give an upstream name or --all');
      await deps.withServices(async ({ services }) => {
        const results = opts.all ? await services.upstreams.syncAll() : [await services.upstreams.sync(await deps.actorOf(services), name!)];
        if (results.some((r) => r.status === 'failed')) deps.setExitCode(1);
        const data = results.map(presentSyncResult);
        emit(deps.out(opts), opts.all ? data : data[0], () => results.map(syncLine).join('\n'));
      });
    });

  upstream
    .command('tokens')
    .description('List the tokens the syncs of an upstream found, with their inventory entries')
    .argument('<name>', 'upstream name')
    .option('--json', 'machine-readable output')
    .action(async (name: string, opts: { json?: boolean }) => {
      await deps.withServices(async ({ services }) => {
        const actor = await deps.actorOf(services);
        const all: SyncedToken[] = [];
        for (let page = 1; ; page++) {
          const result = await services.upstreams.tokens(actor, name, { page, perPage: 100 });
          all.push(...result.items);
          if (all.length >= result.total || result.items.length === 0) break;
        }
        emit(deps.out(opts), all.map(presentSyncedToken), () =>
          formatTable(all.map((t) => ({ kind: t.kind, id: t.remoteId, name: t.name, resource: t.resource, expires_at: t.expiresOn, revoked: t.revoked, state: t.state, entry: t.credentialSlug }))),
        );
      });
    });
}
