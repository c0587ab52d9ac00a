/**
 * `latchkey export docker-auth-config | k8s-pull-secret | netrc` through runCli: an existing token
 * from --token-file, stdin, LATCHKEY_EXPORT_TOKEN or --token (with its warning); a new deploy token
 * created with --project/--group (least-privilege scopes by default) whose secret in the output really
 * verifies; the same `auth` that `kubectl create secret docker-registry` computes (a recorded fixture);
 * and the refusals (exit 2, one line, nothing created).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliHarness } from '../support/cli-harness.js';
import { DIALECTS } from '../support/dialects.js';

const TOKEN = 'gldt-abcdefghijklmnopqrstuvwxyz12AbCdEf';
const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');

describe('latchkey export with an existing token', () => {
  // No store is touched: the data dir is a path under the temp dir that stays empty.
  const h = createCliHarness('none', { prefix: 'latchkey-export-' });
  const { cli } = h;
  let dir: string;

  beforeAll(async () => {
    await h.setUp();
    dir = h.dir;
    await writeFile(join(dir, 'token'), `${TOKEN}\n`);
  });
  afterAll(() => h.tearDown());

  it('docker-auth-config: DOCKER_AUTH_CONFIG JSON from --token-file', async () => {
    const run = await cli('export', 'docker-auth-config', '--registry', 'registry.example.com:5000', '--username', 'gitlab+deploy-token-7', '--token-file', join(dir, 'token'));
    expect(run).toMatchObject({ code: 0, err: '' });
    expect(JSON.parse(run.out)).toEqual({ auths: { 'registry.example.com:5000': { auth: b64(`gitlab+deploy-token-7:${TOKEN}`) } } });
  });

  it('reads the token from stdin (--token-file -) and from LATCHKEY_EXPORT_TOKEN', async () => {
    h.stdin = `${TOKEN}\n`;
    const fromStdin = await cli('export', 'netrc', '--machine', 'gitlab.example.com', '--username', 'bot', '--token-file', '-');
    expect(fromStdin).toEqual({ code: 0, out: `machine gitlab.example.com login bot password ${TOKEN}`, err: '' });
    const fromEnv = await h.cliWithEnv({ LATCHKEY_EXPORT_TOKEN: TOKEN })('export', 'netrc', '--machine', 'gitlab.example.com', '--username', 'bot');
    expect(fromEnv.out).toBe(`machine gitlab.example.com login bot password ${TOKEN}`);
  });

  it('accepts --token but warns on stderr', async () => {
    const run = await cli('export', 'docker-auth-config', '--registry', '127.0.0.1:5000', '--username', 'u', '--token', TOKEN);
    expect(run.code).toBe(0);
    expect(run.err).toMatch(/warning: --token puts the secret in your shell history/);
    expect(JSON.parse(run.out).auths['127.0.0.1:5000'].auth).toBe(b64(`u:${TOKEN}`));
  });

  it('k8s-pull-secret: a dockerconfigjson Secret in YAML, and in JSON with --json', async () => {
    const args = ['export', 'k8s-pull-secret', '--name', 'regcred', '--namespace', 'apps', '--registry', 'registry.example.com:5000', '--username', 'gitlab+deploy-token-7', '--token-file', join(dir, 'token')];
    const config = JSON.stringify({ auths: { 'registry.example.com:5000': { auth: b64(`gitlab+deploy-token-7:${TOKEN}`) } } });
    const yaml = await cli(...args);
    expect(yaml.out).toBe(['apiVersion: v1', 'kind: Secret', 'metadata:', '  name: regcred', '  namespace: apps', 'type: kubernetes.io/dockerconfigjson', 'data:', `  .dockerconfigjson: ${b64(config)}`].join('\n'));
    const json = JSON.parse((await cli(...args, '--json')).out);
    expect(json).toEqual({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'regcred', namespace: 'apps' }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64(config) } });
  });

  it('k8s-pull-secret: the same `auth` kubectl computes for these inputs', async () => {
    // Recorded from `kubectl create secret docker-registry regcred --docker-server=registry.example.com:5000
    // --docker-username=gitlab+deploy-token-7 --docker-password=<TOKEN> --dry-run=client` (kubectl is
    // not a Debian package, so CI cannot run it; the value is a fixture).
    const KUBECTL_AUTH = 'Z2l0bGFiK2RlcGxveS10b2tlbi03OmdsZHQtYWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMkFiQ2RFZg==';
    const run = await cli('export', 'k8s-pull-secret', '--name', 'regcred', '--namespace', 'apps', '--registry', 'registry.example.com:5000', '--username', 'gitlab+deploy-token-7', '--token-file', join(dir, 'token'), '--json');
    const config = JSON.parse(unb64(JSON.parse(run.out).data['.dockerconfigjson']));
    expect(config.auths['registry.example.com:5000'].auth).toBe(KUBECTL_AUTH);
  });

  it.each([
    [['docker-auth-config', '--registry', 'https://registry.example.com', '--username', 'u', '--token', TOKEN], /--registry must be host or host:port/],
    [['docker-auth-config', '--registry', 'r:5000', '--token-file', '/nonexistent/x', '--username', 'u'], /--token-file: cannot read/],
    [['docker-auth-config', '--registry', 'r:5000', '--token-file', '/nonexistent/x'], /--username is required/],
    [['docker-auth-config', '--registry', 'r:5000', '--username', 'u'], /no token: give --username with --token-file/],
    [['docker-auth-config', '--registry', 'r:5000', '--username', 'a:b', '--token', TOKEN], /--username must be non-empty, without blanks or ":"/],
    [['netrc', '--machine', 'gitlab.example.com', '--username', 'u', '--token', 'two words'], /without blanks/],
    [['netrc', '--machine', 'https://gitlab.example.com', '--username', 'u', '--token', TOKEN], /--machine must be a host name/],
    [['k8s-pull-secret', '--name', 'RegCred', '--namespace', 'apps', '--registry', 'r:5000', '--username', 'u', '--token', TOKEN], /--name must be a Kubernetes object name/],
    [['k8s-pull-secret', '--name', 'regcred', '--namespace', 'a_b', '--registry', 'r:5000', '--username', 'u', '--token', TOKEN], /--namespace must be a Kubernetes namespace/],
    [['netrc', '--machine', 'h', '--project', 'acme/web', '--username', 'u'], /do not give --username/],
  ])('refuses %j', async (args, message) => {
    const run = await cli('export', ...(args as string[]));
    expect(run.code).toBe(2);
    expect(run.out).toBe('');
    expect(run.err.split('\n').pop()).toMatch(message);
  });
});

describe.each(DIALECTS)('latchkey export creating a deploy token on %s', (dialect) => {
  const h = createCliHarness(dialect, { prefix: 'latchkey-export-create-' });
  const { cli } = h;

  async function verify(secret: string) {
    return h.withServices(async (built) => {
      const r = await built.services.verifier.verify(secret);
      return r.ok ? { kind: r.token.kind, name: r.token.name, scopes: r.token.scopes, username: r.token.username, projectId: r.token.projectId, groupId: r.token.groupId } : { reason: r.reason };
    });
  }
  async function deployTokenCount(): Promise<number> {
    return h.withServices(async (built) => (await built.store.db.selectFrom('tokens').select('id').where('kind', '=', 'deploy').execute()).length);
  }

  beforeAll(async () => {
    await h.setUp();
    await h.withApp(async (app) => {
      const { admin } = await app.services.namespaces.ensureFirstAdmin('root', 'root@localhost');
      const group = await app.services.namespaces.createGroup(admin, { name: 'Acme', path: 'acme' });
      await app.services.namespaces.createProject(admin, { name: 'Web', path: 'web', namespaceId: group.id });
    });
  });
  afterAll(() => h.tearDown());

  it('k8s-pull-secret --project: a new read_registry deploy token, its secret only in the manifest', async () => {
    const run = await cli('export', 'k8s-pull-secret', '--name', 'regcred', '--namespace', 'apps', '--registry', 'registry.example.com', '--project', 'acme/web', '--json');
    expect(run.code).toBe(0);
    expect(run.err).toMatch(/created deploy token \d+ "k8s-pull-secret" \(read_registry\) in project acme\/web; its secret is only in this output/);
    const config = JSON.parse(unb64(JSON.parse(run.out).data['.dockerconfigjson']));
    const [username, secret] = unb64(config.auths['registry.example.com'].auth).split(':') as [string, string];
    expect(await verify(secret)).toMatchObject({ kind: 'deploy', name: 'k8s-pull-secret', scopes: ['read_registry'], username });
    expect(run.err).not.toContain(secret);
  });

  it('netrc --group with --scopes and --token-name: a group deploy token', async () => {
    const run = await cli('export', 'netrc', '--machine', 'gitlab.example.com', '--group', 'acme', '--scopes', 'read_repository,read_package_registry', '--token-name', 'builds');
    expect(run.code).toBe(0);
    const [, machine, , login, , password] = run.out.split(' ');
    expect(machine).toBe('gitlab.example.com');
    expect(await verify(password!)).toMatchObject({ kind: 'deploy', name: 'builds', scopes: ['read_repository', 'read_package_registry'], username: login, projectId: null });
  });

  it('creates nothing when an argument is wrong or the project does not exist', async () => {
    const before = await deployTokenCount();
    expect((await cli('export', 'k8s-pull-secret', '--name', 'Bad', '--namespace', 'apps', '--registry', 'r', '--project', 'acme/web')).code).toBe(2);
    expect((await cli('export', 'docker-auth-config', '--registry', 'http://r', '--project', 'acme/web')).code).toBe(2);
    const missing = await cli('export', 'docker-auth-config', '--registry', 'r', '--project', 'acme/nope');
    expect(missing).toMatchObject({ code: 1, out: '', err: 'latchkey: 404 Project Not Found' });
    const badScope = await cli('export', 'docker-auth-config', '--registry', 'r', '--project', 'acme/web', '--scopes', 'api');
    expect(badScope.code).toBe(1);
    expect(await deployTokenCount()).toBe(before);
  });
});
