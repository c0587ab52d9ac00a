/**
 * `latchkey webhook add|list|remove|deliveries`: instance webhooks, or a group's with `--group`, acting
 * as the instance admin through the webhook service. `add` prints the signing secret once;
 * `deliveries` prints one row per attempt (status code, latency, error, next retry).
 */
import type { Command } from 'commander';
import type { Services } from '../services.js';
import type { Clock } from '../kernel/clock.js';
import type { User } from '../namespaces/namespace.js';
import type { DeliveryHistory, Webhook } from '../webhooks/webhook.js';
import type { HookScope } from '../webhooks/webhook-service.js';
import { presentDelivery } from '../webhooks/webhook-json.js';
import { emit, formatTable, type Output, type Row } from './output.js';
import { CliInputError } from './token-format.js';

export interface WebhookCommandDeps {
  withServices<T>(fn: (built: { services: Services; clock: Clock }) => Promise<T>): Promise<T>;
  actorOf(services: Services): Promise<User>;
  out(opts: { json?: boolean }): Output;
}

const hookRow = (h: Webhook, groupPath: string | null) => ({ id: h.id, url: h.url, events: [...h.events], group: groupPath, created_at: h.createdAt });

/** One row per attempt; a delivery not tried yet is one row without attempt data. */
function attemptRows(d: DeliveryHistory): Row[] {
  const base = { delivery: d.id, event: d.event, token_id: d.tokenId, status: d.status };
  if (d.attemptLog.length === 0) return [{ ...base, attempt: null, started_at: null, status_code: null, latency_ms: null, error: null, next_retry_at: d.status === 'pending' ? d.nextAttemptAt : null }];
  return d.attemptLog.map((a) => ({ ...base, attempt: a.attempt, started_at: a.startedAt, status_code: a.statusCode, latency_ms: a.latencyMs, error: a.error, next_retry_at: a.nextRetryAt }));
}

const parseHookId = (value: string): number => {
  if (!/^[0-9]{1,10}$/.test(value) || Number(value) < 1 || Number(value) > 2147483647) throw new CliInputError('hook id must be a positive number');
  return Number(value);
};

export function registerWebhookCommands(program: Command, deps: WebhookCommandDeps): void {
  const webhook = program.command('webhook').description('Webhooks for token events (instance, or a group with --group)');

  async function scopeFor(services: Services, group: string | undefined): Promise<HookScope> {
    if (group === undefined) return { type: 'instance' };
    const resource = await services.namespaces.resolveResourceAsAdmin('group', group);
    if (resource.type !== 'group') throw new CliInputError('--group must name a group');
    return { type: 'group', group: resource.group };
  }

  webhook
    .command('add')
    .description('Register a webhook; its signing secret is printed once')
    .requiredOption('--url <url>', 'http:// or https:// URL that receives the events')
    .requiredOption('--events <list>', 'comma-separated: token.created,token.rotated,token.revoked,token.expiring,token.expired')
    .option('--group <path>', "a group's webhook (events of its tree's tokens) instead of an instance webhook")
    .option('--json', 'machine-readable output')
    .action(async (opts: { url: string; events: string; group?: string; json?: boolean }) => {
      await deps.withServices(async ({ services }) => {
        const scope = await scopeFor(services, opts.group);
        const events = opts.events.split(',').map((e) => e.trim()).filter(Boolean);
        const { hook, secret } = await services.webhooks.create(await deps.actorOf(services), scope, { url: opts.url, events });
        const row = hookRow(hook, scope.type === 'group' ? scope.group.fullPath : null);
        emit(deps.out(opts), { ...row, secret }, () => `${formatTable([row])}\n\nSigning secret (shown only now): ${secret}`);
      });
    });

  webhook
    .command('list')
    .description('List webhooks (all pages)')
    .option('--group <path>', "a group's webhooks instead of the instance's")
    .option('--json', 'machine-readable output')
    .action(async (opts: { group?: string; json?: boolean }) => {
      await deps.withServices(async ({ services }) => {
        const scope = await scopeFor(services, opts.group);
        const actor = await deps.actorOf(services);
        const all: Webhook[] = [];
        for (let page = 1; ; page++) {
          const result = await services.webhooks.list(actor, scope, { page, perPage: 100 });
          all.push(...result.items);
          if (all.length >= result.total || result.items.length === 0) break;
        }
        const rows = all.map((h) => hookRow(h, scope.type === 'group' ? scope.group.fullPath : null));
        emit(deps.out(opts), rows, () => formatTable(rows));
      });
    });

  webhook
    .command('remove')
    .description('Delete a webhook; what it had not sent yet is cancelled')
    .argument('<hook-id>', 'webhook id')
    .option('--json', 'machine-readable output')
    .action(async (hookId: string, opts: { json?: boolean }) => {
      const id = parseHookId(hookId);
      await deps.withServices(async ({ services }) => {
        const actor = await deps.actorOf(services);
        await services.webhooks.remove(actor, await services.webhooks.scopeOf(actor, id), id);
        emit(deps.out(opts), { id, removed: true }, () => `Removed webhook ${id}.`);
      });
    });

  webhook
    .command('deliveries')
    .description("A webhook's deliveries, newest first, one row per attempt")
    .argument('<hook-id>', 'webhook id')
    .option('--limit <n>', 'how many deliveries (newest first)', '50')
    .option('--json', 'machine-readable output (deliveries with their attempts)')
    .action(async (hookId: string, opts: { limit: string; json?: boolean }) => {
      const id = parseHookId(hookId);
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new CliInputError('--limit must be a whole number from 1 to 1000');
      await deps.withServices(async ({ services }) => {
        const actor = await deps.actorOf(services);
        const scope = await services.webhooks.scopeOf(actor, id);
        const deliveries: DeliveryHistory[] = [];
        for (let page = 1; deliveries.length < limit; page++) {
          const result = await services.webhooks.deliveries(actor, scope, id, { page, perPage: 100 });
          deliveries.push(...result.items);
          if (deliveries.length >= result.total || result.items.length === 0) break;
        }
        const shown = deliveries.slice(0, limit);
        const json = shown.map(presentDelivery);
        emit(deps.out(opts), json, () => formatTable(shown.flatMap(attemptRows)));
      });
    });
}
