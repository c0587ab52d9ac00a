/**
 * The credential inventory from the command line, in-process through runCli on both stores:
 * `inventory import` of docs/inventory-example.yaml (creates, then leaves everything on a second run;
 * `--dry-run` changes nothing; a bad file names field and line and changes nothing), `inventory export`
 * as YAML that gives back the same data and as CSV, and `credential list/show/renew` with `--json`.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliHarness } from '../support/cli-harness.js';
import { DIALECTS } from '../support/dialects.js';

const EXAMPLE = join(import.meta.dirname, '../../docs/inventory-example.yaml');

describe.each(DIALECTS)('latchkey inventory and credential on %s', (dialect) => {
  const h = createCliHarness(dialect, { prefix: 'latchkey-inventory-cli-' });
  const { cli, cliJson } = h;
  let adminToken: string;

  beforeAll(async () => {
    await h.setUp();
    adminToken = (await cliJson('admin', 'bootstrap', '--expires-in-days', '200')).token;
    await h.withApp(async (app) => {
      for (const path of ['dev-team', 'ops-team']) {
        const res = await app.http.inject({ method: 'POST', url: '/api/v4/groups', headers: { 'private-token': adminToken, 'content-type': 'application/json' }, payload: JSON.stringify({ name: path, path }) });
        expect(res.statusCode, res.body).toBe(201);
      }
    });
  });
  afterAll(() => h.tearDown());

  const counts = async () =>
    h.withServices(async ({ store }) => {
      const out: Record<string, number> = {};
      for (const table of ['inventory_credentials', 'inventory_placements']) {
        const r = await (store.db as any).selectFrom(table).select((eb: any) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
        out[table] = Number(r.n);
      }
      return out;
    });

  it('--dry-run lists what it would create and changes nothing', async () => {
    const run = await cli('inventory', 'import', EXAMPLE, '--dry-run');
    expect(run.code, run.err).toBe(0);
    expect(run.out.split('\n')).toContain('would create npm-publish');
    expect(run.out).toContain('Dry run, nothing changed: 9 to create, 0 to change, 0 unchanged.');
    expect(await counts()).toEqual({ inventory_credentials: 0, inventory_placements: 0 });
  });

  it('imports the example file, then a second import leaves every entry', async () => {
    const first = await cliJson('inventory', 'import', EXAMPLE);
    expect(first.created).toHaveLength(9);
    expect(first.created).toContain('tocco-client-dependency-proxy');
    expect(await counts()).toEqual({ inventory_credentials: 9, inventory_placements: 7 });
    const again = await cli('inventory', 'import', EXAMPLE);
    expect(again.code, again.err).toBe(0);
    expect(again.out).toContain('Imported: 0 created, 0 changed, 9 unchanged.');
    expect(again.out.split('\n')).toContain('leave tempo');
  });

  it('exporting gives back the same data as the example file', async () => {
    const run = await cli('inventory', 'export');
    expect(run.code, run.err).toBe(0);
    expect(parse(run.out)).toEqual(parse(await readFile(EXAMPLE, 'utf8')));
    // …and the export imports as "leave everything".
    const file = join(h.dir, 'exported.yaml');
    await writeFile(file, run.out);
    expect((await cliJson('inventory', 'import', file)).left).toHaveLength(9);
  });

  it('a changed file changes only what differs, and says which fields', async () => {
    const text = (await readFile(EXAMPLE, 'utf8')).replace('      every_days: 90\n', '      every_days: 60\n').replace('purpose: Used to pull git commits.', 'purpose: Pulls git commits.');
    const file = join(h.dir, 'changed.yaml');
    await writeFile(file, text);
    const dry = await cliJson('inventory', 'import', file, '--dry-run');
    expect(dry.changed).toEqual([{ slug: 'backend-commit-info-service', fields: ['purpose'] }, { slug: 'npm-publish', fields: ['renewal'] }]);
    expect((await cliJson('credential', 'show', 'npm-publish')).renewal).toEqual({ every_days: 90 });
    const run = await cli('inventory', 'import', file);
    expect(run.out).toContain('change npm-publish: renewal');
    expect((await cliJson('credential', 'show', 'npm-publish')).renewal).toEqual({ every_days: 60 });
    await cli('inventory', 'import', EXAMPLE);
  });

  it('a bad file names the field and the line, and changes nothing (one transaction)', async () => {
    const text = (await readFile(EXAMPLE, 'utf8'))
      .replace('slug: tempo\n', 'slug: tempo-new\n')
      .replace('review_every_days: 180\n\n  - slug: npm-publish', 'review_every_days: 0\n\n  - slug: npm-publish');
    const file = join(h.dir, 'bad.yaml');
    await writeFile(file, text);
    const line = text.split('\n').findIndex((l) => l.includes('review_every_days: 0')) + 1;
    const before = await counts();
    const run = await cli('inventory', 'import', file);
    expect(run.code).toBe(1);
    expect(run.err).toContain(`credentials[7].renewal.review_every_days must be a whole number of days from 1 to 3650 (line ${line})`);
    expect(await counts()).toEqual(before);
    // An unknown owner fails the whole import, even after valid new entries.
    const unknownOwner = (await readFile(EXAMPLE, 'utf8')).replace('slug: tempo\n', 'slug: tempo-2\n').replace('owner: ops-team', 'owner: nobody');
    await writeFile(file, unknownOwner);
    const run2 = await cli('inventory', 'import', file);
    expect(run2.code).toBe(1);
    expect(run2.err).toMatch(/credentials\[6\]\.owner \(nobody\) is not a group you are a member of \(line \d+\)/);
    expect(await counts()).toEqual(before);
    await writeFile(file, 'version: 1\ncredentials:\n  - slug: x\n    name: [unclosed\n');
    const broken = await cli('inventory', 'import', file);
    expect(broken.code).toBe(1);
    expect(broken.err).toMatch(/file is not valid YAML/);
  });

  it('exports CSV for spreadsheets', async () => {
    const run = await cli('inventory', 'export', '--format', 'csv');
    expect(run.code, run.err).toBe(0);
    const lines = run.out.split('\r\n');
    expect(lines[0]).toBe('slug,name,kind,provider,resource,owner,scopes,role,purpose,expires_at,every_days,event,review_every_days,due_on,renewed_on,placements,procedure');
    expect(lines.find((l) => l.startsWith('client-ci,'))).toContain('CI variable GITLAB_ACCESS_TOKEN of project tocco-client on gitlab.com');
    expect(lines.find((l) => l.startsWith('npm-publish,'))).toMatch(/^npm-publish,NPM,npm_token,npm,,dev-team,publish,,Publishes npm packages\.,,90,,,/);
  });

  it('credential list and show, as tables and --json', async () => {
    const list = await cli('credential', 'list', '--owner', 'ops-team');
    expect(list.code, list.err).toBe(0);
    expect(list.out).toContain('find-failed-gitlab-schedules');
    expect(list.out).not.toContain('npm-publish');
    expect(await cliJson('credential', 'list', '--source', 'outside')).toHaveLength(9);
    // Latchkey's own tokens are in the same inventory: here the admin's bootstrap token.
    const json = (await cliJson('credential', 'list')) as { slug: string; kind: string; provider: string }[];
    expect(json).toHaveLength(10);
    expect(json.at(-1)).toMatchObject({ slug: 'token-1', kind: 'personal_access_token', provider: 'latchkey' });
    const show = await cli('credential', 'show', 'tocco-client-dependency-proxy');
    expect(show.out).toContain('CI variable DOCKER_AUTH_CONFIG of project tocco-client on gitlab.com (docker_auth_config)');
    expect(show.out).toContain("auth = base64.b64encode(('any:' + sys.argv[1]).encode()).decode()");
    expect((await cli('credential', 'show', 'nope')).err).toBe('latchkey: 404 Credential Not Found');
  });

  it('credential renew records the renewal and the new expiry; the history is kept', async () => {
    const proxy = await cliJson('credential', 'show', 'tocco-client-dependency-proxy');
    const missing = await cli('credential', 'renew', 'tocco-client-dependency-proxy');
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('expires_at is missing');
    const renewed = await cliJson('credential', 'renew', 'tocco-client-dependency-proxy', '--expires-at', '2027-09-30', '--note', 'rotated by hand');
    expect(renewed).toMatchObject({ previous_due_on: '2027-03-31', due_on: '2027-09-30', renewed_by: 'root', note: 'rotated by hand', credential: { renewal: { expires_at: '2027-09-30' }, due_on: '2027-09-30' } });
    expect(renewed.placements_updated).toEqual([{ id: proxy.placements[0].id, description: proxy.placements[0].description }]);
    const npm = await cliJson('credential', 'renew', 'npm-publish', '--placements', 'none');
    const today = new Date().toISOString().slice(0, 10);
    expect(npm).toMatchObject({ renewed_on: today, placements_updated: [], credential: { renewed_on: today } });
    expect(npm.due_on).toBe(new Date(Date.parse(`${today}T00:00:00Z`) + 90 * 86_400_000).toISOString().slice(0, 10));
    expect((await cli('credential', 'renew', 'npm-publish', '--placements', 'x')).code).toBe(2);
  });
  it("Latchkey's own token: shown, given inventory fields by import, exported with them, and the export imports as unchanged", async () => {
    const shown = await cliJson('credential', 'show', 'token-1');
    expect(shown).toMatchObject({ slug: 'token-1', kind: 'personal_access_token', provider: 'latchkey', owner: null, token_id: 1, placements: [] });
    expect((await cli('credential', 'show', 'token-1')).out).toContain('(token-1, token 1)');
    const file = join(h.dir, 'token.yaml');
    await writeFile(file, [
      'version: 1',
      'credentials:',
      '  - slug: token-1',
      '    owner: ops-team',
      '    purpose: Bootstraps the instance.',
      '    placements:',
      '      - kind: kubernetes_secret',
      '        namespace: latchkey',
      '        name: admin-token',
      '        key: token',
      '',
    ].join('\n'));
    const dry = await cliJson('inventory', 'import', file, '--dry-run');
    expect(dry.changed).toEqual([{ slug: 'token-1', fields: ['purpose', 'owner', 'placements'] }]);
    expect((await cliJson('credential', 'show', 'token-1')).purpose).toBeNull();
    const run = await cli('inventory', 'import', file);
    expect(run.code, run.err).toBe(0);
    expect(run.out).toContain('change token-1: purpose, owner, placements');
    expect(await cliJson('credential', 'show', 'token-1')).toMatchObject({ owner: { full_path: 'ops-team' }, purpose: 'Bootstraps the instance.', placements: [{ kind: 'kubernetes_secret', name: 'admin-token' }] });
    // Listed under its owner now.
    expect((await cli('credential', 'list', '--source', 'tokens', '--owner', 'ops-team')).out).toContain('token-1');
    // A token's own fields in a file are read from the token: ignored (the export writes them for people to read).
    await writeFile(file, 'version: 1\ncredentials:\n  - slug: token-1\n    owner: ops-team\n    name: renamed\n    renewal: { every_days: 5 }\n    purpose: x\n');
    const refused = await cliJson('inventory', 'import', file, '--dry-run');
    expect(refused.changed).toEqual([{ slug: 'token-1', fields: ['purpose', 'placements'] }]);
    // Export: the token's entry with its fields; importing the export leaves everything.
    const exported = await cli('inventory', 'export');
    const entry = (parse(exported.out) as { credentials: { slug: string }[] }).credentials.find((c) => c.slug === 'token-1');
    expect(entry).toMatchObject({ slug: 'token-1', kind: 'personal_access_token', owner: 'ops-team', purpose: 'Bootstraps the instance.', placements: [{ kind: 'kubernetes_secret', namespace: 'latchkey', name: 'admin-token', key: 'token' }] });
    await writeFile(file, exported.out);
    const again = await cliJson('inventory', 'import', file);
    expect(again.changed).toEqual([]);
    expect(again.left).toContain('token-1');
    const csv = await cli('inventory', 'export', '--format', 'csv');
    expect(csv.out.split('\r\n').find((l) => l.startsWith('token-1,'))).toContain('Kubernetes secret latchkey/admin-token, key token');
  });

  it('a revoked token: show says so with the day; list leaves it out unless --state asks; the export leaves it out', async () => {
    const made = await h.withApp(async (app) => {
      const res = await app.http.inject({ method: 'POST', url: '/api/v4/users/1/personal_access_tokens', headers: { 'private-token': adminToken, 'content-type': 'application/json' }, payload: JSON.stringify({ name: 'pusher', scopes: ['api'], expires_at: new Date(Date.now() + 100 * 86_400_000).toISOString().slice(0, 10) }) });
      expect(res.statusCode, res.body).toBe(201);
      return JSON.parse(res.body) as { id: number };
    });
    const slug = `token-${made.id}`;
    const file = join(h.dir, 'pusher.yaml');
    await writeFile(file, `version: 1\ncredentials:\n  - slug: ${slug}\n    owner: ops-team\n    placements:\n      - kind: manual\n        where: Grafana data source\n`);
    expect((await cli('inventory', 'import', file)).code).toBe(0);
    expect(await cliJson('credential', 'show', slug)).toMatchObject({ token_state: 'active', token_state_since: null });
    const revoked = await cli('token', 'revoke', String(made.id), '--user', 'root');
    expect(revoked.code, revoked.err).toBe(0);
    const today = new Date().toISOString().slice(0, 10);
    expect(await cliJson('credential', 'show', slug)).toMatchObject({ slug, token_state: 'revoked', token_state_since: today, placements: [{ kind: 'manual' }] });
    expect((await cli('credential', 'show', slug)).out).toContain(`token:     revoked since ${today}`);
    // Its fields no longer change: an import says so, naming the entry and its line.
    const again = await cli('inventory', 'import', file);
    expect(again.code).toBe(1);
    expect(again.err).toContain(`credentials[0].base is a Latchkey token revoked on ${today}: its entry can no longer change (line 3)`);
    const slugs = async (...args: string[]) => ((await cliJson('credential', 'list', ...args)) as { slug: string }[]).map((e) => e.slug);
    expect(await slugs()).not.toContain(slug);
    expect(await slugs('--state', 'revoked')).toEqual([slug]);
    expect(await slugs('--state', 'all')).toContain(slug);
    expect((await cli('credential', 'list', '--state', 'gone')).code).toBe(2);
    const exported = parse((await cli('inventory', 'export')).out) as { credentials: { slug: string }[] };
    expect(exported.credentials.map((c) => c.slug)).not.toContain(slug);
  });
});
