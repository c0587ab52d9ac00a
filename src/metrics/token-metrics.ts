/**
 * What a `/metrics` scrape renders: token gauges read from the store at scrape time (days to expiry of
 * the soonest-expiring active tokens, counts by kind and state, and how many expire within 1, 7, … days)
 * followed by the registry's counters. No secret, digest or description is ever a label: only kind,
 * namespace path, name and id.
 *
 * Cardinality is bounded: `latchkey_token_expiry_days` has one series per token for at most
 * `seriesPerKind` tokens of each kind (the soonest to expire); every other token is counted in the
 * aggregate `latchkey_tokens_expiring` and in `latchkey_token_expiry_series_omitted`, so a million tokens
 * make a few hundred series, not a million.
 *
 * Outside credentials of the inventory (issue 14) are series of `latchkey_token_expiry_days` too, with
 * kind `credential`, their inventory kind as `credential_kind` and `credential_id` instead of
 * `token_id`; the value counts down to their due date (negative once overdue: nothing stops them at
 * midnight, a person must renew them). The same per-kind cap applies.
 */
import type { Clock } from '../kernel/clock.js';
import { addDays, daysUntil, utcDateOf } from '../kernel/dates.js';
import { REPORT_TOKEN_KINDS, TOKEN_STATES, type TokenOverviewStore } from '../reports/token-overview-store.js';
import { CREDENTIAL_REPORT_KIND, type CredentialOverviewStore } from '../reports/credential-overview-store.js';
import { renderExposition, type MetricFamily } from './exposition.js';
import type { MetricsRegistry } from './registry.js';

export interface TokenMetricsDeps {
  overview: TokenOverviewStore;
  /** Outside credentials of the inventory: series of kind `credential` in latchkey_token_expiry_days. */
  credentials?: CredentialOverviewStore;
  registry: MetricsRegistry;
  clock: Clock;
  /** Placements whose last check or write found them not holding the current secret (latchkey_placements_out_of_sync). */
  placementsOutOfSync?: () => Promise<number>;
  /** Most `latchkey_token_expiry_days` series per kind (LATCHKEY_METRICS_TOKEN_SERIES); default 100. */
  seriesPerKind?: number;
}

/** Bounds (days from today) of `latchkey_tokens_expiring`; `+Inf` is every active token with an expiry date. */
export const EXPIRING_WITHIN_DAYS = [1, 7, 14, 30, 60, 90, 180, 365] as const;

export function createMetricsScraper(deps: TokenMetricsDeps) {
  return {
    /** The whole exposition text of one scrape. */
    async render(): Promise<string> {
      const now = deps.clock.now();
      const today = utcDateOf(now);
      const seriesPerKind = deps.seriesPerKind ?? 100;
      const [active, counts, expiring, credentials, credentialCount, outOfSync] = await Promise.all([
        deps.overview.activeExpiring({ today, now: now.toISOString(), until: null, limitPerKind: seriesPerKind }),
        deps.overview.countByKindAndState({ today, now: now.toISOString() }),
        deps.overview.expiringWithin({ today, bounds: EXPIRING_WITHIN_DAYS.map((d) => addDays(today, d)) }),
        deps.credentials?.dueBy({ until: null, limit: seriesPerKind, live: true }) ?? [],
        deps.credentials?.count() ?? 0,
        deps.placementsOutOfSync?.() ?? null,
      ]);
      const expiry: MetricFamily = {
        name: 'latchkey_token_expiry_days',
        help: `Whole days from today (UTC) until an active token stops working (00:00 UTC of its expiry date). Only the ${seriesPerKind} soonest-expiring tokens of each kind; tokens without an expiry date are not listed. kind="credential": an outside credential of the inventory, counting down to its due date (negative when overdue).`,
        type: 'gauge',
        samples: [
          ...active.map((t) => ({ labels: { kind: t.kind, namespace: t.namespace.fullPath, name: t.name, token_id: String(t.id) }, value: daysUntil(t.expiresAt, now) })),
          ...credentials.map((c) => ({ labels: { kind: CREDENTIAL_REPORT_KIND, credential_kind: c.kind, namespace: c.owner.fullPath, name: c.name, credential_id: String(c.id) }, value: daysUntil(c.dueOn, now) })),
        ],
      };
      // Every kind × state, zeros included, so a series does not vanish when its last token changes state.
      const byKey = new Map(counts.map((c) => [`${c.kind}/${c.state}`, c.count]));
      const tokens: MetricFamily = {
        name: 'latchkey_tokens',
        help: 'Tokens by kind and state (active, expired, revoked; rotated-away tokens past their grace count as revoked).',
        type: 'gauge',
        samples: REPORT_TOKEN_KINDS.flatMap((kind) => TOKEN_STATES.map((state) => ({ labels: { kind, state }, value: byKey.get(`${kind}/${state}`) ?? 0 }))),
      };
      const expiringByKind = new Map(expiring.map((e) => [e.kind, e]));
      const within: MetricFamily = {
        name: 'latchkey_tokens_expiring',
        help: 'Active tokens with an expiry date that stop working within `within_days` days (cumulative; +Inf = all of them), by kind.',
        type: 'gauge',
        samples: REPORT_TOKEN_KINDS.flatMap((kind) => {
          const e = expiringByKind.get(kind);
          return [
            ...EXPIRING_WITHIN_DAYS.map((days, i) => ({ labels: { kind, within_days: String(days) }, value: e?.counts[i] ?? 0 })),
            { labels: { kind, within_days: '+Inf' }, value: e?.total ?? 0 },
          ];
        }),
      };
      const listed = new Map<string, number>();
      for (const t of active) listed.set(t.kind, (listed.get(t.kind) ?? 0) + 1);
      const omitted: MetricFamily = {
        name: 'latchkey_token_expiry_series_omitted',
        help: 'Active tokens with an expiry date left out of latchkey_token_expiry_days by its per-kind cap (LATCHKEY_METRICS_TOKEN_SERIES).',
        type: 'gauge',
        samples: [
          ...REPORT_TOKEN_KINDS.map((kind) => ({ labels: { kind }, value: Math.max(0, (expiringByKind.get(kind)?.total ?? 0) - (listed.get(kind) ?? 0)) })),
          ...(deps.credentials ? [{ labels: { kind: CREDENTIAL_REPORT_KIND }, value: Math.max(0, credentialCount - credentials.length) }] : []),
        ],
      };
      const placements: MetricFamily[] = outOfSync === null ? [] : [{
        name: 'latchkey_placements_out_of_sync',
        help: 'CI variable placements whose last check or write found them not holding the current secret (stale, missing, cannot read).',
        type: 'gauge',
        samples: [{ labels: {}, value: outOfSync }],
      }];
      return renderExposition([expiry, within, omitted, tokens, ...placements, ...deps.registry.counters()]);
    },
  };
}
