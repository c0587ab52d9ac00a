/**
 * `latchkey audit [--token <value|sha256:hash>] [--since 7d] [filters] [--json]`: the audit log, newest
 * first (the CLI acts as the instance admin, so every entry). A token's value is turned into its
 * `sha256:` hash by the server's digester and never printed. `latchkey audit verify` walks the chain
 * and exits 1 when an entry was altered or deleted.
 */
import type { Command } from 'commander';
import type { Services } from '../services.js';
import { presentAuditEvent, type AuditQuery, type AuditReport } from '../audit/audit-service.js';
import type { ChainReport } from '../audit/audit-chain.js';
import type { AuditRow } from '../audit/audit-entry.js';
import type { Clock } from '../kernel/clock.js';
import type { User } from '../namespaces/namespace.js';
import { emit, formatTable, type Output } from './output.js';
import { CliInputError, parseTokenId } from './token-format.js';

export interface AuditCommandDeps {
  withServices<T>(fn: (built: { services: Services; clock: Clock }) => Promise<T>): Promise<T>;
  actorOf(services: Services): Promise<User>;
  out(opts: { json?: boolean }): Output;
  setExitCode(code: number): void;
}

const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** `7d`, `12h`, `30m`, `2w` before now, or an ISO date / instant → ISO instant. */
export function parseSince(text: string, now: Date, flag = '--since'): string {
  const rel = /^\s*([0-9]{1,6})\s*([mhdw])\s*$/i.exec(text);
  if (rel) return new Date(now.getTime() - Number(rel[1]) * UNIT_MS[rel[2]!.toLowerCase()]!).toISOString();
  const ms = /^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text.trim()) ? Date.parse(text.trim()) : NaN;
  if (Number.isNaN(ms)) throw new CliInputError(`${flag} must be a duration (30m, 12h, 7d, 2w) or an ISO date/time, not "${text}"`);
  return new Date(ms).toISOString();
}

/** The `sha256:` prefix and the first 12 hex digits: enough to tell tokens apart in a table. */
const shortHash = (h: string | null) => (h === null ? null : `${h.slice(0, 19)}…`);

export function formatAuditTable(rows: readonly AuditRow[]): string {
  return formatTable(
    rows.map((r) => ({
      id: Number(r.id),
      time: r.created_at,
      event: r.event,
      actor: r.actor_name === null ? null : `${r.actor_name} (${r.actor_type})`,
      token: r.token_id === null ? null : `${r.token_id} ${shortHash(r.token_hash)}`,
      request: r.method === null ? null : `${r.method} ${r.path}`,
      status: r.status,
      ip: r.ip,
    })),
    ['id', 'time', 'event', 'actor', 'token', 'request', 'status', 'ip'],
  );
}

export function formatChainReport(r: ChainReport & Partial<Pick<AuditReport, 'unrecorded'>>): string {
  if (r.ok) return `Audit log intact: ${r.entries} entries, chain verified up to entry ${r.lastId}, every token change recorded.`;
  const lines = [`Audit log TAMPERED OR INCOMPLETE (${r.entries} entries read, up to entry ${r.lastId}):`];
  for (const id of r.altered) lines.push(`  altered: entry ${id} no longer matches its hash`);
  for (const m of r.missing) lines.push(`  missing: ${m.from === m.to ? `entry ${m.from}` : `entries ${m.from}-${m.to}`} deleted`);
  for (const id of r.brokenLinks) lines.push(`  broken link: entry ${id} does not follow the entry before it (that one was rewritten)`);
  for (const u of r.unrecorded ?? []) {
    const more = u.count > u.tokenIds.length ? `, … (${u.count - u.tokenIds.length} more)` : '';
    lines.push(`  gap: ${u.count} token${u.count === 1 ? '' : 's'} without a ${u.event} entry (token ids ${u.tokenIds.join(', ')}${more})`);
  }
  return lines.join('\n');
}

interface AuditOpts {
  token?: string; tokenId?: string; actor?: string; event?: string; status?: string; project?: string; group?: string;
  since?: string; until?: string; limit: string; json?: boolean;
}

export function registerAuditCommands(program: Command, deps: AuditCommandDeps): void {
  const audit = program
    .command('audit')
    .description('Show the audit log, newest first (requests and token events); `audit verify` checks its chain')
    .option('--token <value|sha256:hash>', 'entries of one token: its secret (hashed here, never shown) or its sha256: hash')
    .option('--token-id <id>', 'entries of one token id')
    .option('--actor <username>', 'entries of one user, bot or deploy token username')
    .option('--event <name>', 'http.request, token.created, token.rotated, token.revoked, token.expiring, token.expired, token.reuse_detected, token.reuse_attempt…')
    .option('--status <code>', 'HTTP status')
    .option('--project <path>', 'project full path or id')
    .option('--group <path>', 'group full path or id (subgroups and projects included)')
    .option('--since <when>', 'from: a duration before now (30m, 12h, 7d, 2w) or an ISO date/time')
    .option('--until <when>', 'up to: a duration before now or an ISO date/time')
    .option('--limit <n>', 'at most this many entries', '100')
    .option('--json', 'machine-readable output')
    .action(async (opts: AuditOpts) => {
      const limit = Number(opts.limit);
      if (!/^[0-9]{1,6}$/.test(opts.limit) || limit < 1) throw new CliInputError('--limit must be a whole number from 1 to 999999');
      if (opts.status !== undefined && !/^[1-5][0-9]{2}$/.test(opts.status)) throw new CliInputError('--status must be an HTTP status code');
      await deps.withServices(async ({ services, clock }) => {
        const now = clock.now();
        const token = opts.token?.trim();
        const query: AuditQuery = {
          tokenHash: token?.startsWith('sha256:') ? token : undefined,
          tokenSecret: token !== undefined && !token.startsWith('sha256:') ? token : undefined,
          tokenId: opts.tokenId === undefined ? undefined : parseTokenId(opts.tokenId),
          actor: opts.actor, event: opts.event, status: opts.status === undefined ? undefined : Number(opts.status),
          project: opts.project, group: opts.group,
          createdAfter: opts.since === undefined ? undefined : parseSince(opts.since, now),
          createdBefore: opts.until === undefined ? undefined : parseSince(opts.until, now, '--until'),
        };
        const actor = await deps.actorOf(services);
        const rows: AuditRow[] = [];
        let cursor: string | undefined;
        do {
          const page = await services.audit.list(actor, { ...query, cursor, perPage: Math.min(100, limit - rows.length) });
          rows.push(...page.items);
          cursor = page.nextCursor ?? undefined;
        } while (cursor && rows.length < limit);
        emit(deps.out(opts), rows.map(presentAuditEvent), () => formatAuditTable(rows));
      });
    });

  audit
    .command('verify')
    .description('Check the audit chain: report entries altered or deleted since they were written (exit 1 if any)')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      // `audit verify --json`: commander hands --json to the parent command, which declares it too.
      const json = opts.json === true || audit.opts<{ json?: boolean }>().json === true;
      await deps.withServices(async ({ services }) => {
        const report = await services.audit.verify();
        emit(deps.out({ json }), { ok: report.ok, entries: report.entries, last_id: report.lastId, altered: report.altered, missing: report.missing, broken_links: report.brokenLinks, unrecorded: report.unrecorded.map((u) => ({ event: u.event, count: u.count, token_ids: u.tokenIds })) }, () => formatChainReport(report));
        if (!report.ok) deps.setExitCode(1);
      });
    });
}
