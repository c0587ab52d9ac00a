/** The JSON shape of hooks and deliveries, shared by the API and the CLI's --json. Never the secret. */
import type { DeliveryHistory, Webhook } from './webhook.js';

export const presentWebhook = (h: Webhook) => ({ id: h.id, url: h.url, events: [...h.events], group_id: h.groupId, created_at: h.createdAt });

export const presentDelivery = (d: DeliveryHistory) => ({
  id: d.id,
  event: d.event,
  token_id: d.tokenId,
  status: d.status,
  attempt_count: d.attempts,
  next_attempt_at: d.status === 'pending' ? d.nextAttemptAt : null,
  created_at: d.createdAt,
  finished_at: d.finishedAt,
  attempts: d.attemptLog.map((a) => ({ attempt: a.attempt, started_at: a.startedAt, status_code: a.statusCode, latency_ms: a.latencyMs, error: a.error, next_retry_at: a.nextRetryAt })),
});
