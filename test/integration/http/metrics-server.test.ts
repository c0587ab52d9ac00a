/**
 * /metrics over a real socket: the app listens on 127.0.0.1 port 0 and a plain HTTP client scrapes it,
 * as Prometheus would. The answer parses and carries the seeded token's gauge (both stores).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { parseExposition, sampleValue } from '../../support/prometheus-exposition.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';

describe.each(DIALECTS)('/metrics on a listening server (%s)', (dialect) => {
  let t: TestApp;
  let w: World;
  let base: string;

  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
    base = await t.app.http.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => t?.close());

  it('serves parseable exposition text with the token gauge and counts the API calls made over the socket', async () => {
    const { token } = await t.app.services.deployTokens.create(w.admin, { type: 'project', project: w.project }, { name: 'pull', scopes: ['read_registry'], expiresAt: '2026-12-01' });
    const api = await fetch(`${base}/api/v4/projects/${w.project.id}/deploy_tokens`, { headers: { 'PRIVATE-TOKEN': w.adminToken } });
    expect(api.status).toBe(200);
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const m = parseExposition(await res.text());
    expect(sampleValue(m, 'latchkey_token_expiry_days', { token_id: String(token.id) })).toBe(8);
    expect(sampleValue(m, 'latchkey_token_expiry_days', { token_id: String(token.id), kind: 'deploy', namespace: 'acme/platform/web', name: 'pull' })).toBe(8);
    expect(sampleValue(m, 'latchkey_http_requests_total', { method: 'GET', route: '/api/v4/projects/:id/deploy_tokens', status: '200' })).toBe(1);
    expect(sampleValue(m, 'latchkey_tokens', { kind: 'deploy', state: 'active' })).toBe(1);
  });
});
