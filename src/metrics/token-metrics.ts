/**
 * What a `/metrics` scrape renders: token gauges read from the store at scrape time (days to expiry per
 * active token, counts by kind and state) followed by the registry's counters. No secret, digest or
 * description is ever a label: only kind, namespace path, name and id.
 */
import type { Clock } from '../kernel/clock.js';
import { daysUntil, utcDateOf } from '../kernel/dates.js';
import { REPORT_TOKEN_KINDS, TOKEN_STATES, type TokenOverviewStore } from '../reports/token-overview-store.js';
import { renderExposition, type MetricFamily } from './exposition.js';
import type { MetricsRegistry } from './registry.js';

export interface TokenMetricsDeps {
  overview: TokenOverviewStore;
  registry: MetricsRegistry;
  clock: Clock;
}

export function createMetricsScraper(deps: TokenMetricsDeps) {
  return {
    /** The whole exposition text of one scrape. */
    async render(): Promise<string> {
      const now = deps.clock.now();
      const today = utcDateOf(now);
      const [active, counts] = await Promise.all([
        deps.overview.activeExpiring({ today, now: now.toISOString(), until: null }),
        deps.overview.countByKindAndState({ today, now: now.toISOString() }),
      ]);
      const expiry: MetricFamily = {
        name: 'latchkey_token_expiry_days',
        help: 'Whole days from today (UTC) until an active token stops working (00:00 UTC of its expiry date). Tokens without an expiry date are not listed.',
        type: 'gauge',
        samples: active.map((t) => ({ labels: { kind: t.kind, namespace: t.namespace.fullPath, name: t.name, token_id: String(t.id) }, value: daysUntil(t.expiresAt, now) })),
      };
      // Every kind × state, zeros included, so a series does not vanish when its last token changes state.
      const byKey = new Map(counts.map((c) => [`${c.kind}/${c.state}`, c.count]));
      const tokens: MetricFamily = {
        name: 'latchkey_tokens',
        help: 'Tokens by kind and state (active, expired, revoked; rotated-away tokens past their grace count as revoked).',
        type: 'gauge',
        samples: REPORT_TOKEN_KINDS.flatMap((kind) => TOKEN_STATES.map((state) => ({ labels: { kind, state }, value: byKey.get(`${kind}/${state}`) ?? 0 }))),
      };
      return renderExposition([expiry, tokens, ...deps.registry.counters()]);
    },
  };
}
