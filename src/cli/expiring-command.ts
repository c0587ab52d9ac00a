/**
 * `latchkey expiring [--within 30d] [--json]`: what expires when, one table per project, group or user,
 * soonest first. The CLI acts as the instance admin, so it lists every active token in the window.
 */
import type { Command } from 'commander';
import type { Services } from '../services.js';
import type { User } from '../namespaces/namespace.js';
import { DEFAULT_WITHIN_DAYS, MAX_WITHIN_DAYS, parseWithin, presentExpiringReport, type ExpiringReport } from '../reports/expiring-report.js';
import { formatTable, type Output } from './output.js';
import { CliInputError } from './token-format.js';

export interface ExpiringCommandDeps {
  withServices<T>(fn: (built: { services: Services }) => Promise<T>): Promise<T>;
  actorOf(services: Services): Promise<User>;
  out(opts: { json?: boolean }): Output;
}

const COLUMNS = ['id', 'kind', 'name', 'scopes', 'expires_at', 'days_left'];

const CREDENTIAL_COLUMNS = ['id', 'kind', 'credential_kind', 'slug', 'owner', 'due_on', 'days_left'];

export function formatExpiringReport(report: ExpiringReport): string {
  const window = `${report.withinDays} day${report.withinDays === 1 ? '' : 's'} (on or before ${report.until})`;
  const heading = `Active tokens expiring within ${window}:`;
  const sections = report.sections.map((s) => {
    const rows = s.tokens.map((t) => ({ id: t.id, kind: t.kind, name: t.name, scopes: t.scopes, expires_at: t.expiresAt, days_left: t.daysLeft }));
    return `${s.namespace.fullPath} (${s.namespace.type})\n${formatTable(rows, COLUMNS)}`;
  });
  const tokens = report.sections.length === 0 ? [`${heading} none.`] : [heading, ...sections];
  const credentialHeading = `Outside credentials due within ${window}:`;
  const rows = report.credentials.map((c) => ({ id: c.id, kind: 'credential', credential_kind: c.kind, slug: c.slug, owner: c.owner.fullPath, due_on: c.dueOn, days_left: c.daysLeft, upstream_token: c.upstreamToken ?? '' }));
  // The upstream_token column (revoked, disappeared: no reminders) only when a synced token ended.
  const columns = rows.some((r) => r.upstream_token !== '') ? [...CREDENTIAL_COLUMNS, 'upstream_token'] : CREDENTIAL_COLUMNS;
  const credentials = rows.length === 0 ? [] : [`${credentialHeading}\n${formatTable(rows, columns)}`];
  const grantRows = report.oauthGrants.map((g) => ({ id: g.id, kind: 'oauth_grant', application: g.applicationName, user: g.username, scopes: g.scopes, expires_on: g.expiresOn, days_left: g.daysLeft }));
  const grants = grantRows.length === 0 ? [] : [`OAuth grants expiring within ${window}:\n${formatTable(grantRows, ['id', 'kind', 'application', 'user', 'scopes', 'expires_on', 'days_left'])}`];
  return [...tokens, ...credentials, ...grants].join('\n\n');
}

export function registerExpiringCommand(program: Command, deps: ExpiringCommandDeps): void {
  program
    .command('expiring')
    .description('List active tokens of every kind that expire within a window, grouped by project/group/user')
    .option('--within <window>', `window: Nd, Nw or a number of days (1 to ${MAX_WITHIN_DAYS})`, `${DEFAULT_WITHIN_DAYS}d`)
    .option('--json', 'machine-readable output')
    .action(async (opts: { within: string; json?: boolean }) => {
      const days = parseWithin(opts.within);
      if (days === null) throw new CliInputError(`--within is invalid: ${JSON.stringify(opts.within)} (use Nd, Nw or a number of days, 1 to ${MAX_WITHIN_DAYS})`);
      await deps.withServices(async ({ services }) => {
        const report = await services.expiringReport.build(await deps.actorOf(services), days);
        const out = deps.out(opts);
        out.print(out.json ? JSON.stringify(presentExpiringReport(report), null, 2) : formatExpiringReport(report));
      });
    });
}
