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
import type { UnchainedRow } from './audit-entry.js';
import { enrichRecords, type AuditRecord, type AuditWriter } from './audit-writer.js';

const recordOf = (event: OutboxEvent): AuditRecord => {
  const { by, ip, user_agent: userAgent } = event.data;
  return {
    at: event.at, event: event.name, tokenId: event.tokenId, actorUsername: typeof by === 'string' ? by : null, data: event.data,
    ip: typeof ip === 'string' ? ip : null, userAgent: typeof userAgent === 'string' ? userAgent : null,
  };
};

/**
 * `writer`: request entries queued before the events are written first, in the relay's transaction
 * (AuditWriter.claim), so the chain keeps the order things happened in (a request's entry never lands
 * after a later token change) with one commit for both. If the relay's transaction fails they stay
 * queued for the writer.
 */
export function createAuditSink(store: AuditStore, writer?: Pick<AuditWriter, 'claim'>): RelaySink {
  return {
    // The chain head first: relays of several nodes (and the request writer) queue on it.
    lock: (trx) => store.lockHead(trx),
    async prepare(events) {
      const claim = (await writer?.claim()) ?? null;
      const queued = claim?.records ?? [];
      let rows: UnchainedRow[];
      try {
        rows = await enrichRecords(store, [...queued, ...events.map(recordOf)]);
      } catch (e) {
        claim?.settle(false);
        throw e;
      }
      const queuedRows = rows.slice(0, queued.length);
      const byId = new Map(events.map((e, i) => [e.id, rows[queued.length + i]!]));
      let wrote = false;
      return {
        async write(trx, taken) {
          await store.appendIn(trx, [...queuedRows, ...taken.map((e) => byId.get(e.id)!)]);
          wrote = true;
        },
        // Written only if the relay took events (another node may have taken them all) and committed.
        settle: (committed) => claim?.settle(committed && wrote),
      };
    },
  };
}
