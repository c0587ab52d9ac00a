/** The expiring report drops a token as soon as it is revoked or rotated away (both stores). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedExpiringTokens, type ExpiringFixture } from '../../support/expiring-fixture.js';
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
});
