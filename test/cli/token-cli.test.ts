/**
 * `latchkey token create|list|revoke|rotate|inspect` run in-process through runCli, on a SQLite file
 * and on a PostgreSQL database: personal (--user), project (--project), group (--group) and
 * service-account (--service-account --group) tokens in tables and JSON; every secret printed is
 * checked with the real verifier; rotation with and without --grace-period; the leak look-up from a
 * value (argument or stdin) and its --revoke; and the error paths (exit code, one clear line, no trace).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliHarness } from '../support/cli-harness.js';
import { DIALECTS } from '../support/dialects.js';

function expectNoStackTrace(text: string) {
  expect(text).not.toMatch(/^\s+at\s/m);
  expect(text).not.toMatch(/\b(TypeError|ReferenceError|DomainError|Error:)/);
}

function inDays(days: number): string {
  return new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
}

describe.each(DIALECTS)('latchkey token CLI on %s', (dialect) => {
  const h = createCliHarness(dialect, { prefix: 'latchkey-token-cli-' });
  const { cli, cliJson } = h;
  let adminToken: string;
  let alice: { id: number };

  const api = (method: 'GET' | 'POST', url: string, body?: unknown) => h.api(method, url, { token: adminToken, body });

  /** What the real verifier says about a secret now: the token id and user id it authenticates, or why not. */
  async function verify(secret: string): Promise<{ ok: true; tokenId: number; userId: number | null } | { ok: false; reason: string }> {
    return h.withServices(async (built) => {
      const r = await built.services.verifier.verify(secret);
      return r.ok ? { ok: true, tokenId: r.token.id, userId: r.token.userId } : { ok: false, reason: r.reason };
    });
  }

  beforeAll(async () => {
    await h.setUp();
    adminToken = (await cliJson('admin', 'bootstrap')).token;
    // Namespaces and users have no CLI command; create them through the API with the bootstrap token.
    alice = (await api('POST', '/api/v4/users', { username: 'alice', name: 'Alice', email: 'alice@example.com' })).body;
    const group = await api('POST', '/api/v4/groups', { name: 'Acme', path: 'acme' });
    expect(group.status).toBe(201);
    expect((await api('POST', '/api/v4/projects', { name: 'Web', path: 'web', namespace_id: group.body.id })).status).toBe(201);
    expect((await api('POST', `/api/v4/groups/${group.body.id}/service_accounts`, { username: 'ci-robot', name: 'CI robot' })).status).toBe(201);
  });
  afterAll(() => h.tearDown());

  describe('create', () => {
    it('--user --json: a personal glpat- token for that user, shown once', async () => {
      const created = await cliJson('token', 'create', '--user', 'alice', '--name', 'laptop', '--scopes', 'read_api, read_user', '--expires-at', inDays(30));
      expect(created).toMatchObject({ kind: 'personal', name: 'laptop', owner: 'alice', scopes: ['read_api', 'read_user'], expires_at: inDays(30), state: 'active', access_level: null });
      expect(created.token).toMatch(/^glpat-/);
      expect(await verify(created.token)).toEqual({ ok: true, tokenId: created.id, userId: alice.id });
    });

    it('--project: a project token whose secret acts as a new bot user at the access level asked for', async () => {
      const created = await cliJson('token', 'create', '--project', 'acme/web', '--name', 'ci', '--scopes', 'read_repository', '--access-level', '30', '--expires-at', inDays(10));
      expect(created).toMatchObject({ kind: 'project', name: 'ci', scopes: ['read_repository'], access_level: 30, state: 'active' });
      expect(created.owner).toMatch(/^project_\d+_bot_/);
      const seen = await verify(created.token);
      expect(seen).toMatchObject({ ok: true, tokenId: created.id });
      expect((seen as { userId: number }).userId).not.toBe(alice.id);
    });

    it('--group without --expires-at or --access-level: the policy’s expiry and GitLab’s default level 40', async () => {
      const created = await cliJson('token', 'create', '--group', 'acme', '--name', 'deployer', '--scopes', 'read_api');
      expect(created).toMatchObject({ kind: 'group', access_level: 40, state: 'active' });
      expect(created.owner).toMatch(/^group_\d+_bot_/);
      expect(created.expires_at).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(created.expires_at <= inDays(366)).toBe(true);
      expect(await verify(created.token)).toMatchObject({ ok: true, tokenId: created.id });
    });

    it('--service-account --group: a personal token of the group’s service account', async () => {
      const created = await cliJson('token', 'create', '--service-account', 'ci-robot', '--group', 'acme', '--name', 'robot', '--scopes', 'api', '--expires-at', inDays(5));
      expect(created).toMatchObject({ kind: 'service_account', owner: 'ci-robot', scopes: ['api'], state: 'active' });
      expect(await verify(created.token)).toMatchObject({ ok: true, tokenId: created.id });
    });

    it('prints a table and the secret when --json is absent', async () => {
      const run = await cli('token', 'create', '--user', 'alice', '--name', 'table', '--scopes', 'read_user', '--expires-at', '2099-01-31');
      // 2099 is beyond the maximum lifetime: refused, nothing printed on stdout.
      expect(run.code).toBe(1);
      expect(run.out).toBe('');
      expect(run.err).toMatch(/^latchkey: Expires at .*maximum lifetime 365 days/);

      const ok = await cli('token', 'create', '--user', 'alice', '--name', 'table', '--scopes', 'read_user', '--expires-at', inDays(20));
      expect(ok).toMatchObject({ code: 0, err: '' });
      const lines = ok.out.split('\n');
      expect(lines[0]).toMatch(/^ID\s+KIND\s+NAME\s+OWNER\s+SCOPES\s+ACCESS_LEVEL\s+EXPIRES_AT\s+STATE\s+LAST_USED_AT\s+LAST_USED_IPS$/);
      expect(lines[2]).toMatch(new RegExp(`^\\d+\\s+personal\\s+table\\s+alice\\s+read_user\\s+-\\s+${inDays(20)}\\s+active\\s+-\\s+-$`));
      expect(ok.out).toMatch(/\n\nToken \(shown only now\): glpat-\S+$/);
    });
  });

  describe('list', () => {
    it('lists a user’s tokens as a table without secrets, and as JSON', async () => {
      const run = await cli('token', 'list', '--user', 'alice');
      expect(run).toMatchObject({ code: 0, err: '' });
      expect(run.out.split('\n')[0]).toMatch(/^ID\s+KIND\s+NAME\s+OWNER/);
      expect(run.out).toMatch(/\blaptop\b/);
      expect(run.out).not.toContain('glpat-');
      const listed = await cliJson<any[]>('token', 'list', '--user', 'alice');
      expect(listed.map((t) => t.name).sort()).toEqual(['laptop', 'table']);
      for (const t of listed) {
        expect(t).toMatchObject({ kind: 'personal', owner: 'alice' });
        expect(t).not.toHaveProperty('token');
      }
    });

    it('lists project, group and service-account tokens, each with its own owner', async () => {
      const project = await cliJson<any[]>('token', 'list', '--project', 'acme/web');
      expect(project).toEqual([expect.objectContaining({ kind: 'project', name: 'ci', access_level: 30 })]);
      const group = await cliJson<any[]>('token', 'list', '--group', 'acme');
      expect(group).toEqual([expect.objectContaining({ kind: 'group', name: 'deployer', access_level: 40 })]);
      const robot = await cliJson<any[]>('token', 'list', '--service-account', 'ci-robot', '--group', 'acme');
      expect(robot).toEqual([expect.objectContaining({ kind: 'service_account', name: 'robot', owner: 'ci-robot' })]);
      for (const t of [...project, ...group, ...robot]) expect(t).not.toHaveProperty('token');
    });
  });

  describe('rotate', () => {
    it('without a grace period: the new secret works, the old one is refused at once', async () => {
      const created = await cliJson('token', 'create', '--project', 'acme/web', '--name', 'rot', '--scopes', 'read_api', '--expires-at', inDays(10));
      const rotated = await cliJson('token', 'rotate', '--project', 'acme/web', String(created.id), '--expires-at', inDays(20));
      expect(rotated).toMatchObject({ kind: 'project', name: 'rot', scopes: ['read_api'], expires_at: inDays(20), state: 'active', rotated_from_id: created.id, owner: created.owner });
      expect(rotated.id).not.toBe(created.id);
      expect(rotated.previous).toMatchObject({ id: created.id, state: 'rotated', grace_until: null });
      expect(rotated.token).toMatch(/^glpat-/);
      expect(await verify(rotated.token)).toMatchObject({ ok: true, tokenId: rotated.id });
      expect(await verify(created.token)).toMatchObject({ ok: false, reason: 'revoked' });
    });

    it('--grace-period 1h: both secrets work, the table says until when', async () => {
      const created = await cliJson('token', 'create', '--user', 'alice', '--name', 'graceful', '--scopes', 'read_user', '--expires-at', inDays(10));
      const before = Date.now();
      const run = await cli('token', 'rotate', '--user', 'alice', String(created.id), '--grace-period', '1h');
      expect(run).toMatchObject({ code: 0, err: '' });
      const until = /The old secret \(token (\d+)\) keeps working until (\S+)\./.exec(run.out);
      expect(until?.[1]).toBe(String(created.id));
      const graceMs = Date.parse(until![2]!) - before;
      expect(graceMs).toBeGreaterThanOrEqual(3_600_000 - 1000);
      expect(graceMs).toBeLessThanOrEqual(3_600_000 + 60_000);
      const secret = /Token \(shown only now\): (glpat-\S+)$/.exec(run.out)![1]!;
      expect(await verify(secret)).toMatchObject({ ok: true });
      expect(await verify(created.token)).toMatchObject({ ok: true, tokenId: created.id });
      const listed = await cliJson<any[]>('token', 'list', '--user', 'alice');
      expect(listed.find((t) => t.id === created.id)).toMatchObject({ state: 'grace' });
    });

    it('a group and a service-account token rotate too; --grace-period 7d is accepted', async () => {
      const [groupToken] = await cliJson<any[]>('token', 'list', '--group', 'acme');
      const g = await cliJson('token', 'rotate', '--group', 'acme', String(groupToken.id), '--grace-period', '7d');
      expect(g.previous).toMatchObject({ id: groupToken.id, state: 'grace' });
      expect(Date.parse(g.previous.grace_until) - Date.now()).toBeGreaterThan(7 * 86_400_000 - 120_000);
      const [robotToken] = await cliJson<any[]>('token', 'list', '--service-account', 'ci-robot', '--group', 'acme');
      const r = await cliJson('token', 'rotate', '--service-account', 'ci-robot', '--group', 'acme', String(robotToken.id));
      expect(r).toMatchObject({ kind: 'service_account', owner: 'ci-robot', rotated_from_id: robotToken.id });
      expect(await verify(r.token)).toMatchObject({ ok: true, tokenId: r.id });
    });

    it('a rotated-away token cannot be rotated again; bad durations are usage errors', async () => {
      const created = await cliJson('token', 'create', '--user', 'alice', '--name', 'twice', '--scopes', 'read_user', '--expires-at', inDays(10));
      await cliJson('token', 'rotate', '--user', 'alice', String(created.id));
      const again = await cli('token', 'rotate', '--user', 'alice', String(created.id));
      expect(again.code).toBe(1);
      expect(again.err).toMatch(/^latchkey: .*token already revoked/);
      expectNoStackTrace(again.err);
      const bad = await cli('token', 'rotate', '--user', 'alice', String(created.id), '--grace-period', 'soon');
      expect(bad).toMatchObject({ code: 2, out: '' });
      expect(bad.err).toMatch(/^latchkey: --grace-period must be/);
      const fresh = await cliJson('token', 'create', '--project', 'acme/web', '--name', 'long-grace', '--scopes', 'read_api', '--expires-at', inDays(10));
      const tooLong = await cli('token', 'rotate', '--project', 'acme/web', String(fresh.id), '--grace-period', '400d');
      expect(tooLong).toMatchObject({ code: 1, out: '' });
      expect(tooLong.err).toMatch(/^latchkey: .*grace_period must be from 0 to 2592000 seconds$/);
      // Refused before anything changed: the token still works and rotates normally.
      expect(await verify(fresh.token)).toMatchObject({ ok: true, tokenId: fresh.id });
    });
  });

  describe('revoke', () => {
    it('revokes a personal token: its secret is refused; a second revoke is a clear error', async () => {
      const created = await cliJson('token', 'create', '--user', 'alice', '--name', 'gone', '--scopes', 'read_user', '--expires-at', inDays(10));
      const run = await cli('token', 'revoke', '--user', 'alice', String(created.id));
      expect(run).toEqual({ code: 0, out: `Revoked token ${created.id} of user alice.`, err: '' });
      expect(await verify(created.token)).toMatchObject({ ok: false, reason: 'revoked' });
      const active = await cliJson<any[]>('token', 'list', '--user', 'alice', '--state', 'active');
      expect(active.map((t) => t.id)).not.toContain(created.id);
      const again = await cli('token', 'revoke', '--user', 'alice', String(created.id));
      expect(again.code).toBe(1);
      expect(again.err).toMatch(/^latchkey: .*already revoked/i);
    });

    it('revokes project, group and service-account tokens by id (--json)', async () => {
      for (const args of [['--project', 'acme/web'], ['--group', 'acme'], ['--service-account', 'ci-robot', '--group', 'acme']]) {
        const created = await cliJson('token', 'create', ...args, '--name', 'short', '--scopes', 'read_api', '--expires-at', inDays(3));
        expect(await cliJson('token', 'revoke', ...args, String(created.id))).toEqual({ id: created.id, revoked: true });
        expect(await verify(created.token)).toMatchObject({ ok: false });
      }
    });

    it('a token id of another owner is not found', async () => {
      const [projectToken] = await cliJson<any[]>('token', 'list', '--project', 'acme/web', '--state', 'active');
      const run = await cli('token', 'revoke', '--user', 'alice', String(projectToken.id));
      expect(run.code).toBe(1);
      expect(run.err).toMatch(/^latchkey: 404 .*Not Found$/);
      const still = await cliJson<any[]>('token', 'list', '--project', 'acme/web', '--state', 'active');
      expect(still.find((t) => t.id === projectToken.id)).toMatchObject({ state: 'active' });
    });
  });

  describe('inspect', () => {
    it('identifies a personal token from its value: kind, owner, scopes, state — never the secret', async () => {
      const created = await cliJson('token', 'create', '--user', 'alice', '--name', 'leaked', '--scopes', 'read_api', '--expires-at', inDays(10));
      const run = await cli('token', 'inspect', created.token);
      expect(run).toMatchObject({ code: 0, err: '' });
      expect(run.out).toMatch(/\bpersonal\b/);
      expect(run.out).toMatch(/\balice\b/);
      expect(run.out).toMatch(/\bread_api\b/);
      expect(run.out).toMatch(/\bactive\b/);
      expect(run.out).not.toContain(created.token);
      const json = await cliJson('token', 'inspect', created.token);
      expect(json).toMatchObject({ id: created.id, kind: 'personal', owner: 'alice', scopes: ['read_api'], state: 'active' });
      expect(JSON.stringify(json)).not.toContain(created.token);
    });

    it('reads the value from stdin with `-` and --revoke revokes it', async () => {
      const created = await cliJson('token', 'create', '--project', 'acme/web', '--name', 'leaked-bot', '--scopes', 'read_api', '--expires-at', inDays(10));
      h.stdin = `${created.token}\n`;
      const run = await cliJson('token', 'inspect', '-', '--revoke');
      expect(run).toMatchObject({ id: created.id, kind: 'project', owner: created.owner, state: 'revoked', revoked_now: true });
      expect(JSON.stringify(run)).not.toContain(created.token);
      expect(await verify(created.token)).toMatchObject({ ok: false, reason: 'revoked' });
      h.stdin = '';
    });

    it('identifies an impersonation token as one, and the user’s list labels it', async () => {
      const created = (await api('POST', `/api/v4/users/${alice.id}/impersonation_tokens`, { name: 'support', scopes: ['read_user'], expires_at: inDays(10) })).body;
      const json = await cliJson('token', 'inspect', created.token);
      expect(json).toMatchObject({ id: created.id, kind: 'impersonation', owner: 'alice', owner_id: alice.id, scopes: ['read_user'], state: 'active' });
      expect((await cli('token', 'inspect', created.token)).out).toMatch(/^kind\s+impersonation$/m);
      const listed = await cliJson<any[]>('token', 'list', '--user', 'alice');
      expect(listed.find((t) => t.id === created.id)).toMatchObject({ kind: 'impersonation', owner: 'alice', name: 'support' });
      expect(listed.filter((t) => t.id !== created.id).every((t) => t.kind === 'personal')).toBe(true);
    });

    it('identifies a deploy token too', async () => {
      const created = await cliJson('deploy-token', 'create', '--project', 'acme/web', '--name', 'pull', '--scopes', 'read_registry');
      const json = await cliJson('token', 'inspect', created.token);
      expect(json).toMatchObject({ id: created.id, kind: 'deploy', scopes: ['read_registry'], state: 'active' });
    });

    it('an unknown value is a non-zero exit with one clear line that does not echo it', async () => {
      const value = 'glpat-thisIsNotARealToken00000000000';
      const run = await cli('token', 'inspect', value);
      expect(run.code).toBe(1);
      expect(run.out).toBe('');
      expect(run.err).toMatch(/^latchkey: .*not found/i);
      expect(run.err).not.toContain(value);
      expectNoStackTrace(run.err);
      h.stdin = '';
      const empty = await cli('token', 'inspect', '-');
      expect(empty.code).toBe(2);
      expect(empty.err).toMatch(/^latchkey: no token value/);
    });
  });

  describe('errors', () => {
    it('an unknown user, project, group or service account: exit 1, one line', async () => {
      const cases: [string[], RegExp][] = [
        [['--user', 'nobody'], /User Not Found$/],
        [['--project', 'acme/nope'], /Project Not Found$/],
        [['--group', 'nope'], /Group Not Found$/],
        [['--service-account', 'nobody', '--group', 'acme'], /Not Found$/],
      ];
      for (const [target, message] of cases) {
        const run = await cli('token', 'create', ...target, '--name', 'x', '--scopes', 'read_api', '--expires-at', inDays(3));
        expect(run.code, target.join(' ')).toBe(1);
        expect(run.out).toBe('');
        expect(run.err).toMatch(/^latchkey: /);
        expect(run.err).toMatch(message);
        expect(run.err.split('\n')).toHaveLength(1);
        expectNoStackTrace(run.err);
      }
    });

    it('a bad scope: exit 1 naming the problem, nothing created', async () => {
      const before = (await cliJson<unknown[]>('token', 'list', '--project', 'acme/web')).length;
      const run = await cli('token', 'create', '--project', 'acme/web', '--name', 'x', '--scopes', 'read_user', '--expires-at', inDays(3));
      expect(run.code).toBe(1);
      expect(run.err).toMatch(/^latchkey: scopes does not have a valid value$/);
      const other = await cli('token', 'create', '--user', 'alice', '--name', 'x', '--scopes', 'sudo_everything', '--expires-at', inDays(3));
      expect(other.code).toBe(1);
      expect(other.err).toMatch(/^latchkey: scopes does not have a valid value$/);
      expect((await cliJson<unknown[]>('token', 'list', '--project', 'acme/web')).length).toBe(before);
    });

    it('usage mistakes: exit 2 with a message, no trace', async () => {
      const none = await cli('token', 'list');
      expect(none).toMatchObject({ code: 2, out: '' });
      expect(none.err).toMatch(/^latchkey: give exactly one of --user/);
      const two = await cli('token', 'list', '--user', 'alice', '--project', 'acme/web');
      expect(two.code).toBe(2);
      const saWithoutGroup = await cli('token', 'list', '--service-account', 'ci-robot');
      expect(saWithoutGroup).toMatchObject({ code: 2, err: 'latchkey: --service-account needs --group <path> (the group that owns it)' });
      const levelForUser = await cli('token', 'create', '--user', 'alice', '--name', 'x', '--scopes', 'read_api', '--access-level', '30');
      expect(levelForUser).toMatchObject({ code: 2, err: 'latchkey: --access-level is for project and group tokens only' });
      const badLevel = await cli('token', 'create', '--project', 'acme/web', '--name', 'x', '--scopes', 'read_api', '--access-level', 'owner');
      expect(badLevel.code).toBe(2);
      const badId = await cli('token', 'revoke', '--user', 'alice', 'abc');
      expect(badId).toMatchObject({ code: 2, err: 'latchkey: token id must be a number' });
      const badState = await cli('token', 'list', '--user', 'alice', '--state', 'gone');
      expect(badState).toMatchObject({ code: 2, err: 'latchkey: --state must be active or inactive' });
      const missing = await cli('token', 'create', '--user', 'alice', '--scopes', 'read_api');
      expect(missing.code).not.toBe(0);
      expect(missing.err).toMatch(/required option '--name <name>' not specified/);
      for (const r of [none, two, saWithoutGroup, levelForUser, badLevel, badId, badState, missing]) expectNoStackTrace(r.err);
    });
  });
});
