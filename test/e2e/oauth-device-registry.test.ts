/**
 * OAuth2 with real clients, beyond the browser flow (issue 17 item 6): a device-flow client script
 * (Python requests, RFC 8628: it asks for codes, polls at the interval it is told, slows down when told,
 * and calls the API with what it gets) against `latchkey serve`, while a person signs in and approves
 * the code through the real sign-in and /oauth/device forms; and skopeo logging in to Debian's Docker
 * registry with an OAuth access token (`oauth2:<token>`) and pulling an image through /jwt/auth.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../support/dialects.js';
import { DOCKER_REGISTRY_BIN, startDockerRegistry, type RegistryProcess } from '../support/docker-registry.js';
import { buildOciImage } from '../support/oci-image.js';
import { requireProgram } from '../support/programs.js';
import { startServer, type ServerProcess } from '../support/server-process.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../support/test-app.js';

const run = promisify(execFile);
const python = requireProgram('python3-requests', { command: '/usr/bin/python3', args: ['-c', 'import requests'], hint: 'apt-get install python3-requests' });
const registryTools =
  requireProgram('docker-registry', { command: DOCKER_REGISTRY_BIN, args: ['--version'], hint: 'apt-get install docker-registry' }) &&
  requireProgram('skopeo', { command: 'skopeo', args: ['--version'], hint: 'apt-get install skopeo' });

/** argv: server URL, admin token. The device client and, in between its polls, the person. Prints what it saw as JSON. */
const DEVICE_SCRIPT = String.raw`
import json, re, sys, time
import requests

url, admin = sys.argv[1], sys.argv[2]
api = requests.Session()
api.headers["PRIVATE-TOKEN"] = admin
me = api.get(url + "/api/v4/user").json()
assert api.put(url + "/api/v4/users/%d" % me["id"], json={"password": "device-e2e-password-1"}).status_code == 200
app = api.post(url + "/api/v4/applications", data={"name": "cli", "redirect_uri": "urn:ietf:wg:oauth:2.0:oob", "scopes": "read_user api", "confidential": "false"}).json()
client_id = app["application_id"]
out = {}

# The device (RFC 8628 3.1): codes for it and for the person.
codes = requests.post(url + "/oauth/authorize_device", data={"client_id": client_id, "scope": "read_user"}).json()
out["codes"] = {k: codes.get(k) for k in ("verification_uri", "expires_in", "interval")}
poll = lambda: requests.post(url + "/oauth/token", data={"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": codes["device_code"], "client_id": client_id})
first = poll()
out["before_approval"] = {"status": first.status_code, "error": first.json().get("error")}

# The person: signs in, opens verification_uri_complete, authorizes.
browser = requests.Session()
csrf = lambda html: re.search(r'name="_csrf" value="([^"]+)"', html).group(1)
page = browser.get(codes["verification_uri_complete"])
page = browser.post(url + "/users/sign_in", data={"login": me["username"], "password": "device-e2e-password-1", "redirect_to": codes["verification_uri_complete"][len(url):], "_csrf": csrf(page.text)})
fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
fields["decision"] = "approve"
if "user_code" not in fields:
    # The code-entry form first, then the consent.
    page = browser.post(url + "/oauth/device", data={"user_code": codes["user_code"], "_csrf": csrf(page.text)})
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    fields["decision"] = "approve"
done = browser.post(url + "/oauth/device", data=fields)
out["approved_page"] = "authorized" in done.text

# The device polls (RFC 8628 3.5): at the interval, five seconds more after slow_down.
interval = codes["interval"]
seen = []
token = None
for _ in range(10):
    time.sleep(interval)
    r = poll()
    body = r.json()
    if r.status_code == 200:
        token = body
        break
    seen.append(body["error"])
    if body["error"] == "slow_down":
        interval += 5
    elif body["error"] != "authorization_pending":
        break
out["polls_refused"] = seen
out["token"] = {k: token.get(k) for k in ("token_type", "expires_in", "scope")} if token else None
out["user"] = requests.get(url + "/api/v4/user", headers={"Authorization": "Bearer " + token["access_token"]}).json().get("username") if token else None
again = poll()
out["second_exchange"] = {"status": again.status_code, "error": again.json().get("error")}
print(json.dumps(out))
`;

describe.skipIf(!python).each(DIALECTS)('a device-flow client script on %s', (dialect) => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServer({ dialect });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('gets codes, is told to wait, and once the person approves gets a token that calls the API, once', { timeout: 120_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'latchkey-device-'));
    try {
      await writeFile(join(dir, 'device.py'), DEVICE_SCRIPT);
      const result = await run('/usr/bin/python3', [join(dir, 'device.py'), server.url, server.adminToken], { timeout: 100_000, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } }).catch((e: Error & { stderr?: string }) => {
        throw new Error(`device script failed: ${e.message}\n${e.stderr ?? ''}\n--- server output ---\n${server.output()}`);
      });
      const seen = JSON.parse(result.stdout);
      expect(seen).toMatchObject({
        codes: { verification_uri: `${server.url}/oauth/device`, expires_in: 600, interval: 5 },
        before_approval: { status: 400, error: 'authorization_pending' },
        approved_page: true,
        token: { token_type: 'Bearer', expires_in: 7200, scope: 'read_user' },
        user: 'root',
        second_exchange: { status: 400, error: 'invalid_grant' },
      });
      expect(seen.polls_refused.every((e: string) => e === 'slow_down' || e === 'authorization_pending')).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!registryTools).each(DIALECTS)('skopeo logs in with an OAuth token on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let registry: RegistryProcess;
  let work: string;
  const skopeo = (...args: string[]) =>
    run('skopeo', ['--insecure-policy', ...args], { timeout: 60_000 }).then(
      (r) => ({ ok: true, output: r.stdout + r.stderr }),
      (e: { stdout?: string; stderr?: string; message: string }) => ({ ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message }),
    );

  beforeAll(async () => {
    // Real time: the registry checks exp/nbf and the certificate against its own clock.
    t = await startTestApp(dialect, { now: new Date().toISOString(), env: { LATCHKEY_REGISTRY_SERVICE: 'container_registry', LATCHKEY_REGISTRY_ISSUER: 'latchkey-oauth-e2e' } });
    w = await seedWorld(t);
    const address = await t.app.http.listen({ host: '127.0.0.1', port: 0 });
    const key = await t.app.services.registry.keys.current();
    registry = await startDockerRegistry({ realm: `${address}/jwt/auth`, service: 'container_registry', issuer: 'latchkey-oauth-e2e', certificatePem: key.certificatePem });
    work = await mkdtemp(join(tmpdir(), 'latchkey-skopeo-oauth-'));
  });
  afterAll(async () => {
    await registry?.stop();
    await t?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** An OAuth access token of the developer with `scope`, through the code flow's services. */
  async function oauthToken(scope: string): Promise<string> {
    const { oauthApplications, oauth } = t.app.services;
    const redirectUri = 'https://ci.example.com/cb';
    const { application, secret } = await oauthApplications.create(w.admin, { name: `registry ${scope}`, redirectUri, scopes: scope, confidential: true });
    const check = await oauth.checkAuthorization({ client_id: application.uid, redirect_uri: redirectUri, response_type: 'code', scope });
    if (check.kind !== 'ok') throw new Error('refused');
    const code = new URL(await oauth.approve(w.users.developer.user, check.request)).searchParams.get('code')!;
    return (await oauth.token({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: application.uid, client_secret: secret }, undefined, 'http://x')).access_token;
  }

  it('skopeo login -u oauth2 with a read_registry OAuth token pulls; one without read_registry is refused', async () => {
    const image = `docker://${registry.host}/acme/platform/web:oauth`;
    const built = await buildOciImage(join(work, 'img'), 'oauth', `pulled with OAuth on ${dialect}\n`);
    const pat = (await t.app.services.personalTokens.createFor(w.users.developer.user, { name: 'push', scopes: ['read_registry', 'write_registry'], expiresAt: '2027-06-01' }, null)).secret;
    const pushed = await skopeo('copy', '--dest-tls-verify=false', '--dest-creds', `developer-user:${pat}`, `oci:${built.dir}:oauth`, image);
    expect(pushed.ok, `${pushed.output}\n${registry.output()}`).toBe(true);

    const authfile = join(work, 'auth.json');
    const login = await skopeo('login', '--tls-verify=false', '--authfile', authfile, '-u', 'oauth2', '-p', await oauthToken('read_registry'), registry.host);
    expect(login.ok, login.output).toBe(true);
    expect(login.output).toMatch(/Login Succeeded/);
    const out = join(work, 'pulled');
    const pulled = await skopeo('copy', '--src-tls-verify=false', '--authfile', authfile, image, `dir:${out}`);
    expect(pulled.ok, pulled.output).toBe(true);
    const manifest = JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8')) as { layers: { digest: string }[] };
    expect(manifest.layers[0]!.digest).toBe(built.layerDigest);

    // Scope enforcement as for personal tokens: read_user gives no registry access.
    const refused = await skopeo('copy', '--src-tls-verify=false', '--src-creds', `oauth2:${await oauthToken('read_user')}`, image, `dir:${join(work, 'refused')}`);
    expect(refused.ok).toBe(false);
  });
});
