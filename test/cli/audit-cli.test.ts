/**
 * `latchkey audit` and `latchkey audit verify` in-process through runCli on a SQLite file and a
 * PostgreSQL database: a token is bootstrapped and used against the API (the app's close flushes its
 * queued entries), a deploy token is created with the CLI; then the log is read by the token's value
 * and by its sha256: hash (same entries, the value never printed), by token id, as a table and as
 * JSON; the chain verifies, and after an UPDATE and a DELETE by hand `verify` names the entries and
 * exits 1. Bad options exit 2 with one line.
 */
import { createHash, createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { locateDatabase, openStore } from '../../src/store/open-store.js';
import { CLI_TEST_SECRET, createCliHarness } from '../support/cli-harness.js';
import { DIALECTS } from '../support/dialects.js';

const hashOf = (token: string) => `sha256:${createHash('sha256').update(createHmac('sha256', CLI_TEST_SECRET).update(token).digest('hex')).digest('hex')}`;

describe.each(DIALECTS)('latchkey audit on %s', (dialect) => {
  const h = createCliHarness(dialect, { prefix: 'latchkey-audit-cli-', env: { LATCHKEY_AUDIT_FLUSH_MS: '60000' } });
  const { cli, cliJson } = h;
  let adminToken: string;
  let deploy: { id: number; token: string };

  beforeAll(async () => {
    await h.setUp();
    adminToken = (await cliJson('admin', 'bootstrap', '--expires-in-days', '30')).token;
    // Nothing is flushed while the app runs (60 s interval): its close must write the queue.
    await h.withApp(async (app) => {
      const call = async (method: 'GET' | 'POST', url: string, body?: unknown) =>
        app.http.inject({ method, url, headers: { 'private-token': adminToken, 'content-type': 'application/json', 'user-agent': 'cli-test' }, payload: body === undefined ? undefined : JSON.stringify(body) });
      expect((await call('POST', '/api/v4/groups', { name: 'Acme', path: 'acme' })).statusCode).toBe(201);
      expect((await call('GET', '/api/v4/user')).statusCode).toBe(200);
    });
    await cliJson('deploy-token', 'list');
    const project = (await h.api('POST', '/api/v4/projects', { token: adminToken, body: { name: 'Web', path: 'web', namespace_id: 1 } })).body;
    expect(project.path_with_namespace).toBe('acme/web');
    deploy = await cliJson('deploy-token', 'create', '--project', 'acme/web', '--name', 'pull', '--scopes', 'read_registry');
  });
  afterAll(() => h.tearDown());

  it('--token <value> and --token sha256:<hash> find the same entries; the value is never printed', async () => {
    const byValue = await cli('audit', '--token', adminToken, '--since', '7d', '--json');
    expect(byValue.code).toBe(0);
    expect(byValue.out).not.toContain(adminToken);
    const entries = JSON.parse(byValue.out);
    expect(entries.map((e: any) => (e.event === 'http.request' ? `${e.method} ${e.route} ${e.status}` : e.event))).toEqual(['POST /api/v4/projects 201', 'GET /api/v4/user 200', 'POST /api/v4/groups 201', 'token.created']);
    expect(entries.every((e: any) => e.token_hash === hashOf(adminToken))).toBe(true);
    expect(entries[1]).toMatchObject({ actor_type: 'user', actor_username: 'root', user_agent: 'cli-test', path: '/api/v4/user' });
    const byHash = await cliJson('audit', '--token', hashOf(adminToken));
    expect(byHash.map((e: any) => e.id)).toEqual(entries.map((e: any) => e.id));

    const table = await cli('audit', '--token', adminToken);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/^ID\s+TIME\s+EVENT\s+ACTOR\s+TOKEN\s+REQUEST\s+STATUS\s+IP/);
    expect(table.out).toContain('POST /api/v4/groups');
    expect(table.out).toContain('root (user)');
    expect(table.out).not.toContain(adminToken);
  });

  it('token events: created by the CLI (as root), found by token id and event', async () => {
    const created = await cliJson('audit', '--token-id', String(deploy.id));
    expect(created).toEqual([expect.objectContaining({ event: 'token.created', token_id: deploy.id, token_hash: hashOf(deploy.token), actor_username: 'root', details: { by: 'root' } })]);
    const all = await cliJson('audit', '--event', 'token.created');
    expect(all.map((e: any) => e.token_id)).toEqual([deploy.id, expect.any(Number)]);
    expect(await cliJson('audit', '--since', '2000-01-01', '--until', '2000-01-02')).toEqual([]);
    expect((await cliJson('audit', '--limit', '2')).length).toBe(2);
  });

  it('verify: intact, then names altered and deleted entries and exits 1', async () => {
    const ok = await cli('audit', 'verify');
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/^Audit log intact: \d+ entries/);
    const store = await openStore(locateDatabase(h.databaseUrl, h.dir));
    try {
      await store.db.updateTable('audit_events').set({ ip: '10.6.6.6' }).where('id', '=', 2).execute();
      await store.db.deleteFrom('audit_events').where('id', '=', 3).execute();
    } finally {
      await store.close();
    }
    const bad = await cli('audit', 'verify');
    expect(bad.code).toBe(1);
    expect(bad.out).toContain('Audit log TAMPERED');
    expect(bad.out).toContain('altered: entry 2 no longer matches its hash');
    expect(bad.out).toContain('missing: entry 3 deleted');
    const json = await cli('audit', 'verify', '--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.out)).toMatchObject({ ok: false, altered: [2], missing: [{ from: 3, to: 3 }], broken_links: [] });
  });

  it.each([
    [['audit', '--since', 'last week'], /--since must be a duration/],
    [['audit', '--limit', '0'], /--limit must be a whole number/],
    [['audit', '--status', 'ok'], /--status must be an HTTP status code/],
    [['audit', '--token-id', 'abc'], /token id must be a number/],
  ])('%j exits 2 with one line', async (args, message) => {
    const run = await cli(...args);
    expect(run.code).toBe(2);
    expect(run.err).toMatch(message);
    expect(run.err.split('\n')).toHaveLength(1);
  });
});
