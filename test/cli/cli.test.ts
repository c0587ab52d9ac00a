/**
 * The `latchkey` CLI run in-process through runCli with an injected io and environment, on a SQLite
 * file and on a PostgreSQL database: migrate, admin bootstrap, and deploy-token create/list/revoke
 * in tables and JSON, plus the error paths (exit code and one clear line, never a stack trace).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliHarness } from '../support/cli-harness.js';
import { DIALECTS } from '../support/dialects.js';

/** No line of a stack trace (`    at fn (file:line)`) and no raw error class names. */
function expectNoStackTrace(text: string) {
  expect(text).not.toMatch(/^\s+at\s/m);
  expect(text).not.toMatch(/\b(TypeError|ReferenceError|DomainError)\b/);
}

describe.each(DIALECTS)('latchkey CLI on %s', (dialect) => {
  const h = createCliHarness(dialect, { prefix: 'latchkey-cli-' });
  const { cli, cliJson } = h;
  let adminToken: string;

  /** Calls the API of an in-process app on the same store, as the bootstrap admin. */
  const api = (method: 'GET' | 'POST', url: string, body?: unknown) => h.api(method, url, { token: adminToken, body });

  beforeAll(() => h.setUp());
  afterAll(() => h.tearDown());

  it('migrate applies the migrations once, then reports the database up to date', async () => {
    const first = await cli('migrate');
    expect(first).toMatchObject({ code: 0, err: '' });
    expect(first.out).toMatch(/^Applied: \S+/);
    expect(await cli('migrate')).toEqual({ code: 0, out: 'Database is up to date.', err: '' });
  });

  it('admin bootstrap --json prints a glpat- token for root that authenticates', async () => {
    const result = await cliJson('admin', 'bootstrap', '--expires-in-days', '7');
    expect(result).toMatchObject({ user: 'root', scopes: ['api'] });
    expect(result.token).toMatch(/^glpat-/);
    expect(result.expires_at).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    const days = (Date.parse(result.expires_at) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(5);
    expect(days).toBeLessThanOrEqual(7);
    adminToken = result.token;
    const me = await api('GET', '/api/v4/user');
    expect(me).toMatchObject({ status: 200, body: { username: 'root', is_admin: true } });
  });

  it('admin bootstrap without --json shows the token once in a readable text', async () => {
    const run = await cli('admin', 'bootstrap');
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/Personal access token for root .*shown only now/s);
    expect(run.out).toMatch(/^glpat-\S+$/m);
  });

  it('admin bootstrap refuses a lifetime outside 1..365 days', async () => {
    const run = await cli('admin', 'bootstrap', '--expires-in-days', '400');
    expect(run.code).not.toBe(0);
    expect(run.err).toBe('latchkey: --expires-in-days must be a whole number from 1 to 365');
    expect(run.out).toBe('');
  });

  describe('deploy-token', () => {
    let projectTokenId: number;
    let groupTokenId: number;

    beforeAll(async () => {
      // Namespaces have no CLI command; create them through the API with the bootstrap token.
      const group = await api('POST', '/api/v4/groups', { name: 'Acme', path: 'acme' });
      expect(group.status).toBe(201);
      const project = await api('POST', '/api/v4/projects', { name: 'Web', path: 'web', namespace_id: group.body.id });
      expect(project.status).toBe(201);
    });

    it('create --json returns the secret once, with the defaults filled in', async () => {
      const created = await cliJson('deploy-token', 'create', '--project', 'acme/web', '--name', 'pull', '--scopes', 'read_repository, read_registry');
      expect(created).toMatchObject({ name: 'pull', scopes: ['read_repository', 'read_registry'], expires_at: null, revoked: false, expired: false });
      expect(created.username).toBe(`gitlab+deploy-token-${created.id}`);
      expect(created.token).toMatch(/^gldt-/);
      projectTokenId = created.id;

      // The printed secret is a working credential for that token.
      await h.withServices(async (built) => {
        const verified = await built.services.verifier.verify(created.token);
        expect(verified.ok && verified.token.id).toBe(created.id);
      });
    });

    it('create prints a readable table and the secret when --json is absent', async () => {
      const run = await cli('deploy-token', 'create', '--group', 'acme', '--name', 'group-pull', '--scopes', 'read_package_registry', '--expires-at', '2099-01-31', '--username', 'pkg-bot');
      expect(run).toMatchObject({ code: 0, err: '' });
      const lines = run.out.split('\n');
      expect(lines[0]).toMatch(/^ID\s+NAME\s+USERNAME\s+SCOPES\s+EXPIRES_AT\s+REVOKED\s+EXPIRED$/);
      expect(lines[1]).toMatch(/^-+(\s+-+){6}$/);
      expect(lines[2]).toMatch(/^\d+\s+group-pull\s+pkg-bot\s+read_package_registry\s+2099-01-31\s+false\s+false$/);
      expect(run.out).toMatch(/\n\nToken \(shown only now\): gldt-\S+$/);
      groupTokenId = Number(lines[2]!.split(/\s+/)[0]);
    });

    it('list shows a table with headers and one row per token, and never a secret', async () => {
      const run = await cli('deploy-token', 'list', '--project', 'acme/web');
      expect(run).toMatchObject({ code: 0, err: '' });
      const lines = run.out.split('\n');
      expect(lines[0]).toMatch(/^ID\s+NAME\s+USERNAME\s+SCOPES/);
      expect(lines).toHaveLength(3);
      expect(lines[2]).toMatch(new RegExp(`^${projectTokenId}\\s+pull\\s+gitlab\\+deploy-token-${projectTokenId}\\s+read_repository,read_registry\\s+-\\s+false\\s+false$`));
      expect(run.out).not.toContain('gldt-');
    });

    it('list --json parses, per project, per group and instance-wide', async () => {
      const project = await cliJson<{ id: number; name: string }[]>('deploy-token', 'list', '--project', 'acme/web');
      expect(project.map((t) => t.id)).toEqual([projectTokenId]);
      const group = await cliJson<{ id: number; username: string; expires_at: string }[]>('deploy-token', 'list', '--group', 'acme');
      expect(group).toEqual([expect.objectContaining({ id: groupTokenId, username: 'pkg-bot', expires_at: '2099-01-31' })]);
      const all = await cliJson<{ id: number }[]>('deploy-token', 'list');
      expect(all.map((t) => t.id).sort((a, b) => a - b)).toEqual([projectTokenId, groupTokenId].sort((a, b) => a - b));
      for (const t of [...project, ...group, ...all]) expect(t).not.toHaveProperty('token');
    });

    it('revoke removes the token from the list and stops its secret from verifying', async () => {
      const created = await cliJson('deploy-token', 'create', '--project', 'acme/web', '--name', 'short-lived', '--scopes', 'read_repository');
      const run = await cli('deploy-token', 'revoke', '--project', 'acme/web', String(created.id));
      expect(run).toEqual({ code: 0, out: `Revoked deploy token ${created.id}.`, err: '' });
      const listed = await cliJson<{ id: number }[]>('deploy-token', 'list', '--project', 'acme/web');
      expect(listed.map((t) => t.id)).toEqual([projectTokenId]);

      await h.withServices(async (built) => {
        expect(await built.services.verifier.verify(created.token)).toMatchObject({ ok: false });
      });
    });

    it('revoke --json reports what it revoked; a second revoke is a clear not-found', async () => {
      const created = await cliJson('deploy-token', 'create', '--group', 'acme', '--name', 'twice', '--scopes', 'read_registry');
      expect(await cliJson('deploy-token', 'revoke', '--group', 'acme', String(created.id))).toEqual({ id: created.id, revoked: true });
      const again = await cli('deploy-token', 'revoke', '--group', 'acme', String(created.id));
      expect(again.code).not.toBe(0);
      expect(again.err).toMatch(/^latchkey: .*not found/i);
      expectNoStackTrace(again.err);
    });

    it('an unknown project is a non-zero exit with one clear line', async () => {
      const run = await cli('deploy-token', 'create', '--project', 'acme/nope', '--name', 'x', '--scopes', 'read_registry');
      expect(run.code).not.toBe(0);
      expect(run.out).toBe('');
      expect(run.err).toMatch(/^latchkey: .*Project Not Found$/);
      expectNoStackTrace(run.err);
      const list = await cli('deploy-token', 'list', '--group', 'nope');
      expect(list.code).not.toBe(0);
      expect(list.err).toMatch(/^latchkey: .*Group Not Found$/);
    });

    it('a scope deploy tokens do not have is a non-zero exit naming the problem', async () => {
      const run = await cli('deploy-token', 'create', '--project', 'acme/web', '--name', 'x', '--scopes', 'api');
      expect(run.code).not.toBe(0);
      expect(run.out).toBe('');
      expect(run.err).toMatch(/^latchkey: .*scopes/);
      expectNoStackTrace(run.err);
      // Nothing was created.
      expect((await cliJson<unknown[]>('deploy-token', 'list', '--project', 'acme/web')).length).toBe(1);
    });

    it('usage mistakes exit 2 (or commander’s code) with a message, not a trace', async () => {
      const neither = await cli('deploy-token', 'list', '--active', '--project', 'acme/web', '--group', 'acme');
      expect(neither).toMatchObject({ code: 2, err: 'latchkey: give exactly one of --project <path> or --group <path>' });
      const badId = await cli('deploy-token', 'revoke', '--project', 'acme/web', 'abc');
      expect(badId).toMatchObject({ code: 2, err: 'latchkey: token id must be a number' });
      const missing = await cli('deploy-token', 'create', '--project', 'acme/web', '--scopes', 'read_registry');
      expect(missing.code).not.toBe(0);
      expect(missing.err).toMatch(/required option '--name <name>' not specified/);
      const unknown = await cli('deploy-token', 'frobnicate');
      expect(unknown.code).not.toBe(0);
      for (const r of [neither, badId, missing, unknown]) expectNoStackTrace(r.err);
    });
  });

  it('a bad configuration is reported as such, with exit 2', async () => {
    const run = await h.cliWithEnv({ LATCHKEY_SECRET: 'short' })('migrate');
    expect(run.code).toBe(2);
    expect(run.err).toBe('latchkey: LATCHKEY_SECRET must be at least 32 characters');
  });
});
