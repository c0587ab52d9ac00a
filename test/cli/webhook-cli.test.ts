/**
 * `latchkey webhook add|list|remove|deliveries` in-process on SQLite and PostgreSQL: the secret printed
 * once, tables and --json, group hooks, refusals as one line with exit codes, and the attempts of a
 * delivery sent to a real local receiver.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliHarness } from '../support/cli-harness.js';
import { DIALECTS } from '../support/dialects.js';
import { startReceiver } from '../integration/http/webhooks-receiver.js';

describe.each(DIALECTS)('latchkey webhook CLI on %s', (dialect) => {
  const h = createCliHarness(dialect, { prefix: 'latchkey-webhook-cli-', env: { LATCHKEY_WEBHOOK_ALLOW_LOCAL_NETWORK: 'true' } });
  const { cli, cliJson } = h;

  beforeAll(async () => {
    await h.setUp();
    const admin = await cliJson('admin', 'bootstrap');
    const group = await h.api('POST', '/api/v4/groups', { token: admin.token, body: { name: 'Acme', path: 'acme' } });
    expect(group.status).toBe(201);
    const project = await h.api('POST', '/api/v4/projects', { token: admin.token, body: { name: 'Web', path: 'web', namespace_id: group.body.id } });
    expect(project.status).toBe(201);
  });
  afterAll(() => h.tearDown());

  it('adds, lists and removes instance and group webhooks; the secret is printed once', async () => {
    const added = await cli('webhook', 'add', '--url', 'https://hooks.example.com/a', '--events', 'token.expiring, token.revoked');
    expect(added.code).toBe(0);
    const secret = /Signing secret \(shown only now\): (whsec_\S+)/.exec(added.out)?.[1];
    expect(secret).toBeDefined();
    expect(added.out).toMatch(/^ID\s+URL\s+EVENTS\s+GROUP/m);

    const group = await cliJson('webhook', 'add', '--group', 'acme', '--url', 'http://127.0.0.1:9/g', '--events', 'token.created');
    expect(group).toMatchObject({ url: 'http://127.0.0.1:9/g', events: ['token.created'], group: 'acme' });
    expect(group.secret).toMatch(/^whsec_/);

    const listed = await cli('webhook', 'list');
    expect(listed.code).toBe(0);
    expect(listed.out).toContain('https://hooks.example.com/a');
    expect(listed.out).toContain('token.revoked,token.expiring');
    expect(listed.out).not.toContain(secret!);
    expect(await cliJson('webhook', 'list', '--group', 'acme')).toEqual([{ id: group.id, url: 'http://127.0.0.1:9/g', events: ['token.created'], group: 'acme', created_at: expect.any(String) }]);

    expect(await cliJson('webhook', 'remove', String(group.id))).toEqual({ id: group.id, removed: true });
    expect(await cliJson('webhook', 'list', '--group', 'acme')).toEqual([]);
  });

  it('refuses bad input with one line and an exit code', async () => {
    const badUrl = await cli('webhook', 'add', '--url', 'ftp://x.example.com', '--events', 'token.created');
    expect(badUrl).toMatchObject({ code: 1, out: '', err: 'latchkey: url is invalid' });
    const badEvent = await cli('webhook', 'add', '--url', 'https://x.example.com', '--events', 'token.exploded');
    expect(badEvent).toMatchObject({ code: 1, err: 'latchkey: events does not have a valid value' });
    expect(await cli('webhook', 'remove', 'abc')).toMatchObject({ code: 2, err: 'latchkey: hook id must be a positive number' });
    expect(await cli('webhook', 'remove', '999999')).toMatchObject({ code: 1, err: 'latchkey: 404 Webhook Not Found' });
    expect((await cli('webhook', 'add', '--url', 'https://x.example.com', '--events', 'token.created', '--group', 'nope')).code).toBe(1);
  });

  it('lists every attempt of a delivery sent to a real receiver', async () => {
    const receiver = await startReceiver();
    try {
      const hook = await cliJson('webhook', 'add', '--url', receiver.url, '--events', 'token.created,token.revoked');
      const token = await cliJson('deploy-token', 'create', '--project', 'acme/web', '--name', 'pull', '--scopes', 'read_registry');
      receiver.mode = 'fail';
      await h.withServices(async (built) => {
        expect(await built.services.webhookDispatcher.runDue()).toBe(1);
      });
      const deliveries = await cliJson('webhook', 'deliveries', String(hook.id));
      expect(deliveries).toHaveLength(1);
      expect(deliveries[0]).toMatchObject({ event: 'token.created', token_id: token.id, status: 'pending', attempt_count: 1 });
      expect(deliveries[0].attempts).toEqual([{ attempt: 1, started_at: expect.any(String), status_code: 500, latency_ms: expect.any(Number), error: 'HTTP 500: receiver broken', next_retry_at: expect.any(String) }]);
      const table = await cli('webhook', 'deliveries', String(hook.id));
      expect(table.out).toMatch(/^DELIVERY\s+EVENT\s+TOKEN_ID\s+STATUS\s+ATTEMPT\s+STARTED_AT\s+STATUS_CODE\s+LATENCY_MS\s+ERROR\s+NEXT_RETRY_AT/m);
      expect(table.out).toMatch(/token\.created\s+\d+\s+pending\s+1\s+\S+\s+500\s+\d+\s+HTTP 500: receiver broken/);
      expect(receiver.received).toHaveLength(1);
    } finally {
      await receiver.close();
    }
  });
});
