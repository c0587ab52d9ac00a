/** Webhooks as the domain sees them: the events a hook may subscribe to, hooks, deliveries, attempts. */
import type { TokenEventName } from '../events/token-events.js';

/**
 * `credential.expiring`: an outside credential of the inventory is due within 60, 30 or 7 days
 * (notifications/credential-notifier.ts). `credential.rotated` / `credential.rotation_failed`: a rotation
 * job of an entry finished (rotation/rotation-outcomes.ts).
 */
export type WebhookEventName = TokenEventName | 'credential.expiring' | 'credential.rotated' | 'credential.rotation_failed';

export const WEBHOOK_EVENTS: readonly WebhookEventName[] = ['token.created', 'token.rotated', 'token.revoked', 'token.expiring', 'token.expired', 'credential.expiring', 'credential.rotated', 'credential.rotation_failed'];

export interface Webhook {
  readonly id: number;
  /** null: an instance hook (admins); otherwise the group whose tree's token events it receives. */
  readonly groupId: number | null;
  readonly url: string;
  readonly events: readonly string[];
  readonly createdBy: number | null;
  readonly createdAt: string;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed' | 'cancelled';

export interface WebhookAttempt {
  readonly attempt: number;
  readonly startedAt: string;
  /** The receiver's HTTP status; null when no answer came (refused, timeout, DNS). */
  readonly statusCode: number | null;
  readonly latencyMs: number;
  readonly error: string | null;
  /** When the next attempt is due; null when this one succeeded or was the last. */
  readonly nextRetryAt: string | null;
}

export interface WebhookDelivery {
  readonly id: number;
  readonly hookId: number;
  readonly tokenId: number;
  readonly event: string;
  readonly status: DeliveryStatus;
  readonly attempts: number;
  readonly nextAttemptAt: string;
  readonly createdAt: string;
  readonly finishedAt: string | null;
}

/** A delivery with its attempts, oldest first: what `GET …/webhooks/:hook_id/deliveries` lists. */
export interface DeliveryHistory extends WebhookDelivery {
  readonly attemptLog: readonly WebhookAttempt[];
}
