/**
 * `latchkey expiring` run in-process through runCli on a SQLite file and a PostgreSQL database: tokens
 * of several kinds created with the CLI, then the report as tables (one section per project/group/user)
 * and as JSON, with `Nd`, `Nw` and bare-day windows and the default of 30 days; bad windows exit 2 with
 * one line. The CLI uses the real clock, so expiry dates are relative to today.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliHarness } from '../support/cli-harness.js';
import { DIALECTS } from '../support/dialects.js';

function inDays(days: number): string {
  return new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
}

describe.each(DIALECTS)('latchkey expiring on %s', (dialect) => {
  const h = createCliHarness(dialect, { prefix: 'latchkey-expiring-cli-' });
  const { cli, cliJson } = h;
  const ids: Record<string, number> = {};

  beforeAll(async () => {
    await h.setUp();
    const adminToken = (await cliJson('admin', 'bootstrap', '--expires-in-days', '200')).token;
    await h.withApp(async (app) => {
      const post = async (url: string, body: unknown) => {
        const res = await app.http.inject({ method: 'POST', url, headers: { 'private-token': adminToken, 'content-type': 'application/json' }, payload: JSON.stringify(body) });
        expect(res.statusCode, res.body).toBe(201);
        return JSON.parse(res.body);
      };
      await post('/api/v4/users', { username: 'alice', name: 'Alice', email: 'alice@example.com' });
      const group = await post('/api/v4/groups', { name: 'Acme', path: 'acme' });
      await post('/api/v4/projects', { name: 'Web', path: 'web', namespace_id: group.id });
    });
    ids.pull = (await cliJson('deploy-token', 'create', '--project', 'acme/web', '--name', 'registry-pull', '--scopes', 'read_registry', '--expires-at', inDays(8))).id;
    ids.ci = (await cliJson('token', 'create', '--project', 'acme/web', '--name', 'ci', '--scopes', 'read_repository', '--expires-at', inDays(3))).id;
    ids.groupBot = (await cliJson('token', 'create', '--group', 'acme', '--name', 'group-bot', '--scopes', 'read_api', '--expires-at', inDays(20))).id;
    ids.laptop = (await cliJson('token', 'create', '--user', 'alice', '--name', 'laptop', '--scopes', 'read_user', '--expires-at', inDays(45))).id;
    ids.forever = (await cliJson('deploy-token', 'create', '--project', 'acme/web', '--name', 'forever', '--scopes', 'read_repository')).id;
  });
  afterAll(() => h.tearDown());

  it('--json: the default 30-day window, grouped and sorted by expiry, no secrets', async () => {
    const run = await cli('expiring', '--json');
    expect(run.code).toBe(0);
    expect(run.out).not.toMatch(/glpat-|gldt-/);
    const report = JSON.parse(run.out);
    expect(report).toMatchObject({ within_days: 30, until: inDays(30) });
    expect(report.namespaces.map((s: { type: string; full_path: string }) => `${s.type}:${s.full_path}`)).toEqual(['project:acme/web', 'group:acme']);
    expect(report.namespaces[0].tokens).toEqual([
      { id: ids.ci, kind: 'project', name: 'ci', scopes: ['read_repository'], expires_at: inDays(3), days_left: 3 },
      { id: ids.pull, kind: 'deploy', name: 'registry-pull', scopes: ['read_registry'], expires_at: inDays(8), days_left: 8 },
    ]);
    expect(report.namespaces[1].tokens).toEqual([{ id: ids.groupBot, kind: 'group', name: 'group-bot', scopes: ['read_api'], expires_at: inDays(20), days_left: 20 }]);
  });

  it.each([
    ['5d', ['ci']],
    ['2w', ['ci', 'registry-pull']],
    ['45', ['ci', 'registry-pull', 'group-bot', 'laptop']],
    ['365d', ['ci', 'registry-pull', 'group-bot', 'laptop', 'test']],
  ])('--within %s lists %j', async (within, names) => {
    const report = await cliJson('expiring', '--within', within);
    const listed = report.namespaces.flatMap((s: { tokens: { name: string; expires_at: string }[] }) => s.tokens).sort((a: { expires_at: string }, b: { expires_at: string }) => a.expires_at.localeCompare(b.expires_at));
    // `test`: the bootstrap token of root (200 days).
    expect(listed.map((t: { name: string }) => t.name).filter((n: string) => n !== 'forever')).toEqual(names.map((n) => (n === 'test' ? expect.any(String) : n)));
    expect(listed.map((t: { name: string }) => t.name)).not.toContain('forever');
  });

  it('prints one table per project/group/user by default', async () => {
    const run = await cli('expiring', '--within', '60d');
    expect(run).toMatchObject({ code: 0, err: '' });
    const lines = run.out.split('\n');
    expect(lines[0]).toBe(`Active tokens expiring within 60 days (on or before ${inDays(60)}):`);
    const headings = lines.filter((l) => /^\S+ \((project|group|user)\)$/.test(l));
    expect(headings).toEqual(['acme/web (project)', 'acme (group)', 'alice (user)']);
    expect(run.out).toMatch(/^ID +KIND +NAME +SCOPES +EXPIRES_AT +DAYS_LEFT$/m);
    expect(run.out).toMatch(new RegExp(`^${ids.ci} +project +ci +read_repository +${inDays(3)} +3$`, 'm'));
    expect(run.out).toMatch(new RegExp(`^${ids.laptop} +personal +laptop +read_user +${inDays(45)} +45$`, 'm'));
    expect(run.out).not.toMatch(/glpat-|gldt-|forever/);
  });

  it('an empty window says so', async () => {
    await cli('token', 'revoke', '--project', 'acme/web', String(ids.ci));
    const run = await cli('expiring', '--within', '1d');
    expect(run).toMatchObject({ code: 0, err: '' });
    expect(run.out).toBe(`Active tokens expiring within 1 day (on or before ${inDays(1)}): none.`);
    expect((await cliJson('expiring', '--within', '5d')).namespaces).toEqual([]);
  });

  it.each(['0d', 'soon', '-3', '30m', '3651', '1.5w'])('--within %s exits 2 with one line on stderr', async (within) => {
    const run = await cli('expiring', '--within', within);
    expect(run.code).toBe(2);
    expect(run.out).toBe('');
    expect(run.err.split('\n')).toHaveLength(1);
    expect(run.err).toMatch(/^latchkey: --within is invalid/);
  });
});
