/**
 * The webhook side of the outbox relay: each token event becomes one delivery row per matching hook (an
 * instance hook, or a hook of a group along the token's group chain, subscribed to the event) with the
 * exact JSON body every attempt will send, inserted in the relay's transaction — the one that takes
 * the event out of the outbox, so an event makes its deliveries exactly once. Sending is the
 * dispatcher's job.
 */
import type { Clock } from '../kernel/clock.js';
import type { Store } from '../store/open-store.js';
import type { TokenEvent } from '../events/token-events.js';
import type { RelaySink } from '../events/event-relay.js';
import { createWebhookStore, type StoredHook, type WebhookStore } from './webhook-store.js';

export interface WebhookOutboxDeps {
  store: Store;
  hooks: WebhookStore;
  clock: Clock;
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

type Delivery = { hookId: number; tokenId: number; event: string; payload: string; at: string };

export function createWebhookOutbox({ store, hooks, clock }: WebhookOutboxDeps): RelaySink {
  /** The deliveries one event makes: one per live hook subscribed to it whose scope holds the token. */
  async function deliveriesOf(event: TokenEvent, live: readonly StoredHook[]): Promise<Delivery[]> {
    const subscribed = live.filter((h) => h.events.includes(event.name));
    if (subscribed.length === 0) return [];
    const token = await hooks.tokenForEvent(event.tokenId);
    if (!token) return [];
    const where = await locate(store, hooks, token);
    const matching = subscribed.filter((h) => h.groupId === null || where.chain.includes(h.groupId));
    if (matching.length === 0) return [];
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
    return matching.map((h) => ({ hookId: h.id, tokenId: token.id, event: event.name, payload, at }));
  }

  return {
    async prepare(events) {
      const live = await hooks.liveHooks();
      const byEvent = new Map<number, Delivery[]>();
      if (live.length > 0) {
        // A look-up that fails fails the pass (the relay reports it): the events stay for the next one.
        for (const event of events) byEvent.set(event.id, await deliveriesOf(event, live));
      }
      return async (trx, taken) => {
        const rows = taken.flatMap((e) => byEvent.get(e.id) ?? []);
        if (rows.length > 0) await createWebhookStore(trx).insertDeliveries(rows);
      };
    },
  };
}
