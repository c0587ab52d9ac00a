/**
 * The OAuth2 / OpenID Connect provider (issue 17) driven by real clients against `latchkey serve` on
 * each store: python-gitlab (Debian's python3-gitlab) registers, lists and deletes applications;
 * Debian's python3-authlib runs the authorization code + PKCE flow — the browser step is plain HTTP
 * through the real sign-in and consent forms (requests, cookies, CSRF fields) — refreshes, calls
 * /api/v4/user, and sees a replayed refresh token refused.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireProgram } from '../support/programs.js';
import { DIALECTS } from '../support/dialects.js';
import { pythonGitlabAvailable, runPythonGitlab } from '../support/python-gitlab.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

const pythonGitlab = pythonGitlabAvailable();
const authlib = requireProgram('python3-authlib', { command: '/usr/bin/python3', args: ['-c', 'import authlib.integrations.requests_client'], hint: 'apt-get install python3-authlib' });

/** argv: server URL, admin token. Prints what it saw as JSON. */
const AUTHLIB_SCRIPT = String.raw`
import json, re, sys
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.common.security import generate_token

url, admin = sys.argv[1], sys.argv[2]
api = requests.Session()
api.headers["PRIVATE-TOKEN"] = admin
me = api.get(url + "/api/v4/user").json()
assert api.put(url + "/api/v4/users/%d" % me["id"], json={"password": "authlib-e2e-password-1"}).status_code == 200
redirect = "http://127.0.0.1:1/callback"
app = api.post(url + "/api/v4/applications", data={"name": "authlib", "redirect_uri": redirect, "scopes": "api read_user", "confidential": "false"}).json()
out = {"username": me["username"]}

client = OAuth2Session(app["application_id"], redirect_uri=redirect, scope="api read_user", code_challenge_method="S256", token_endpoint_auth_method="none")
verifier = generate_token(64)
auth_url, state = client.create_authorization_url(url + "/oauth/authorize", code_verifier=verifier)

# The browser: sign in (sent back to the authorize URL), then approve on the consent page.
browser = requests.Session()
csrf = lambda html: re.search(r'name="_csrf" value="([^"]+)"', html).group(1)
page = browser.get(auth_url)
out["sent_to_sign_in"] = page.url.startswith(url + "/users/sign_in")
path = auth_url[len(url):]
consent = browser.post(url + "/users/sign_in", data={"login": me["username"], "password": "authlib-e2e-password-1", "redirect_to": path, "_csrf": csrf(page.text)})
out["consent_lists_scopes"] = "<code>api</code>" in consent.text and "<code>read_user</code>" in consent.text
fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', consent.text))
fields = {k: v.replace("&amp;", "&") for k, v in fields.items()}
fields["decision"] = "approve"
back = browser.post(url + "/oauth/authorize", data=fields, allow_redirects=False)
callback = back.headers["Location"]

token = client.fetch_token(url + "/oauth/token", authorization_response=callback, code_verifier=verifier)
out["token"] = {k: token.get(k) for k in ("token_type", "expires_in", "scope")}
out["user"] = client.get(url + "/api/v4/user").json()["username"]
first_refresh = token["refresh_token"]
new = client.refresh_token(url + "/oauth/token", refresh_token=first_refresh)
out["rotated"] = new["refresh_token"] != first_refresh and new["access_token"] != token["access_token"]
out["user_after_refresh"] = client.get(url + "/api/v4/user").json()["username"]
replay = requests.post(url + "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": first_refresh, "client_id": app["application_id"]})
out["replay"] = {"status": replay.status_code, "error": replay.json().get("error")}
out["after_replay"] = client.get(url + "/api/v4/user").status_code
print(json.dumps(out))
`;

// After test/support/python-gitlab.ts's prelude (gl, out, attrs, status_of).
const APPLICATIONS_SCRIPT = String.raw`
app = gl.applications.create({"name": "Dashboard", "redirect_uri": "https://dash.example.com/cb", "scopes": "read_user openid", "confidential": False})
out["created"] = app.attributes
out["listed"] = attrs(gl.applications.list(get_all=True))
gl.applications.delete(app.id)
out["after_delete"] = attrs(gl.applications.list(get_all=True))
out["bad_scope"] = status_of(lambda: gl.applications.create({"name": "x", "redirect_uri": "https://x.example.com", "scopes": "sudo"}))
print(json.dumps(out))
`;

describe.each(DIALECTS)('OAuth2 provider with real clients on %s', (dialect) => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServer({ dialect });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it.skipIf(!pythonGitlab)('python-gitlab creates, lists and deletes applications; the secret only on create', async () => {
    const seen = await runPythonGitlab<Record<string, any>>(server, 'applications.py', APPLICATIONS_SCRIPT, 45_000);
    expect(seen.created).toMatchObject({ application_name: 'Dashboard', callback_url: 'https://dash.example.com/cb', confidential: false });
    expect(seen.created.secret).toMatch(/^gloas-/);
    expect(seen.listed).toEqual([{ id: seen.created.id, application_id: seen.created.application_id, application_name: 'Dashboard', callback_url: 'https://dash.example.com/cb', confidential: false }]);
    expect(seen.after_delete).toEqual([]);
    expect(seen.bad_scope.status).toBe(400);
  });

  it.skipIf(!authlib)('authlib runs code + PKCE through sign-in and consent, refreshes, and a replayed refresh token ends the grant', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'latchkey-authlib-'));
    try {
      await writeFile(join(dir, 'flow.py'), AUTHLIB_SCRIPT);
      const run = await promisify(execFile)('/usr/bin/python3', [join(dir, 'flow.py'), server.url, server.adminToken], {
        timeout: 60_000, env: { ...process.env, AUTHLIB_INSECURE_TRANSPORT: '1', PYTHONDONTWRITEBYTECODE: '1' },
      }).catch((e: Error & { stderr?: string }) => {
        throw new Error(`authlib script failed: ${e.message}\n${e.stderr ?? ''}\n--- server output ---\n${server.output()}`);
      });
      const seen = JSON.parse(run.stdout);
      expect(seen).toEqual({
        username: 'root',
        sent_to_sign_in: true,
        consent_lists_scopes: true,
        token: { token_type: 'Bearer', expires_in: 7200, scope: 'api read_user' },
        user: 'root',
        rotated: true,
        user_after_refresh: 'root',
        replay: { status: 400, error: 'invalid_grant' },
        after_replay: 401,
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
