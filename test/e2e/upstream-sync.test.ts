/**
 * Two real `latchkey serve` processes, B acting as the upstream GitLab of A (issue 15), on each store.
 * On B: groups, a sub-group, a project, project/group access tokens and project/group deploy tokens.
 * A registers B with `latchkey upstream add`, checks and syncs it with the CLI, and sees every token
 * with its expiry in its inventory, and flags the CI variable on B that holds an older secret of a synced
 * token (in sync once B's variable is updated). Then A survives B's token being revoked (401), B answering 429
 * (a second B whose own rate limiter allows 3 requests a minute), and B being stopped mid-sync: each
 * failure is recorded on the upstream with its reason and changes no entry.
 */
import { writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, utcDateOf } from '../../src/kernel/dates.js';
import { DIALECTS } from '../support/dialects.js';
import { runLatchkey, serverApi, startServer, type ServerProcess } from '../support/server-process.js';

/**
 * A TCP relay in front of B that counts the HTTP requests passing through; `onRequest(n)` runs as the
 * n-th one goes by (here: to stop B mid-sync). Keep-alive connections carry several requests.
 */
async function startCountingRelay(port: number, onRequest: (n: number) => void): Promise<{ url: string; count(): number; close(): void }> {
  const sockets = new Set<Socket>();
  let count = 0;
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port });
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.on('data', (chunk: Buffer) => {
      for (const _ of chunk.toString('latin1').matchAll(/(?:^|\r\n)(GET|POST|PUT|DELETE) \/api\/v4\//g)) onRequest(++count);
    });
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    count: () => count,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

const api = serverApi;

describe.each(DIALECTS)('A syncs the tokens of upstream B, both `latchkey serve`, on %s', (dialect) => {
  let a: ServerProcess;
  let b: ServerProcess;
  let limited: ServerProcess;
  let relay: Awaited<ReturnType<typeof startCountingRelay>>;
  let stopBAt: number | null = null;
  let killing: Promise<void> | null = null;
  let tokenFile: string;
  let syncTokenId: number;
  let webId: number;
  let webBotSecret: string;
  const today = utcDateOf(new Date());
  const expiry = { projectBot: addDays(today, 20), groupBot: addDays(today, 45), deploy: addDays(today, 90), sync: addDays(today, 200) };

  beforeAll(async () => {
    // Generous start-up times: CI runs many suites at once on two cores.
    [a, b, limited] = await Promise.all([
      startServer({ dialect, startTimeoutMs: 150_000, env: { LATCHKEY_UPSTREAM_SYNC_CRON: 'off', LATCHKEY_UPSTREAM_MAX_RETRY_WAIT: '0', LATCHKEY_UPSTREAM_TIMEOUT_MS: '20000' } }),
      startServer({ dialect, startTimeoutMs: 150_000 }),
      // A second B whose own rate limiter allows 3 requests a minute per token.
      startServer({ dialect, startTimeoutMs: 150_000, env: { LATCHKEY_RATE_LIMIT_PER_MINUTE: '3' } }),
    ]);
    relay = await startCountingRelay(Number(new URL(b.url).port), (n) => {
      if (stopBAt !== null && n === stopBAt) killing = b.kill();
    });
    // On B: acme → acme/platform → acme/platform/web, and a token of each kind.
    const acme = (await api(b, 'POST', '/groups', { name: 'Acme', path: 'acme' })).body;
    const platform = (await api(b, 'POST', '/groups', { name: 'Platform', path: 'platform', parent_id: acme.id })).body;
    const web = (await api(b, 'POST', '/projects', { name: 'Web', path: 'web', namespace_id: platform.id })).body;
    const made = await Promise.all([
      api(b, 'POST', `/projects/${web.id}/access_tokens`, { name: 'web-bot', scopes: ['read_api'], access_level: 30, expires_at: expiry.projectBot }),
      api(b, 'POST', `/groups/${acme.id}/access_tokens`, { name: 'acme-bot', scopes: ['read_registry'], access_level: 40, expires_at: expiry.groupBot }),
      api(b, 'POST', `/projects/${web.id}/deploy_tokens`, { name: 'web-pull', scopes: ['read_registry'], expires_at: expiry.deploy }),
      api(b, 'POST', `/groups/${platform.id}/deploy_tokens`, { name: 'platform-clone', scopes: ['read_repository'] }),
    ]);
    for (const m of made) expect(m.status, JSON.stringify(m.body)).toBe(201);
    webId = web.id;
    webBotSecret = made[0]!.body.token;
    // The token A uses: read_api is enough to read metadata.
    const root = (await api(b, 'GET', '/user')).body;
    const syncToken = (await api(b, 'POST', `/users/${root.id}/personal_access_tokens`, { name: 'latchkey-a', scopes: ['read_api'], expires_at: expiry.sync })).body;
    syncTokenId = syncToken.id;
    tokenFile = join(a.dataDir, 'b-token');
    await writeFile(tokenFile, `${syncToken.token}\n`, { mode: 0o600 });
    expect((await api(a, 'POST', '/groups', { name: 'Platform team', path: 'platform-team' })).status).toBe(201);
  }, 300_000);

  afterAll(async () => {
    relay?.close();
    await Promise.all([a?.stop(), b?.stop(), limited?.stop()]);
  });

  const entriesOf = async (host: string) => ((await api(a, 'GET', '/latchkey/credentials?per_page=100')).body as any[]).filter((e) => e.provider === host);
  const cli = async (...args: string[]) => {
    const run = await runLatchkey(args, a.env, 60_000);
    return { ...run, json: run.stdout.trim().startsWith('{') || run.stdout.trim().startsWith('[') ? JSON.parse(run.stdout) : null };
  };

  it('registers B with `latchkey upstream add` (the token read from a file, never printed) and checks it', async () => {
    const added = await cli('upstream', 'add', 'b', '--url', relay.url, '--token-file', tokenFile, '--owner', 'platform-team', '--json');
    expect(added.code, added.stderr).toBe(0);
    expect(added.json).toMatchObject({ name: 'b', url: relay.url, source: 'api', owner: { full_path: 'platform-team' } });
    const check = await cli('upstream', 'check', 'b', '--json');
    expect(check.code, check.stderr).toBe(0);
    expect(check.json).toMatchObject({ ok: true, user: { username: 'root' }, is_admin: true, scopes: ['read_api'], token_expires_at: expiry.sync });
    const listed = await cli('upstream', 'list');
    expect(listed.stdout).toContain('b');
    for (const run of [added, check, listed]) expect(run.stdout + run.stderr).not.toMatch(/glpat-[A-Za-z0-9_-]{20,}/);
  }, 180_000);

  it('`latchkey upstream sync b` puts every token into the inventory, with its expiry', async () => {
    const synced = await cli('upstream', 'sync', 'b', '--json');
    expect(synced.code, synced.stderr).toBe(0);
    expect(synced.json).toMatchObject({ upstream: 'b', status: 'ok', reason: null });
    const entries = await entriesOf(new URL(relay.url).host);
    const by = (kind: string, name: string) => entries.find((e) => e.kind === kind && e.name === name);
    expect(by('gitlab_project_access_token', 'web-bot')).toMatchObject({ resource: 'acme/platform/web', role: 'developer', due_on: expiry.projectBot, owner: { full_path: 'platform-team' } });
    expect(by('gitlab_group_access_token', 'acme-bot')).toMatchObject({ resource: 'acme', role: 'maintainer', due_on: expiry.groupBot });
    expect(by('gitlab_project_deploy_token', 'web-pull')).toMatchObject({ resource: 'acme/platform/web', scopes: ['read_registry'], due_on: expiry.deploy });
    // The deploy token of the sub-group: reached through acme/platform.
    expect(by('gitlab_group_deploy_token', 'platform-clone')).toMatchObject({ resource: 'acme/platform' });
    expect(by('gitlab_personal_access_token', 'latchkey-a')).toMatchObject({ due_on: expiry.sync });
    // Due within 25 days: the project bot only (B's bootstrap token expires in 30).
    const soon = (await api(a, 'GET', `/latchkey/credentials?due_before=${addDays(today, 25)}&per_page=100`)).body.filter((e: any) => e.provider === new URL(relay.url).host);
    expect(soon.map((e: any) => e.name)).toEqual(['web-bot']);
  }, 180_000);

  it("flags the stale variable: a CI variable on B holding an older secret of a synced token, in sync once B's variable is updated", async () => {
    const host = new URL(relay.url).host;
    const entry = (await entriesOf(host)).find((e) => e.kind === 'gitlab_project_access_token' && e.name === 'web-bot');
    // On B, CI holds an older secret of web-bot; A's entry learns web-bot's current one (its fingerprint).
    expect((await api(b, 'POST', `/projects/${webId}/variables`, { key: 'WEB_BOT_TOKEN', value: 'glpat-an-older-web-bot-secret', masked: true })).status).toBe(201);
    expect((await api(a, 'PUT', `/latchkey/credentials/${entry.slug}`, { value: webBotSecret })).status).toBe(200);
    const placement = await api(a, 'POST', `/latchkey/credentials/${entry.slug}/placements`, { kind: 'ci_variable', instance: host, project: 'acme/platform/web', key: 'WEB_BOT_TOKEN' });
    expect(placement.status, JSON.stringify(placement.body)).toBe(201);
    const check = () => api(a, 'POST', `/latchkey/credentials/${entry.slug}/placements/${placement.body.id}/check`);
    expect((await check()).body).toMatchObject({ status: 'stale', detail: 'stale: holds an older secret' });
    expect((await api(b, 'PUT', `/projects/${webId}/variables/WEB_BOT_TOKEN`, { value: webBotSecret })).status).toBe(200);
    expect((await check()).body).toMatchObject({ status: 'in_sync', detail: 'in sync' });
    expect((await api(a, 'GET', `/latchkey/credentials/${entry.slug}/placement_checks`)).body).toEqual([expect.objectContaining({ placement_id: placement.body.id, status: 'in_sync' })]);
  }, 180_000);

  it("B's token revoked: the sync fails with 401, recorded on the upstream, and no entry changes", async () => {
    const before = await entriesOf(new URL(relay.url).host);
    expect((await api(b, 'DELETE', `/personal_access_tokens/${syncTokenId}`)).status).toBe(204);
    const run = await cli('upstream', 'sync', 'b', '--json');
    expect(run.code).toBe(1);
    expect(run.json).toMatchObject({ status: 'failed', reason: expect.stringContaining('401 Unauthorized') });
    expect((await api(a, 'GET', '/latchkey/upstreams/b')).body.last_sync).toMatchObject({ status: 'failed', reason: run.json.reason });
    expect(await entriesOf(new URL(relay.url).host)).toEqual(before);
    // A new token, through the API: syncing again.
    const root = (await api(b, 'GET', '/user')).body;
    const fresh = (await api(b, 'POST', `/users/${root.id}/personal_access_tokens`, { name: 'latchkey-a-2', scopes: ['read_api'], expires_at: expiry.sync })).body;
    expect((await api(a, 'PUT', '/latchkey/upstreams/b', { token: fresh.token })).status).toBe(200);
    expect((await api(a, 'POST', '/latchkey/upstreams/b/sync')).body).toMatchObject({ status: 'ok' });
  }, 180_000);

  it('a B that answers 429 (its own limiter at 3 a minute): recorded with the reason, nothing created', async () => {
    const root = (await api(limited, 'GET', '/user')).body;
    const token = (await api(limited, 'POST', `/users/${root.id}/personal_access_tokens`, { name: 'latchkey-a', scopes: ['read_api'], expires_at: expiry.sync })).body.token;
    expect((await api(a, 'POST', '/latchkey/upstreams', { name: 'limited', url: limited.url, token, owner: 'platform-team' })).status).toBe(201);
    const result = (await api(a, 'POST', '/latchkey/upstreams/limited/sync')).body;
    expect(result).toMatchObject({ status: 'failed', reason: expect.stringContaining('429 Too Many Requests') });
    expect((await api(a, 'GET', '/latchkey/upstreams/limited')).body.last_sync).toMatchObject({ status: 'failed', reason: result.reason });
    expect(await entriesOf(new URL(limited.url).host)).toEqual([]);
  }, 180_000);

  it('B stopped mid-sync: the sync fails with the reason, and every entry stays as it was', async () => {
    const before = await entriesOf(new URL(relay.url).host);
    // The sync's fourth request to B is where B dies (kill -9).
    stopBAt = relay.count() + 4;
    const result = (await api(a, 'POST', '/latchkey/upstreams/b/sync')).body;
    // B was killed during that sync (its exit may reach this process just after A's answer).
    expect(killing).not.toBeNull();
    await killing;
    expect(b.exited()).not.toBeNull();
    expect(result).toMatchObject({ status: 'failed', reason: expect.stringMatching(/cannot reach|broke|no answer/) });
    expect((await api(a, 'GET', '/latchkey/upstreams/b')).body.last_sync).toMatchObject({ status: 'failed', reason: result.reason });
    expect(await entriesOf(new URL(relay.url).host)).toEqual(before);
  }, 180_000);
});
