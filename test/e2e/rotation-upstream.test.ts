/**
 * Issue 16 item 5, with real processes on each store: Latchkey A rotates a group access token of
 * Latchkey B (its upstream, a second `latchkey serve`), where B holds the token in DOCKER_AUTH_CONFIG of a
 * project for its registry host. After `POST A/api/v4/latchkey/credentials/:id/rotate`, B's variable
 * decodes to the new token (its other registry kept), the new token gets a registry JWT from B's
 * /jwt/auth — and skopeo pulls with it from a docker-registry trusting B, where those programs exist —
 * and B refuses the old token.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, utcDateOf } from '../../src/kernel/dates.js';
import { DIALECTS } from '../support/dialects.js';
import { DOCKER_REGISTRY_BIN, skopeo, startDockerRegistry, type RegistryProcess } from '../support/docker-registry.js';
import { buildOciImage } from '../support/oci-image.js';
import { requireProgram } from '../support/programs.js';
import { runLatchkey, serverApi as api, startServer, type ServerProcess } from '../support/server-process.js';

// Without them the rotation is still tested up to B's /jwt/auth; only the pull is skipped (said why by requireProgram).
const registryAvailable =
  requireProgram('docker-registry', { command: DOCKER_REGISTRY_BIN, args: ['--version'], hint: 'apt-get install docker-registry' }) &&
  requireProgram('skopeo', { command: 'skopeo', args: ['--version'], hint: 'apt-get install skopeo' });

const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

describe.each(DIALECTS)('A rotates a group token of upstream B, B holding it in DOCKER_AUTH_CONFIG (two `latchkey serve`), on %s', (dialect) => {
  let a: ServerProcess;
  let b: ServerProcess;
  let registry: RegistryProcess | null = null;
  let work: string;
  let registryHost: string;
  let service: string;
  let web: { id: number };
  let bot: { username: string; token: string; id: number };
  const today = utcDateOf(new Date());
  const otherRegistry = { auth: Buffer.from('someone:docker-hub-secret').toString('base64') };

  const jwtAuth = (user: string, secret: string) =>
    fetch(`${b.url}/jwt/auth?service=${encodeURIComponent(service)}&scope=${encodeURIComponent('repository:acme/web:pull')}`, { headers: { authorization: basic(user, secret) } });
  const pull = async (user: string, secret: string) => skopeo('copy', '--src-tls-verify=false', '--src-creds', `${user}:${secret}`, `docker://${registryHost}/acme/web:v1`, `dir:${await mkdtemp(join(work, 'pulled-'))}`);

  beforeAll(async () => {
    [a, b] = await Promise.all([startServer({ dialect, startTimeoutMs: 150_000, env: { LATCHKEY_UPSTREAM_SYNC_CRON: 'off' } }), startServer({ dialect, startTimeoutMs: 150_000 })]);
    work = await mkdtemp(join(tmpdir(), 'latchkey-rotation-'));
    const cert = await runLatchkey(['registry', 'cert', '--json'], b.env, 60_000);
    expect(cert.code, cert.stderr).toBe(0);
    const keys = JSON.parse(cert.stdout) as { bundle: string; service: string; issuer: string };
    service = keys.service;
    if (registryAvailable) {
      registry = await startDockerRegistry({ realm: `${b.url}/jwt/auth`, service: keys.service, issuer: keys.issuer, certificatePem: keys.bundle });
      registryHost = registry.host;
    } else registryHost = 'registry.b.example.com';

    const acme = (await api(b, 'POST', '/groups', { name: 'Acme', path: 'acme' })).body;
    web = (await api(b, 'POST', '/projects', { name: 'Web', path: 'web', namespace_id: acme.id })).body;
    const made = (await api(b, 'POST', `/groups/${acme.id}/access_tokens`, { name: 'acme-pull', scopes: ['read_registry'], access_level: 20, expires_at: addDays(today, 10) })).body;
    bot = { id: made.id, token: made.token, username: (await api(b, 'GET', '/user', undefined, made.token)).body.username };
    const root = (await api(b, 'GET', '/user')).body;
    if (registry) {
      const pusher = (await api(b, 'POST', `/users/${root.id}/personal_access_tokens`, { name: 'push', scopes: ['read_registry', 'write_registry'], expires_at: addDays(today, 10) })).body.token;
      const image = await buildOciImage(join(work, 'v1'), 'v1', `rotation ${dialect}\n`);
      const pushed = await skopeo('copy', '--dest-tls-verify=false', '--dest-creds', `${root.username}:${pusher}`, `oci:${image.dir}:v1`, `docker://${registryHost}/acme/web:v1`);
      expect(pushed.ok, pushed.output).toBe(true);
      const before = await pull(bot.username, bot.token);
      expect(before.ok, before.output).toBe(true);
    }
    // B's CI holds the bot's token for its registry, next to another registry's login.
    const dockerAuthConfig = { auths: { [registryHost]: { auth: Buffer.from(`${bot.username}:${bot.token}`).toString('base64') }, 'docker.io': otherRegistry } };
    expect((await api(b, 'POST', `/projects/${web.id}/variables`, { key: 'DOCKER_AUTH_CONFIG', value: JSON.stringify(dockerAuthConfig) })).status).toBe(201);

    // A: B registered as an upstream with an api token of B's admin, synced.
    const upstreamToken = (await api(b, 'POST', `/users/${root.id}/personal_access_tokens`, { name: 'latchkey-a', scopes: ['api'], expires_at: addDays(today, 100) })).body.token;
    expect((await api(a, 'POST', '/groups', { name: 'Platform team', path: 'platform-team' })).status).toBe(201);
    expect((await api(a, 'POST', '/latchkey/upstreams', { name: 'b', url: b.url, token: upstreamToken, owner: 'platform-team' })).status).toBe(201);
    expect((await api(a, 'POST', '/latchkey/upstreams/b/sync')).body).toMatchObject({ status: 'ok' });
  }, 300_000);

  afterAll(async () => {
    await registry?.stop();
    await Promise.all([a?.stop(), b?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("rotates through A's API: B's variable decodes to the new token, which gets a registry JWT from B (and pulls); B refuses the old one", async () => {
    const entry = ((await api(a, 'GET', '/latchkey/credentials?per_page=100')).body as any[]).find((e) => e.kind === 'gitlab_group_access_token' && e.name === 'acme-pull');
    expect(entry).toBeDefined();
    const placement = await api(a, 'POST', `/latchkey/credentials/${entry.id}/placements`, {
      kind: 'ci_variable', instance: new URL(b.url).host, project: 'acme/web', key: 'DOCKER_AUTH_CONFIG', format: 'docker_auth_config', registry: registryHost, username: bot.username,
    });
    expect(placement.status, JSON.stringify(placement.body)).toBe(201);

    const expiresAt = addDays(today, 60);
    const started = await api(a, 'POST', `/latchkey/credentials/${entry.id}/rotate`, { expires_at: expiresAt });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const secret: string = started.body.token;
    expect(secret).toMatch(/^glpat-/);
    // The job as anyone reads it later (the rotate answer is the only one with the secret).
    let job = (await api(a, 'GET', `/latchkey/rotations/${started.body.id}`)).body;
    for (let i = 0; i < 100 && (job.state === 'running' || job.state === 'waiting'); i++) {
      await new Promise((r) => setTimeout(r, 200));
      job = (await api(a, 'GET', `/latchkey/rotations/${job.id}`)).body;
    }
    expect(job, JSON.stringify(job)).toMatchObject({ state: 'succeeded', failure: null });
    expect(job.steps.filter((s: any) => s.placement_id === placement.body.id).map((s: any) => [s.kind, s.state])).toEqual([['write', 'done'], ['verify', 'done']]);
    expect(JSON.stringify(job)).not.toContain(secret);

    // B's variable: the registry's auth is the bot with the new token; the other registry is untouched.
    const variable = await api(b, 'GET', `/projects/${web.id}/variables/DOCKER_AUTH_CONFIG`);
    const config = JSON.parse(variable.body.value);
    expect(Buffer.from(config.auths[registryHost].auth, 'base64').toString()).toBe(`${bot.username}:${secret}`);
    expect(config.auths['docker.io']).toEqual(otherRegistry);

    // The new token: B's registry JWT for a pull of acme/web, and the same bot behind it.
    const granted = await jwtAuth(bot.username, secret);
    expect(granted.status).toBe(200);
    const claims = decodeJwt(((await granted.json()) as { token: string }).token) as { access: { name: string; actions: string[] }[] };
    expect(claims.access).toEqual([{ type: 'repository', name: 'acme/web', actions: ['pull'] }]);
    expect((await api(b, 'GET', '/user', undefined, secret)).body.username).toBe(bot.username);
    // The old one: refused by B's API and its /jwt/auth.
    expect((await api(b, 'GET', '/user', undefined, bot.token)).status).toBe(401);
    expect((await jwtAuth(bot.username, bot.token)).status).toBe(401);

    if (registry) {
      const pulled = await pull(bot.username, secret);
      expect(pulled.ok, pulled.output).toBe(true);
      const refused = await pull(bot.username, bot.token);
      expect(refused.ok).toBe(false);
    }

    // A's entry follows the new remote token at once: its expiry, and B's id of the new token.
    expect((await api(a, 'GET', `/latchkey/credentials/${entry.id}`)).body).toMatchObject({ id: entry.id, due_on: expiresAt });
    expect(job.new_token_id).not.toBe(bot.id);
    const synced = ((await api(a, 'GET', '/latchkey/upstreams/b/tokens?per_page=100')).body as any[]).filter((t) => t.credential.id === entry.id);
    expect(synced).toEqual([expect.objectContaining({ id: job.new_token_id, expires_at: expiresAt, active: true })]);
  }, 180_000);
});
