/**
 * The transactional outbox of token events. A change publishes its event through the port bound to
 * the change's own transaction (`ports.events` in `store.transaction`), so both commit together or
 * neither does: a crash after the commit leaves the event here, never lost. The relay
 * (event-relay.ts) moves rows out — into the audit chain and the webhook deliveries — in one
 * transaction that deletes them.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../store/database.js';
import type { TokenEvent, TokenEventName } from './token-events.js';

/** An event as the outbox holds it: with its row id (the order events are relayed in). */
export interface OutboxEvent extends TokenEvent {
  readonly id: number;
}

/** The publishing side, bound to one transaction (or to the database: a commit of its own). */
export interface EventOutboxPort {
  publish(event: TokenEvent): Promise<void>;
}

const rowOf = (e: TokenEvent) => ({ name: e.name, token_id: e.tokenId, at: e.at, data: JSON.stringify(e.data ?? {}) });

/**
 * Writes events into the outbox through `db` — a transaction's handle when they must commit with a
 * change of the caller's own (the expiry job's notices). Many rows per statement, within the
 * dialects' limits on bound parameters.
 */
export async function insertOutboxEvents(db: Kysely<Database>, events: readonly TokenEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += 500) await db.insertInto('event_outbox').values(events.slice(i, i + 500).map(rowOf)).execute();
}

/** `onPublished` is told after each insert (the store uses it to run the relay after the commit). */
export function createEventOutboxPort(db: Kysely<Database>, onPublished: () => void | Promise<void> = () => {}): EventOutboxPort {
  return {
    async publish(event) {
      await insertOutboxEvents(db, [event]);
      await onPublished();
    },
  };
}

function toEvent(r: { id: number; name: string; token_id: number; at: string; data: string }): OutboxEvent {
  let data: Record<string, unknown> = {};
  try {
    data = JSON.parse(r.data) as Record<string, unknown>;
  } catch {
    data = { unreadable: true };
  }
  return { id: Number(r.id), name: r.name as TokenEventName, tokenId: Number(r.token_id), at: r.at, data };
}

export type EventOutboxStore = ReturnType<typeof createEventOutboxStore>;

/** The relay's side: read waiting events, and take (delete) them inside the relay's transaction. */
export function createEventOutboxStore(db: Kysely<Database>) {
  return {
    /** The oldest waiting events, in id order. */
    async pending(limit: number): Promise<OutboxEvent[]> {
      const rows = await db.selectFrom('event_outbox').selectAll().orderBy('id').limit(limit).execute();
      return rows.map(toEvent);
    },

    /** Deletes the given events in `trx`; returns the ids it deleted (those another relay took are not). */
    async take(trx: Kysely<Database>, ids: readonly number[]): Promise<Set<number>> {
      if (ids.length === 0) return new Set();
      const rows = await trx.deleteFrom('event_outbox').where('id', 'in', [...ids]).returning('id').execute();
      return new Set(rows.map((r) => Number(r.id)));
    },

    async count(): Promise<number> {
      const r = await db.selectFrom('event_outbox').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
      return Number(r.n);
    },
  };
}
