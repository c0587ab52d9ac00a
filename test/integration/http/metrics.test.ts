/**
 * GET /metrics on both stores, scraped with inject and parsed by a strict exposition-format parser:
 * content type, HELP/TYPE for every family, per-token days to expiry at chosen clock dates, counts by
 * kind and state as tokens are revoked and expire, the request counter by route pattern, label escaping
 * of a token name with quotes, backslashes and a newline, no secrets, and the optional bearer token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedExpiringTokens, type ExpiringFixture } from '../../support/expiring-fixture.js';
import { parseExposition, sampleValue, type ParsedFamily } from '../../support/prometheus-exposition.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';
import { createMetricsScraper, EXPIRING_WITHIN_DAYS } from '../../../src/metrics/token-metrics.js';
import { createTokenOverviewStore } from '../../../src/store/token-overview.js';

const NASTY_NAME = 'say "hi" \\ path\\n\nsecond line';
const QUOTED_NAME = 'C:\\keys\\"prod" \\\\ backup';

describe.each(DIALECTS)('GET /metrics on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let fx: ExpiringFixture;
  let nastyId: number;
  let quotedId: number;
  const secrets: string[] = [];

  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
    fx = await seedExpiringTokens(t, w);
    // The services refuse control characters in names, so the newline comes in through the store port
    // (as a row written by another path would): the exporter must escape whatever a name holds.
    const nasty = await t.app.store.tokens.insert({
      kind: 'personal', name: NASTY_NAME, description: '', digest: 'not-a-real-digest', userId: w.users.developer.user.id, projectId: null, groupId: null,
      username: null, scopes: ['read_user'], accessLevel: null, expiresAt: '2026-12-01', createdBy: null, createdAt: '2026-11-23T09:00:00.000Z',
    });
    nastyId = nasty.id;
    const quoted = await t.app.services.personalTokens.createFor(w.users.developer.user, { name: QUOTED_NAME, scopes: ['read_user'], expiresAt: '2026-12-02' }, null);
    quotedId = quoted.token.id;
    secrets.push(quoted.secret, w.adminToken, ...Object.values(w.users).map((u) => u.token));
  });
  afterAll(async () => t?.close());

  async function scrape(): Promise<Map<string, ParsedFamily>> {
    const res = await t.request('GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    for (const s of secrets) expect(res.text).not.toContain(s);
    return parseExposition(res.text);
  }

  const expiryDays = (m: Map<string, ParsedFamily>, id: number) => sampleValue(m, 'latchkey_token_expiry_days', { token_id: String(id) });
  const count = (m: Map<string, ParsedFamily>, kind: string, state: string) => sampleValue(m, 'latchkey_tokens', { kind, state });

  it('is valid exposition text: every family has HELP and TYPE, every value is numeric', async () => {
    const m = await scrape();
    expect([...m.keys()]).toEqual(expect.arrayContaining(['latchkey_token_expiry_days', 'latchkey_tokens', 'latchkey_http_requests_total', 'latchkey_notifications_total', 'latchkey_webhook_deliveries_total']));
    expect(m.get('latchkey_token_expiry_days')!.type).toBe('gauge');
    expect(m.get('latchkey_tokens')!.type).toBe('gauge');
    expect(m.get('latchkey_http_requests_total')!.type).toBe('counter');
    expect(m.get('latchkey_notifications_total')!.type).toBe('counter');
    expect(m.get('latchkey_webhook_deliveries_total')!.type).toBe('counter');
    for (const f of m.values()) for (const s of f.samples) expect(Number.isFinite(s.value), `${s.name} ${JSON.stringify(s.labels)}`).toBe(true);
  });

  it('gauges days until expiry per active token with kind, namespace path, name and id labels', async () => {
    const m = await scrape();
    const gauge = m.get('latchkey_token_expiry_days')!;
    const byId = new Map(gauge.samples.map((s) => [Number(s.labels.token_id), s]));
    expect(byId.get(fx.ids.registryPull)).toMatchObject({ labels: { kind: 'deploy', namespace: 'acme/platform/web', name: 'registry-pull' }, value: 8 });
    expect(byId.get(fx.ids.laptop)).toMatchObject({ labels: { kind: 'personal', namespace: 'maintainer-user', name: 'laptop' }, value: 2 });
    expect(byId.get(fx.ids.ciBot)).toMatchObject({ labels: { kind: 'project', namespace: 'acme/platform/web', name: 'ci-bot' }, value: 7 });
    expect(byId.get(fx.ids.topBot)).toMatchObject({ labels: { kind: 'group', namespace: 'acme', name: 'top-bot' }, value: 48 });
    expect(byId.get(fx.ids.saToken)).toMatchObject({ labels: { kind: 'service_account', namespace: 'acme', name: 'release' }, value: 12 });
    expect(byId.get(fx.ids.groupDeploy)).toMatchObject({ labels: { kind: 'deploy', namespace: 'acme/platform', name: 'group-deploy' }, value: 27 });
    // Revoked and non-expiring tokens have no gauge.
    expect(byId.has(fx.ids.revoked)).toBe(false);
    expect(byId.has(fx.ids.forever)).toBe(false);
    // Exactly the active tokens with an expiry date: 8 seeded personal + 7 fixture + the two odd names.
    expect(gauge.samples).toHaveLength(17);
    for (const s of gauge.samples) expect(Object.keys(s.labels).sort()).toEqual(['kind', 'name', 'namespace', 'token_id']);
  });

  it('escapes quotes, backslashes and newlines in label values (the parser reads the name back intact)', async () => {
    const res = await t.request('GET', '/metrics');
    expect(res.text).toContain('name="say \\"hi\\" \\\\ path\\\\n\\nsecond line"');
    const m = parseExposition(res.text);
    expect(sampleValue(m, 'latchkey_token_expiry_days', { token_id: String(nastyId) })).toBe(8);
    expect(m.get('latchkey_token_expiry_days')!.samples.find((s) => s.labels.token_id === String(nastyId))!.labels.name).toBe(NASTY_NAME);
    expect(res.text).toContain('name="C:\\\\keys\\\\\\"prod\\" \\\\\\\\ backup"');
    expect(m.get('latchkey_token_expiry_days')!.samples.find((s) => s.labels.token_id === String(quotedId))!.labels.name).toBe(QUOTED_NAME);
  });

  it('follows the clock: days count down and a token leaves the gauge at 00:00 UTC of its date', async () => {
    try {
      t.clock.set('2026-11-30T23:59:59.999Z');
      let m = await scrape();
      expect(expiryDays(m, fx.ids.registryPull)).toBe(1);
      expect(expiryDays(m, fx.ids.ciBot)).toBeUndefined(); // ci-bot stopped at 2026-11-30T00:00Z
      t.clock.set('2026-12-01T00:00:00.000Z');
      m = await scrape();
      expect(expiryDays(m, fx.ids.registryPull)).toBeUndefined();
      expect(expiryDays(m, fx.ids.groupDeploy)).toBe(19);
    } finally {
      t.clock.set('2026-11-23T10:00:00.000Z');
    }
  });

  it('counts tokens by kind and state, and the counts move when a token expires or is revoked', async () => {
    let m = await scrape();
    // deploy: registry-pull, site-deploy, group-deploy, forever active; "revoked" revoked.
    expect([count(m, 'deploy', 'active'), count(m, 'deploy', 'expired'), count(m, 'deploy', 'revoked')]).toEqual([4, 0, 1]);
    expect([count(m, 'personal', 'active'), count(m, 'personal', 'expired'), count(m, 'personal', 'revoked')]).toEqual([11, 0, 0]);
    expect([count(m, 'project', 'active'), count(m, 'group', 'active'), count(m, 'service_account', 'active')]).toEqual([1, 1, 1]);
    // Every kind × state, zeros included: six kinds (impersonation tokens too, none here) × three states.
    expect([count(m, 'impersonation', 'active'), count(m, 'impersonation', 'expired'), count(m, 'impersonation', 'revoked')]).toEqual([0, 0, 0]);
    expect(m.get('latchkey_tokens')!.samples).toHaveLength(18);

    // Expiry: at 2026-11-25 the laptop token (personal) is expired.
    t.clock.set('2026-11-25T00:00:00.000Z');
    try {
      m = await scrape();
      expect([count(m, 'personal', 'active'), count(m, 'personal', 'expired')]).toEqual([10, 1]);
    } finally {
      t.clock.set('2026-11-23T10:00:00.000Z');
    }

    // Revocation through the API: the deploy token moves from active to revoked at once.
    const del = await t.request('DELETE', `/api/v4/projects/${w.project.id}/deploy_tokens/${fx.ids.registryPull}`, { token: w.adminToken });
    expect(del.status).toBe(204);
    m = await scrape();
    expect([count(m, 'deploy', 'active'), count(m, 'deploy', 'revoked')]).toEqual([3, 2]);
    expect(expiryDays(m, fx.ids.registryPull)).toBeUndefined();

    // Rotation: the old project token is revoked, its successor active.
    const rot = await t.request('POST', `/api/v4/projects/${w.project.id}/access_tokens/${fx.ids.ciBot}/rotate`, { token: w.adminToken, body: { expires_at: '2026-12-10' } });
    expect(rot.status).toBe(200);
    m = await scrape();
    expect([count(m, 'project', 'active'), count(m, 'project', 'revoked')]).toEqual([1, 1]);
    expect(expiryDays(m, rot.body.id)).toBe(17);
  });

  it('counts API requests by method, route pattern and status — never the raw URL', async () => {
    const before = await scrape();
    const route = '/api/v4/projects/:id/deploy_tokens';
    const ok = sampleValue(before, 'latchkey_http_requests_total', { method: 'GET', route, status: '200' }) ?? 0;
    const notFound = sampleValue(before, 'latchkey_http_requests_total', { method: 'GET', route, status: '404' }) ?? 0;
    expect((await t.request('GET', `/api/v4/projects/${w.project.id}/deploy_tokens`, { token: w.adminToken })).status).toBe(200);
    expect((await t.request('GET', `/api/v4/projects/${encodeURIComponent('acme/platform/web')}/deploy_tokens`, { token: w.adminToken })).status).toBe(200);
    expect((await t.request('GET', '/api/v4/projects/999999/deploy_tokens', { token: w.adminToken })).status).toBe(404);
    expect((await t.request('GET', '/api/v4/no/such/thing/42', { token: w.adminToken })).status).toBe(404);
    const after = await scrape();
    expect(sampleValue(after, 'latchkey_http_requests_total', { method: 'GET', route, status: '200' })).toBe(ok + 2);
    expect(sampleValue(after, 'latchkey_http_requests_total', { method: 'GET', route, status: '404' })).toBe(notFound + 1);
    const routes = after.get('latchkey_http_requests_total')!.samples.map((s) => s.labels.route!);
    expect(routes).toContain('(unmatched)');
    expect(routes.some((r) => /999999|acme|no\/such/.test(r))).toBe(false);
    // The previous scrape itself is counted.
    expect(sampleValue(after, 'latchkey_http_requests_total', { method: 'GET', route: '/metrics', status: '200' })).toBeGreaterThan(0);
  });

  it('counts each request under its own method, status and route when the same ones repeat (the series are found once per route)', async () => {
    const series = [
      { method: 'GET', route: '/api/v4/user', status: '200' },
      { method: 'GET', route: '/api/v4/user', status: '401' },
      { method: 'HEAD', route: '/api/v4/user', status: '200' },
      { method: 'GET', route: '(unmatched)', status: '404' },
      { method: 'POST', route: '(unmatched)', status: '404' },
      { method: 'GET', route: '/-/health', status: '200' },
    ];
    const before = await scrape();
    const base = series.map((labels) => sampleValue(before, 'latchkey_http_requests_total', { ...labels, surface: 'api' }) ?? 0);
    // Interleaved, so each route's cached series meets every method and status more than once.
    for (let round = 0; round < 3; round++) {
      expect((await t.request('GET', '/api/v4/user', { token: w.adminToken })).status).toBe(200);
      expect((await t.request('GET', '/api/v4/user')).status).toBe(401);
      expect((await t.request('HEAD', '/api/v4/user', { token: w.adminToken })).status).toBe(200);
      if (round < 2) expect((await t.request('GET', '/api/v4/user', { token: 'glpat-not-a-token' })).status).toBe(401);
      expect((await t.request('GET', '/api/v4/no/such/thing')).status).toBe(404);
      expect((await t.request(round === 0 ? 'POST' : 'GET', '/api/v4/no/such/thing')).status).toBe(404);
      expect((await t.request('GET', '/-/health')).status).toBe(200);
    }
    const after = await scrape();
    const added = series.map((labels, i) => (sampleValue(after, 'latchkey_http_requests_total', { ...labels, surface: 'api' }) ?? 0) - base[i]!);
    expect(added).toEqual([3, 5, 3, 5, 1, 3]);
  });

  it('renders the counters the notification and webhook services increment', async () => {
    const { metrics } = t.app.services;
    const before = await scrape();
    const sent = sampleValue(before, 'latchkey_notifications_total', { channel: 'email', outcome: 'sent' }) ?? 0;
    const failed = sampleValue(before, 'latchkey_webhook_deliveries_total', { outcome: 'failed' }) ?? 0;
    metrics.notifications.inc({ channel: 'email', outcome: 'sent' }, 2);
    metrics.webhookDeliveries.inc({ outcome: 'failed' });
    const after = await scrape();
    expect(sampleValue(after, 'latchkey_notifications_total', { channel: 'email', outcome: 'sent' })).toBe(sent + 2);
    expect(sampleValue(after, 'latchkey_webhook_deliveries_total', { outcome: 'failed' })).toBe(failed + 1);
  });
});

describe.each(DIALECTS)('GET /metrics with LATCHKEY_METRICS_TOKEN on %s', (dialect) => {
  let t: TestApp;
  const TOKEN = 'scrape-me-0123456789';
  beforeAll(async () => {
    t = await startTestApp(dialect, { env: { LATCHKEY_METRICS_TOKEN: TOKEN } });
  });
  afterAll(async () => t?.close());

  it('answers 401 without the bearer token or with a wrong one, 200 with it', async () => {
    expect((await t.request('GET', '/metrics')).status).toBe(401);
    expect((await t.request('GET', '/metrics', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await t.request('GET', '/metrics', { headers: { authorization: `Bearer ${TOKEN}x` } })).status).toBe(401);
    expect((await t.request('GET', '/metrics', { headers: { 'private-token': TOKEN } })).status).toBe(401);
    const ok = await t.request('GET', '/metrics', { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(() => parseExposition(ok.text)).not.toThrow();
  });

  it('the token does not open the API', async () => {
    expect((await t.request('GET', '/api/v4/user', { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(401);
  });
});

describe.each(DIALECTS)('GET /metrics caps the per-token series (LATCHKEY_METRICS_TOKEN_SERIES) on %s', (dialect) => {
  let t: TestApp;
  const CAP = 2;
  beforeAll(async () => {
    t = await startTestApp(dialect, { env: { LATCHKEY_METRICS_TOKEN_SERIES: String(CAP) } });
    const w = await seedWorld(t);
    await seedExpiringTokens(t, w);
    // More personal tokens than the cap, expiring at different dates (one later than a year is impossible).
    for (const [i, days] of [3, 9, 15, 45, 120, 300].entries()) {
      const expiresAt = new Date(Date.parse('2026-11-23T00:00:00Z') + days * 86_400_000).toISOString().slice(0, 10);
      await t.app.services.personalTokens.createFor(w.users.reporter.user, { name: `many-${i}`, scopes: ['read_user'], expiresAt }, null);
    }
  });
  afterAll(async () => t?.close());

  it('lists only the soonest-expiring tokens of each kind, and counts every token in the aggregates', async () => {
    // The same scrape without a cap, as the reference: every active token with an expiry date.
    const uncapped = createMetricsScraper({ overview: createTokenOverviewStore(t.app.store.db), registry: t.app.services.metrics, clock: t.clock, seriesPerKind: 1_000_000 });
    const full = parseExposition(await uncapped.render()).get('latchkey_token_expiry_days')!.samples;
    const res = await t.request('GET', '/metrics');
    expect(res.status).toBe(200);
    const m = parseExposition(res.text);
    const capped = m.get('latchkey_token_expiry_days')!.samples;
    expect(capped.length).toBeLessThan(full.length);

    const kinds = [...new Set(full.map((s) => s.labels.kind!))];
    expect(kinds).toEqual(expect.arrayContaining(['personal', 'deploy', 'project', 'group', 'service_account']));
    expect(full.filter((s) => s.labels.kind === 'personal').length).toBeGreaterThan(CAP + 5);
    const soonestFirst = (a: { value: number; labels: Record<string, string> }, b: { value: number; labels: Record<string, string> }) => a.value - b.value || Number(a.labels.token_id) - Number(b.labels.token_id);
    for (const kind of kinds) {
      const all = full.filter((s) => s.labels.kind === kind).sort(soonestFirst);
      const listed = capped.filter((s) => s.labels.kind === kind).sort(soonestFirst);
      expect(listed.map((s) => s.labels.token_id), kind).toEqual(all.slice(0, CAP).map((s) => s.labels.token_id));
      expect(sampleValue(m, 'latchkey_token_expiry_series_omitted', { kind })).toBe(all.length - listed.length);
      expect(sampleValue(m, 'latchkey_tokens_expiring', { kind, within_days: '+Inf' })).toBe(all.length);
      for (const days of EXPIRING_WITHIN_DAYS) {
        expect(sampleValue(m, 'latchkey_tokens_expiring', { kind, within_days: String(days) }), `${kind} within ${days}`).toBe(all.filter((s) => s.value <= days).length);
      }
    }
    expect(capped.length).toBe(kinds.reduce((n, kind) => n + Math.min(CAP, full.filter((s) => s.labels.kind === kind).length), 0));
  });
});
