/**
 * `latchkey credential list|show|renew|rotate|rotations`: the credential inventory from the command line. The CLI acts as
 * the instance admin (whoever runs it holds the database), so it sees every entry.
 */
import type { Command } from 'commander';
import { describePlacement, type InventoryEntry } from '../inventory/credential.js';
import { presentCredential, presentRenewalEntry, presentRenewalRule } from '../inventory/credential-json.js';
import { daysUntil, parseExpiryDate } from '../kernel/dates.js';
import { parseDurationSeconds } from '../kernel/duration.js';
import type { RotationJob } from '../rotation/contracts.js';
import { presentRotation } from '../rotation/rotation-json.js';
import type { TokenStateFilter } from '../inventory/token-entry.js';
import type { User } from '../namespaces/namespace.js';
import type { Services } from '../services.js';
import { emit, formatTable, type Output } from './output.js';
import { CliInputError } from './token-format.js';

export interface CredentialCommandDeps {
  withServices<T>(fn: (built: { services: Services; clock: { now(): Date } }) => Promise<T>): Promise<T>;
  actorOf(services: Services): Promise<User>;
  out(opts: { json?: boolean }): Output;
}

const ruleText = (c: InventoryEntry): string =>
  c.renewal.type === 'expires_at' ? `expires ${c.renewal.expiresAt}` : c.renewal.type === 'every_days' ? `every ${c.renewal.everyDays} days` : `${c.renewal.event} (review every ${c.renewal.reviewEveryDays} days)`;

export function formatCredential(c: InventoryEntry): string {
  const lines = [
    `${c.name} (${c.slug}${c.tokenId !== null ? `, token ${c.tokenId}` : ''}${c.id !== null ? `, id ${c.id}` : ''})`,
    `  kind:      ${c.kind}${c.provider ? ` on ${c.provider}` : ''}${c.resource ? `, ${c.resource}` : ''}`,
    `  owner:     ${c.owner?.fullPath ?? '-'}`,
    `  scopes:    ${c.scopes.length > 0 ? c.scopes.join(', ') : '-'}${c.role ? `  role: ${c.role}` : ''}`,
    `  renewal:   ${ruleText(c)}; due ${c.dueOn}${c.renewedOn ? `; last renewed ${c.renewedOn}` : ''}`,
  ];
  if (c.tokenStatus) lines.push(`  token:     ${c.tokenStatus.state}${c.tokenStatus.since ? ` since ${c.tokenStatus.since}` : ''}`);
  if (c.purpose) lines.push(`  purpose:   ${c.purpose}`);
  lines.push(`  placements:${c.placements.length === 0 ? ' none' : ''}`);
  for (const p of c.placements) lines.push(`    [${p.id}] ${describePlacement(p)}`);
  if (c.procedure) lines.push('  procedure:', ...c.procedure.split('\n').map((l) => `    ${l}`));
  return lines.join('\n');
}

/** A job and its steps with their times, as a block of text (never a secret: a job holds none). */
export function formatRotation(job: RotationJob, slug?: string): string {
  const head = `Rotation ${job.id} of ${slug ?? `entry ${job.credentialId}`}: ${job.state} (${job.trigger}, started ${job.createdAt}${job.finishedAt ? `, finished ${job.finishedAt}` : ''})`;
  const lines = [head];
  if (job.failure) lines.push(`  failure: ${job.failure}`);
  if (job.oldTokenId !== null || job.newTokenId !== null) lines.push(`  tokens:  ${job.oldTokenId ?? '-'} → ${job.newTokenId ?? '-'}; grace ${job.gracePeriodSeconds} s, quiet ${job.quietSeconds} s`);
  const steps = formatTable(
    job.steps.map((s) => ({ step: s.kind, placement: s.placementId, state: s.state, started: s.startedAt, finished: s.finishedAt, detail: s.detail })),
    ['step', 'placement', 'state', 'started', 'finished', 'detail'],
  );
  return [...lines, ...steps.split('\n').map((l) => `  ${l}`)].join('\n');
}

/** `--grace 12h` / `--quiet 600`: seconds, or a number with s, m, h or d. */
function durationOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = parseDurationSeconds(value);
  if (seconds === null) throw new CliInputError(`${name} must be a duration (seconds, or a number with s, m, h or d such as 12h)`);
  return seconds;
}

const STATE_FILTERS: readonly TokenStateFilter[] = ['active', 'expired', 'revoked', 'all'];
const DATE = /^\d{4}-\d{2}-\d{2}$/;

export function registerCredentialCommands(program: Command, deps: CredentialCommandDeps): void {
  const credential = program.command('credential').description('The credential inventory: outside credentials, where they are configured, how they are renewed');

  credential
    .command('list')
    .description('List inventory entries, soonest due first within each page order (id)')
    .option('--source <source>', "all (default): outside credentials and Latchkey's own tokens; outside; tokens", 'all')
    .option('--state <state>', "Latchkey's tokens by state: active (default), expired, revoked, all", 'active')
    .option('--owner <group>', 'only entries of this group (id or full path)')
    .option('--kind <kind>', 'only entries of this kind')
    .option('--due-before <date>', 'only entries due on or before this date (YYYY-MM-DD)')
    .option('--json', 'machine-readable output')
    .action(async (opts: { source: string; state: string; owner?: string; kind?: string; dueBefore?: string; json?: boolean }) => {
      if (opts.source !== 'all' && opts.source !== 'outside' && opts.source !== 'tokens') throw new CliInputError('--source must be all, outside or tokens');
      const source = opts.source;
      if (!(STATE_FILTERS as readonly string[]).includes(opts.state)) throw new CliInputError('--state must be active, expired, revoked or all');
      const state = opts.state as TokenStateFilter;
      if (opts.dueBefore !== undefined && !DATE.test(opts.dueBefore)) throw new CliInputError('--due-before must be a date (YYYY-MM-DD)');
      await deps.withServices(async ({ services, clock }) => {
        const actor = await deps.actorOf(services);
        const all: InventoryEntry[] = [];
        for (let page = 1; ; page++) {
          const result = await services.inventory.list(actor, { source, state, owner: opts.owner, kind: opts.kind, dueOnOrBefore: opts.dueBefore }, { page, perPage: 100 });
          all.push(...result.items);
          if (all.length >= result.total || result.items.length === 0) break;
        }
        const now = clock.now();
        emit(deps.out(opts), all.map(presentCredential), () =>
          formatTable(
            all.map((c) => ({ slug: c.slug, name: c.name, kind: c.kind, owner: c.owner?.fullPath ?? '-', renewal: ruleText(c), due_on: c.dueOn, days_left: daysUntil(c.dueOn, now), state: c.tokenStatus?.state ?? '-', placements: c.placements.length })),
            ['slug', 'name', 'kind', 'owner', 'renewal', 'due_on', 'days_left', 'state', 'placements'],
          ),
        );
      });
    });

  credential
    .command('show <credential>')
    .description('Show one entry (id or slug): fields, placements, procedure')
    .option('--json', 'machine-readable output')
    .action(async (ref: string, opts: { json?: boolean }) => {
      await deps.withServices(async ({ services }) => {
        const c = await services.inventory.get(await deps.actorOf(services), ref);
        emit(deps.out(opts), presentCredential(c), () => formatCredential(c));
      });
    });

  credential
    .command('renew <credential>')
    .description('Mark an entry renewed: records who and when, the new expiry or next due date, and the placements updated')
    .option('--expires-at <date>', 'the new expiry date (required when the rule is a fixed date)')
    .option('--on <date>', 'the day it was renewed (default today)')
    .option('--placements <ids>', "placements updated with the new value: 'all' (default), 'none', or ids (1,2)", 'all')
    .option('--note <text>', 'a note for the history')
    .option('--json', 'machine-readable output')
    .action(async (ref: string, opts: { expiresAt?: string; on?: string; placements: string; note?: string; json?: boolean }) => {
      let placementIds: number[] | 'all';
      if (opts.placements === 'all') placementIds = 'all';
      else if (opts.placements === 'none') placementIds = [];
      else if (/^\d+(,\d+)*$/.test(opts.placements)) placementIds = opts.placements.split(',').map(Number);
      else throw new CliInputError("--placements must be 'all', 'none' or placement ids separated by commas");
      await deps.withServices(async ({ services }) => {
        const { credential: c, renewal } = await services.inventory.renew(await deps.actorOf(services), ref, { renewedOn: opts.on, expiresAt: opts.expiresAt, placementIds, note: opts.note });
        emit(deps.out(opts), { ...presentRenewalEntry(renewal), credential: presentCredential(c) }, () =>
          [
            `Renewed ${c.name} (${c.slug}) on ${renewal.renewedOn}: due ${renewal.dueOn} (was ${renewal.previousDueOn}; ${JSON.stringify(presentRenewalRule(c.renewal))}).`,
            renewal.placementsUpdated.length === 0 ? 'No placements recorded as updated.' : `Placements updated:\n${renewal.placementsUpdated.map((p) => `  [${p.id}] ${p.description}`).join('\n')}`,
          ].join('\n'),
        );
      });
    });

  credential
    .command('rotate <credential>')
    .description('Rotate an entry (a Latchkey token or a synced upstream token): new secret, written and verified in every automatic placement, tasks for the manual ones, the old secret revoked once quiet. Prints the new secret once')
    .option('--grace <duration>', 'how long the old secret of a Latchkey token keeps working at most (default 1d; 0: revoked once every automatic placement holds the new one)')
    .option('--quiet <duration>', 'revoke the old secret once unused for this long (default 1h)')
    .option('--expires-at <date>', "the new token's expiry (YYYY-MM-DD; default: a week)")
    .option('--json', 'machine-readable output')
    .action(async (ref: string, opts: { grace?: string; quiet?: string; expiresAt?: string; json?: boolean }) => {
      const gracePeriodSeconds = durationOption('--grace', opts.grace);
      const quietSeconds = durationOption('--quiet', opts.quiet);
      const expiresAt = opts.expiresAt === undefined ? undefined : DATE.test(opts.expiresAt) ? parseExpiryDate(opts.expiresAt) : null;
      if (expiresAt === null) throw new CliInputError('--expires-at must be a date (YYYY-MM-DD)');
      await deps.withServices(async ({ services }) => {
        const started = await services.rotations.startByRef(await deps.actorOf(services), ref, {
          trigger: 'cli',
          ...(gracePeriodSeconds !== undefined ? { gracePeriodSeconds } : {}),
          ...(quietSeconds !== undefined ? { quietSeconds } : {}),
          ...(expiresAt !== undefined ? { expiresAt } : {}),
        });
        emit(deps.out(opts), { ...presentRotation(started.job), token: started.secret }, () =>
          [
            formatRotation(started.job, ref),
            started.created
              ? started.secret === null
                ? 'No new secret was issued (see the failure above).'
                : `New secret (shown once, not stored in the clear): ${started.secret}`
              : 'A rotation of this entry is already running: this is that job (its new secret was shown when it started).',
          ].join('\n'),
        );
      });
    });

  credential
    .command('rotations [credential]')
    .description("Rotation jobs with their steps and times, newest first: one entry's (id or slug), or every entry's")
    .option('--limit <n>', 'at most this many jobs', '20')
    .option('--json', 'machine-readable output')
    .action(async (ref: string | undefined, opts: { limit: string; json?: boolean }) => {
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new CliInputError('--limit must be a whole number from 1 to 100');
      await deps.withServices(async ({ services }) => {
        const page = await services.rotations.list(await deps.actorOf(services), ref ?? null, { page: 1, perPage: limit });
        emit(deps.out(opts), page.items.map(presentRotation), () => (page.items.length === 0 ? '(none)' : page.items.map((j) => formatRotation(j, ref)).join('\n\n')));
      });
    });
}
