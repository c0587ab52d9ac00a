/**
 * In-process counters that services increment and `/metrics` renders. One registry per app
 * (`services.metrics`); counters are per node, as Prometheus expects (it sums across instances).
 *
 *   services.metrics.notifications.inc({ channel: 'email', outcome: 'sent' });
 *   services.metrics.webhookDeliveries.inc({ outcome: 'failed' });
 */
import type { MetricFamily, Sample } from './exposition.js';

/** A monotonically increasing counter with a fixed set of label names. */
export class Counter<L extends string> {
  readonly #values = new Map<string, { labels: Record<L, string>; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly L[],
  ) {}

  /** Adds `by` (default 1, never negative) to the series with these labels. */
  inc(labels: Record<L, string>, by = 1): void {
    if (!(by >= 0)) throw new RangeError(`counter ${this.name} can only increase`);
    // On every HTTP request: the series key without building the label object again once it exists.
    const key = this.#keyOf(labels);
    const entry = this.#values.get(key);
    if (entry) entry.value += by;
    else this.#values.set(key, { labels: Object.fromEntries(this.labelNames.map((n) => [n, String(labels[n] ?? '')])) as Record<L, string>, value: by });
  }

  /**
   * One series, for a caller that increments the same labels again and again (the HTTP request counter):
   * its `inc` is the counter's `inc(labels, by)`, without building the key after the first. The series
   * appears in the exposition at its first increment, as with `inc`.
   */
  series(labels: Record<L, string>): { inc(by?: number): void } {
    const key = this.#keyOf(labels);
    let entry = this.#values.get(key);
    return {
      inc: (by = 1) => {
        if (entry === undefined) {
          this.inc(labels, by);
          entry = this.#values.get(key);
          return;
        }
        if (!(by >= 0)) throw new RangeError(`counter ${this.name} can only increase`);
        entry.value += by;
      },
    };
  }

  /** The current value of one series (0 when never incremented). */
  get(labels: Record<L, string>): number {
    return this.#values.get(this.#keyOf(labels))?.value ?? 0;
  }

  /** The label values in label-name order, joined by NUL (which no label value holds: methods, route patterns, statuses). */
  #keyOf(labels: Record<L, string>): string {
    let key = '';
    for (const n of this.labelNames) key += `${String(labels[n] ?? '')}\u0000`;
    return key;
  }

  family(): MetricFamily {
    const samples: Sample[] = [...this.#values.values()].map((e) => ({ labels: e.labels, value: e.value }));
    return { name: this.name, help: this.help, type: 'counter', samples };
  }
}

export interface MetricsRegistry {
  /** Expiry notifications by channel (`email`, `webhook`, …) and outcome (`sent`, `failed`, …). */
  readonly notifications: Counter<'channel' | 'outcome'>;
  /** Webhook delivery attempts by outcome (`delivered`, `failed`, `timeout`, …). */
  readonly webhookDeliveries: Counter<'outcome'>;
  /** HTTP requests by method, route pattern (never the raw URL), status code and surface (`api`, or `ui` for the web UI). */
  readonly httpRequests: Counter<'method' | 'route' | 'status' | 'surface'>;
  /** Rate-limited requests by throttle and outcome (`allowed`, `throttled`, `unavailable` = store down, let through). */
  readonly rateLimit: Counter<'throttle' | 'outcome'>;
  /** Audit entries by outcome (`written`, `dropped`: queue full while the database refused writes). */
  readonly auditEvents: Counter<'outcome'>;
  /** OAuth2 grant events (`grant_issued`, `token_refreshed`, `grant_revoked`, `token_revoked`, `code_reuse`) by flow and revoke reason. */
  readonly oauthEvents: Counter<'event' | 'flow' | 'reason'>;
  /** Placement checks (issue 15) by status: in_sync, stale, missing, cannot_read, no_fingerprint. */
  readonly placementChecks: Counter<'status'>;
  /** Rotation jobs finished (issue 16), by outcome (`succeeded`, `failed`) and trigger (`api`, `cli`, `web`, `schedule`). */
  readonly rotations: Counter<'outcome' | 'trigger'>;
  /** Every counter, in exposition order. */
  counters(): MetricFamily[];
}

export function createMetricsRegistry(): MetricsRegistry {
  const notifications = new Counter('latchkey_notifications_total', 'Token expiry notifications by channel and outcome.', ['channel', 'outcome'] as const);
  const webhookDeliveries = new Counter('latchkey_webhook_deliveries_total', 'Webhook delivery attempts by outcome.', ['outcome'] as const);
  const httpRequests = new Counter('latchkey_http_requests_total', 'HTTP requests by method, route pattern, status code and surface (api, ui).', ['method', 'route', 'status', 'surface'] as const);
  const rateLimit = new Counter('latchkey_rate_limit_requests_total', 'Rate-limited requests by throttle and outcome.', ['throttle', 'outcome'] as const);
  const auditEvents = new Counter('latchkey_audit_events_total', 'Audit log entries by outcome (written, dropped).', ['outcome'] as const);
  const oauthEvents = new Counter('latchkey_oauth_events_total', 'OAuth2 grant events (grant_issued, token_refreshed, grant_revoked, token_revoked, code_reuse) by flow and revoke reason.', ['event', 'flow', 'reason'] as const);
  const placementChecks = new Counter('latchkey_placement_checks_total', 'Checks of CI variable placements against their credential, by status (in_sync, stale, missing, cannot_read, no_fingerprint).', ['status'] as const);
  const rotations = new Counter('latchkey_rotations_total', 'Rotation jobs finished, by outcome (succeeded, failed) and trigger (api, cli, web, schedule).', ['outcome', 'trigger'] as const);
  return {
    auditEvents,
    rotations,
    oauthEvents,
    placementChecks,
    notifications,
    webhookDeliveries,
    httpRequests,
    rateLimit,
    counters: () => [httpRequests.family(), notifications.family(), webhookDeliveries.family(), rateLimit.family(), auditEvents.family(), oauthEvents.family(), placementChecks.family(), rotations.family()],
  };
}
