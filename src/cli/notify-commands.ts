/** `latchkey notify run`: the expiry check once, now, with a summary (tables or `--json`). */
import type { Command } from 'commander';
import type { BuiltServices } from '../services.js';
import type { ExpiryRunSummary } from '../notifications/expiry-notifier.js';
import type { CredentialRunSummary } from '../notifications/credential-notifier.js';
import type { TaskReminderSummary } from '../rotation/task-reminders.js';
import { emit, type Output } from './output.js';

type Built = BuiltServices;

export interface NotifyCommandDeps {
  withServices<T>(fn: (built: Built) => Promise<T>): Promise<T>;
  out(opts: { json?: boolean }): Output;
  /** Exit status for the run (1 when an e-mail could not be sent). */
  setExitCode(code: number): void;
}

export function formatSummary(s: ExpiryRunSummary & { credentials?: CredentialRunSummary; rotationTasks?: TaskReminderSummary }): string {
  if (!s.ran) return 'Another node is running the expiry check right now (it holds the lock); nothing done here.';
  const n = s.notices;
  const lines = [
    `Expiry check at ${s.at}`,
    `notices: 60 days ${n['60']}, 30 days ${n['30']}, 7 days ${n['7']}, expired ${n.expired}`,
    `events published: ${s.eventsPublished}`,
  ];
  if (s.mail === 'disabled') lines.push('mail: disabled (LATCHKEY_SMTP_URL is not set): notices recorded, no e-mail sent');
  else lines.push(`e-mails sent: ${s.emailsSent}${s.recipients.length > 0 ? ` (${s.recipients.join(', ')})` : ''}, failed: ${s.emailsFailed}`);
  if (s.deliveriesSkipped > 0) lines.push(`deliveries skipped: ${s.deliveriesSkipped}`);
  const c = s.credentials;
  if (c?.ran) {
    lines.push(`credential reminders: 60 days ${c.notices['60']}, 30 days ${c.notices['30']}, 7 days ${c.notices['7']}; webhook deliveries ${c.webhookDeliveries}`);
    if (s.mail === 'enabled') lines.push(`credential e-mails sent: ${c.emailsSent}${c.recipients.length > 0 ? ` (${c.recipients.join(', ')})` : ''}, failed: ${c.emailsFailed}`);
  }
  const r = s.rotationTasks;
  if (r?.ran) {
    lines.push(`rotation task reminders: ${r.reminders}`);
    if (s.mail === 'enabled') lines.push(`rotation task e-mails sent: ${r.emailsSent}${r.recipients.length > 0 ? ` (${r.recipients.join(', ')})` : ''}, failed: ${r.emailsFailed}`);
  }
  return lines.join('\n');
}

export function registerNotifyCommands(program: Command, deps: NotifyCommandDeps): void {
  const notify = program.command('notify').description('Expiry notifications');
  notify
    .command('run')
    .description('Run the expiry check now: record due notices, e-mail owners and maintainers, publish events')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      await deps.withServices(async ({ services }) => {
        const summary = await services.expiryNotifier.run();
        emit(deps.out(opts), summary, () => formatSummary(summary));
        if (summary.emailsFailed > 0 || summary.credentials.emailsFailed > 0 || summary.rotationTasks.emailsFailed > 0) deps.setExitCode(1);
      });
    });
}
