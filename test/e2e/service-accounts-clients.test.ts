/**
 * Service accounts through two real GitLab clients against `latchkey serve` on each store, with GitLab's
 * doc/api/service_accounts.md as the contract. @gitbeaker/rest: `ServiceAccounts.create` (the instance
 * API), `GroupServiceAccounts.create` and `.rotatePersonalAccessToken`. python-gitlab 3.12 has no
 * service-account managers, so its script calls the endpoints with its own `http_*` requests and manages
 * an instance account's tokens through the personal access token managers GitLab's docs point to
 * (`user.personal_access_tokens`, `gl.personal_access_tokens`).
 */
import { Gitlab } from '@gitbeaker/rest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../support/dialects.js';
import { refusal } from '../support/gitbeaker.js';
import { pythonGitlabAvailable, runPythonGitlab } from '../support/python-gitlab.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

const available = pythonGitlabAvailable();

// After test/support/python-gitlab.ts's prelude (gl, out, attrs, whoami, status_of).
const SCRIPT = String.raw`
expires = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()
out["expires"] = expires

out["created"] = gl.http_post("/service_accounts", post_data={"name": "Nightly backup", "username": "py-backup-bot"})
out["defaults"] = gl.http_post("/service_accounts")
out["taken"] = status_of(lambda: gl.http_post("/service_accounts", post_data={"username": "py-backup-bot", "email": "other-backup@example.com"}))
out["patched"] = gl.http_request("patch", "/service_accounts/%d" % out["created"]["id"], post_data={"name": "Nightly backup v2"}).json()
out["listed"] = gl.http_list("/service_accounts", query_data={"order_by": "username", "sort": "asc"}, get_all=True)

account = gl.users.get(out["created"]["id"])
token = account.personal_access_tokens.create({"name": "backup", "scopes": ["read_api"], "expires_at": expires})
out["token"] = token.attributes
out["whoami"] = whoami(token.token)
out["tokens"] = attrs(gl.personal_access_tokens.list(user_id=account.id, get_all=True))
gl.personal_access_tokens.delete(token.id)
out["whoami_after_delete"] = whoami(token.token)

bob = gl.users.create({"username": "py-bob", "name": "Bob", "email": "py-bob@example.com"})
bob_token = bob.personal_access_tokens.create({"name": "bob", "scopes": ["api"], "expires_at": expires})
as_bob = gitlab.Gitlab(url, private_token=bob_token.token, timeout=20)
out["as_bob_create"] = status_of(lambda: as_bob.http_post("/service_accounts"))
out["as_bob_list"] = status_of(lambda: as_bob.http_list("/service_accounts"))
out["human"] = status_of(lambda: gl.http_request("patch", "/service_accounts/%d" % bob.id, post_data={"name": "x"}))
print(json.dumps(out))
`;

describe.each(DIALECTS)('service accounts through real clients against `latchkey serve` on %s', (dialect) => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServer({ dialect });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  describe.skipIf(!available)('python-gitlab: the instance API and the personal access token managers', () => {
    let seen: Record<string, any>;
    beforeAll(async () => {
      seen = await runPythonGitlab<Record<string, any>>(server, 'service_accounts.py', SCRIPT, 50_000);
    }, 60_000);

    it('creates, changes and lists instance service accounts with GitLab’s fields', () => {
      expect(seen.created).toEqual({ id: expect.any(Number), name: 'Nightly backup', username: 'py-backup-bot', email: expect.stringMatching(/^py-backup-bot@noreply\./), external: true });
      expect(seen.defaults).toMatchObject({ name: 'Service account user', username: expect.stringMatching(/^service_account_[0-9a-f]{32}$/) });
      expect(seen.taken).toEqual({ status: 400, message: '400 Bad request - Username has already been taken' });
      expect(seen.patched).toEqual({ ...seen.created, name: 'Nightly backup v2' });
      expect(seen.listed.map((a: { username: string }) => a.username)).toEqual(['py-backup-bot', seen.defaults.username]);
    });

    it('gives the account personal access tokens that act as it until revoked', () => {
      expect(seen.token).toMatchObject({ name: 'backup', user_id: seen.created.id, scopes: ['read_api'], active: true, expires_at: seen.expires });
      expect(seen.whoami).toEqual({ status: 200, id: seen.created.id, username: 'py-backup-bot', bot: true });
      expect(seen.tokens.map((t: { id: number }) => t.id)).toEqual([seen.token.id]);
      expect(seen.whoami_after_delete).toEqual({ status: 401 });
    });

    it('refuses non-admins with 403 and a human user with 400', () => {
      expect(seen.as_bob_create).toEqual({ status: 403, message: '403 Forbidden' });
      expect(seen.as_bob_list).toEqual({ status: 403, message: '403 Forbidden' });
      expect(seen.human).toEqual({ status: 400, message: 'User is not a service account' });
    });
  });

  describe('@gitbeaker/rest ServiceAccounts and GroupServiceAccounts', () => {
    it('creates an instance account (admin only) and a group one, whose token rotates', async () => {
      const api = new Gitlab({ host: server.url, token: server.adminToken });
      const instance = await api.ServiceAccounts.create({ name: 'Release robot', username: 'gb-release-bot' });
      expect(instance).toEqual({ id: expect.any(Number), name: 'Release robot', username: 'gb-release-bot', email: expect.stringMatching(/^gb-release-bot@noreply\./), external: true });

      const group = await api.Groups.create('Robots', 'gb-robots');
      const account = await api.GroupServiceAccounts.create(group.id, { name: 'Group robot' });
      expect(account).toMatchObject({ name: 'Group robot', username: expect.stringMatching(new RegExp(`^service_account_group_${group.id}_[0-9a-f]{32}$`)) });
      const created = await fetch(`${server.url}/api/v4/groups/${group.id}/service_accounts/${account.id}/personal_access_tokens`, {
        method: 'POST',
        headers: { 'PRIVATE-TOKEN': server.adminToken, 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: 'ci', scopes: ['read_api'] }),
      });
      expect(created.status).toBe(201);
      const token = (await created.json()) as { id: number; token: string };
      const rotated = await api.GroupServiceAccounts.rotatePersonalAccessToken(group.id, account.id, token.id);
      expect(rotated).toMatchObject({ name: 'ci', user_id: account.id, active: true, revoked: false, token: expect.stringMatching(/^glpat-/) });
      expect(rotated.id).not.toBe(token.id);
      const asAccount = new Gitlab({ host: server.url, token: rotated.token as string });
      expect(await asAccount.Users.showCurrentUser()).toMatchObject({ id: account.id, bot: true });
      expect((await refusal(new Gitlab({ host: server.url, token: token.token }).Users.showCurrentUser())).status).toBe(401);

      // The account is no admin: the instance API refuses it.
      expect(await refusal(asAccount.ServiceAccounts.create({ name: 'x' }))).toMatchObject({ status: 403 });
    });
  });
});
