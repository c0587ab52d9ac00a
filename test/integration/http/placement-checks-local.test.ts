/**
 * Placement checks of CI variables on Latchkey itself (issue 15 item 4): a `ci_variable` placement whose
 * `instance` is this Latchkey (LATCHKEY_PUBLIC_URL's host) is read through the local CI-variables
 * service — no upstream registered — hidden and masked values included, decoded by format and compared
 * with the entry's fingerprint. The value never appears in an answer; a project the person checking
 * cannot see is "missing" to them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';
import { csrfOf, webClient } from '../../support/web-client.js';

const HOST = 'latchkey.example.com';
const CURRENT = 'glpat-current-secret-0001';
const OLDER = 'glpat-older-secret-0000';

describe.each(DIALECTS)('placement checks on Latchkey itself on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let slug: string;
  let ids: Record<string, number>;

  const variable = (where: string, body: Record<string, unknown>) => t.request('POST', `/api/v4/${where}/variables`, { token: w.adminToken, body });
  const check = (id: number, token = w.adminToken) => t.request('POST', `/api/v4/latchkey/credentials/${slug}/placements/${id}/check`, { token });

  beforeAll(async () => {
    t = await startTestApp(dialect, { now: '2026-11-23T10:00:00.000Z', env: { LATCHKEY_PUBLIC_URL: `https://${HOST}` } });
    w = await seedWorld(t);
    const web = `projects/${w.project.id}`;
    const platform = `groups/${w.sub.id}`;
    // Masked and hidden: the API never shows it again, the system still reads it for the comparison.
    expect((await variable(web, { key: 'NPM_TOKEN', value: CURRENT, masked_and_hidden: true })).status).toBe(201);
    const auth = (secret: string) => JSON.stringify({ auths: { 'registry.example.com': { auth: Buffer.from(`bot:${secret}`).toString('base64') } } });
    expect((await variable(platform, { key: 'DOCKER_AUTH_CONFIG', value: auth(OLDER) })).status).toBe(201);
    expect((await variable(`projects/${w.otherProject.id}`, { key: 'NETRC', value: `machine git.example.com login bot password ${CURRENT}`, masked: false })).status).toBe(201);
    for (const scope of ['production', 'staging']) expect((await variable(web, { key: 'SCOPED', value: CURRENT, environment_scope: scope })).status).toBe(201);
    const at = (extra: Record<string, string>) => ({ kind: 'ci_variable', instance: HOST, ...extra });
    const entry = await t.request('POST', '/api/v4/latchkey/credentials', {
      token: w.adminToken,
      body: {
        name: 'npm publish',
        kind: 'npm_token',
        owner: 'acme/platform',
        renewal: { every_days: 90 },
        value: CURRENT,
        placements: [
          at({ project: 'acme/platform/web', key: 'NPM_TOKEN' }),
          at({ group: 'acme/platform', key: 'DOCKER_AUTH_CONFIG', format: 'docker_auth_config', registry: 'registry.example.com', username: 'bot' }),
          at({ project: 'acme/other/site', key: 'NETRC', format: 'netrc', username: 'bot' }),
          at({ project: 'acme/platform/web', key: 'GONE' }),
          at({ project: 'acme/platform/web', key: 'SCOPED' }),
          at({ key: 'INSTANCE_WIDE' }),
        ],
      },
    });
    expect(entry.status, JSON.stringify(entry.body)).toBe(201);
    slug = (entry.body as any).slug;
    const [npm, docker, netrc, gone, scoped, instance] = (entry.body as any).placements.map((p: any) => p.id as number);
    ids = { npm, docker, netrc, gone, scoped, instance } as Record<string, number>;
  });
  afterAll(async () => t?.close());

  it('reads the variable locally, hidden ones included, without registering Latchkey as its own upstream', async () => {
    expect((await t.request('GET', '/api/v4/latchkey/upstreams', { token: w.adminToken })).body).toEqual([]);
    const npm = await check(ids.npm!);
    expect(npm).toMatchObject({ status: 200, body: { placement_id: ids.npm, status: 'in_sync', detail: 'in sync' } });
    // The value read is never answered.
    expect(JSON.stringify(npm.body)).not.toContain(CURRENT);
    expect((await check(ids.netrc!)).body).toMatchObject({ status: 'in_sync' });
    expect((await check(ids.gone!)).body).toMatchObject({ status: 'missing', detail: 'missing' });
    expect((await check(ids.scoped!)).body).toMatchObject({ status: 'cannot_read', detail: 'cannot read: several environment scopes have SCOPED' });
    expect((await check(ids.instance!)).body).toMatchObject({ status: 'cannot_read' });
  });

  it('says stale when the variable holds an older secret, and in sync once it is updated', async () => {
    expect((await check(ids.docker!)).body).toMatchObject({ status: 'stale', detail: 'stale: holds an older secret' });
    const updated = await t.request('PUT', `/api/v4/groups/${w.sub.id}/variables/DOCKER_AUTH_CONFIG`, {
      token: w.adminToken,
      body: { value: JSON.stringify({ auths: { 'registry.example.com': { username: 'bot', password: CURRENT } } }) },
    });
    expect(updated.status).toBe(200);
    expect((await check(ids.docker!)).body).toMatchObject({ status: 'in_sync' });
    const shown = await t.request('GET', `/api/v4/latchkey/credentials/${slug}/placement_checks`, { token: w.adminToken });
    expect((shown.body as any[]).find((c) => c.placement_id === ids.docker)).toMatchObject({ status: 'in_sync' });
  });

  it('a project the person checking cannot see is missing to them, whatever it holds', async () => {
    // The reporter of acme/platform reads the entry but is no member of acme/other/site (private).
    const reporter = w.users.reporter.token;
    expect((await check(ids.netrc!, reporter)).body).toMatchObject({ status: 'missing' });
    expect((await check(ids.npm!, reporter)).body).toMatchObject({ status: 'in_sync' });
    expect((await check(ids.npm!, w.users.outsider.token)).status).toBe(404);
  });

  it('a placement on another host is still read through an upstream (none here)', async () => {
    const entry = await t.request('POST', `/api/v4/latchkey/credentials/${slug}/placements`, { token: w.adminToken, body: { kind: 'ci_variable', instance: 'gitlab.example.com', project: 'acme/platform/web', key: 'NPM_TOKEN' } });
    expect(entry.status, JSON.stringify(entry.body)).toBe(201);
    expect((await check((entry.body as any).id)).body).toMatchObject({ status: 'cannot_read', detail: 'cannot read: no upstream is registered for gitlab.example.com' });
  });

  it("the web entry page shows each placement's last check, and 'Check now' runs one by the API's rules", async () => {
    await t.app.services.accounts.setPasswordByUsername('reporter-user', 'correct horse battery');
    const page = webClient(t);
    expect((await page.signIn('reporter-user', 'correct horse battery')).status).toBe(303);
    const entry = await page.get(`/-/inventory/${slug}`);
    expect(entry.status).toBe(200);
    expect(entry.html).toContain('Last check');
    expect(entry.html).toMatch(/in sync \(2026-11-23/);
    expect(entry.html).not.toContain(CURRENT);
    // The netrc placement is on a project the reporter cannot see: missing to them, from the page as from the API.
    const checked = await page.post(`/-/inventory/${slug}/placements/${ids.netrc}/check`, { _csrf: csrfOf(entry.html) });
    expect(checked.status).toBe(303);
    expect(checked.location).toBe(`/-/inventory/${slug}?notice=checked`);
    const shown = await t.request('GET', `/api/v4/latchkey/credentials/${slug}/placement_checks`, { token: w.adminToken });
    expect((shown.body as any[]).find((c) => c.placement_id === ids.netrc)).toMatchObject({ status: 'missing' });
    expect((await page.get(`/-/inventory/${slug}?notice=checked`)).html).toContain('Placement checked');
    expect((await page.post(`/-/inventory/${slug}/placements/${ids.netrc}/check`, {})).status).toBe(403);
  });
});
