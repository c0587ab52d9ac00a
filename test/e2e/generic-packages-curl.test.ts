/**
 * curl against the real `latchkey serve` process (127.0.0.1, a free port, SQLite in a temp data dir):
 * uploads to the generic package registry with a deploy token as Basic auth and as `Deploy-Token`,
 * a 3 MiB file (past the 1 MiB JSON body limit: the upload is streamed, not buffered), files past
 * LATCHKEY_PACKAGE_MAX_BYTES (a 400 curl really receives, with or without Content-Length), downloads
 * compared by sha256 with the original and with `X-Checksum-SHA256`, a traversal attempt curl sends
 * unnormalised (--path-as-is), a wrong token, and CI_DEPLOY_USER / CI_DEPLOY_PASSWORD fetched by a
 * project access token.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireProgram } from '../support/programs.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

const run = promisify(execFile);
const available = requireProgram('curl', { command: 'curl', args: ['--version'], hint: 'apt-get install curl' });
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const MAX_BYTES = 4 * 1024 * 1024;

/** curl's exit code, stdout and the HTTP status it printed last (`-w '\n%{http_code}'`). */
async function curl(args: string[]): Promise<{ code: number; body: string; status: number }> {
  try {
    const { stdout } = await run('curl', ['--silent', '--show-error', '--write-out', '\n%{http_code}', ...args], { maxBuffer: 16 * 1024 * 1024 });
    const cut = stdout.lastIndexOf('\n');
    return { code: 0, body: stdout.slice(0, cut), status: Number(stdout.slice(cut + 1)) };
  } catch (e) {
    const err = e as { code: number; stdout: string };
    const cut = err.stdout.lastIndexOf('\n');
    return { code: err.code, body: err.stdout.slice(0, cut), status: Number(err.stdout.slice(cut + 1)) };
  }
}

describe.skipIf(!available)('generic packages and CI variables with curl against `latchkey serve`', () => {
  let server: ServerProcess;
  let work: string;
  let projectId: number;
  let deploy: { username: string; token: string };
  let ciToken: string;

  async function api(method: string, path: string, body?: unknown) {
    const res = await fetch(`${server.apiUrl}${path}`, { method, headers: { 'private-token': server.adminToken, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    expect(res.status, `${method} ${path}`).toBeLessThan(300);
    return res.json() as Promise<any>;
  }

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'lk-curl-'));
    server = await startServer({ env: { LATCHKEY_LOG_LEVEL: 'silent', LATCHKEY_PACKAGE_MAX_BYTES: String(MAX_BYTES) } });
    const group = await api('POST', '/groups', { name: 'Acme', path: 'acme' });
    projectId = (await api('POST', '/projects', { name: 'Web', path: 'web', namespace_id: group.id })).id;
    const created = await api('POST', `/projects/${projectId}/deploy_tokens`, { name: 'gitlab-deploy-token', scopes: ['read_package_registry', 'write_package_registry'] });
    deploy = { username: created.username, token: created.token };
    ciToken = (await api('POST', `/projects/${projectId}/access_tokens`, { name: 'ci', scopes: ['read_api'], access_level: 30 })).token;
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const fileUrl = (file: string, version = '1.0.0') => `${server.apiUrl}/projects/${projectId}/packages/generic/my_package/${version}/${file}`;

  it('uploads with --user and with Deploy-Token, and downloads the same bytes', async () => {
    const small = join(work, 'notes.txt');
    await writeFile(small, 'release notes\n');
    const up = await curl(['--fail', '--user', `${deploy.username}:${deploy.token}`, '--upload-file', small, fileUrl('notes.txt')]);
    expect(up).toEqual({ code: 0, body: '{"message":"201 Created"}', status: 201 });

    const bigBytes = randomBytes(3 * 1024 * 1024 + 17);
    const big = join(work, 'tool-linux-amd64.tar.gz');
    await writeFile(big, bigBytes);
    const bigUp = await curl(['--fail', '--header', `Deploy-Token: ${deploy.token}`, '--upload-file', big, fileUrl('tool-linux-amd64.tar.gz')]);
    expect(bigUp.status).toBe(201);

    const out = join(work, 'downloaded.tar.gz');
    const headers = join(work, 'headers.txt');
    const down = await curl(['--fail', '--header', `Deploy-Token: ${deploy.token}`, '--dump-header', headers, '--output', out, fileUrl('tool-linux-amd64.tar.gz')]);
    expect(down.status).toBe(200);
    const got = await readFile(out);
    expect(sha256(got)).toBe(sha256(bigBytes));
    expect((await readFile(headers, 'utf8')).toLowerCase()).toContain(`x-checksum-sha256: ${sha256(bigBytes)}`);

    const notes = await curl(['--fail', '--user', `anyone:${deploy.token}`, fileUrl('notes.txt')]);
    expect(notes.body).toBe('release notes\n');
    // Stored under <data dir>/packages by checksum.
    expect(await readdir(join(server.dataDir, 'packages', 'sha256', sha256(bigBytes).slice(0, 2)))).toContain(sha256(bigBytes));
  });

  it('refuses a traversal sent as-is, a wrong token and a missing file', async () => {
    const evil = join(work, 'evil.txt');
    await writeFile(evil, 'evil');
    const send = (file: string) => curl(['--path-as-is', '--header', `Deploy-Token: ${deploy.token}`, '--upload-file', evil, fileUrl(file)]);
    // A bare `..` segment matches no route; encoded, it reaches the name rules.
    expect(await send('..')).toMatchObject({ status: 404, body: '{"error":"404 Not Found"}' });
    expect(await send('%2E%2E')).toMatchObject({ status: 400, body: '{"error":"file_name should be a valid file path"}' });
    expect(await send('..%2F..%2F..%2Fetc%2Fpasswd')).toMatchObject({ status: 400, body: '{"error":"file_name is invalid"}' });
    expect(await readdir(join(server.dataDir, 'packages', 'sha256'))).not.toContain('etc');
    const wrong = await curl(['--fail', '--user', `${deploy.username}:gldt-not-a-real-token`, fileUrl('notes.txt')]);
    expect(wrong.code).toBe(22);
    expect(wrong.status).toBe(401);
    expect((await curl(['--header', `Deploy-Token: ${deploy.token}`, fileUrl('nothing.bin')])).status).toBe(404);
  });

  it('answers 400 "File is too large" to curl past LATCHKEY_PACKAGE_MAX_BYTES, announced or chunked', async () => {
    const big = join(work, 'too-big.bin');
    await writeFile(big, randomBytes(MAX_BYTES + 1));
    const tooLarge = '{"message":"400 Bad request - File is too large"}';
    const announced = await curl(['--header', `Deploy-Token: ${deploy.token}`, '--upload-file', big, fileUrl('too-big.bin')]);
    expect(announced).toMatchObject({ status: 400, body: tooLarge });
    const chunked = await curl(['--header', `Deploy-Token: ${deploy.token}`, '--header', 'Transfer-Encoding: chunked', '--upload-file', big, fileUrl('too-big.bin')]);
    expect(chunked).toMatchObject({ status: 400, body: tooLarge });
    expect(await readdir(join(server.dataDir, 'packages', 'tmp'))).toEqual([]);
    expect((await curl(['--header', `Deploy-Token: ${deploy.token}`, fileUrl('too-big.bin')])).status).toBe(404);
  });

  it('hands CI_DEPLOY_USER and CI_DEPLOY_PASSWORD to a project access token, and they download', async () => {
    const res = await curl(['--fail', '--header', `PRIVATE-TOKEN: ${ciToken}`, `${server.apiUrl}/projects/${projectId}/latchkey/ci_variables`]);
    expect(JSON.parse(res.body)).toEqual({ CI_DEPLOY_USER: deploy.username, CI_DEPLOY_PASSWORD: deploy.token });
    const { CI_DEPLOY_USER, CI_DEPLOY_PASSWORD } = JSON.parse(res.body);
    expect((await curl(['--fail', '--user', `${CI_DEPLOY_USER}:${CI_DEPLOY_PASSWORD}`, fileUrl('notes.txt')])).body).toBe('release notes\n');
  });
});
