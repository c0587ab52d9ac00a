/**
 * The audit side of the outbox relay: every token event (created, rotated, revoked, expiring =
 * notified, expired, reuse detected/attempted/flagged — whatever is published) becomes an audit entry,
 * appended to the chain in the relay's transaction, the one that takes the event out of the outbox:
 * an event is in the log exactly once, and a crash can lose none. The actor is the event's `by`
 * username; events about a presentation carry where it came from (ip, user agent).
 */
import type { RelaySink } from '../events/event-relay.js';
import type { OutboxEvent } from '../events/event-outbox.js';
import type { AuditStore } from './audit-store.js';
import { enrichRecords, type AuditRecord, type AuditWriter } from './audit-writer.js';

const recordOf = (event: OutboxEvent): AuditRecord => {
  const { by, ip, user_agent: userAgent } = event.data;
  return {
    at: event.at, event: event.name, tokenId: event.tokenId, actorUsername: typeof by === 'string' ? by : null, data: event.data,
    ip: typeof ip === 'string' ? ip : null, userAgent: typeof userAgent === 'string' ? userAgent : null,
  };
};

/**
 * `writer`: request entries queued before the events are written first, so the chain keeps the order
 * things happened in (a request's entry never lands after a later token change). If that write fails
 * the events still go in: their order matters less than their being there.
 */
export function createAuditSink(store: AuditStore, writer?: Pick<AuditWriter, 'flush'>): RelaySink {
  return {
    // The chain head first: relays of several nodes (and the request writer) queue on it.
    lock: (trx) => store.lockHead(trx),
    async prepare(events) {
      await writer?.flush().catch(() => {}); // the writer reports its own failures
      const rows = await enrichRecords(store, events.map(recordOf));
      const byId = new Map(events.map((e, i) => [e.id, rows[i]!]));
      return async (trx, taken) => {
        await store.appendIn(trx, taken.map((e) => byId.get(e.id)!));
      };
    },
  };
}
