/**
 * The audit side of the token event sink: every token event (created, rotated, revoked, expiring =
 * notified, expired, reuse detected/flagged — whatever is published) becomes an audit entry, queued
 * like requests are. The actor is the event's `by` username, resolved at flush.
 */
import type { TokenEventSink } from '../events/token-events.js';
import type { AuditWriter } from './audit-writer.js';

export function createAuditSink(writer: Pick<AuditWriter, 'record'>, onError: (error: unknown) => void = () => {}): TokenEventSink {
  return {
    async publish(event) {
      try {
        const { by, ip, user_agent: userAgent } = event.data;
        // Events about a presentation (token.reuse_attempt, token.reuse_detected) carry where it came from.
        await writer.record({
          at: event.at, event: event.name, tokenId: event.tokenId, actorUsername: typeof by === 'string' ? by : null, data: event.data,
          ip: typeof ip === 'string' ? ip : null, userAgent: typeof userAgent === 'string' ? userAgent : null,
        });
      } catch (e) {
        onError(e);
      }
    },
  };
}
