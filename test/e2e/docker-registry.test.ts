/**
 * Debian's Docker registry (2.8) with token auth pointed at Latchkey's /jwt/auth, driven by skopeo:
 * images built here are pushed and pulled with deploy and personal tokens. Latchkey runs in-process on
 * a real socket with a fake clock set to the real time (the registry checks JWT times against its own
 * clock), so expiry is tested by moving the fake clock, never by sleeping.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, utcDateOf } from '../../src/kernel/dates.js';
import { DIALECTS } from '../support/dialects.js';
import { DOCKER_REGISTRY_BIN, skopeo, startDockerRegistry, type RegistryProcess } from '../support/docker-registry.js';
import { buildOciImage } from '../support/oci-image.js';
import { requireProgram } from '../support/programs.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../support/test-app.js';

const available =
  requireProgram('docker-registry', { command: DOCKER_REGISTRY_BIN, args: ['--version'], hint: 'apt-get install docker-registry' }) &&
  requireProgram('skopeo', { command: 'skopeo', args: ['--version'], hint: 'apt-get install skopeo' });

const SERVICE = 'container_registry';
const ISSUER = 'latchkey-e2e';

describe.skipIf(!available).each(DIALECTS)('docker-registry + skopeo against /jwt/auth on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let registry: RegistryProcess;
  let work: string;
  const repo = 'acme/platform/web';

  const image = (tag: string) => `docker://${registry.host}/${repo}:${tag}`;
  const push = (dir: string, tag: string, creds: string) => skopeo('copy', '--dest-tls-verify=false', '--dest-creds', creds, `oci:${dir}:${tag}`, image(tag));
  async function pull(tag: string, creds: string): Promise<{ ok: boolean; output: string; layerDigest?: string; layerBlobDigest?: string }> {
    const out = await mkdtemp(join(work, 'pulled-'));
    const result = await skopeo('copy', '--src-tls-verify=false', '--src-creds', creds, image(tag), `dir:${out}`);
    if (!result.ok) return result;
    const manifest = JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8')) as { layers: { digest: string }[] };
    const layerDigest = manifest.layers[0]!.digest;
    const blob = await readFile(join(out, layerDigest.slice('sha256:'.length)));
    return { ...result, layerDigest, layerBlobDigest: `sha256:${createHash('sha256').update(blob).digest('hex')}` };
  }
  const deployToken = async (resource: Parameters<TestApp['app']['services']['deployTokens']['create']>[1], name: string, scopes: string[], expiresAt?: string) => {
    const { token, secret } = await t.app.services.deployTokens.create(w.admin, resource, { name, scopes, expiresAt });
    return { token, creds: `${token.username}:${secret}` };
  };

  beforeAll(async () => {
    // Real time: the registry checks exp/nbf and the certificate against its own clock.
    t = await startTestApp(dialect, { now: new Date().toISOString(), env: { LATCHKEY_REGISTRY_SERVICE: SERVICE, LATCHKEY_REGISTRY_ISSUER: ISSUER } });
    w = await seedWorld(t);
    const address = await t.app.http.listen({ host: '127.0.0.1', port: 0 });
    const key = await t.app.services.registry.keys.current();
    registry = await startDockerRegistry({ realm: `${address}/jwt/auth`, service: SERVICE, issuer: ISSUER, certificatePem: key.certificatePem });
    work = await mkdtemp(join(tmpdir(), 'latchkey-skopeo-'));
  });
  afterAll(async () => {
    await registry?.stop();
    await t?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('pushes with write_registry and pulls the same layer back with read_registry', async () => {
    const built = await buildOciImage(join(work, 'v1'), 'v1', `hello from ${dialect}\n`);
    const writer = await deployToken({ type: 'project', project: w.project }, 'ci-push', ['read_registry', 'write_registry']);
    const pushed = await push(built.dir, 'v1', writer.creds);
    expect(pushed.ok, `${pushed.output}\n${registry.output()}`).toBe(true);

    const reader = await deployToken({ type: 'project', project: w.project }, 'k8s-pull', ['read_registry']);
    const pulled = await pull('v1', reader.creds);
    expect(pulled.ok, pulled.output).toBe(true);
    expect(pulled.layerDigest).toBe(built.layerDigest);
    expect(pulled.layerBlobDigest).toBe(built.layerDigest);
  });

  it('refuses a push with a read_registry-only token, and nothing reaches the registry', async () => {
    const built = await buildOciImage(join(work, 'ro'), 'ro', `read-only attempt ${dialect} ${Date.now()}\n`);
    const reader = await deployToken({ type: 'project', project: w.project }, 'read-only', ['read_registry']);
    const pushed = await push(built.dir, 'ro', reader.creds);
    expect(pushed.ok).toBe(false);
    // Credentials were fine (a JWT was issued, with pull only): the registry refuses the upload.
    expect(pushed.output).toMatch(/writing blob: initiating layer upload[^]*denied: requested access to the resource is denied/);
    const writer = await deployToken({ type: 'project', project: w.project }, 'checker', ['read_registry']);
    const pulled = await pull('ro', writer.creds);
    expect(pulled.ok).toBe(false);
    expect(pulled.output).toMatch(/manifest unknown/);
  });

  it('lets a deploy token of a parent group pull, and refuses one of an unrelated group', async () => {
    const parent = await deployToken({ type: 'group', group: w.top }, 'group-pull', ['read_registry']);
    const pulled = await pull('v1', parent.creds);
    expect(pulled.ok, pulled.output).toBe(true);
    expect(pulled.layerBlobDigest).toBe(pulled.layerDigest);

    const other = await t.app.services.namespaces.findGroup(w.admin, 'acme/other');
    const unrelated = await deployToken({ type: 'group', group: other.group }, 'other-pull', ['read_registry']);
    const refused = await pull('v1', unrelated.creds);
    expect(refused.ok).toBe(false);
    expect(refused.output).toMatch(/denied: requested access to the resource is denied/);
  });

  it('lets a Developer push and a Reporter pull with personal tokens; a Guest cannot pull', async () => {
    const { personalTokens } = t.app.services;
    const pat = async (role: 'developer' | 'reporter' | 'guest', scopes: string[]) => {
      const user = w.users[role].user;
      return `${user.username}:${(await personalTokens.createFor(user, { name: 'registry', scopes, expiresAt: '2027-06-01' }, null)).secret}`;
    };
    const built = await buildOciImage(join(work, 'dev'), 'dev', `developer push ${dialect}\n`);
    const pushed = await push(built.dir, 'dev', await pat('developer', ['read_registry', 'write_registry']));
    expect(pushed.ok, pushed.output).toBe(true);
    const pulled = await pull('dev', await pat('reporter', ['read_registry']));
    expect(pulled.ok, pulled.output).toBe(true);
    expect(pulled.layerDigest).toBe(built.layerDigest);
    const guest = await pull('dev', await pat('guest', ['read_registry']));
    expect(guest.ok).toBe(false);
    expect(guest.output).toMatch(/denied: requested access to the resource is denied/);
  });

  it('pulls a public project’s image without credentials (GitLab’s anonymous pull); a private one stays closed', async () => {
    const { namespaces, personalTokens } = t.app.services;
    const open = await namespaces.createGroup(w.admin, { name: 'Open', path: 'open', visibility: 'public' });
    await namespaces.createProject(w.admin, { name: 'Pub', path: 'pub', namespaceId: open.id, visibility: 'public' });
    const admin = `${w.admin.username}:${(await personalTokens.createFor(w.admin, { name: 'registry', scopes: ['read_registry', 'write_registry'], expiresAt: '2027-06-01' }, null)).secret}`;
    const built = await buildOciImage(join(work, 'pub'), 'v1', `public image ${dialect}\n`);
    const pushed = await skopeo('copy', '--dest-tls-verify=false', '--dest-creds', admin, `oci:${built.dir}:v1`, `docker://${registry.host}/open/pub:v1`);
    expect(pushed.ok, pushed.output).toBe(true);

    const out = await mkdtemp(join(work, 'anonymous-'));
    const anonymous = await skopeo('copy', '--src-tls-verify=false', '--src-no-creds', `docker://${registry.host}/open/pub:v1`, `dir:${out}`);
    expect(anonymous.ok, `${anonymous.output}\n${registry.output()}`).toBe(true);
    const manifest = JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8')) as { layers: { digest: string }[] };
    expect(manifest.layers[0]!.digest).toBe(built.layerDigest);

    const closed = await skopeo('copy', '--src-tls-verify=false', '--src-no-creds', image('v1'), `dir:${await mkdtemp(join(work, 'closed-'))}`);
    expect(closed.ok).toBe(false);
    expect(closed.output).toMatch(/denied: requested access to the resource is denied/);
    const anonymousPush = await skopeo('copy', '--dest-tls-verify=false', '--dest-no-creds', `oci:${built.dir}:v1`, `docker://${registry.host}/open/pub:v2`);
    expect(anonymousPush.ok).toBe(false);
  });

  it('refuses a pull with a revoked token', async () => {
    const reader = await deployToken({ type: 'project', project: w.project }, 'to-revoke', ['read_registry']);
    expect((await pull('v1', reader.creds)).ok).toBe(true);
    await t.app.services.deployTokens.remove(w.admin, { type: 'project', project: w.project }, reader.token.id);
    const refused = await pull('v1', reader.creds);
    expect(refused.ok).toBe(false);
    expect(refused.output).toMatch(/invalid username\/password: unauthorized: HTTP Basic: Access denied/);
  });

  it('refuses a pull with an expired token (fake clock moved past its expiry date)', async () => {
    const tomorrow = addDays(utcDateOf(t.clock.now()), 1);
    const reader = await deployToken({ type: 'project', project: w.project }, 'short-lived', ['read_registry'], tomorrow);
    expect((await pull('v1', reader.creds)).ok).toBe(true);
    const realNow = t.clock.now();
    t.clock.set(`${tomorrow}T00:00:01.000Z`);
    try {
      const refused = await pull('v1', reader.creds);
      expect(refused.ok).toBe(false);
      // Refused by Latchkey at /jwt/auth (no JWT was issued), not by the registry.
      expect(refused.output).toMatch(/invalid username\/password/i);
    } finally {
      t.clock.set(realNow);
    }
  });

  it('the registry trusts the key by its libtrust kid alone and by its x5c certificate alone', async () => {
    const key = await t.app.services.registry.keys.current();
    const now = Math.floor(Date.now() / 1000);
    const jwt = (header: Record<string, unknown>) =>
      new SignJWT({ access: [{ type: 'repository', name: repo, actions: ['pull'] }] })
        .setProtectedHeader({ typ: 'JWT', alg: 'ES256', ...header })
        .setIssuer(ISSUER)
        .setAudience(SERVICE)
        .setIssuedAt(now)
        .setExpirationTime(now + 120)
        .sign(key.privateKey);
    const tags = async (token: string) => (await fetch(`http://${registry.host}/v2/${repo}/tags/list`, { headers: { authorization: `Bearer ${token}` } })).status;
    expect(await tags(await jwt({ kid: key.kid }))).toBe(200);
    expect(await tags(await jwt({ x5c: [...key.x5c] }))).toBe(200);
    // Control: a kid the bundle does not hold is refused, so the 200s above are the key being trusted.
    expect(await tags(await jwt({ kid: key.kid.replace(/^..../, 'AAAA') }))).toBe(401);
  });
});
