/**
 * The generic package registry over `inject`, on every store: deploy tokens (Deploy-Token header,
 * Basic with any user name) of the project or an ancestor group with their package scopes; user tokens
 * by membership (Reporter+ download, Developer+ upload) and scope (api, read_api for downloads);
 * GitLab's name/version rules, traversal attempts that never leave the packages directory, duplicates
 * (the newest file wins), `status`, `select=package_file`, the size cap, and 404s.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resource } from '../../../src/namespaces/namespace.js';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;
const MAX_BYTES = 4096;

/** Every file under `dir`, relative. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? (e as any).path, e.name).slice(dir.length + 1)).sort();
}

describe.each(DIALECTS)('generic packages on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let root: string;
  let packagesDir: string;
  let project: Resource;
  const deploy = {} as Record<'write' | 'read' | 'registryOnly' | 'topGroup' | 'otherGroup' | 'otherProject' | 'revoked', { username: string; secret: string }>;
  let readApiToken: string;

  async function makeDeployToken(resource: Resource, scopes: string[]) {
    const { token, secret } = await t.app.services.deployTokens.create(w.admin, resource, { name: 'pkg', scopes });
    return { username: token.username!, secret, id: token.id };
  }

  const fileUrl = (pkg: string, version: string, file: string, projectId: number | string = w.project.id) => `/api/v4/projects/${projectId}/packages/generic/${pkg}/${version}/${file}`;

  async function put(url: string, body: Buffer | string | Readable, headers: Record<string, string>) {
    const res = await t.app.http.inject({ method: 'PUT', url, headers, payload: body as any });
    return { status: res.statusCode, json: res.body ? JSON.parse(res.body) : undefined };
  }
  async function get(url: string, headers: Record<string, string>) {
    const res = await t.app.http.inject({ method: 'GET', url, headers });
    return { status: res.statusCode, raw: res.rawPayload, headers: res.headers, json: () => JSON.parse(res.body) };
  }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'lk-packages-'));
    packagesDir = join(root, 'packages');
    t = await startTestApp(dialect, { env: { LATCHKEY_PACKAGES_DIR: packagesDir, LATCHKEY_PACKAGE_MAX_BYTES: String(MAX_BYTES) } });
    w = await seedWorld(t);
    project = { type: 'project', project: w.project };
    deploy.write = await makeDeployToken(project, ['write_package_registry']);
    deploy.read = await makeDeployToken(project, ['read_package_registry']);
    deploy.registryOnly = await makeDeployToken(project, ['read_registry', 'read_repository']);
    deploy.topGroup = await makeDeployToken({ type: 'group', group: w.top }, ['read_package_registry', 'write_package_registry']);
    deploy.otherGroup = await makeDeployToken({ type: 'group', group: (await t.app.services.namespaces.findGroup(w.admin, 'acme/other')).group }, ['write_package_registry']);
    deploy.otherProject = await makeDeployToken({ type: 'project', project: w.otherProject }, ['write_package_registry']);
    const revoked = await makeDeployToken(project, ['write_package_registry']);
    await t.app.services.deployTokens.remove(w.admin, project, revoked.id);
    deploy.revoked = revoked;
    readApiToken = (await t.app.services.personalTokens.createFor(w.users.maintainer.user, { name: 'ro', scopes: ['read_api'], expiresAt: '2027-06-01' }, null)).secret;
  });
  afterAll(async () => {
    await t?.close();
    await rm(root, { recursive: true, force: true });
  });

  describe('deploy tokens', () => {
    it('uploads with Deploy-Token and downloads with Basic auth under any user name, bytes and checksum intact', async () => {
      const content = Buffer.from([0, 1, 2, 250, 255, ...Buffer.from('release binary\n')]);
      const up = await put(fileUrl('my_package', '1.0.0', 'tool-linux.tar.gz'), content, { 'deploy-token': deploy.write.secret, 'content-type': 'application/octet-stream' });
      expect(up).toEqual({ status: 201, json: { message: '201 Created' } });
      const down = await get(fileUrl('my_package', '1.0.0', 'tool-linux.tar.gz'), { authorization: basic('anything', deploy.read.secret) });
      expect(down.status).toBe(200);
      expect(Buffer.compare(down.raw, content)).toBe(0);
      expect(down.headers['content-type']).toBe('application/octet-stream');
      expect(down.headers['x-checksum-sha256']).toBe(sha256(content));
      expect(down.headers['content-disposition']).toBe('attachment; filename="tool-linux.tar.gz"');
      // The project path works as well as the id.
      const byPath = await get(fileUrl('my_package', '1.0.0', 'tool-linux.tar.gz', 'acme%2Fplatform%2Fweb'), { 'deploy-token': deploy.write.secret });
      expect(Buffer.compare(byPath.raw, content)).toBe(0);
      // The metadata row records size, checksum and the uploading token.
      const row = await t.app.store.db.selectFrom('package_files').selectAll().where('file_name', '=', 'tool-linux.tar.gz').executeTakeFirstOrThrow();
      expect({ size: Number(row.size), sha: row.file_sha256, by: row.created_by_token_id, user: row.created_by_user_id }).toEqual({ size: content.length, sha: sha256(content), by: expect.any(Number), user: null });
    });

    it('refuses an upload with a read-only deploy token (insufficient_scope: write_package_registry)', async () => {
      const res = await put(fileUrl('my_package', '1.0.0', 'x.bin'), 'x', { 'deploy-token': deploy.read.secret });
      expect(res.status).toBe(403);
      expect(res.json).toMatchObject({ error: 'insufficient_scope', scope: 'write_package_registry' });
    });

    it('refuses a deploy token without package scopes, and deploy tokens on the general API', async () => {
      expect((await get(fileUrl('my_package', '1.0.0', 'tool-linux.tar.gz'), { 'deploy-token': deploy.registryOnly.secret })).status).toBe(403);
      expect((await get(`/api/v4/projects/${w.project.id}`, { 'deploy-token': deploy.write.secret })).status).toBe(401);
      expect((await get(`/api/v4/projects/${w.project.id}`, { authorization: basic(deploy.write.username, deploy.write.secret) })).status).toBe(401);
    });

    it('accepts a deploy token of an ancestor group; another group or project gets 404', async () => {
      expect((await put(fileUrl('grp', '2.0', 'a.txt'), 'from the top group', { 'deploy-token': deploy.topGroup.secret })).status).toBe(201);
      const down = await get(fileUrl('grp', '2.0', 'a.txt'), { 'deploy-token': deploy.topGroup.secret });
      expect(down.raw.toString()).toBe('from the top group');
      for (const other of [deploy.otherGroup, deploy.otherProject]) {
        const res = await get(fileUrl('grp', '2.0', 'a.txt'), { 'deploy-token': other.secret });
        expect(res.status).toBe(404);
        expect(res.json()).toEqual({ message: '404 Project Not Found' });
        expect((await put(fileUrl('grp', '2.0', 'b.txt'), 'x', { 'deploy-token': other.secret })).status).toBe(404);
      }
    });

    it('refuses a deploy token deleted after warm downloads at once (the cached decision goes with it)', async () => {
      const warm = await makeDeployToken(project, ['read_package_registry']);
      const url = fileUrl('my_package', '1.0.0', 'tool-linux.tar.gz');
      for (let i = 0; i < 2; i++) expect((await get(url, { 'deploy-token': warm.secret })).status).toBe(200);
      await t.app.services.deployTokens.remove(w.admin, project, warm.id);
      const res = await get(url, { 'deploy-token': warm.secret });
      expect(res.status).toBe(401);
      expect(res.json()).toMatchObject({ error: 'invalid_token' });
    });

    it('refuses a deleted deploy token and a personal token sent as Deploy-Token', async () => {
      const res = await get(fileUrl('my_package', '1.0.0', 'tool-linux.tar.gz'), { 'deploy-token': deploy.revoked.secret });
      expect(res.status).toBe(401);
      expect(res.json()).toMatchObject({ error: 'invalid_token' });
      expect((await get(fileUrl('my_package', '1.0.0', 'tool-linux.tar.gz'), { 'deploy-token': w.users.owner.token })).status).toBe(401);
      expect((await get(fileUrl('my_package', '1.0.0', 'tool-linux.tar.gz'), {})).status).toBe(401);
    });
  });

  describe('user tokens', () => {
    it('lets Reporters download and Developers upload; Guests get 403, outsiders 404', async () => {
      const url = fileUrl('team', '0.1.0', 'notes.txt');
      expect((await put(url, 'by a reporter', { 'private-token': w.users.reporter.token })).status).toBe(403);
      expect((await put(url, 'by a developer', { 'private-token': w.users.developer.token })).status).toBe(201);
      expect((await get(url, { 'private-token': w.users.reporter.token })).raw.toString()).toBe('by a developer');
      expect((await get(url, { 'private-token': w.users.guest.token })).status).toBe(403);
      expect((await get(url, { 'private-token': w.users.outsider.token })).status).toBe(404);
      // Basic auth with a personal token: the user name is not checked on package routes (GitLab).
      expect((await get(url, { authorization: basic('whoever', w.users.developer.token) })).raw.toString()).toBe('by a developer');
    });

    it('lets a read_api token download but not upload', async () => {
      const url = fileUrl('team', '0.1.0', 'notes.txt');
      expect((await get(url, { 'private-token': readApiToken })).status).toBe(200);
      const res = await put(url, 'x', { 'private-token': readApiToken });
      expect(res.status).toBe(403);
      expect(res.json).toMatchObject({ error: 'insufficient_scope', scope: 'api' });
    });
  });

  describe('files', () => {
    it('adds a re-upload to the package and serves the newest; select=package_file answers the record', async () => {
      const url = fileUrl('dup', '1.2.3-rc.1+build.5', 'app.bin');
      const headers = { 'deploy-token': deploy.write.secret };
      expect((await put(url, 'first', headers)).status).toBe(201);
      const second = await put(`${url}?select=package_file&status=hidden`, 'second', headers);
      expect(second.status).toBe(200);
      expect(second.json).toMatchObject({ file_name: 'app.bin', size: 6, file_sha256: sha256('second'), file_md5: null, package_id: expect.any(Number), id: expect.any(Number) });
      expect((await get(url, headers)).raw.toString()).toBe('second');
      const pkg = await t.app.store.db.selectFrom('packages').selectAll().where('name', '=', 'dup').execute();
      expect(pkg.map((p) => [p.version, p.status])).toEqual([['1.2.3-rc.1+build.5', 'hidden']]);
      const files = await t.app.store.db.selectFrom('package_files').select('id').where('package_id', '=', pkg[0]!.id).execute();
      expect(files).toHaveLength(2);
    });

    it('serves a re-upload at once to a client that downloaded the file before (the cached look-up goes with the upload)', async () => {
      const url = fileUrl('warm', '2.0.0', 'tool.bin');
      expect((await put(url, 'old bytes', { 'deploy-token': deploy.write.secret })).status).toBe(201);
      // Warm: the look-up and the bytes are held (the test clock does not move, so nothing expires).
      for (let i = 0; i < 3; i++) {
        const down = await get(url, { 'deploy-token': deploy.read.secret });
        expect([down.status, down.raw.toString(), down.headers['x-checksum-sha256'], down.headers['content-length']]).toEqual([200, 'old bytes', sha256('old bytes'), '9']);
      }
      // A new version of the file by another credential (a Developer's token), then by the same deploy token.
      expect((await put(url, 'new bytes!', { 'private-token': w.users.developer.token })).status).toBe(201);
      const after = await get(url, { 'deploy-token': deploy.read.secret });
      expect([after.status, after.raw.toString(), after.headers['x-checksum-sha256'], after.headers['content-length'], after.headers['content-type']]).toEqual([200, 'new bytes!', sha256('new bytes!'), '10', 'application/octet-stream']);
      expect((await put(url, 'newest', { 'deploy-token': deploy.write.secret })).status).toBe(201);
      expect((await get(url, { authorization: basic('x', deploy.read.secret) })).raw.toString()).toBe('newest');
    });

    it('answers 404 {"message": "404 Not found"} for a missing package or file', async () => {
      for (const url of [fileUrl('nope', '1.0.0', 'a.txt'), fileUrl('my_package', '1.0.0', 'missing.txt'), fileUrl('my_package', '9.9.9', 'tool-linux.tar.gz')]) {
        const res = await get(url, { 'deploy-token': deploy.read.secret });
        expect(res.status).toBe(404);
        expect(res.json()).toEqual({ message: '404 Not found' });
      }
    });

    it('refuses files over LATCHKEY_PACKAGE_MAX_BYTES, announced or streamed, and keeps nothing', async () => {
      const before = await filesUnder(packagesDir);
      const rows = async () => (await t.app.store.db.selectFrom('package_files').select('id').execute()).length;
      const count = await rows();
      const big = Buffer.alloc(MAX_BYTES + 1, 7);
      const announced = await put(fileUrl('big', '1.0.0', 'big.bin'), big, { 'deploy-token': deploy.write.secret });
      expect(announced).toEqual({ status: 400, json: { message: '400 Bad request - File is too large' } });
      // No Content-Length: the stream is cut off while it is written.
      const streamed = await put(fileUrl('big', '1.0.0', 'big.bin'), Readable.from([big.subarray(0, 3000), big.subarray(3000)]), { 'deploy-token': deploy.write.secret, 'transfer-encoding': 'chunked' });
      expect(streamed).toEqual({ status: 400, json: { message: '400 Bad request - File is too large' } });
      expect(await rows()).toBe(count);
      expect(await filesUnder(packagesDir)).toEqual(before);
      // Exactly the limit is fine.
      expect((await put(fileUrl('big', '1.0.0', 'edge.bin'), Buffer.alloc(MAX_BYTES, 1), { 'deploy-token': deploy.write.secret })).status).toBe(201);
    });
  });

  describe('validation and traversal', () => {
    const cases: Array<[string, string, string, string]> = [
      // package, version, file → the error
      ['my%2Fpackage', '1.0.0', 'a.txt', 'package_name is invalid'],
      ['pkg', '1..0', 'a.txt', 'package_version is invalid'],
      ['pkg', '1.0%2F..', 'a.txt', 'package_version is invalid'],
      // (`..` and `.` segments, even %2E-encoded, are resolved by inject's URL parser before routing:
      // package-names.test.ts and the curl e2e test with --path-as-is cover them.)
      ['pkg', '1.0.0', '..%2F..%2F..%2Fetc%2Fpasswd', 'file_name is invalid'],
      ['pkg', '1.0.0', '%2Fetc%2Fpasswd', 'file_name is invalid'],
      ['pkg', '1.0.0', 'a%00b', 'file_name is invalid'],
      ['pkg', '1.0.0', 'caf%C3%A9.txt', 'file_name is invalid'],
      ['pkg', '1.0.0', 'a%5Cb', 'file_name is invalid'],
      ['pkg', '1.0.0', 'x'.repeat(256), 'file_name is invalid'],
    ];
    it.each(cases)('refuses %s/%s/%s with 400 and writes nothing', async (pkg, version, file, error) => {
      const before = await filesUnder(packagesDir);
      const res = await put(fileUrl(pkg, version, file), 'evil', { 'deploy-token': deploy.write.secret });
      expect(res).toEqual({ status: 400, json: { error } });
      expect((await get(fileUrl(pkg, version, file), { 'deploy-token': deploy.write.secret })).status).toBe(400);
      expect(await filesUnder(packagesDir)).toEqual(before);
    });

    it('refuses a bad status or select', async () => {
      expect(await put(`${fileUrl('pkg', '1.0.0', 'a.txt')}?status=public`, 'x', { 'deploy-token': deploy.write.secret })).toEqual({ status: 400, json: { error: 'status does not have a valid value' } });
      expect(await put(`${fileUrl('pkg', '1.0.0', 'a.txt')}?select=package`, 'x', { 'deploy-token': deploy.write.secret })).toEqual({ status: 400, json: { error: 'select does not have a valid value' } });
    });

    it('keeps every stored file under the packages directory, named by its checksum', async () => {
      const files = await filesUnder(packagesDir);
      expect(files.length).toBeGreaterThan(0);
      for (const f of files) expect(f).toMatch(/^sha256\/[0-9a-f]{2}\/[0-9a-f]{64}$/);
    });
  });
});
