/**
 * `latchkey token reused` (issue 5, point 4) and the usage fields of `token list|inspect` (point 3),
 * run in-process through runCli on a SQLite file and on a PostgreSQL database. The token is used
 * through the real HTTP app from several user agents, so the flag comes from the real verifier path.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { runCli } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config.js';
import { createTestDatabase, DIALECTS } from '../support/dialects.js';

const SECRET = 'cli-reused-test-secret-0123456789abcdef012';

function inDays(days: number): string {
  return new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
}

describe.each(DIALECTS)('latchkey token reused on %s', (dialect) => {
  let dir: string;
  let env: Record<string, string>;
  let dropDatabase: () => Promise<void> = async () => {};
  let adminToken: string;

  async function cli(...args: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(['node', 'latchkey', ...args], { print: (t) => out.push(t), error: (t) => err.push(t), env });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  async function cliJson<T = any>(...args: string[]): Promise<T> {
    const run = await cli(...args, '--json');
    expect(run, run.err).toMatchObject({ code: 0, err: '' });
    return JSON.parse(run.out) as T;
  }

  /** API calls with `token`, each from its own user agent and address, on one app; waits for the usage writes. */
  async function useFrom(token: string, clients: { ip: string; userAgent: string }[]) {
    const app = await buildApp(loadConfig(env));
    try {
      for (const { ip, userAgent } of clients) {
        const res = await app.http.inject({ method: 'GET', url: '/api/v4/user', headers: { 'private-token': token, 'user-agent': userAgent }, remoteAddress: ip });
        expect(res.statusCode).toBe(200);
      }
      await app.services.tokenUsage.idle();
    } finally {
      await app.close();
    }
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-reused-cli-'));
    let databaseUrl = `sqlite:${join(dir, 'cli.db')}`;
    if (dialect === 'postgres') {
      const db = await createTestDatabase('postgres');
      databaseUrl = db.url;
      dropDatabase = db.drop;
    }
    // The default policy: more than 3 distinct user agents or IPs within an hour.
    env = { LATCHKEY_DATA_DIR: dir, LATCHKEY_SECRET: SECRET, DATABASE_URL: databaseUrl, LATCHKEY_LOG_LEVEL: 'silent' };
    adminToken = (await cliJson('admin', 'bootstrap')).token;
    const app = await buildApp(loadConfig(env));
    try {
      const res = await app.http.inject({ method: 'POST', url: '/api/v4/users', headers: { 'private-token': adminToken, 'content-type': 'application/json' }, payload: JSON.stringify({ username: 'alice', name: 'Alice', email: 'alice@example.com' }) });
      expect(res.statusCode).toBe(201);
    } finally {
      await app.close();
    }
  });
  afterAll(async () => {
    await dropDatabase();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

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
