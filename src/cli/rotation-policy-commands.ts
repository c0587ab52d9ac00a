/**
 * `latchkey credential policy <credential>` and `latchkey credential group-policy <group>`: show, set or
 * remove the rotation policy of an inventory entry or of a group (issue 16 item 3). The CLI acts as the
 * instance admin, as the other credential commands do.
 */
import type { Command } from 'commander';
import { presentCredentialPolicy, presentGroupPolicy } from '../rotation/rotation-policy-json.js';
import type { PolicyInput, PolicyView, RotationPolicy, ScheduledRun } from '../rotation/rotation-policies.js';
import { parsePolicyInput } from '../rotation/rotation-policies.js';
import type { CredentialCommandDeps } from './credential-commands.js';
import { emit, formatTable } from './output.js';
import { CliInputError } from './token-format.js';

interface PolicyOptions {
  days?: string;
  hour?: string;
  grace?: string;
  quiet?: string;
  notify?: boolean;
  enable?: boolean;
  disable?: boolean;
  remove?: boolean;
  json?: boolean;
}

const policyText = (p: RotationPolicy) =>
  `rotate ${p.daysBeforeExpiry} day${p.daysBeforeExpiry === 1 ? '' : 's'} before expiry at ${String(p.hour).padStart(2, '0')}:00 UTC; grace ${p.gracePeriodSeconds} s, quiet ${p.quietSeconds} s; notify ${p.notify ? 'yes' : 'no'}${p.enabled ? '' : '; DISABLED'}`;

const effectiveText = (e: PolicyView['effective']) =>
  e === null ? 'none' : `${policyText(e.policy)} (${e.source.type === 'credential' ? 'its own' : `group ${e.source.group.fullPath}`})`;

/** The options as a PUT body; null when none was given (show). */
function inputOf(opts: PolicyOptions): PolicyInput | null {
  if (opts.enable && opts.disable) throw new CliInputError('give --enable or --disable, not both');
  const body: Record<string, unknown> = {};
  if (opts.days !== undefined) body.days_before_expiry = opts.days;
  if (opts.hour !== undefined) body.hour = opts.hour;
  if (opts.grace !== undefined) body.grace_period = opts.grace;
  if (opts.quiet !== undefined) body.quiet_period = opts.quiet;
  if (opts.notify !== undefined) body.notify = opts.notify;
  if (opts.enable) body.enabled = true;
  if (opts.disable) body.enabled = false;
  if (Object.keys(body).length === 0) return null;
  if (opts.remove) throw new CliInputError('--remove takes no other option');
  try {
    return parsePolicyInput(body);
  } catch (e) {
    const fields = (e as { fields?: Record<string, string[]> }).fields ?? {};
    const flag: Record<string, string> = { days_before_expiry: '--days', hour: '--hour', grace_period: '--grace', quiet_period: '--quiet' };
    throw new CliInputError(Object.entries(fields).map(([f, reasons]) => `${flag[f] ?? f} ${reasons.join(', ')}`).join('; '));
  }
}

const withPolicyOptions = (c: Command) =>
  c
    .option('--days <n>', 'rotate this many days before expiry (1–365; required for a new policy)')
    .option('--hour <h>', 'at this hour, UTC (0–23; default 0)')
    .option('--grace <seconds>', "how long the old secret of a Latchkey token keeps working at most (default 86400, as a rotate request's)")
    .option('--quiet <seconds>', 'revoke the old secret once unused this long, within the grace (default 3600, at most the grace)')
    .option('--notify', "e-mail each scheduled outcome to the owning group's Maintainers and Owners")
    .option('--no-notify', 'no e-mail')
    .option('--enable', 'start rotations (default for a new policy)')
    .option('--disable', 'keep the policy but start nothing (an entry’s disabled policy also overrides its group’s)')
    .option('--remove', 'remove the policy')
    .option('--json', 'machine-readable output');

const runsTable = (runs: readonly ScheduledRun[]) =>
  formatTable(
    runs.map((r) => ({ due_on: r.dueOn, state: r.state, job: r.jobId ?? '-', policy: r.policySource, scheduled_at: r.scheduledAt, reason: r.reason ?? '-' })),
    ['due_on', 'state', 'job', 'policy', 'scheduled_at', 'reason'],
  );

export function registerRotationPolicyCommands(program: Command, deps: CredentialCommandDeps): void {
  const credential = program.commands.find((c) => c.name() === 'credential') ?? program.command('credential');

  withPolicyOptions(credential.command('policy <credential>').description("Show, set or remove an entry's rotation policy (id, slug or token-<id>)")).action(async (ref: string, opts: PolicyOptions) => {
    const input = inputOf(opts);
    await deps.withServices(async ({ services }) => {
      const actor = await deps.actorOf(services);
      if (opts.remove) {
        await services.rotationPolicies.removeForCredential(actor, ref);
        emit(deps.out(opts), { removed: true }, () => `Removed the rotation policy of ${ref}.`);
        return;
      }
      const view = input === null ? await services.rotationPolicies.getForCredential(actor, ref) : await services.rotationPolicies.putForCredential(actor, ref, input);
      emit(deps.out(opts), presentCredentialPolicy(view), () =>
        [
          `${view.entry.name} (${view.entry.slug}), due ${view.entry.dueOn}`,
          `  own policy: ${view.policy === null ? 'none' : policyText(view.policy)}`,
          `  applies:    ${effectiveText(view.effective)}`,
          `  rotates at: ${view.rotatesAt ?? '-'}`,
          '',
          'Last scheduled runs:',
          runsTable(view.lastRuns),
        ].join('\n'),
      );
    });
  });

  withPolicyOptions(credential.command('group-policy <group>').description("Show, set or remove a group's rotation policy (for the entries of its tree without their own)")).action(async (ref: string, opts: PolicyOptions) => {
    const input = inputOf(opts);
    await deps.withServices(async ({ services }) => {
      const actor = await deps.actorOf(services);
      if (opts.remove) {
        await services.rotationPolicies.removeForGroup(actor, ref);
        emit(deps.out(opts), { removed: true }, () => `Removed the rotation policy of group ${ref}.`);
        return;
      }
      const view = input === null ? await services.rotationPolicies.getForGroup(actor, ref) : await services.rotationPolicies.putForGroup(actor, ref, input);
      emit(deps.out(opts), presentGroupPolicy(view), () =>
        [`group ${view.group.fullPath}`, `  own policy: ${view.policy === null ? 'none' : policyText(view.policy)}`, `  applies:    ${effectiveText(view.effective)}`].join('\n'),
      );
    });
  });
}
