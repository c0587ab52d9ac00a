/**
 * Visibility through real clients against `latchkey serve` (issue 11 item 5): python-gitlab creates
 * public, internal and private groups and projects, changes a project's visibility (`project.save()`,
 * PUT /projects/:id) and is refused a project more visible than its group; an anonymous python-gitlab
 * client (`gitlab.Gitlab(url)`, no token) lists and shows only the public projects; curl downloads a
 * public project's generic package file without any credential, and is refused a private one's.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../support/dialects.js';
import { requireProgram } from '../support/programs.js';
import { pythonGitlabAvailable, runPythonGitlab } from '../support/python-gitlab.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

const run = promisify(execFile);
const available = pythonGitlabAvailable() && requireProgram('curl', { command: 'curl', args: ['--version'], hint: 'apt-get install curl' });

// After test/support/python-gitlab.ts's prelude (gl, out, attrs, status_of).
const SCRIPT = String.raw`
open_group = gl.groups.create({"name": "Open", "path": "open", "visibility": "public"})
inner = gl.groups.create({"name": "Inner", "path": "inner", "parent_id": open_group.id, "visibility": "internal"})
pub = gl.projects.create({"name": "Pub", "path": "pub", "namespace_id": open_group.id, "visibility": "public"})
gl.projects.create({"name": "Int", "path": "int", "namespace_id": inner.id, "visibility": "internal"})
gl.projects.create({"name": "Priv", "path": "priv", "namespace_id": open_group.id})
flip = gl.projects.create({"name": "Flip", "path": "flip", "namespace_id": open_group.id, "visibility": "private"})
out["ids"] = {"pub": pub.id, "flip": flip.id}
out["too_visible"] = status_of(lambda: gl.projects.create({"name": "Bad", "path": "bad", "namespace_id": inner.id, "visibility": "public"}))

flip.visibility = "public"
flip.save()
out["flipped"] = gl.projects.get(flip.id).visibility

anonymous = gitlab.Gitlab(url, timeout=20)
out["anonymous_list"] = sorted(p.path_with_namespace for p in anonymous.projects.list(get_all=True))
out["anonymous_get"] = anonymous.projects.get("open/pub").attributes
out["anonymous_get_private"] = status_of(lambda: anonymous.projects.get("open/priv"))
out["anonymous_groups"] = sorted(g.full_path for g in anonymous.groups.list(get_all=True))
print(json.dumps(out))
`;

async function curl(args: string[]): Promise<{ body: string; status: number }> {
  const { stdout } = await run('curl', ['--silent', '--show-error', '--write-out', '\n%{http_code}', ...args]);
  const cut = stdout.lastIndexOf('\n');
  return { body: stdout.slice(0, cut), status: Number(stdout.slice(cut + 1)) };
}

describe.skipIf(!available).each(DIALECTS)('public projects through real clients against `latchkey serve` on %s', (dialect) => {
  let server: ServerProcess;
  let seen: Record<string, any>;

  beforeAll(async () => {
    server = await startServer({ dialect });
    seen = await runPythonGitlab<Record<string, any>>(server, 'visibility.py', SCRIPT, 50_000);
  }, 90_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('python-gitlab sets visibility on create and update; a project more visible than its group is refused', () => {
    expect(seen.flipped).toBe('public');
    expect(seen.too_visible.status).toBe(400);
    expect(seen.too_visible.message).toContain('public is not allowed in a internal group.');
  });

  it('an anonymous python-gitlab client lists and shows the public projects only', () => {
    expect(seen.anonymous_list).toEqual(['open/flip', 'open/pub']);
    expect(seen.anonymous_get).toMatchObject({ id: seen.ids.pub, path_with_namespace: 'open/pub', visibility: 'public' });
    expect(seen.anonymous_get_private).toEqual({ status: 404, message: '404 Project Not Found' });
    expect(seen.anonymous_groups).toEqual(['open']);
  });

  it('curl downloads a public project’s package file without a token; a private one answers 401', async () => {
    const file = (project: string) => `${server.apiUrl}/projects/${encodeURIComponent(project)}/packages/generic/tool/1.0.0/tool.txt`;
    for (const project of ['open/pub', 'open/priv']) {
      const up = await curl(['--request', 'PUT', '--header', `PRIVATE-TOKEN: ${server.adminToken}`, '--header', 'content-type: application/octet-stream', '--data-binary', `bytes of ${project}`, file(project)]);
      expect(up.status, up.body).toBe(201);
    }
    expect(await curl([file('open/pub')])).toEqual({ body: 'bytes of open/pub', status: 200 });
    expect(await curl([file('open/priv')])).toMatchObject({ status: 401 });
  });
});
