/**
 * The webhook side of the token event sink: publishing an event inserts one delivery row per matching
 * hook (an instance hook, or a hook of a group along the token's group chain, subscribed to the event)
 * with the exact JSON body every attempt will send. Sending is the dispatcher's job, so publishing
 * costs the request one or two queries and never throws into it.
 */
import type { Clock } from '../kernel/clock.js';
import type { Store } from '../store/open-store.js';
import type { TokenEvent, TokenEventSink } from '../events/token-events.js';
import type { WebhookStore } from './webhook-store.js';

export interface WebhookOutboxDeps {
  store: Store;
  hooks: WebhookStore;
  clock: Clock;
  /** Where a failure to record an event goes (the log); never the request. */
  onError: (error: unknown, event: TokenEvent) => void;
}

/** Where a token lives: its kind as receivers know it, its project/group path, and the group chain hooks match on. */
async function locate(store: Store, hooks: WebhookStore, token: { kind: string; impersonation: boolean; userId: number | null; projectId: number | null; groupId: number | null }) {
  if (token.projectId !== null) {
    const project = await store.namespaces.findProjectById(token.projectId);
    return { kind: token.kind, project: project?.pathWithNamespace ?? null, group: null, chain: project ? await hooks.groupChain(project.groupId) : [] };
  }
  if (token.groupId !== null) {
    const group = await store.namespaces.findGroupById(token.groupId);
    return { kind: token.kind, project: null, group: group?.fullPath ?? null, chain: group ? [...group.ancestorIds] : [] };
  }
  if (token.impersonation) return { kind: 'impersonation', project: null, group: null, chain: [] as number[] };
  const ownerGroupId = token.userId === null ? null : await hooks.serviceAccountGroup(token.userId);
  if (ownerGroupId !== null) {
    const group = await store.namespaces.findGroupById(ownerGroupId);
    return { kind: 'service_account', project: null, group: group?.fullPath ?? null, chain: group ? [...group.ancestorIds] : [] };
  }
  return { kind: token.kind, project: null, group: null, chain: [] as number[] };
}

export function createWebhookOutbox({ store, hooks, clock, onError }: WebhookOutboxDeps): TokenEventSink {
  return {
    async publish(event) {
      try {
        const subscribed = (await hooks.liveHooks()).filter((h) => h.events.includes(event.name));
        if (subscribed.length === 0) return;
        const token = await hooks.tokenForEvent(event.tokenId);
        if (!token) return;
        const where = await locate(store, hooks, token);
        const matching = subscribed.filter((h) => h.groupId === null || where.chain.includes(h.groupId));
        if (matching.length === 0) return;
        const owner = token.userId === null ? null : await store.namespaces.findUserById(token.userId);
        // Never a secret: ids, names, paths, scopes and dates only.
        const payload = JSON.stringify({
          event: event.name,
          at: event.at,
          token: {
            id: token.id,
            kind: where.kind,
            name: token.name,
            scopes: token.scopes,
            expires_at: token.expiresAt,
            project: where.project,
            group: where.group,
            user: where.kind === 'deploy' ? null : (owner?.username ?? null),
            username: token.kind === 'deploy' ? token.username : null,
          },
          data: event.data,
        });
        const at = clock.now().toISOString();
        await hooks.insertDeliveries(matching.map((h) => ({ hookId: h.id, tokenId: token.id, event: event.name, payload, at })));
      } catch (e) {
        onError(e, event);
      }
    },
  };
}
