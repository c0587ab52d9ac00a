/**
 * Impersonation tokens through two real GitLab clients against `latchkey serve` on each store:
 * python-gitlab 3.12's `user.impersonationtokens` (create, list with `state`, get, delete) and
 * @gitbeaker/rest's `UserImpersonationTokens` (create, all, show, revoke). Every secret is then used as
 * a script would: it authenticates as the impersonated user until it is revoked. GitLab's
 * doc/api/user_tokens.md is the contract.
 */
import { Gitlab } from '@gitbeaker/rest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../support/dialects.js';
import { refusal } from '../support/gitbeaker.js';
import { pythonGitlabAvailable, runPythonGitlab } from '../support/python-gitlab.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

const available = pythonGitlabAvailable();

function inDays(days: number): string {
  return new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
}

// After test/support/python-gitlab.ts's prelude (gl, out, attrs, whoami, status_of).
const SCRIPT = String.raw`
expires = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()
out["expires"] = expires

bob = gl.users.create({"username": "bob", "name": "Bob", "email": "bob@example.com"})
out["bob"] = bob.attributes
user = gl.users.get(bob.id)
created = user.impersonationtokens.create({"name": "support", "scopes": ["api"], "expires_at": expires})
out["created"] = created.attributes
out["whoami"] = whoami(created.token)
spare = user.impersonationtokens.create({"name": "spare", "scopes": ["read_user"], "expires_at": expires})
out["listed"] = attrs(user.impersonationtokens.list(get_all=True))
out["got"] = user.impersonationtokens.get(created.id).attributes
user.impersonationtokens.delete(spare.id)
out["active"] = attrs(user.impersonationtokens.list(state="active", get_all=True))
out["inactive"] = attrs(user.impersonationtokens.list(state="inactive", get_all=True))
out["whoami_spare_after_delete"] = whoami(spare.token)
out["missing"] = status_of(lambda: user.impersonationtokens.get(999999))
out["no_scopes"] = status_of(lambda: user.impersonationtokens.create({"name": "x", "scopes": []}))

# A non-admin (bob himself, with the token just made for him) may not manage them.
as_bob = gitlab.Gitlab(url, private_token=created.token, timeout=20)
out["as_bob"] = status_of(lambda: as_bob.users.get(bob.id, lazy=True).impersonationtokens.list(get_all=True))
print(json.dumps(out))
`;

describe.each(DIALECTS)('impersonation tokens through real clients against `latchkey serve` on %s', (dialect) => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServer({ dialect });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  describe.skipIf(!available)('python-gitlab user.impersonationtokens', () => {
    let seen: Record<string, any>;
    beforeAll(async () => {
      seen = await runPythonGitlab<Record<string, any>>(server, 'impersonation_tokens.py', SCRIPT, 50_000);
    }, 60_000);

    it('creates a token that authenticates as the user', () => {
      expect(seen.created).toMatchObject({ name: 'support', scopes: ['api'], user_id: seen.bob.id, impersonation: true, active: true, revoked: false, expires_at: seen.expires });
      expect(seen.created.token).toMatch(/^glpat-/);
      expect(seen.whoami).toEqual({ status: 200, id: seen.bob.id, username: 'bob', bot: false });
    });

    it('lists and gets them without the secret; state filters; delete revokes', () => {
      expect(seen.listed.map((t: { name: string }) => t.name)).toEqual(['support', 'spare']);
      for (const t of [...seen.listed, seen.got]) expect(t).not.toHaveProperty('token');
      expect(seen.got).toMatchObject({ id: seen.created.id, impersonation: true });
      expect(seen.active.map((t: { name: string }) => t.name)).toEqual(['support']);
      expect(seen.inactive).toEqual([expect.objectContaining({ name: 'spare', revoked: true, active: false })]);
      expect(seen.whoami_spare_after_delete).toEqual({ status: 401 });
    });

    it('refuses with GitLab’s statuses: 404 unknown, 400 without scopes, 403 for non-admins', () => {
      expect(seen.missing).toEqual({ status: 404, message: '404 Impersonation Token Not Found' });
      expect(seen.no_scopes.status).toBe(400);
      expect(seen.no_scopes.message).toContain("can't be blank");
      expect(seen.as_bob).toEqual({ status: 403, message: '403 Forbidden' });
    });
  });

  describe('@gitbeaker/rest UserImpersonationTokens', () => {
    it('create, all, show and revoke; the secret acts as the user until revoked', async () => {
      const api = new Gitlab({ host: server.url, token: server.adminToken });
      const carol = await api.Users.create({ username: 'carol', name: 'Carol', email: 'carol@example.com' });
      const expiresAt = inDays(20);
      const created = await api.UserImpersonationTokens.create(carol.id, 'audit', ['read_user'], { expiresAt });
      expect(created).toMatchObject({ name: 'audit', user_id: carol.id, impersonation: true, scopes: ['read_user'], expires_at: expiresAt });
      const asCarol = new Gitlab({ host: server.url, token: created.token as string });
      expect(await asCarol.Users.showCurrentUser()).toMatchObject({ id: carol.id, username: 'carol' });

      expect((await api.UserImpersonationTokens.all(carol.id)).map((t) => t.id)).toEqual([created.id]);
      expect(await api.UserImpersonationTokens.show(carol.id, created.id)).toMatchObject({ id: created.id, impersonation: true, active: true });
      await api.UserImpersonationTokens.revoke(carol.id, created.id);
      expect(await api.UserImpersonationTokens.show(carol.id, created.id)).toMatchObject({ revoked: true, active: false });
      expect((await refusal(asCarol.Users.showCurrentUser())).status).toBe(401);
      expect((await refusal(asCarol.UserImpersonationTokens.all(carol.id))).status).toBe(401);
    });
  });
});
