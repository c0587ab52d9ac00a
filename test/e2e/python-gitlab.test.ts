/**
 * python-gitlab (Debian's python3-gitlab) against the real service process on each store: a Python
 * script creates the namespaces, then creates, lists, shows and deletes project and group deploy
 * tokens and lists the instance's; it prints what it saw as JSON and the assertions happen here.
 * Debian's module is only importable by /usr/bin/python3 (a pyenv python3 on PATH cannot see it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../support/dialects.js';
import { pythonGitlabAvailable, runPythonGitlab } from '../support/python-gitlab.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

const available = pythonGitlabAvailable();

// After test/support/python-gitlab.ts's prelude (gl, out, attrs, status_of).
const SCRIPT = String.raw`
top = gl.groups.create({"name": "Acme", "path": "acme"})
sub = gl.groups.create({"name": "Platform", "path": "platform", "parent_id": top.id})
created_project = gl.projects.create({"name": "Web", "path": "web", "namespace_id": sub.id})
out["namespaces"] = {"top": top.attributes, "sub": sub.attributes, "project": created_project.attributes}

# Project deploy tokens, the project fetched by its full path.
project = gl.projects.get("acme/platform/web")
pt = project.deploytokens.create(
    {"name": "registry-pull", "scopes": ["read_repository", "read_registry"], "expires_at": "2099-01-31", "username": "puller"}
)
out["project_created"] = pt.attributes
out["project_listed"] = attrs(project.deploytokens.list(get_all=True))
out["project_shown"] = project.deploytokens.get(pt.id).attributes
project.deploytokens.delete(pt.id)
out["project_after_delete"] = attrs(project.deploytokens.list(get_all=True))
out["project_get_deleted"] = status_of(lambda: project.deploytokens.get(pt.id))
out["project_bad_scope"] = status_of(lambda: project.deploytokens.create({"name": "bad", "scopes": ["api"]}))

# Group deploy tokens, deleted through the object itself.
group = gl.groups.get("acme/platform")
gt = group.deploytokens.create({"name": "packages", "scopes": ["read_package_registry"]})
out["group_created"] = gt.attributes
out["group_listed"] = attrs(group.deploytokens.list(get_all=True))
out["top_group_listed"] = attrs(top.deploytokens.list(get_all=True))
kept = group.deploytokens.create({"name": "kept", "scopes": ["read_registry"], "expires_at": "2099-06-30"})
out["group_kept"] = kept.attributes
gt.delete()
out["group_after_delete"] = attrs(group.deploytokens.list(get_all=True))

# The instance-wide list (admin), one item per page so python-gitlab must follow the pages.
out["instance_listed"] = attrs(gl.deploytokens.list(get_all=True, per_page=1))
# GitLab filters only on active=true; active=false is no filter.
out["instance_active_true"] = attrs(gl.deploytokens.list(get_all=True, active=True))
out["instance_active_false"] = attrs(gl.deploytokens.list(get_all=True, active=False))
out["group_active_false"] = attrs(group.deploytokens.list(get_all=True, active=False))

print(json.dumps(out))
`;

interface Seen {
  version: string;
  namespaces: { top: Record<string, unknown>; sub: Record<string, unknown>; project: Record<string, unknown> };
  [key: string]: any;
}

describe.skipIf(!available).each(DIALECTS)('python-gitlab against `latchkey serve` on %s', (dialect) => {
  let server: ServerProcess;
  let seen: Seen;

  beforeAll(async () => {
    server = await startServer({ dialect });
    seen = await runPythonGitlab<Seen>(server, 'deploy_tokens.py', SCRIPT, 45_000);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('created the group, sub-group and project', () => {
    expect(seen.namespaces.top).toMatchObject({ path: 'acme', full_path: 'acme' });
    expect(seen.namespaces.sub).toMatchObject({ path: 'platform', full_path: 'acme/platform', parent_id: seen.namespaces.top.id });
    expect(seen.namespaces.project).toMatchObject({ path: 'web', path_with_namespace: 'acme/platform/web' });
  });

  it('creates a project deploy token with the fields it was given and a gldt- secret', () => {
    expect(seen.project_created).toMatchObject({ name: 'registry-pull', username: 'puller', scopes: ['read_repository', 'read_registry'], revoked: false, expired: false });
    expect(seen.project_created.expires_at).toMatch(/^2099-01-31/);
    expect(seen.project_created.token).toMatch(/^gldt-/);
  });

  it('lists and shows the project token without its secret', () => {
    const listed = seen.project_listed.find((t: { id: number }) => t.id === seen.project_created.id);
    expect(listed).toMatchObject({ name: 'registry-pull', username: 'puller', revoked: false });
    expect(listed).not.toHaveProperty('token');
    expect(seen.project_shown).toMatchObject({ id: seen.project_created.id, name: 'registry-pull' });
    expect(seen.project_shown).not.toHaveProperty('token');
  });

  it('deletes the project token: gone from the list, 404 on get', () => {
    expect(seen.project_after_delete.map((t: { id: number }) => t.id)).not.toContain(seen.project_created.id);
    expect(seen.project_get_deleted.status).toBe(404);
  });

  it('refuses a scope deploy tokens do not have with 400', () => {
    expect(seen.project_bad_scope.status).toBe(400);
  });

  it('creates, lists and deletes group deploy tokens, scoped to their group', () => {
    expect(seen.group_created).toMatchObject({ name: 'packages', scopes: ['read_package_registry'], revoked: false, expired: false, expires_at: null });
    expect(seen.group_created.username).toBe(`gitlab+deploy-token-${seen.group_created.id}`);
    expect(seen.group_created.token).toMatch(/^gldt-/);
    expect(seen.group_listed.map((t: { id: number }) => t.id)).toContain(seen.group_created.id);
    expect(seen.top_group_listed.map((t: { id: number }) => t.id)).not.toContain(seen.group_created.id);
    const after = seen.group_after_delete.map((t: { id: number }) => t.id);
    expect(after).not.toContain(seen.group_created.id);
    expect(after).toContain(seen.group_kept.id);
  });

  it('lists the instance deploy tokens across pages for the admin', () => {
    const byId = new Map(seen.instance_listed.map((t: { id: number }) => [t.id, t]));
    expect(byId.get(seen.group_kept.id)).toMatchObject({ name: 'kept', scopes: ['read_registry'], revoked: false });
    for (const t of seen.instance_listed) expect(t).not.toHaveProperty('token');
    expect(byId.has(seen.group_created.id)).toBe(false);
    expect(byId.has(seen.project_created.id)).toBe(false);
  });

  it('active=True keeps active tokens; active=False lists every token, as GitLab (no filter)', () => {
    const ids = (list: Array<{ id: number }>) => list.map((t) => t.id).sort((a, b) => a - b);
    expect(ids(seen.instance_active_true)).toContain(seen.group_kept.id);
    expect(ids(seen.instance_active_false)).toEqual(ids(seen.instance_listed));
    expect(ids(seen.group_active_false)).toContain(seen.group_kept.id);
  });
});
