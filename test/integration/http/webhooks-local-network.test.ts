/**
 * The local-network guard of group webhooks with the default configuration: a group hook may not name a
 * loopback, private or link-local address (nor localhost), and its deliveries are refused on the
 * address actually resolved; instance hooks (admins) may target the local network, as GitLab's system
 * hooks may.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';
import { startReceiver, type Receiver } from './webhooks-receiver.js';

const INSTANCE = '/api/v4/latchkey/webhooks';
const GROUP = `/api/v4/groups/${encodeURIComponent('acme/platform')}/latchkey/webhooks`;
const BLOCKED = { error: 'url is blocked: Requests to the local network are not allowed' };

describe.each(DIALECTS)('webhook local-network guard on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let receiver: Receiver;

  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
    await t?.close();
  });

  it('refuses group hooks that name the local network, and writes nothing', async () => {
    const urls = [receiver.url, 'http://localhost:9/x', 'http://api.localhost/x', 'http://[::1]:9/x', 'http://[::ffff:127.0.0.1]/x', 'http://10.1.2.3/x', 'http://172.20.0.1/x', 'http://192.168.1.1/x', 'http://169.254.169.254/latest/meta-data', 'http://0.0.0.0:9/x', 'http://[fd00::1]/x'];
    for (const url of urls) {
      const res = await t.request('POST', GROUP, { token: w.users.owner.token, body: { url, events: ['token.created'] } });
      expect([res.status, res.body], url).toEqual([400, BLOCKED]);
    }
    // Admins creating a group hook are held to the same rule (it is the group's hook).
    expect((await t.request('POST', GROUP, { token: w.adminToken, body: { url: receiver.url, events: ['token.created'] } })).body).toEqual(BLOCKED);
    expect((await t.request('GET', GROUP, { token: w.adminToken })).body).toEqual([]);
    // A public address is fine.
    const ok = await t.request('POST', GROUP, { token: w.users.owner.token, body: { url: 'https://hooks.example.com/x', events: ['token.created'] } });
    expect(ok.status).toBe(201);
    await t.request('DELETE', `${GROUP}/${ok.body.id}`, { token: w.adminToken });
  });

  it('lets admins point instance hooks at the local network, and delivers to them', async () => {
    const hook = await t.request('POST', INSTANCE, { token: w.adminToken, body: { url: receiver.url, events: ['token.created'] } });
    expect(hook.status).toBe(201);
    const created = await t.request('POST', `/api/v4/projects/${encodeURIComponent('acme/platform/web')}/deploy_tokens`, { token: w.adminToken, body: { name: 'ci', scopes: ['read_registry'] } });
    expect(created.status).toBe(201);
    await t.app.services.webhookDispatcher.runDue();
    expect(receiver.received.map((r) => r.headers['x-latchkey-event'])).toEqual(['token.created']);
  });
});
