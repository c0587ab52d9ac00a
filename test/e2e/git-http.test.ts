/**
 * Real git through Debian's nginx (configured from docs/nginx-git.conf), fcgiwrap and
 * `git http-backend`, with Latchkey (in process, on 127.0.0.1) answering nginx's auth_request: clone
 * and push are allowed and refused as the tokens' scopes, owners and members' levels say.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resource } from '../../src/namespaces/namespace.js';
import { DIALECTS } from '../support/dialects.js';
import { programPath, startGitHttpFront, type GitHttpFront } from '../support/nginx-git.js';
import { requireProgram } from '../support/programs.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../support/test-app.js';

const PROGRAMS_OK = [
  requireProgram('nginx', { command: programPath('nginx'), args: ['-v'], hint: 'apt-get install nginx' }),
  // fcgiwrap has no --version; -h prints its usage and exits 0.
  requireProgram('fcgiwrap', { command: programPath('fcgiwrap'), args: ['-h'], hint: 'apt-get install fcgiwrap' }),
  requireProgram('git', { command: 'git', args: ['--version'], hint: 'apt-get install git' }),
  requireProgram('git http-backend', { command: 'test', args: ['-x', '/usr/lib/git-core/git-http-backend'], hint: 'apt-get install git' }),
].every(Boolean);

interface GitResult {
  code: number | null;
  output: string;
}

describe.skipIf(!PROGRAMS_OK).each(DIALECTS)('git over HTTP through nginx on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let dir: string;
  let front: GitHttpFront;
  let projectRoot: string;
  let bareRepo: string;
  const secrets: Record<string, { username: string; secret: string }> = {};

  /** Runs git with no user or system config and no prompts; HOME is the temp dir. */
  const git = (args: string[], cwd = dir): Promise<GitResult> =>
    new Promise((resolve, reject) => {
      const env = {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: dir,
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_TERMINAL_PROMPT: '0',
        GIT_AUTHOR_NAME: 'Tester',
        GIT_AUTHOR_EMAIL: 'tester@example.com',
        GIT_COMMITTER_NAME: 'Tester',
        GIT_COMMITTER_EMAIL: 'tester@example.com',
      };
      const child = spawn('git', args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.setEncoding('utf8').on('data', (s: string) => (output += s));
      child.stderr.setEncoding('utf8').on('data', (s: string) => (output += s));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, output });
      });
    });
  const ok = async (args: string[], cwd?: string) => {
    const r = await git(args, cwd);
    expect(r.code, `git ${args.join(' ')}:\n${r.output}\n${front?.output() ?? ''}`).toBe(0);
    return r.output;
  };

  const urlFor = (who: string | null, path = 'acme/platform/web') => {
    const url = new URL(`${front.url}/${path}.git`);
    if (who) {
      url.username = encodeURIComponent(secrets[who]!.username);
      url.password = encodeURIComponent(secrets[who]!.secret);
    }
    return url.toString();
  };
  let clones = 0;
  const clone = async (who: string | null, path?: string) => {
    const target = join(dir, `clone-${++clones}`);
    return { target, ...(await git(['clone', urlFor(who, path), target])) };
  };
  /** A new commit on top of a fresh clone by `reader`, pushed with `pusher`'s credentials. */
  const commitAndPush = async (pusher: string, file: string) => {
    const { target, code, output } = await clone('projectReader');
    expect(code, output).toBe(0);
    await writeFile(join(target, file), `${file}\n`);
    await ok(['add', file], target);
    await ok(['commit', '-m', `add ${file}`], target);
    const head = (await ok(['rev-parse', 'HEAD'], target)).trim();
    return { head, ...(await git(['push', urlFor(pusher), 'HEAD:main'], target)) };
  };
  const bareHead = async () => (await ok(['--git-dir', bareRepo, 'rev-parse', 'main'])).trim();

  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
    const { deployTokens, personalTokens, resourceTokens } = t.app.services;
    const project: Resource = { type: 'project', project: w.project };
    const deploy = async (name: string, resource: Resource, scopes: string[]) => {
      const { token, secret } = await deployTokens.create(w.admin, resource, { name, scopes, expiresAt: '2027-06-01' });
      secrets[name] = { username: token.username!, secret };
    };
    await deploy('projectReader', project, ['read_repository']);
    await deploy('revoked', project, ['read_repository']);
    await deploy('registryOnly', project, ['read_registry']);
    await deploy('otherProject', { type: 'project', project: w.otherProject }, ['read_repository']);
    await deploy('topGroup', { type: 'group', group: w.top }, ['read_repository']);
    const personal = async (name: string, role: 'developer' | 'reporter', scopes: string[]) => {
      const { user } = w.users[role];
      const { secret } = await personalTokens.createFor(user, { name, scopes, expiresAt: '2027-06-01' }, null);
      secrets[name] = { username: user.username, secret };
    };
    await personal('developerWriter', 'developer', ['write_repository']);
    await personal('reporterWriter', 'reporter', ['write_repository']);
    const bot = await resourceTokens.create(w.admin, project, { name: 'ci', scopes: ['write_repository'], accessLevel: 30, expiresAt: '2027-06-01' });
    // Any username goes with a project access token, as in GitLab.
    secrets.projectBot = { username: 'oauth2', secret: bot.secret };
    // OAuth2 access tokens of the Developer (issue 17), as `oauth2:<token>`: one per scope.
    const oauthToken = async (scope: string) => {
      const { oauthApplications, oauth } = t.app.services;
      const redirectUri = 'https://git-client.example.com/cb';
      const { application, secret } = await oauthApplications.create(w.admin, { name: `git ${scope}`, redirectUri, scopes: scope, confidential: true });
      const check = await oauth.checkAuthorization({ client_id: application.uid, redirect_uri: redirectUri, response_type: 'code', scope });
      if (check.kind !== 'ok') throw new Error(`authorization refused: ${check.kind}`);
      const code = new URL(await oauth.approve(w.users.developer.user, check.request)).searchParams.get('code')!;
      const issued = await oauth.token({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: application.uid, client_secret: secret }, undefined, 'http://127.0.0.1');
      return { username: 'oauth2', secret: issued.access_token };
    };
    secrets.oauthReader = await oauthToken('read_repository');
    secrets.oauthWriter = await oauthToken('write_repository');

    // A public project (issue 11 item 5): fetched without credentials, as in GitLab.
    const open = await t.app.services.namespaces.createGroup(w.admin, { name: 'Open', path: 'open', visibility: 'public' });
    await t.app.services.namespaces.createProject(w.admin, { name: 'Pub', path: 'pub', namespaceId: open.id, visibility: 'public' });
    await t.app.services.namespaces.createProject(w.admin, { name: 'Int', path: 'int', namespaceId: open.id, visibility: 'internal' });

    await t.app.http.listen({ host: '127.0.0.1', port: 0 });
    const { port } = t.app.http.server.address() as { port: number };
    dir = await mkdtemp(join(tmpdir(), 'latchkey-git-'));
    projectRoot = join(dir, 'repos');
    bareRepo = join(projectRoot, 'acme', 'platform', 'web.git');
    for (const path of ['acme/platform/web', 'acme/other/site', 'open/pub', 'open/int']) {
      const repo = join(projectRoot, `${path}.git`);
      await mkdir(repo, { recursive: true });
      await ok(['init', '--quiet', '--bare', '-b', 'main', repo]);
      await ok(['--git-dir', repo, 'config', 'http.receivepack', 'true']);
      // Shows, in the push output, the REMOTE_USER nginx passed on from Latchkey's X-Latchkey-User.
      await writeFile(join(repo, 'hooks', 'post-receive'), '#!/bin/sh\necho "pushed-by=$REMOTE_USER"\n', { mode: 0o755 });
      const seed = join(dir, `seed-${path.replace(/\//g, '-')}`);
      await ok(['init', '--quiet', '-b', 'main', seed]);
      await writeFile(join(seed, 'README'), `${path}\n`);
      await ok(['add', 'README'], seed);
      await ok(['commit', '--quiet', '-m', 'initial'], seed);
      await ok(['push', '--quiet', repo, 'main'], seed);
    }
    front = await startGitHttpFront(dir, projectRoot, `http://127.0.0.1:${port}`);
  }, 60_000);

  afterAll(async () => {
    await front?.stop();
    await t?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('clones with a read_repository deploy token of the project', async () => {
    const { code, output, target } = await clone('projectReader');
    expect(code, output).toBe(0);
    expect((await ok(['log', '--format=%s', '-1'], target)).trim()).toBe('initial');
  });

  it('refuses a push with that read-only deploy token (403) and leaves the repository as it was', async () => {
    const before = await bareHead();
    const { code, output } = await commitAndPush('projectReader', 'refused.txt');
    expect(code).not.toBe(0);
    expect(output).toContain('The requested URL returned error: 403');
    expect(await bareHead()).toBe(before);
  });

  it('pushes with a Developer personal token with write_repository; the commit is in the bare repository', async () => {
    const { code, output, head } = await commitAndPush('developerWriter', 'developer.txt');
    expect(code, output).toBe(0);
    expect(output).toContain('pushed-by=developer-user');
    expect(await bareHead()).toBe(head);
  });

  it('clones and pushes with OAuth2 access tokens as oauth2:<token>, within their scopes', async () => {
    const { code, output } = await clone('oauthReader');
    expect(code, output).toBe(0);
    const before = await bareHead();
    const refused = await commitAndPush('oauthReader', 'oauth-refused.txt');
    expect(refused.code).not.toBe(0);
    expect(refused.output).toContain('The requested URL returned error: 403');
    expect(await bareHead()).toBe(before);
    const pushed = await commitAndPush('oauthWriter', 'oauth.txt');
    expect(pushed.code, pushed.output).toBe(0);
    expect(pushed.output).toContain('pushed-by=developer-user');
  });

  it('pushes with a project access token (write_repository, Developer) under any username', async () => {
    const { code, output, head } = await commitAndPush('projectBot', 'bot.txt');
    expect(code, output).toBe(0);
    expect(output).toMatch(/pushed-by=project_\d+_bot/);
    expect(await bareHead()).toBe(head);
  });

  it('refuses a push by a Reporter even with write_repository (403)', async () => {
    const before = await bareHead();
    const { code, output } = await commitAndPush('reporterWriter', 'reporter.txt');
    expect(code).not.toBe(0);
    expect(output).toContain('The requested URL returned error: 403');
    expect(await bareHead()).toBe(before);
  });

  it('clones with a read_repository deploy token of an ancestor group', async () => {
    const { code, output } = await clone('topGroup');
    expect(code, output).toBe(0);
  });

  it('refuses a deploy token of another project as if the project did not exist (404)', async () => {
    const { code, output } = await clone('otherProject');
    expect(code).not.toBe(0);
    expect(output).toMatch(/repository '.*acme\/platform\/web\.git\/' not found/);
    // …while it does clone its own project.
    expect((await clone('otherProject', 'acme/other/site')).code).toBe(0);
  });

  it('refuses a deploy token without read_repository (403)', async () => {
    const { code, output } = await clone('registryOnly');
    expect(code).not.toBe(0);
    expect(output).toContain('The requested URL returned error: 403');
  });

  it('refuses a revoked token (401: authentication failed)', async () => {
    expect((await clone('revoked')).code).toBe(0);
    const resource: Resource = { type: 'project', project: w.project };
    const { deployTokens, verifier } = t.app.services;
    const found = await verifier.verify(secrets.revoked!.secret);
    await deployTokens.remove(w.admin, resource, found.ok ? found.token.id : -1);
    const { code, output } = await clone('revoked');
    expect(code).not.toBe(0);
    expect(output).toContain('Authentication failed');
  });

  it('refuses a clone without credentials (401 challenge; git cannot prompt)', async () => {
    const { code, output } = await clone(null);
    expect(code).not.toBe(0);
    expect(output).toContain('could not read Username');
  });

  it('clones a public project without credentials; an internal one still asks for them', async () => {
    const { code, output, target } = await clone(null, 'open/pub');
    expect(code, output).toBe(0);
    expect((await ok(['log', '--format=%s', '-1'], target)).trim()).toBe('initial');
    const internal = await clone(null, 'open/int');
    expect(internal.code).not.toBe(0);
    expect(internal.output).toContain('could not read Username');
    // …and any signed-in user's token with a fetch scope clones the internal one.
    expect((await clone('developerWriter', 'open/int')).code).toBe(0);
  });

  it('refuses an anonymous push to a public project, and one by a signed-in non-member (403)', async () => {
    const { target } = await clone(null, 'open/pub');
    await writeFile(join(target, 'anon.txt'), 'anon\n');
    await ok(['add', 'anon.txt'], target);
    await ok(['commit', '-m', 'anon'], target);
    const anonymous = await git(['push', urlFor(null, 'open/pub'), 'HEAD:main'], target);
    expect(anonymous.code).not.toBe(0);
    expect(anonymous.output).toContain('could not read Username');
    const member = await git(['push', urlFor('developerWriter', 'open/pub'), 'HEAD:main'], target);
    expect(member.code).not.toBe(0);
    expect(member.output).toContain('The requested URL returned error: 403');
  });
});
