/**
 * The OAuth2 / OpenID Connect provider (issue 17) driven by real clients against `latchkey serve` on
 * each store: python-gitlab (Debian's python3-gitlab) registers, lists and deletes applications.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../support/dialects.js';
import { pythonGitlabAvailable, runPythonGitlab } from '../support/python-gitlab.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

const pythonGitlab = pythonGitlabAvailable();

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
});
