/**
 * `latchkey token reused`: tokens flagged as used by several automations — seen from more distinct
 * user agents or client IPs within the window than LATCHKEY_REUSE_* allow — with what was seen when
 * they were flagged. The remedy is one token per automation: rotate the shared one, give each its own.
 */
import type { Command } from 'commander';
import type { Services } from '../services.js';
import type { User } from '../namespaces/namespace.js';
import { kindLabelOf } from '../tokens/token.js';
import { emit, formatTable, type Row } from './output.js';
import { allPages, type TokenCommandDeps } from './token-commands.js';
import { tokenView, type TokenKindLabel } from './token-format.js';

const COLUMNS = ['id', 'kind', 'name', 'owner', 'state', 'reuse_flagged_at', 'seen_user_agents', 'seen_ips', 'last_used_at'] as const;

/** Owners by id, looked up once each; null when the user is gone. */
function ownerLookup(services: Services, actor: User) {
  const known = new Map<number, User | null>();
  return async (userId: number | null): Promise<User | null> => {
    if (userId === null) return null;
    if (!known.has(userId)) known.set(userId, await services.namespaces.findUser(actor, userId).catch(() => null));
    return known.get(userId)!;
  };
}

/** Adds `latchkey token reused` to the `token` command. */
export function registerReusedCommand(program: Command, deps: Pick<TokenCommandDeps, 'withServices' | 'actorOf' | 'out'>): void {
  const token = program.commands.find((c) => c.name() === 'token');
  if (!token) throw new Error('register the token commands first');
  token
    .command('reused')
    .description('Tokens flagged as used by several automations (more distinct user agents or IPs within the window than LATCHKEY_REUSE_* allow)')
    .option('--all', 'include flagged tokens that no longer work (revoked, rotated away or expired)')
    .option('--json', 'machine-readable output')
    .action(async (opts: { all?: boolean; json?: boolean }) => {
      await deps.withServices(async ({ services, clock }) => {
        const actor = await deps.actorOf(services);
        const flagged = await allPages((p) => services.flaggedTokens.list(actor, { includeInactive: opts.all === true }, p));
        const ownerOf = ownerLookup(services, actor);
        const now = clock.now();
        const rows: Row[] = [];
        for (const { token: t, evidence } of flagged) {
          const owner = await ownerOf(t.userId);
          const kind: TokenKindLabel = kindLabelOf(t, owner?.botKind ?? null);
          rows.push({
            ...tokenView(t, kind, owner?.username ?? t.username ?? '-', now),
            project_id: t.projectId,
            group_id: t.groupId,
            reuse_flagged_at: t.reuseFlaggedAt,
            seen_user_agents: evidence?.userAgents ?? [],
            seen_ips: evidence?.ips ?? [],
          });
        }
        emit(deps.out(opts), rows, () => formatTable(rows, COLUMNS));
      });
    });
}
