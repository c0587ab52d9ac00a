/**
 * GitLab's CI/CD variables API driven by the two real clients against `latchkey serve` on each store:
 * python-gitlab (`project.variables` / `group.variables`: create, list, get with a filter, save, delete,
 * and the errors it raises) and @gitbeaker/rest (ProjectVariables / GroupVariables: create, all, show,
 * edit and remove with `filter`). The scripts print what they saw; the assertions happen here.
 */
import { Gitlab } from '@gitbeaker/rest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../support/dialects.js';
import { refusal } from '../support/gitbeaker.js';
import { pythonGitlabAvailable, runPythonGitlab } from '../support/python-gitlab.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

const pythonAvailable = pythonGitlabAvailable();

// After test/support/python-gitlab.ts's prelude (gl, out, attrs, status_of).
const SCRIPT = String.raw`
top = gl.groups.create({"name": "Py", "path": "py"})
project = gl.projects.create({"name": "App", "path": "app", "namespace_id": top.id})

created = project.variables.create({"key": "DEPLOY_TOKEN", "value": "gldt-abcdefghijklmnop", "masked": True, "protected": True})
out["created"] = created.attributes
project.variables.create({"key": "SCOPED", "value": "prod value", "environment_scope": "production"})
project.variables.create({"key": "SCOPED", "value": "review value", "environment_scope": "review/*"})
out["listed"] = attrs(project.variables.list(get_all=True))
out["get"] = project.variables.get("DEPLOY_TOKEN").attributes
out["get_ambiguous"] = status_of(lambda: project.variables.get("SCOPED"))
out["get_filtered"] = project.variables.get("SCOPED", filter={"environment_scope": "review/*"}).attributes

var = project.variables.get("DEPLOY_TOKEN")
var.value = "gldt-rotatedvalue0001"
var.save()
out["saved"] = project.variables.get("DEPLOY_TOKEN").attributes

out["bad_masked"] = status_of(lambda: project.variables.create({"key": "SHORT", "value": "short", "masked": True}))
out["bad_key"] = status_of(lambda: project.variables.create({"key": "BAD-KEY", "value": "x"}))
out["taken"] = status_of(lambda: project.variables.create({"key": "DEPLOY_TOKEN", "value": "again"}))
hidden = project.variables.create({"key": "HIDDEN", "value": "glpat-hiddenvalue0001", "masked_and_hidden": True})
out["hidden_created"] = hidden.attributes
out["hidden_get"] = project.variables.get("HIDDEN").attributes

project.variables.delete("DEPLOY_TOKEN")
out["after_delete"] = status_of(lambda: project.variables.get("DEPLOY_TOKEN"))

gv = top.variables.create({"key": "GROUP_VAR", "value": "group value", "variable_type": "file"})
out["group_created"] = gv.attributes
out["group_listed"] = attrs(top.variables.list(get_all=True))
gv.delete()
out["group_after_delete"] = status_of(lambda: top.variables.get("GROUP_VAR"))

print(json.dumps(out))
`;

describe.each(DIALECTS)('CI/CD variables through real GitLab clients against `latchkey serve` on %s', (dialect) => {
  let server: ServerProcess;
  let api: Gitlab;
  let group: { id: number; full_path: string };
  let project: { id: number; path_with_namespace: string };

  beforeAll(async () => {
    server = await startServer({ dialect });
    api = new Gitlab({ host: server.url, token: server.adminToken });
    group = await api.Groups.create('Beaker', 'beaker');
    project = await api.Projects.create({ name: 'Web', path: 'web', namespaceId: group.id });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  describe.skipIf(!pythonAvailable)('python-gitlab', () => {
    let seen: Record<string, any>;
    beforeAll(async () => {
      seen = await runPythonGitlab<Record<string, any>>(server, 'variables.py', SCRIPT, 80_000);
    }, 90_000);

    it('project.variables.create / list / get return GitLab\'s entity', () => {
      // python-gitlab adds its parent's id (project_id) to the attributes it got.
      expect({ ...seen.created, project_id: undefined }).toEqual({ project_id: undefined, variable_type: 'env_var', key: 'DEPLOY_TOKEN', value: 'gldt-abcdefghijklmnop', hidden: false, protected: true, masked: true, raw: false, environment_scope: '*', description: null });
      expect(seen.listed.map((v: any) => [v.key, v.environment_scope])).toEqual([['DEPLOY_TOKEN', '*'], ['SCOPED', 'production'], ['SCOPED', 'review/*']]);
      expect(seen.get).toEqual(seen.created);
      expect(seen.created.project_id).toBeDefined();
    });

    it('an ambiguous key is a 409 until filter={"environment_scope": …} picks one', () => {
      expect(seen.get_ambiguous).toEqual({ status: 409, message: "There are multiple variables with provided parameters. Please use 'filter[environment_scope]'" });
      expect(seen.get_filtered).toMatchObject({ key: 'SCOPED', value: 'review value', environment_scope: 'review/*' });
    });

    it('save() writes the new value', () => {
      expect(seen.saved).toMatchObject({ key: 'DEPLOY_TOKEN', value: 'gldt-rotatedvalue0001', masked: true, protected: true });
    });

    it('raises GitLab\'s validation errors', () => {
      expect(seen.bad_masked.status).toBe(400);
      expect(seen.bad_masked.message).toContain("'value': ['is invalid']");
      expect(seen.bad_key.message).toContain("can contain only letters, digits and '_'.");
      expect(seen.taken.message).toContain('(DEPLOY_TOKEN) has already been taken');
    });

    it('a hidden variable never shows its value', () => {
      expect(seen.hidden_created).toMatchObject({ key: 'HIDDEN', value: null, hidden: true, masked: true });
      expect(seen.hidden_get.value).toBeNull();
    });

    it('delete removes it; group.variables work the same way', () => {
      expect(seen.after_delete).toEqual({ status: 404, message: '404 Variable Not Found' });
      expect(seen.group_created).toMatchObject({ key: 'GROUP_VAR', value: 'group value', variable_type: 'file' });
      expect(seen.group_listed.map((v: any) => v.key)).toEqual(['GROUP_VAR']);
      expect(seen.group_after_delete).toEqual({ status: 404, message: '404 GroupVariable Not Found' });
    });
  });

  describe('@gitbeaker/rest', () => {
    it('ProjectVariables: create, all, show, edit and remove, with filters', async () => {
      const created = await api.ProjectVariables.create(project.id, 'NPM_TOKEN', 'npm_abcdefghijklmnop', { masked: true, environmentScope: 'production', description: 'publishes' });
      expect(created).toMatchObject({ key: 'NPM_TOKEN', value: 'npm_abcdefghijklmnop', masked: true, environment_scope: 'production', description: 'publishes' });
      await api.ProjectVariables.create(project.id, 'NPM_TOKEN', 'npm_stagingvalue0001', { environmentScope: 'staging' });
      const all = await api.ProjectVariables.all(project.id);
      expect(all.map((v) => v.environment_scope)).toEqual(['production', 'staging']);
      expect(await api.ProjectVariables.show(project.id, 'NPM_TOKEN', { filter: { environment_scope: 'staging' } })).toMatchObject({ value: 'npm_stagingvalue0001' });
      const edited = await api.ProjectVariables.edit(project.id, 'NPM_TOKEN', 'npm_newproduction001', { filter: { environment_scope: 'production' } });
      expect(edited).toMatchObject({ value: 'npm_newproduction001', environment_scope: 'production', masked: true });
      await api.ProjectVariables.remove(project.id, 'NPM_TOKEN', { filter: { environment_scope: 'staging' } });
      expect((await api.ProjectVariables.all(project.id)).map((v) => [v.environment_scope, v.value])).toEqual([['production', 'npm_newproduction001']]);
      const ambiguous = await refusal(api.ProjectVariables.show(project.id, 'MISSING'));
      expect(ambiguous.status).toBe(404);
    });

    it('GroupVariables by full path, and the 400 a masked short value gets', async () => {
      const path = group.full_path;
      expect(await api.GroupVariables.create(path, 'KUBECONFIG', 'apiVersion: v1', { variableType: 'file', protected: true })).toMatchObject({ variable_type: 'file', protected: true });
      expect((await api.GroupVariables.all(path)).map((v) => v.key)).toEqual(['KUBECONFIG']);
      const refused = await refusal(api.GroupVariables.create(path, 'SHORT', 'short', { masked: true }));
      expect(refused.status).toBe(400);
      // gitbeaker hands over the body's `message`, serialised, as the error's description.
      expect(JSON.parse(refused.body)).toEqual({ value: ['is invalid'] });
      await api.GroupVariables.remove(path, 'KUBECONFIG');
      expect(await api.GroupVariables.all(path)).toEqual([]);
    });
  });
});
