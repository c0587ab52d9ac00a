/**
 * Rotation's placement writes and upstream rotations (issue 16), on each store: A is Latchkey in this
 * process, B a second real `latchkey serve` registered on A as its upstream GitLab. PlacementIO writes
 * secrets into CI variables on B (through B's variables API, with A's upstream token) and on A itself,
 * in each placement format, and reads them back; the values are checked through B's own GET variables
 * API. UpstreamRotator rotates B's tokens through B's rotate API: the new secret works on B, the old one
 * is refused, and A's inventory entry follows the new remote token at once.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Placement } from '../../../src/inventory/credential.js';
import { addDays, utcDateOf, type UtcDate } from '../../../src/kernel/dates.js';
import { DIALECTS } from '../../support/dialects.js';
import { serverApi as api, startServer, type ServerProcess } from '../../support/server-process.js';
import { startTcpProxy, type TcpProxy } from '../../support/tcp-proxy.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';

const A_HOST = 'latchkey-a.example.com';
const auth = (user: string, secret: string) => Buffer.from(`${user}:${secret}`).toString('base64');

/** A TCP server that accepts connections and never answers: an upstream that times out. */
async function startSilentServer(): Promise<{ url: string; close(): void }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => void sockets.add(s.on('error', () => {})));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

let placementIds = 1000;
const placement = (fields: Partial<Placement>): Placement => ({
  id: placementIds++,
  credentialId: 1,
  kind: 'ci_variable',
  instance: null,
  project: null,
  group: null,
  key: null,
  format: null,
  registry: null,
  username: null,
  host: null,
  path: null,
  cluster: null,
  namespace: null,
  name: null,
  where: null,
  ...fields,
});

describe.each(DIALECTS)('rotation writes placements and rotates tokens on upstream B (a second `latchkey serve`), on %s', (dialect) => {
  let a: TestApp;
  let w: World;
  let b: ServerProcess;
  let silent: Awaited<ReturnType<typeof startSilentServer>>;
  let bHost: string;
  /** B reached by another host name, with a Developer's token: may read the project, not write its variables. */
  let bAsDeveloperHost: string;
  /** B through a proxy (another host), with a read_api token of B's admin: reads every variable, writes none. */
  let readerProxy: TcpProxy;
  let bAsReaderHost: string;
  let web: { id: number };
  let acme: { id: number };
  const today = utcDateOf(new Date());
  const tokens: Record<string, { id: number; token: string }> = {};

  const onB = (method: string, path: string, body?: unknown, token?: string) => api(b, method, path, body, token);
  const onA = (method: string, path: string, body?: unknown) => a.request(method, `/api/v4${path}`, { token: w.adminToken, body });
  const io = () => a.app.services.rotationPlacements;
  const rotator = () => a.app.services.upstreamRotator;
  const entryOf = async (kind: string, name: string) => ((await onA('GET', '/latchkey/credentials?per_page=100')).body as any[]).find((e) => e.kind === kind && e.name === name);

  beforeAll(async () => {
    [a, b, silent] = await Promise.all([
      startTestApp(dialect, { now: `${today}T10:00:00.000Z`, env: { LATCHKEY_PUBLIC_URL: `https://${A_HOST}`, LATCHKEY_UPSTREAM_TIMEOUT_MS: '1500' } }),
      startServer({ dialect, startTimeoutMs: 150_000 }),
      startSilentServer(),
    ]);
    w = await seedWorld(a);
    bHost = new URL(b.url).host;
    const bAsDeveloperUrl = b.url.replace('127.0.0.1', 'localhost');
    bAsDeveloperHost = new URL(bAsDeveloperUrl).host;

    acme = (await onB('POST', '/groups', { name: 'Acme', path: 'acme' })).body;
    web = (await onB('POST', '/projects', { name: 'Web', path: 'web', namespace_id: acme.id })).body;
    const root = (await onB('GET', '/user')).body;
    const made = {
      upstream: await onB('POST', `/users/${root.id}/personal_access_tokens`, { name: 'latchkey-a', scopes: ['api'], expires_at: addDays(today, 200) }),
      acmeBot: await onB('POST', `/groups/${acme.id}/access_tokens`, { name: 'acme-bot', scopes: ['read_api'], access_level: 40, expires_at: addDays(today, 20) }),
      webBot: await onB('POST', `/projects/${web.id}/access_tokens`, { name: 'web-bot', scopes: ['read_api'], access_level: 30, expires_at: addDays(today, 20) }),
      rootPat: await onB('POST', `/users/${root.id}/personal_access_tokens`, { name: 'root-ci', scopes: ['read_api'], expires_at: addDays(today, 20) }),
      pull: await onB('POST', `/projects/${web.id}/deploy_tokens`, { name: 'web-pull', scopes: ['read_registry'], expires_at: addDays(today, 90) }),
    };
    for (const [name, m] of Object.entries(made)) {
      expect(m.status, `${name}: ${JSON.stringify(m.body)}`).toBe(201);
      tokens[name] = { id: m.body.id, token: m.body.token };
    }
    const dev = (await onB('POST', '/users', { username: 'dev', name: 'Dev', email: 'dev@example.com' })).body;
    expect((await onB('POST', `/projects/${web.id}/members`, { user_id: dev.id, access_level: 30 })).status).toBe(201);
    const devToken = (await onB('POST', `/users/${dev.id}/personal_access_tokens`, { name: 'dev-api', scopes: ['api'], expires_at: addDays(today, 200) })).body.token;

    const readApiToken = (await onB('POST', `/users/${root.id}/personal_access_tokens`, { name: 'read-only', scopes: ['read_api'], expires_at: addDays(today, 200) })).body.token;
    readerProxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(b.url).port) });
    bAsReaderHost = `127.0.0.1:${readerProxy.port}`;

    for (const [name, url, token] of [['b', b.url, tokens.upstream!.token], ['b-dev', bAsDeveloperUrl, devToken], ['b-reader', `http://${bAsReaderHost}`, readApiToken], ['silent', silent.url, 'glpat-never-sent-anywhere']] as const) {
      const registered = await onA('POST', '/latchkey/upstreams', { name, url, token, owner: 'acme/platform' });
      expect(registered.status, JSON.stringify(registered.body)).toBe(201);
    }
    expect((await onA('POST', '/latchkey/upstreams/b/sync')).body).toMatchObject({ status: 'ok' });
    await io().refresh();
  }, 300_000);

  afterAll(async () => {
    silent?.close();
    await Promise.all([a?.close(), b?.stop(), readerProxy?.close()]);
  });

  const variableOnB = async (where: string, key: string) => onB('GET', `/${where}/variables/${key}`);

  it('DOCKER_AUTH_CONFIG on a project of B: the registry entry gets the new auth, other registries and keys stay, and it reads back', async () => {
    const before = { auths: { 'docker.io': { auth: auth('someone', 'dockerhub-secret') }, [bHost]: { auth: auth('acme-bot', 'glpat-old-secret'), email: 'ci@example.com' } }, credHelpers: { 'gcr.io': 'gcloud' } };
    expect((await onB('POST', `/projects/${web.id}/variables`, { key: 'DOCKER_AUTH_CONFIG', value: JSON.stringify(before), protected: true })).status).toBe(201);
    const p = placement({ instance: bHost, project: 'acme/web', key: 'DOCKER_AUTH_CONFIG', format: 'docker_auth_config', registry: bHost, username: 'acme-bot' });
    expect(io().isAutomatic(p)).toBe(true);
    expect(await io().write(p, 'glpat-new-secret-0001')).toEqual({ ok: true });

    const after = await variableOnB(`projects/${web.id}`, 'DOCKER_AUTH_CONFIG');
    expect(after.status).toBe(200);
    expect(JSON.parse(after.body.value)).toEqual({ auths: { 'docker.io': before.auths['docker.io'], [bHost]: { auth: auth('acme-bot', 'glpat-new-secret-0001'), email: 'ci@example.com' } }, credHelpers: { 'gcr.io': 'gcloud' } });
    // Its other attributes are kept.
    expect(after.body).toMatchObject({ protected: true, masked: false, environment_scope: '*' });
    expect(await io().verify(p, 'glpat-new-secret-0001')).toEqual({ ok: true });
    expect(await io().verify(p, 'glpat-old-secret')).toEqual({ ok: false, reason: 'DOCKER_AUTH_CONFIG holds another secret than the one written' });
  });

  it('an absent group variable on B is created (masked where the value allows), netrc and user:password in their formats', async () => {
    const raw = placement({ instance: bHost, group: 'acme', key: 'ACME_TOKEN' });
    expect(await io().write(raw, 'glpat-group-secret-0002')).toEqual({ ok: true });
    expect((await variableOnB(`groups/${acme.id}`, 'ACME_TOKEN')).body).toMatchObject({ key: 'ACME_TOKEN', value: 'glpat-group-secret-0002', masked: true, environment_scope: '*' });
    expect(await io().verify(raw, 'glpat-group-secret-0002')).toEqual({ ok: true });

    expect((await onB('POST', `/projects/${web.id}/variables`, { key: 'NETRC', value: 'machine other.example login ci password keep-me\nmachine git login acme-bot password glpat-old' })).status).toBe(201);
    const netrc = placement({ instance: bHost, project: 'acme/web', key: 'NETRC', format: 'netrc', username: 'acme-bot' });
    expect(await io().write(netrc, 'glpat-netrc-0003')).toEqual({ ok: true });
    expect((await variableOnB(`projects/${web.id}`, 'NETRC')).body.value).toBe('machine other.example login ci password keep-me\nmachine git login acme-bot password glpat-netrc-0003');
    expect(await io().verify(netrc, 'glpat-netrc-0003')).toEqual({ ok: true });

    const userPassword = placement({ instance: bHost, project: 'acme/web', key: 'REGISTRY_LOGIN', format: 'user_password', username: 'deployer' });
    expect(await io().write(userPassword, 'glpat-up-0004')).toEqual({ ok: true });
    expect((await variableOnB(`projects/${web.id}`, 'REGISTRY_LOGIN')).body).toMatchObject({ value: 'deployer:glpat-up-0004', masked: true });
    expect(await io().verify(userPassword, 'glpat-up-0004')).toEqual({ ok: true });
  });

  it('failures are reasons: 403 for a token that cannot write there, no upstream for the host, a timeout', async () => {
    const asDeveloper = placement({ instance: bAsDeveloperHost, project: 'acme/web', key: 'DEV_CANNOT', format: 'raw' });
    expect(io().isAutomatic(asDeveloper)).toBe(true);
    expect(await io().write(asDeveloper, 'glpat-x-0005')).toEqual({ ok: false, reason: '403 Forbidden: the upstream token cannot read variables of project acme/web (it needs the api scope and Maintainer there)' });
    expect((await variableOnB(`projects/${web.id}`, 'DEV_CANNOT')).status).toBe(404);

    // A token that reads (read_api) but may not write: B refuses the PUT, the variable stays as it was.
    const asReader = placement({ instance: bAsReaderHost, group: 'acme', key: 'ACME_TOKEN' });
    expect(await io().write(asReader, 'glpat-x-0011')).toEqual({ ok: false, reason: '403 Forbidden: the upstream token cannot write variables of group acme (it needs the api scope and Maintainer there)' });
    expect((await variableOnB(`groups/${acme.id}`, 'ACME_TOKEN')).body.value).toBe('glpat-group-secret-0002');
    expect(await io().verify(asReader, 'glpat-group-secret-0002')).toEqual({ ok: true });

    const nowhere = placement({ instance: 'gitlab.nowhere.example', project: 'acme/web', key: 'X' });
    expect(io().isAutomatic(nowhere)).toBe(false);
    expect(await io().write(nowhere, 'glpat-x-0006')).toEqual({ ok: false, reason: 'no upstream registered for host gitlab.nowhere.example' });
    expect(await io().verify(nowhere, 'glpat-x-0006')).toEqual({ ok: false, reason: 'cannot read: no upstream registered for host gitlab.nowhere.example' });

    const hanging = placement({ instance: new URL(silent.url).host, project: 'acme/web', key: 'X' });
    const result = await io().write(hanging, 'glpat-x-0007');
    expect(result).toEqual({ ok: false, reason: expect.stringMatching(/^no answer from 127\.0\.0\.1:\d+ within 1500 ms \(GET \/projects\/acme%2Fweb\/variables\/X\)$/) });
  });

  it('only ci_variable placements on this Latchkey or a registered upstream are automatic', () => {
    expect(io().isAutomatic(placement({ kind: 'manual', where: 'SonarQube settings' }))).toBe(false);
    expect(io().isAutomatic(placement({ kind: 'file', host: bHost, path: 'secrets2.yml', key: 'token' }))).toBe(false);
    expect(io().isAutomatic(placement({ kind: 'kubernetes_secret', namespace: 'ci', name: 'pull', key: '.dockerconfigjson' }))).toBe(false);
    expect(io().isAutomatic(placement({ instance: A_HOST, project: 'acme/platform/web', key: 'K' }))).toBe(true);
    expect(io().isAutomatic(placement({ instance: bHost, project: 'acme/web', key: 'K' }))).toBe(true);
  });

  it("on this Latchkey: created masked and hidden as the system, updated keeping its attributes, read back; a value a masked variable refuses is a reason", async () => {
    const local = placement({ instance: A_HOST, project: 'acme/platform/web', key: 'NPM_TOKEN' });
    expect(await io().write(local, 'npm_local-secret-0008')).toEqual({ ok: true });
    const shown = await onA('GET', `/projects/${w.project.id}/variables/NPM_TOKEN`);
    expect(shown.body).toMatchObject({ key: 'NPM_TOKEN', value: null, masked: true, hidden: true, environment_scope: '*' });
    expect(await io().verify(local, 'npm_local-secret-0008')).toEqual({ ok: true });
    expect((await a.app.services.cicdVariables.readValue({ type: 'project', id: w.project.id }, 'NPM_TOKEN'))?.value).toBe('npm_local-secret-0008');

    expect((await onA('POST', `/groups/${w.sub.id}/variables`, { key: 'DOCKER_AUTH_CONFIG', value: JSON.stringify({ auths: { 'docker.io': { auth: 'eDp5' } } }), protected: true, description: 'pull' })).status).toBe(201);
    const docker = placement({ instance: A_HOST, group: 'acme/platform', key: 'DOCKER_AUTH_CONFIG', format: 'docker_auth_config', registry: A_HOST, username: 'bot' });
    expect(await io().write(docker, 'glpat-local-0009')).toEqual({ ok: true });
    const group = await onA('GET', `/groups/${w.sub.id}/variables/DOCKER_AUTH_CONFIG`);
    expect(group.body).toMatchObject({ protected: true, description: 'pull', masked: false });
    expect(JSON.parse(group.body.value)).toEqual({ auths: { 'docker.io': { auth: 'eDp5' }, [A_HOST]: { auth: auth('bot', 'glpat-local-0009') } } });
    expect(await io().verify(docker, 'glpat-local-0009')).toEqual({ ok: true });

    expect((await onA('POST', `/projects/${w.project.id}/variables`, { key: 'MASKED_NETRC', value: 'masked-value-1', masked: true })).status).toBe(201);
    const netrc = placement({ instance: A_HOST, project: 'acme/platform/web', key: 'MASKED_NETRC', format: 'netrc', username: 'bot' });
    expect(await io().write(netrc, 'glpat-local-0010')).toEqual({ ok: false, reason: '400 Bad request: MASKED_NETRC: value is invalid' });
    expect((await onA('GET', `/projects/${w.project.id}/variables/MASKED_NETRC`)).body.value).toBe('masked-value-1');
    expect(await io().write(placement({ instance: A_HOST, project: 'acme/nope', key: 'K' }), 'glpat-x')).toEqual({ ok: false, reason: 'project acme/nope does not exist on this Latchkey' });
  });

  it("rotates B's group access token through B's rotate API: the new secret works on B, the old one is refused, A's entry follows at once", async () => {
    const entry = await entryOf('gitlab_group_access_token', 'acme-bot');
    expect(await rotator().canRotate(entry.id)).toBe(true);
    const expiresAt = addDays(today, 60) as UtcDate;
    const rotated = await rotator().rotate(entry.id, { expiresAt });
    expect(rotated.remoteId).not.toBe(tokens.acmeBot!.id);
    expect(rotated.expiresOn).toBe(expiresAt);
    const bot = await onB('GET', '/user', undefined, rotated.secret);
    expect(bot.status).toBe(200);
    expect(bot.body.username).toMatch(/^group_\d+_bot/);
    expect((await onB('GET', '/user', undefined, tokens.acmeBot!.token)).status).toBe(401);

    // The same entry, at the new remote token and its expiry, without a sync.
    const after = await onA('GET', `/latchkey/credentials/${entry.id}`);
    expect(after.body).toMatchObject({ id: entry.id, slug: entry.slug, due_on: expiresAt, renewal: { expires_at: expiresAt } });
    const synced = (await onA('GET', '/latchkey/upstreams/b/tokens?per_page=100')).body as any[];
    expect(synced.filter((t) => t.credential.id === entry.id)).toEqual([expect.objectContaining({ id: rotated.remoteId, expires_at: expiresAt, revoked: false, active: true, state: 'present' })]);
    // The next sync agrees: the entry is still the new token's, and the old one (listed revoked by B) makes no entry of its own.
    expect((await onA('POST', '/latchkey/upstreams/b/sync')).body).toMatchObject({ status: 'ok', counts: { created: 0, revoked: 0 } });
    expect(((await onA('GET', '/latchkey/credentials?per_page=100')).body as any[]).filter((e) => e.name === 'acme-bot')).toEqual([expect.objectContaining({ id: entry.id, due_on: expiresAt })]);
    expect(await rotator().canRotate(entry.id)).toBe(true);
  });

  it("rotates a project access token and a personal access token of B; a deploy token cannot be rotated (GitLab has no API for it)", async () => {
    for (const [kind, name, old] of [['gitlab_project_access_token', 'web-bot', tokens.webBot!], ['gitlab_personal_access_token', 'root-ci', tokens.rootPat!]] as const) {
      const entry = await entryOf(kind, name);
      const rotated = await rotator().rotate(entry.id, {});
      expect((await onB('GET', '/personal_access_tokens/self', undefined, rotated.secret)).body).toMatchObject({ id: rotated.remoteId, name, active: true });
      expect((await onB('GET', '/personal_access_tokens/self', undefined, old.token)).status).toBe(401);
    }
    const deploy = await entryOf('gitlab_project_deploy_token', 'web-pull');
    expect(await rotator().canRotate(deploy.id)).toBe(false);
    expect(await rotator().whyNot(deploy.id)).toMatch(/^GitLab has no rotate API for project deploy tokens/);
    await expect(rotator().rotate(deploy.id, {})).rejects.toThrow(/no rotate API for project deploy tokens/);
    // The rotate request says so too, rather than calling it an outside credential.
    const refused = await onA('POST', `/latchkey/credentials/${deploy.id}/rotate`, {});
    expect(refused.status).toBe(422);
    expect(refused.body.message).toMatch(/^Nothing to rotate here: .* is a synced upstream token, and GitLab has no rotate API for project deploy tokens/);
    // An outside entry is no synced token.
    expect(await rotator().whyNot((await onA('POST', '/latchkey/credentials', { name: 'npm', kind: 'npm_token', owner: 'acme/platform', renewal: { every_days: 90 } })).body.id)).toBe('the entry is not a token synced from an upstream');
  });

  it('a rotation the upstream refuses is a reason: the token was revoked on B since the sync', async () => {
    const made = (await onB('POST', `/projects/${web.id}/access_tokens`, { name: 'doomed', scopes: ['read_api'], access_level: 30, expires_at: addDays(today, 20) })).body;
    expect((await onA('POST', '/latchkey/upstreams/b/sync')).body).toMatchObject({ status: 'ok' });
    expect((await onB('DELETE', `/projects/${web.id}/access_tokens/${made.id}`)).status).toBe(204);
    const entry = await entryOf('gitlab_project_access_token', 'doomed');
    const refused = await rotator().rotate(entry.id, {}).then(() => null, (e: Error) => e.message);
    expect(refused).toBe(`400: ${bHost} refused to rotate project access token ${made.id} (doomed) of project acme/web (400 Bad request - token already revoked)`);
  });
});
