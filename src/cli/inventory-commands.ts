/**
 * `latchkey inventory import <file> [--dry-run]` and `latchkey inventory export [--format yaml|csv]`:
 * the credential inventory as code. Import is idempotent (entries matched by slug), prints what it
 * creates, changes or leaves, and applies everything in one transaction or nothing. The CLI acts as
 * the instance admin.
 */
import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { describePlacement } from '../inventory/credential.js';
import { toInventoryCsv, toInventoryYaml } from '../inventory/inventory-file.js';
import type { User } from '../namespaces/namespace.js';
import type { Services } from '../services.js';
import type { Output } from './output.js';
import { CliInputError } from './token-format.js';

export interface InventoryCommandDeps {
  withServices<T>(fn: (built: { services: Services }) => Promise<T>): Promise<T>;
  actorOf(services: Services): Promise<User>;
  out(opts: { json?: boolean }): Output;
  readFile(path: string): Promise<string>;
  readStdin(): Promise<string>;
}

export function registerInventoryCommands(program: Command, deps: InventoryCommandDeps): void {
  const inventory = program.command('inventory').description('The credential inventory as code: import and export YAML (and CSV)');

  inventory
    .command('import <file>')
    .description("Create or update entries from a YAML file ('-' reads standard input); matched by slug, entries not in the file are left alone")
    .option('--dry-run', 'print what would change, change nothing')
    .option('--json', 'machine-readable output')
    .action(async (file: string, opts: { dryRun?: boolean; json?: boolean }) => {
      let text: string;
      try {
        text = file === '-' ? await deps.readStdin() : await deps.readFile(file);
      } catch (e) {
        throw new CliInputError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      await deps.withServices(async ({ services }) => {
        const result = await services.inventory.importFile(await deps.actorOf(services), text, { dryRun: opts.dryRun === true });
        const out = deps.out(opts);
        if (out.json) {
          out.print(JSON.stringify({ dry_run: result.dryRun, created: result.created, changed: result.changed.map((c) => ({ slug: c.slug, fields: c.fields })), left: result.left }, null, 2));
          return;
        }
        const verb = result.dryRun ? { create: 'would create', change: 'would change', leave: 'would leave' } : { create: 'create', change: 'change', leave: 'leave' };
        for (const slug of result.created) out.print(`${verb.create} ${slug}`);
        for (const c of result.changed) out.print(`${verb.change} ${c.slug}: ${c.fields.join(', ')}`);
        for (const slug of result.left) out.print(`${verb.leave} ${slug}`);
        const counts = `${result.created.length} ${result.dryRun ? 'to create' : 'created'}, ${result.changed.length} ${result.dryRun ? 'to change' : 'changed'}, ${result.left.length} unchanged`;
        out.print(result.dryRun ? `Dry run, nothing changed: ${counts}.` : `Imported: ${counts}.`);
      });
    });

  inventory
    .command('export')
    .description('Write every entry as YAML (the import format) or CSV (for spreadsheets)')
    .option('--format <format>', 'yaml or csv', 'yaml')
    .option('--output <file>', 'write to this file instead of standard output')
    .action(async (opts: { format: string; output?: string }) => {
      if (opts.format !== 'yaml' && opts.format !== 'csv') throw new CliInputError('--format must be yaml or csv');
      await deps.withServices(async ({ services }) => {
        const actor = await deps.actorOf(services);
        const all = await services.inventory.exportable(actor);
        const text = opts.format === 'yaml' ? toInventoryYaml(all) : toInventoryCsv(all, describePlacement);
        if (opts.output !== undefined) await writeFile(opts.output, text, 'utf8');
        else deps.out({}).print(text.replace(/\r?\n$/, ''));
      });
    });
}
