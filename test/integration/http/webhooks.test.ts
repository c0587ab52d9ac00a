/**
 * Webhooks (Latchkey extension, issue 4): registration and who may do it, bad input, the secret shown
 * once and stored encrypted, signed deliveries to a real HTTP receiver verified with the README's
 * snippet, and retries through 500s, refused connections and timeouts with an injected clock.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, TEST_SECRET, type TestApp, type World } from '../../support/test-app.js';
import { createWebhookModule } from '../../../src/webhooks/index.js';
import { readmeVerifier, startReceiver, type Receiver } from './webhooks-receiver.js';

const INSTANCE = '/api/v4/latchkey/webhooks';
const groupHooks = (path: string) => `/api/v4/groups/${encodeURIComponent(path)}/latchkey/webhooks`;
const ALL_EVENTS = ['token.created', 'token.rotated', 'token.revoked', 'token.expiring', 'token.expired'];

describe.each(DIALECTS)('webhooks on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let receiver: Receiver;
  const verify = readmeVerifier();

  beforeAll(async () => {
    t = await startTestApp(dialect, { env: { LATCHKEY_WEBHOOK_TIMEOUT_MS: '300', LATCHKEY_WEBHOOK_ALLOW_LOCAL_NETWORK: 'true' } });
    w = await seedWorld(t);
  });
  afterAll(() => t?.close());
  afterEach(async () => {
    await receiver?.close();
    // Hooks of one test must not receive the next test's events.
    for (const url of [INSTANCE, groupHooks('acme'), groupHooks('acme/platform')]) {
      const list = await t.request('GET', url, { token: w.adminToken });
      for (const h of list.body) await t.request('DELETE', `${url}/${h.id}`, { token: w.adminToken });
    }
  });

  const hookCount = async () => Number((await t.app.store.db.selectFrom('webhooks').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  const dispatch = () => t.app.services.webhookDispatcher.runDue();
  const deployToken = async (name: string) => {
    const res = await t.request('POST', `/api/v4/projects/${encodeURIComponent('acme/platform/web')}/deploy_tokens`, { token: w.adminToken, body: { name, scopes: ['read_registry'] } });
    expect(res.status).toBe(201);
    return res.body as { id: number; token: string };
  };
  const deleteDeployToken = async (id: number) =>
    expect((await t.request('DELETE', `/api/v4/projects/${encodeURIComponent('acme/platform/web')}/deploy_tokens/${id}`, { token: w.adminToken })).status).toBe(204);

  it('shows the signing secret once, never in lists, and stores it only encrypted', async () => {
    receiver = await startReceiver();
    const created = await t.request('POST', INSTANCE, { token: w.adminToken, body: { url: receiver.url, events: ['token.revoked', 'token.created'] } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ url: receiver.url, events: ['token.created', 'token.revoked'], group_id: null });
    const secret: string = created.body.secret;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);

    const list = await t.request('GET', INSTANCE, { token: w.adminToken });
    expect(list.status).toBe(200);
    expect(list.headers['x-total']).toBe('1');
    expect(list.body).toEqual([{ id: created.body.id, url: receiver.url, events: ['token.created', 'token.revoked'], group_id: null, created_at: created.body.created_at }]);
    expect(list.text).not.toContain(secret);

    const rows = await t.app.store.db.selectFrom('webhooks').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(secret);
    expect(JSON.stringify(rows)).not.toContain(secret.slice('whsec_'.length));
    expect(rows[0]!.secret_encrypted).toMatch(/^v1:/);
  });

  it('delivers signed events to a real receiver, verified as the README tells users', async () => {
    receiver = await startReceiver();
    const hook = (await t.request('POST', groupHooks('acme/platform'), { token: w.adminToken, body: { url: receiver.url, events: ALL_EVENTS } })).body;
    const token = await deployToken('registry-pull');
    expect(receiver.received).toHaveLength(0); // publishing only records; the dispatcher sends
    await deleteDeployToken(token.id);
    expect(await dispatch()).toBe(2);

    expect(receiver.received.map((r) => r.headers['x-latchkey-event'])).toEqual(['token.created', 'token.revoked']);
    const verifyDelivery = await verify;
    for (const r of receiver.received) {
      expect(verifyDelivery(hook.secret, r.rawBody, r.headers, t.clock.now().getTime())).toBe(true);
      // Tampering with the body, the timestamp or the secret fails; an old timestamp (replay) fails.
      expect(verifyDelivery(hook.secret, r.rawBody.replace('registry-pull', 'registry-push'), r.headers, t.clock.now().getTime())).toBe(false);
      expect(verifyDelivery(hook.secret, r.rawBody, { ...r.headers, 'x-latchkey-timestamp': String(Number(r.headers['x-latchkey-timestamp']) + 1) }, t.clock.now().getTime())).toBe(false);
      expect(verifyDelivery('whsec_wrong', r.rawBody, r.headers, t.clock.now().getTime())).toBe(false);
      expect(verifyDelivery(hook.secret, r.rawBody, r.headers, t.clock.now().getTime() + 10 * 60_000)).toBe(false);
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers['x-latchkey-delivery']).toMatch(/^[0-9]+$/);
      expect(r.rawBody).not.toContain(token.token);
    }
    const created = JSON.parse(receiver.received[0]!.rawBody);
    expect(created).toEqual({
      event: 'token.created',
      at: t.clock.now().toISOString(),
      token: { id: token.id, kind: 'deploy', name: 'registry-pull', scopes: ['read_registry'], expires_at: null, project: 'acme/platform/web', group: null, user: null, username: `gitlab+deploy-token-${token.id}` },
      data: { by: 'root' },
    });
    expect(JSON.parse(receiver.received[1]!.rawBody)).toMatchObject({ event: 'token.revoked', token: { id: token.id }, data: { reason: 'deleted', by: 'root' } });

    const deliveries = await t.request('GET', `${groupHooks('acme/platform')}/${hook.id}/deliveries`, { token: w.adminToken });
    expect(deliveries.status).toBe(200);
    expect(deliveries.body.map((d: any) => [d.event, d.status, d.attempt_count])).toEqual([
      ['token.revoked', 'delivered', 1],
      ['token.created', 'delivered', 1],
    ]);
    expect(deliveries.body[1].attempts).toEqual([{ attempt: 1, started_at: t.clock.now().toISOString(), status_code: 200, latency_ms: expect.any(Number), error: null, next_retry_at: null }]);
    expect(await dispatch()).toBe(0); // nothing is sent twice
  });

  it('sends only the events a hook subscribed to, and group hooks only their own tree', async () => {
    receiver = await startReceiver();
    const other = (await t.request('POST', groupHooks('acme/other'), { token: w.adminToken, body: { url: receiver.url, events: ALL_EVENTS } })).body;
    const onlyRevoked = (await t.request('POST', groupHooks('acme'), { token: w.adminToken, body: { url: receiver.url, events: ['token.revoked'] } })).body;
    const token = await deployToken('scoped');
    await deleteDeployToken(token.id);
    await dispatch();
    expect(receiver.received.map((r) => r.headers['x-latchkey-event'])).toEqual(['token.revoked']);
    expect((await t.request('GET', `${groupHooks('acme/other')}/${other.id}/deliveries`, { token: w.adminToken })).body).toEqual([]);
    expect((await t.request('GET', `${groupHooks('acme')}/${onlyRevoked.id}/deliveries`, { token: w.adminToken })).body).toHaveLength(1);
    await t.request('DELETE', `${groupHooks('acme/other')}/${other.id}`, { token: w.adminToken });
  });

  it('retries through 500s, refused connections and timeouts, then delivers every event once, in order per token', async () => {
    receiver = await startReceiver();
    const hook = (await t.request('POST', INSTANCE, { token: w.adminToken, body: { url: receiver.url, events: ALL_EVENTS } })).body;
    receiver.mode = 'fail';
    const a = await deployToken('first');
    const b = await deployToken('second');
    await deleteDeployToken(a.id);

    // Attempt 1: 500 for both heads of line; a's revocation waits behind a's creation. The two tokens'
    // deliveries go out concurrently, so only their order within a token is defined: sort across tokens.
    expect(await dispatch()).toBe(2);
    const firstPass = receiver.received.map((r) => [r.status, JSON.parse(r.rawBody).token.name as string, r.headers['x-latchkey-event']] as const);
    expect([...firstPass].sort((x, y) => x[1].localeCompare(y[1]))).toEqual([
      [500, 'first', 'token.created'],
      [500, 'second', 'token.created'],
    ]);
    expect(await dispatch()).toBe(0); // not due before the backoff
    t.clock.advance(9_000);
    expect(await dispatch()).toBe(0);

    // Attempt 2 (10 s later): connection refused.
    await receiver.down();
    t.clock.advance(1_000);
    expect(await dispatch()).toBe(2);

    // Attempt 3 (30 s later): too slow for the 300 ms timeout.
    await receiver.listen();
    receiver.mode = 'slow';
    t.clock.advance(30_000);
    expect(await dispatch()).toBe(2);

    // Attempt 4 (1 min later): the receiver is back; a's revocation follows its creation in the same pass.
    receiver.mode = 'ok';
    t.clock.advance(60_000);
    expect(await dispatch()).toBe(3);
    expect(await dispatch()).toBe(0);

    const delivered = receiver.received.filter((r) => r.status === 200).map((r) => ({ event: r.headers['x-latchkey-event'], token: JSON.parse(r.rawBody).token.id, id: r.headers['x-latchkey-delivery'] }));
    expect(delivered).toHaveLength(3);
    expect(new Set(delivered.map((d) => d.id)).size).toBe(3);
    expect(delivered.filter((d) => d.token === a.id).map((d) => d.event)).toEqual(['token.created', 'token.revoked']);
    expect(delivered.filter((d) => d.token === b.id).map((d) => d.event)).toEqual(['token.created']);

    const list = (await t.request('GET', `${INSTANCE}/${hook.id}/deliveries`, { token: w.adminToken })).body;
    const createdA = list.find((d: any) => d.token_id === a.id && d.event === 'token.created');
    expect(createdA.status).toBe('delivered');
    expect(createdA.attempts.map((x: any) => [x.attempt, x.status_code])).toEqual([
      [1, 500],
      [2, null],
      [3, null],
      [4, 200],
    ]);
    expect(createdA.attempts[0].error).toContain('HTTP 500');
    // Refused, or the kept-alive connection closed by the receiver going down: either way, no answer.
    expect(createdA.attempts[1].error).toMatch(/ECONNREFUSED|ECONNRESET/);
    expect(createdA.attempts[2].error).toBe('timeout after 300 ms');
    expect(createdA.attempts[2].latency_ms).toBeGreaterThanOrEqual(250);
    const start = Date.parse(createdA.attempts[0].started_at);
    expect(createdA.attempts.map((x: any) => (x.next_retry_at === null ? null : (Date.parse(x.next_retry_at) - start) / 1000))).toEqual([10, 40, 100, null]);
    const revokedA = list.find((d: any) => d.token_id === a.id && d.event === 'token.revoked');
    expect(revokedA.attempts.map((x: any) => x.status_code)).toEqual([200]);
  });

  it('a receiver down for an hour gets every event once it is back, in order per token', async () => {
    receiver = await startReceiver();
    const hook = (await t.request('POST', groupHooks('acme'), { token: w.adminToken, body: { url: receiver.url, events: ALL_EVENTS } })).body;
    expect(hook.id).toBeGreaterThan(0);
    await receiver.down();
    const tokens = [];
    for (let i = 0; i < 3; i++) tokens.push(await deployToken(`down-${i}`));
    for (const tk of tokens) await deleteDeployToken(tk.id);
    const start = t.clock.now().getTime();
    // An hour of outage, the dispatcher running every minute.
    while (t.clock.now().getTime() - start < 3_600_000) {
      await dispatch();
      t.clock.advance(60_000);
    }
    await receiver.listen();
    // Back up: within the next hour (the longest wait at this point of the schedule) everything arrives.
    while (t.clock.now().getTime() - start < 2 * 3_600_000) {
      await dispatch();
      t.clock.advance(60_000);
    }
    const got = receiver.received.map((r) => ({ event: r.headers['x-latchkey-event'], token: JSON.parse(r.rawBody).token.id }));
    expect(got).toHaveLength(6);
    for (const tk of tokens) expect(got.filter((g) => g.token === tk.id).map((g) => g.event)).toEqual(['token.created', 'token.revoked']);
    const list = (await t.request('GET', `${groupHooks('acme')}/${hook.id}/deliveries?per_page=100`, { token: w.adminToken })).body;
    expect(list.every((d: any) => d.status === 'delivered')).toBe(true);
  });

  it('deletes finished deliveries after the retention period; pending ones stay', async () => {
    receiver = await startReceiver();
    const hook = (await t.request('POST', INSTANCE, { token: w.adminToken, body: { url: receiver.url, events: ['token.created'] } })).body;
    await deployToken('kept-1');
    await dispatch(); // delivered now
    await receiver.down();
    await deployToken('kept-2'); // will stay pending (retrying) through the outage
    await dispatch();
    const deliveries = async () => (await t.request('GET', `${INSTANCE}/${hook.id}/deliveries?per_page=100`, { token: w.adminToken })).body.map((d: any) => d.status).sort();
    expect(await deliveries()).toEqual(['delivered', 'pending']);
    const dispatcher = t.app.services.webhookDispatcher;
    t.clock.advance(29 * 86_400_000);
    await dispatcher.prune();
    expect(await deliveries()).toEqual(['delivered', 'pending']);
    t.clock.advance(2 * 86_400_000);
    // Earlier tests' finished deliveries (cancelled with their hooks) go too.
    expect(await dispatcher.prune()).toBeGreaterThanOrEqual(1);
    expect(await deliveries()).toEqual(['pending']);
    const finished = await t.app.store.db.selectFrom('webhook_deliveries').select('id').where('status', '!=', 'pending').execute();
    expect(finished).toEqual([]);
    const attempts = await t.app.store.db.selectFrom('webhook_attempts').innerJoin('webhook_deliveries', 'webhook_deliveries.id', 'webhook_attempts.delivery_id').select('webhook_attempts.id').where('webhook_deliveries.hook_id', '=', hook.id).execute();
    expect(attempts.length).toBeGreaterThan(0); // the pending one's attempts are kept
    const orphans = await t.app.store.db.selectFrom('webhook_attempts').leftJoin('webhook_deliveries', 'webhook_deliveries.id', 'webhook_attempts.delivery_id').select('webhook_attempts.id').where('webhook_deliveries.id', 'is', null).execute();
    expect(orphans).toEqual([]);
  });

  it('two dispatchers on one database (two nodes) send each attempt once', async () => {
    receiver = await startReceiver();
    await t.request('POST', INSTANCE, { token: w.adminToken, body: { url: receiver.url, events: ['token.created'] } });
    for (let i = 0; i < 8; i++) await deployToken(`node-${i}`);
    const nodes = [0, 1].map(() => createWebhookModule({ store: t.app.store, clock: t.clock, random: t.app.services.random, namespaces: t.app.services.namespaces, serverSecret: TEST_SECRET, timeoutMs: 2000, allowLocalNetwork: true }).dispatcher);
    const made = await Promise.all([nodes[0]!.runDue(), nodes[1]!.runDue(), dispatch()]);
    expect(made.reduce((a, b) => a + b, 0)).toBe(8);
    const ids = receiver.received.map((r) => r.headers['x-latchkey-delivery']);
    expect(ids).toHaveLength(8);
    expect(new Set(ids).size).toBe(8);
  });

  it('lets admins and group Owners register hooks; Maintainers get 403, outsiders 404', async () => {
    const body = { url: 'https://hooks.example.com/x', events: ['token.expiring'] };
    const before = await hookCount();
    expect((await t.request('POST', INSTANCE, { token: w.users.owner.token, body })).body).toEqual({ message: '403 Forbidden' });
    expect((await t.request('GET', INSTANCE, { token: w.users.owner.token })).status).toBe(403);
    expect((await t.request('POST', INSTANCE, { body })).status).toBe(401);
    for (const role of ['maintainer', 'developer', 'guest'] as const) {
      const res = await t.request('POST', groupHooks('acme/platform'), { token: w.users[role].token, body });
      expect(res.status).toBe(403);
      expect(res.body).toEqual({ message: '403 Forbidden' });
    }
    expect((await t.request('GET', groupHooks('acme/platform'), { token: w.users.maintainer.token })).status).toBe(403);
    const outsider = await t.request('POST', groupHooks('acme/platform'), { token: w.users.outsider.token, body });
    expect(outsider.status).toBe(404);
    expect(outsider.body).toEqual({ message: '404 Group Not Found' });
    expect(await hookCount()).toBe(before);

    const owned = await t.request('POST', groupHooks('acme/platform'), { token: w.users.owner.token, body });
    expect(owned.status).toBe(201);
    expect((await t.request('GET', groupHooks('acme/platform'), { token: w.users.owner.token })).body.map((h: any) => h.id)).toEqual([owned.body.id]);
    expect((await t.request('GET', `${groupHooks('acme/platform')}/${owned.body.id}/deliveries`, { token: w.users.maintainer.token })).status).toBe(403);
    expect((await t.request('DELETE', `${groupHooks('acme/platform')}/${owned.body.id}`, { token: w.users.maintainer.token })).status).toBe(403);
    // A hook is found only under its own group.
    expect((await t.request('DELETE', `${groupHooks('acme')}/${owned.body.id}`, { token: w.adminToken })).body).toEqual({ message: '404 Webhook Not Found' });
    expect((await t.request('DELETE', `${INSTANCE}/${owned.body.id}`, { token: w.adminToken })).status).toBe(404);
    expect((await t.request('DELETE', `${groupHooks('acme/platform')}/${owned.body.id}`, { token: w.users.owner.token })).status).toBe(204);
    expect((await t.request('GET', `${groupHooks('acme/platform')}/${owned.body.id}/deliveries`, { token: w.users.owner.token })).status).toBe(404);
  });

  it('refuses bad input with GitLab-shaped 4xx and writes nothing', async () => {
    const before = await hookCount();
    const cases: [unknown, number, unknown][] = [
      [{ url: 'ftp://hooks.example.com/x', events: ['token.created'] }, 400, { error: 'url is invalid' }],
      [{ url: 'not a url', events: ['token.created'] }, 400, { error: 'url is invalid' }],
      [{ url: 'javascript:alert(1)', events: ['token.created'] }, 400, { error: 'url is invalid' }],
      [{ url: 'https://user:pw@hooks.example.com/x', events: ['token.created'] }, 400, { error: 'url must not contain credentials' }],
      [{ url: `https://hooks.example.com/${'a'.repeat(3000)}`, events: ['token.created'] }, 400, expect.objectContaining({ error: expect.any(String) })],
      [{ url: 'https://hooks.example.com/x', events: ['token.exploded'] }, 400, expect.objectContaining({ error: expect.stringContaining('events') })],
      [{ url: 'https://hooks.example.com/x', events: [] }, 400, { error: 'events is empty' }],
      [{ url: 'https://hooks.example.com/x', events: 'token.created,token.nope' }, 400, expect.objectContaining({ error: expect.stringContaining('events') })],
      [{ url: 'https://hooks.example.com/x', events: { a: 1 } }, 400, expect.objectContaining({ error: expect.stringContaining('events') })],
      [{ url: ['https://hooks.example.com/x'], events: ['token.created'] }, 400, { error: 'url is invalid' }],
      [{ events: ['token.created'] }, 400, { error: 'url is missing' }],
      [{ url: 'https://hooks.example.com/x' }, 400, { error: 'events is missing' }],
      [undefined, 400, { error: 'url is missing' }],
    ];
    for (const [body, status, expected] of cases) {
      const res = await t.request('POST', INSTANCE, { token: w.adminToken, ...(body === undefined ? {} : { body }) });
      expect([res.status, res.body], JSON.stringify(body)).toEqual([status, expected]);
    }
    const huge = await t.request('POST', INSTANCE, { token: w.adminToken, body: { url: 'https://hooks.example.com/x', events: ['token.created'], pad: 'x'.repeat(2 * 1024 * 1024) } });
    expect(huge.status).toBe(413);
    const malformed = await t.request('POST', INSTANCE, { token: w.adminToken, rawBody: '{"url": ', headers: { 'content-type': 'application/json' } });
    expect(malformed.status).toBe(400);
    expect((await t.request('DELETE', `${INSTANCE}/abc`, { token: w.adminToken })).status).toBe(400);
    expect((await t.request('GET', `${INSTANCE}/999999/deliveries`, { token: w.adminToken })).body).toEqual({ message: '404 Webhook Not Found' });
    expect(await hookCount()).toBe(before);
  });
});
