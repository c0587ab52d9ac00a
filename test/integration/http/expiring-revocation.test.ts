/**
 * The expiring report and the expiry gauge drop a token as soon as it is revoked or rotated away — also
 * when the old secret keeps working for a grace period: its successor is listed instead (both stores).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedExpiringTokens, type ExpiringFixture } from '../../support/expiring-fixture.js';
import { parseExposition, sampleValue } from '../../support/prometheus-exposition.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';

describe.each(DIALECTS)('expiring report after revoke/rotate on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let fx: ExpiringFixture;

  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
    fx = await seedExpiringTokens(t, w);
  });
  afterAll(async () => t?.close());

  const ids = async () => {
    const res = await t.request('GET', '/api/v4/latchkey/expiring?within=30d', { token: w.adminToken });
    expect(res.status).toBe(200);
    return (res.body.namespaces as { tokens: { id: number }[] }[]).flatMap((s) => s.tokens.map((x) => x.id));
  };

  it('a deleted deploy token and a rotated project token leave; the rotation successor appears with its own expiry', async () => {
    expect(await ids()).toContain(fx.ids.registryPull);
    const del = await t.request('DELETE', `/api/v4/projects/${w.project.id}/deploy_tokens/${fx.ids.registryPull}`, { token: w.adminToken });
    expect(del.status).toBe(204);
    expect(await ids()).not.toContain(fx.ids.registryPull);

    const rot = await t.request('POST', `/api/v4/projects/${w.project.id}/access_tokens/${fx.ids.ciBot}/rotate`, { token: w.adminToken, body: { expires_at: '2026-12-10' } });
    expect(rot.status).toBe(200);
    const after = await ids();
    expect(after).not.toContain(fx.ids.ciBot);
    expect(after).toContain(rot.body.id);
  });

  it('a token rotated with a grace period leaves the report and the gauge, but still counts as active until the grace ends', async () => {
    const rot = await t.request('POST', `/api/v4/personal_access_tokens/${fx.ids.laptop}/rotate`, { token: w.adminToken, body: { expires_at: '2026-12-15', grace_period: '1h' } });
    expect(rot.status).toBe(200);
    expect(rot.body.id).not.toBe(fx.ids.laptop);
    const after = await ids();
    expect(after).not.toContain(fx.ids.laptop);
    expect(after).toContain(rot.body.id);
    const m = parseExposition((await t.request('GET', '/metrics')).text);
    expect(sampleValue(m, 'latchkey_token_expiry_days', { token_id: String(fx.ids.laptop) })).toBeUndefined();
    expect(sampleValue(m, 'latchkey_token_expiry_days', { token_id: String(rot.body.id) })).toBe(22);
    // 8 seeded + old laptop (in grace) + new laptop.
    expect(sampleValue(m, 'latchkey_tokens', { kind: 'personal', state: 'active' })).toBe(10);
    t.clock.advance(3_600_000);
    try {
      const later = parseExposition((await t.request('GET', '/metrics')).text);
      expect(sampleValue(later, 'latchkey_tokens', { kind: 'personal', state: 'active' })).toBe(9);
      expect(sampleValue(later, 'latchkey_tokens', { kind: 'personal', state: 'revoked' })).toBe(1);
    } finally {
      t.clock.set('2026-11-23T10:00:00.000Z');
    }
  });
});
