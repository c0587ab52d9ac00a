/**
 * GitLab's project and group hooks API through the real clients against `latchkey serve` on each store:
 * python-gitlab 3.12 (`project.hooks` / `group.hooks`: create, list, get, save, delete and the errors it
 * raises) and @gitbeaker/rest (ProjectHooks / GroupHooks: add, all, show, edit, remove). Hooks with
 * resource_access_token_events / resource_deploy_token_events then receive GitLab's expiring_* events
 * on a real HTTP receiver when `latchkey notify run` finds a token 5 days from expiry, sent by the
 * running server's dispatcher with X-Gitlab-Event and X-Gitlab-Token.
 */
import { Gitlab } from '@gitbeaker/rest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver, type Receiver } from '../integration/http/webhooks-receiver.js';
import { DIALECTS } from '../support/dialects.js';
import { refusal } from '../support/gitbeaker.js';
import { pythonGitlabAvailable, runPythonGitlab } from '../support/python-gitlab.js';
import { runLatchkey, startServer, type ServerProcess } from '../support/server-process.js';

const pythonAvailable = pythonGitlabAvailable();
const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);

// After test/support/python-gitlab.ts's prelude (gl, out, attrs, status_of); RECEIVER is set before it.
const SCRIPT = String.raw`
top = gl.groups.create({"name": "Py", "path": "py"})
project = gl.projects.create({"name": "App", "path": "app", "namespace_id": top.id})

hook = project.hooks.create({"url": RECEIVER, "token": "py-hook-secret", "resource_access_token_events": True, "push_events": False})
out["created"] = hook.attributes
out["listed"] = attrs(project.hooks.list(get_all=True))
got = project.hooks.get(hook.id)
got.resource_deploy_token_events = True
got.save()
out["saved"] = project.hooks.get(hook.id).attributes
out["bad_url"] = status_of(lambda: project.hooks.create({"url": "not-a-url"}))
out["no_url"] = status_of(lambda: gl.http_post(f"/projects/{project.id}/hooks", post_data={"push_events": True}))
temp = project.hooks.create({"url": RECEIVER + "?temp"})
temp.delete()
out["after_delete"] = status_of(lambda: project.hooks.get(temp.id))

ghook = top.hooks.create({"url": RECEIVER + "?group", "resource_access_token_events": True, "subgroup_events": True})
out["group_created"] = ghook.attributes
out["group_listed"] = attrs(top.hooks.list(get_all=True))
out["project_id"] = project.id
out["group_id"] = top.id
print(json.dumps(out))
`;

describe.each(DIALECTS)('GitLab hooks through real GitLab clients against `latchkey serve` on %s', (dialect) => {
  let server: ServerProcess;
  let receiver: Receiver;
  let api: Gitlab;

  beforeAll(async () => {
    receiver = await startReceiver();
    server = await startServer({ dialect, env: { LATCHKEY_WEBHOOK_ALLOW_LOCAL_NETWORK: 'true', LATCHKEY_WEBHOOK_INTERVAL_MS: '200', LATCHKEY_PUBLIC_URL: 'https://latchkey.example.com' } });
    api = new Gitlab({ host: server.url, token: server.adminToken });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    await receiver?.close();
  });

  describe.skipIf(!pythonAvailable)('python-gitlab', () => {
    let seen: Record<string, any>;
    beforeAll(async () => {
      seen = await runPythonGitlab<Record<string, any>>(server, 'hooks.py', `RECEIVER = ${JSON.stringify(receiver.url)}\n${SCRIPT}`, 80_000);
    }, 90_000);

    it('project.hooks.create / list / get / save / delete speak GitLab\'s entity; the token is never returned', () => {
      // python-gitlab adds nothing to a hook's attributes: what it got is GitLab's ProjectHook.
      expect(seen.created).toMatchObject({ url: receiver.url, project_id: seen.project_id, push_events: false, resource_access_token_events: true, resource_deploy_token_events: false, enable_ssl_verification: true, token_present: true, alert_status: 'executable' });
      expect(seen.created).not.toHaveProperty('token');
      expect(JSON.stringify(seen)).not.toContain('py-hook-secret');
      expect(seen.listed).toEqual([seen.created]);
      expect(seen.saved).toEqual({ ...seen.created, resource_deploy_token_events: true });
      expect(seen.bad_url).toEqual({ status: 422, message: 'Invalid url given' });
      expect(seen.no_url.status).toBe(400);
      expect(seen.after_delete).toEqual({ status: 404, message: '404 Not found' });
      expect(seen.group_created).toMatchObject({ group_id: seen.group_id, resource_access_token_events: true, subgroup_events: true, push_events: true, token_present: false });
      expect(seen.group_listed).toEqual([seen.group_created]);
    });

    it('the hooks receive GitLab\'s expiring_access_token and expiring_deploy_token when the expiry check runs', async () => {
      const headers = { 'private-token': server.adminToken, 'content-type': 'application/json' };
      const post = async (path: string, body: object) => {
        const res = await fetch(`${server.apiUrl}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
        expect(res.status).toBe(201);
        return (await res.json()) as { id: number; user_id?: number };
      };
      const bot = await post(`/projects/${seen.project_id}/access_tokens`, { name: 'ci-bot', scopes: ['read_api'], expires_at: inDays(5), access_level: 30 });
      const deploy = await post(`/projects/${seen.project_id}/deploy_tokens`, { name: 'registry-pull', scopes: ['read_registry'], expires_at: inDays(5) });
      receiver.received.splice(0);

      const run = await runLatchkey(['notify', 'run', '--json'], server.env, 60_000);
      expect(run.code, run.stderr).toBe(0);
      const deadline = Date.now() + 20_000;
      while (receiver.received.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const got = receiver.received.map((r) => ({ headers: r.headers, body: JSON.parse(r.rawBody) }));
      const summary = got.map((r) => [r.headers['x-gitlab-event'], r.headers['x-gitlab-token'] ?? null, r.body.event_name, r.body.object_attributes.id, r.body.interval]).sort((a, b) => String(a).localeCompare(String(b)));
      expect(summary).toEqual(
        [
          ['Resource Access Token Hook', 'py-hook-secret', 'expiring_access_token', bot.id, 'seven_days'],
          ['Resource Access Token Hook', null, 'expiring_access_token', bot.id, 'seven_days'],
          ['Resource Deploy Token Hook', 'py-hook-secret', 'expiring_deploy_token', deploy.id, 'seven_days'],
        ].sort((a, b) => String(a).localeCompare(String(b))),
      );
      const access = got.find((r) => r.body.event_name === 'expiring_access_token')!.body;
      expect(access).toMatchObject({ object_kind: 'access_token', project: { id: seen.project_id, path_with_namespace: 'py/app', web_url: 'https://latchkey.example.com/py/app' }, object_attributes: { name: 'ci-bot', expires_at: inDays(5) } });
      for (const r of got) expect(r.headers['x-gitlab-instance']).toBe('https://latchkey.example.com');
      expect(server.output()).not.toContain('py-hook-secret');
    }, 90_000);
  });

  describe('@gitbeaker/rest', () => {
    it('ProjectHooks and GroupHooks add / all / show / edit / remove', async () => {
      const group = await api.Groups.create('Beaker', 'beaker');
      const project = await api.Projects.create({ name: 'Web', path: 'web', namespaceId: group.id });
      // gitbeaker's option types predate the token event flags; it sends every option it is given.
      const options = { token: 'gb-hook-secret', resourceAccessTokenEvents: true, pushEvents: false } as Record<string, unknown>;
      const added = await api.ProjectHooks.add(project.id, receiver.url, options);
      expect(added).toMatchObject({ url: receiver.url, project_id: project.id, resource_access_token_events: true, push_events: false, token_present: true });
      expect(JSON.stringify(added)).not.toContain('gb-hook-secret');
      expect(await api.ProjectHooks.all(project.id)).toEqual([added]);
      expect(await api.ProjectHooks.show(project.id, added.id)).toEqual(added);
      const edited = await api.ProjectHooks.edit(project.id, added.id, receiver.url, { resourceDeployTokenEvents: true } as Record<string, unknown>);
      expect(edited).toEqual({ ...added, resource_deploy_token_events: true });
      await api.ProjectHooks.remove(project.id, added.id);
      expect((await refusal(api.ProjectHooks.show(project.id, added.id))).status).toBe(404);
      expect((await refusal(api.ProjectHooks.add(project.id, 'not-a-url'))).status).toBe(422);

      const gadded = await api.GroupHooks.add(group.id, `${receiver.url}?beaker`, { resourceDeployTokenEvents: true } as Record<string, unknown>);
      expect(gadded).toMatchObject({ group_id: group.id, resource_deploy_token_events: true, push_events: true, token_present: false });
      expect(await api.GroupHooks.all(group.id)).toEqual([gadded]);
      await api.GroupHooks.remove(group.id, gadded.id);
      expect(await api.GroupHooks.all(group.id)).toEqual([]);
    }, 60_000);
  });
});
