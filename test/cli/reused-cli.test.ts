/**
 * `latchkey token reused` (issue 5, point 4) and the usage fields of `token list|inspect` (point 3),
 * run in-process through runCli on a SQLite file and on a PostgreSQL database. The token is used
 * through the real HTTP app from several user agents, so the flag comes from the real verifier path.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliHarness } from '../support/cli-harness.js';
import { DIALECTS } from '../support/dialects.js';

function inDays(days: number): string {
  return new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
}

describe.each(DIALECTS)('latchkey token reused on %s', (dialect) => {
  // The default policy: more than 3 distinct user agents or IPs within an hour.
  const h = createCliHarness(dialect, { prefix: 'latchkey-reused-cli-' });
  const { cli, cliJson } = h;

  /** API calls with `token`, each from its own user agent and address, on one app; waits for the usage writes. */
  async function useFrom(token: string, clients: { ip: string; userAgent: string }[]) {
    await h.withApp(async (app) => {
      for (const { ip, userAgent } of clients) {
        const res = await app.http.inject({ method: 'GET', url: '/api/v4/user', headers: { 'private-token': token, 'user-agent': userAgent }, remoteAddress: ip });
        expect(res.statusCode).toBe(200);
      }
      await app.services.tokenUsage.idle();
    });
  }

  beforeAll(async () => {
    await h.setUp();
    const adminToken = (await cliJson('admin', 'bootstrap')).token;
    const alice = await h.api('POST', '/api/v4/users', { token: adminToken, body: { username: 'alice', name: 'Alice', email: 'alice@example.com' } });
    expect(alice.status).toBe(201);
  });
  afterAll(() => h.tearDown());

  it('lists nothing while no token is flagged', async () => {
    expect(await cli('token', 'reused')).toMatchObject({ code: 0, out: '(none)', err: '' });
    expect(await cliJson('token', 'reused')).toEqual([]);
  });

  it('lists a token used by four automations with what was seen; list and inspect show the usage fields', async () => {
    const shared = await cliJson('token', 'create', '--user', 'alice', '--name', 'shared', '--scopes', 'read_user', '--expires-at', inDays(30));
    const quiet = await cliJson('token', 'create', '--user', 'alice', '--name', 'quiet', '--scopes', 'read_user', '--expires-at', inDays(30));
    await useFrom(quiet.token, [{ ip: '192.0.2.1', userAgent: 'one-bot/1' }]);
    const agents = ['gitlab-runner/17.5', 'renovate/38', 'terraform/1.9', 'python-gitlab/4.4'];
    await useFrom(shared.token, agents.map((userAgent) => ({ ip: '10.0.0.7', userAgent })));

    const rows = await cliJson<any[]>('token', 'reused');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id: shared.id, kind: 'personal', name: 'shared', owner: 'alice', state: 'active', seen_ips: ['10.0.0.7'], last_used_ips: ['10.0.0.7'] });
    expect(rows[0].reuse_flagged_at).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect([...rows[0].seen_user_agents].sort()).toEqual([...agents].sort());
    expect(JSON.stringify(rows)).not.toContain(shared.token);

    const table = await cli('token', 'reused');
    expect(table).toMatchObject({ code: 0, err: '' });
    const lines = table.out.split('\n');
    expect(lines[0]).toMatch(/^ID\s+KIND\s+NAME\s+OWNER\s+STATE\s+REUSE_FLAGGED_AT\s+SEEN_USER_AGENTS\s+SEEN_IPS\s+LAST_USED_AT$/);
    expect(lines[2]).toMatch(new RegExp(`^${shared.id}\\s+personal\\s+shared\\s+alice\\s+active\\s+\\S+\\s+\\S*renovate/38\\S*\\s+10\\.0\\.0\\.7\\s+\\S+$`));
    expect(lines).toHaveLength(3);

    const listed = await cliJson<any[]>('token', 'list', '--user', 'alice');
    expect(listed.find((t) => t.id === shared.id)).toMatchObject({ last_used_ips: ['10.0.0.7'], reuse_flagged_at: rows[0].reuse_flagged_at });
    expect(listed.find((t) => t.id === quiet.id)).toMatchObject({ last_used_ips: ['192.0.2.1'], reuse_flagged_at: null });
    const inspected = await cliJson('token', 'inspect', shared.token);
    expect(inspected).toMatchObject({ id: shared.id, last_used_ips: ['10.0.0.7'], reuse_flagged_at: rows[0].reuse_flagged_at });
    expect(inspected.last_used_at).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('drops a flagged token once it no longer works, unless --all', async () => {
    const [row] = await cliJson<any[]>('token', 'reused');
    expect((await cli('token', 'revoke', String(row.id), '--user', 'alice')).code).toBe(0);
    expect(await cliJson('token', 'reused')).toEqual([]);
    const all = await cliJson<any[]>('token', 'reused', '--all');
    expect(all.map((r) => [r.id, r.state])).toEqual([[row.id, 'revoked']]);
  });
});
