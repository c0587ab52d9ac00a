/**
 * python-gitlab (Debian's python3-gitlab 3.12) against the real service process on each store:
 * personal access tokens (`user.personal_access_tokens.create`, `gl.personal_access_tokens.list/
 * delete`), project and group access tokens (`project.access_tokens` / `group.access_tokens`
 * create/list/delete). Every secret is then used the way a script would: `gitlab.Gitlab(url,
 * private_token=secret).auth()` and the user it reports, or the 401 python-gitlab raises.
 *
 * python-gitlab 3.12 has no rotate method; rotation goes through the same client's own HTTP layer
 * (`gl.http_post`), which still sends its auth headers and raises its errors — it is marked below.
 * The script prints what it saw as JSON; the assertions happen here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../support/dialects.js';
import { pythonGitlabAvailable, runPythonGitlab } from '../support/python-gitlab.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

const available = pythonGitlabAvailable();

// After test/support/python-gitlab.ts's prelude (gl, out, attrs, status_of).
const SCRIPT = String.raw`
expires = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()
out["expires"] = expires


def whoami(secret):
    """What a script holding this secret sees: the authenticated user, or python-gitlab's error."""
    client = gitlab.Gitlab(url, private_token=secret, timeout=20)
    try:
        client.auth()
    except gitlab.exceptions.GitlabError as e:
        return {"status": e.response_code, "error": type(e).__name__, "body": e.error_message if isinstance(e.error_message, str) else str(e.error_message)}
    return {"status": 200, "id": client.user.id, "username": client.user.username, "bot": client.user.attributes.get("bot")}




alice = gl.users.create({"username": "alice", "name": "Alice", "email": "alice@example.com"})
top = gl.groups.create({"name": "Acme", "path": "acme"})
sub = gl.groups.create({"name": "Platform", "path": "platform", "parent_id": top.id})
gl.projects.create({"name": "Web", "path": "web", "namespace_id": sub.id})
out["alice"] = alice.attributes

# Personal access tokens: created for a user by the admin, listed, deleted.
user = gl.users.get(alice.id, lazy=True)
pat = user.personal_access_tokens.create({"name": "laptop", "scopes": ["read_user"], "expires_at": expires})
out["pat_created"] = pat.attributes
out["pat_whoami"] = whoami(pat.token)
out["pat_listed"] = attrs(gl.personal_access_tokens.list(user_id=alice.id, get_all=True))
gl.personal_access_tokens.delete(pat.id)
out["pat_whoami_after_delete"] = whoami(pat.token)
out["pat_bad_scope"] = status_of(lambda: user.personal_access_tokens.create({"name": "bad", "scopes": ["not_a_scope"], "expires_at": expires}))

# Rotation (python-gitlab 3.12 has no rotate method: the client's own http_post).
pat2 = user.personal_access_tokens.create({"name": "rotated", "scopes": ["read_user"], "expires_at": expires})
rotated = gl.http_post("/personal_access_tokens/%d/rotate" % pat2.id)
out["pat_rotated"] = {k: v for k, v in rotated.items() if k != "token"}
out["pat_rotated_token_prefix"] = rotated["token"][:6]
out["pat_rotated_differs"] = rotated["token"] != pat2.token
out["pat_new_whoami"] = whoami(rotated["token"])
out["pat_old_whoami"] = whoami(pat2.token)
# Reuse detection as GitLab limits it: a plain request with the rotated-away secret (whoami above) is
# only refused; presented to a rotate endpoint it revokes its family.
out["pat_new_whoami_after_stale_use"] = whoami(rotated["token"])
stale = gitlab.Gitlab(url, private_token=pat2.token, timeout=20)
out["pat_stale_self_rotate"] = status_of(lambda: stale.http_post("/personal_access_tokens/self/rotate"))
out["pat_new_whoami_after_reuse"] = whoami(rotated["token"])

# GitLab's list filters and sorts, passed as python-gitlab passes any keyword: as query parameters.
for name in ("py-sort-b", "py-sort-a", "py-sort-c"):
    user.personal_access_tokens.create({"name": name, "scopes": ["read_user"], "expires_at": expires})
out["pat_sorted_desc"] = [t.name for t in gl.personal_access_tokens.list(user_id=alice.id, search="py-sort", sort="name_desc", get_all=True)]
out["pat_sorted_asc"] = [t.name for t in gl.personal_access_tokens.list(user_id=alice.id, search="py-sort", sort="name_asc", state="active", get_all=True)]
# DELETE /personal_access_tokens/self with a read_user token (any scope may revoke itself).
narrow = user.personal_access_tokens.create({"name": "py-narrow", "scopes": ["read_user"], "expires_at": expires})
gitlab.Gitlab(url, private_token=narrow.token, timeout=20).personal_access_tokens.delete("self")
out["pat_narrow_after_self_delete"] = whoami(narrow.token)
# Another user's token: python-gitlab raises GitLab's 401.
bob = gl.users.create({"username": "bob", "name": "Bob", "email": "bob@example.com"})
bob_pat = gl.users.get(bob.id, lazy=True).personal_access_tokens.create({"name": "bob", "scopes": ["api"], "expires_at": expires})
as_bob = gitlab.Gitlab(url, private_token=bob_pat.token, timeout=20)
out["bob_deletes_alices"] = status_of(lambda: as_bob.personal_access_tokens.delete(pat2.id + 0))
out["bob_rotates_alices"] = status_of(lambda: as_bob.http_post("/personal_access_tokens/%d/rotate" % narrow.id))

for kind, owner in (("project", gl.projects.get("acme/platform/web")), ("group", gl.groups.get("acme/platform"))):
    t = owner.access_tokens.create({"name": kind + "-bot", "scopes": ["read_api"], "access_level": 30, "expires_at": expires})
    out[kind + "_created"] = t.attributes
    out[kind + "_whoami"] = whoami(t.token)
    out[kind + "_listed"] = attrs(owner.access_tokens.list(get_all=True))

    r = owner.access_tokens.create({"name": kind + "-rotated", "scopes": ["read_api"], "expires_at": expires})
    path = "/%ss/%d/access_tokens/%d/rotate" % (kind, owner.id, r.id)
    rr = gl.http_post(path)
    out[kind + "_rotated"] = {k: v for k, v in rr.items() if k != "token"}
    out[kind + "_rotated_user"] = r.user_id
    out[kind + "_rotated_new_whoami"] = whoami(rr["token"])

    # Deleted through the object itself (ObjectDeleteMixin), then through the manager.
    t.delete()
    out[kind + "_whoami_after_delete"] = whoami(t.token)
    owner.access_tokens.delete(rr["id"])
    out[kind + "_rotated_whoami_after_delete"] = whoami(rr["token"])
    out[kind + "_rotated_old_whoami"] = whoami(r.token)
    out[kind + "_listed_after_delete"] = attrs(owner.access_tokens.list(get_all=True))
    out[kind + "_bad_scope"] = status_of(lambda: owner.access_tokens.create({"name": "bad", "scopes": ["not_a_scope"], "expires_at": expires}))
    for name in ("flt-b", "flt-a"):
        owner.access_tokens.create({"name": kind + "-" + name, "scopes": ["read_api"], "expires_at": expires})
    out[kind + "_filtered"] = [x.name for x in owner.access_tokens.list(search=kind + "-flt", state="active", sort="name_asc", get_all=True)]

print(json.dumps(out))
`;

describe.skipIf(!available).each(DIALECTS)('python-gitlab access tokens against `latchkey serve` on %s', (dialect) => {
  let server: ServerProcess;
  let seen: Record<string, any>;

  beforeAll(async () => {
    server = await startServer({ dialect });
    seen = await runPythonGitlab<Record<string, any>>(server, 'access_tokens.py', SCRIPT, 50_000);
  }, 90_000);
  afterAll(async () => {
    await server?.stop();
  });

  const refused = (who: Record<string, unknown>) => {
    // python-gitlab's auth() raises GitlabAuthenticationError on 401.
    expect(who).toMatchObject({ status: 401, error: 'GitlabAuthenticationError' });
    expect(String(who.body)).toContain('invalid_token');
  };

  it('creates a personal access token for a user; its secret authenticates as that user', () => {
    expect(seen.pat_created).toMatchObject({ name: 'laptop', user_id: seen.alice.id, scopes: ['read_user'], active: true, revoked: false });
    expect(seen.pat_created.expires_at).toMatch(new RegExp(`^${seen.expires}`));
    expect(seen.pat_created.token).toMatch(/^glpat-/);
    expect(seen.pat_whoami).toMatchObject({ status: 200, id: seen.alice.id, username: 'alice' });
  });

  it('lists the user’s personal tokens without secrets', () => {
    const entry = seen.pat_listed.find((t: { id: number }) => t.id === seen.pat_created.id);
    expect(entry).toMatchObject({ name: 'laptop', user_id: seen.alice.id, active: true });
    expect(entry).not.toHaveProperty('token');
    for (const t of seen.pat_listed) expect(t.user_id).toBe(seen.alice.id);
  });

  it('passes GitLab\'s list filters and sorts (search, state, sort) through to the server', () => {
    expect(seen.pat_sorted_desc).toEqual(['py-sort-c', 'py-sort-b', 'py-sort-a']);
    expect(seen.pat_sorted_asc).toEqual(['py-sort-a', 'py-sort-b', 'py-sort-c']);
    for (const kind of ['project', 'group']) expect(seen[`${kind}_filtered`]).toEqual([`${kind}-flt-a`, `${kind}-flt-b`]);
  });

  it('revokes itself through /personal_access_tokens/self with a read_user token; another user\'s token is 400 to delete, 401 to rotate', () => {
    refused(seen.pat_narrow_after_self_delete);
    expect(seen.bob_deletes_alices).toMatchObject({ status: 400 });
    expect(seen.bob_rotates_alices).toMatchObject({ status: 401 });
  });

  it('deletes (revokes) a personal token: its secret gets 401', () => {
    refused(seen.pat_whoami_after_delete);
  });

  it('refuses a scope personal tokens do not have with 400', () => {
    expect(seen.pat_bad_scope.status).toBe(400);
  });

  it('rotates a personal token: the old secret is refused, the new one authenticates', () => {
    expect(seen.pat_rotated).toMatchObject({ name: 'rotated', user_id: seen.alice.id, scopes: ['read_user'], active: true, revoked: false });
    expect(seen.pat_rotated_token_prefix).toBe('glpat-');
    expect(seen.pat_rotated_differs).toBe(true);
    expect(seen.pat_new_whoami).toMatchObject({ status: 200, id: seen.alice.id });
    refused(seen.pat_old_whoami);
  });

  it('reuse detection: the rotated-away secret on a plain request is only refused; on a rotate endpoint it revokes its family (GitLab)', () => {
    expect(seen.pat_new_whoami_after_stale_use).toMatchObject({ status: 200, id: seen.alice.id });
    expect(seen.pat_stale_self_rotate.status).toBe(401);
    refused(seen.pat_new_whoami_after_reuse);
  });

  describe.each(['project', 'group'])('%s access tokens', (kind) => {
    it('creates one whose secret authenticates as its own bot user', () => {
      const created = seen[`${kind}_created`];
      expect(created).toMatchObject({ name: `${kind}-bot`, scopes: ['read_api'], access_level: 30, active: true, revoked: false });
      expect(created.token).toMatch(/^glpat-/);
      expect(seen[`${kind}_whoami`]).toMatchObject({ status: 200, id: created.user_id, bot: true });
      expect(seen[`${kind}_whoami`].username).not.toBe('root');
    });

    it('lists it without the secret', () => {
      const entry = seen[`${kind}_listed`].find((t: { id: number }) => t.id === seen[`${kind}_created`].id);
      expect(entry).toMatchObject({ name: `${kind}-bot`, access_level: 30, user_id: seen[`${kind}_created`].user_id, active: true });
      expect(entry).not.toHaveProperty('token');
    });

    it('rotates one (client http layer): same bot, new secret works, old secret refused', () => {
      expect(seen[`${kind}_rotated`]).toMatchObject({ name: `${kind}-rotated`, user_id: seen[`${kind}_rotated_user`], active: true, revoked: false });
      expect(seen[`${kind}_rotated`].id).not.toBe(seen[`${kind}_created`].id);
      expect(seen[`${kind}_rotated_new_whoami`]).toMatchObject({ status: 200, id: seen[`${kind}_rotated_user`] });
      refused(seen[`${kind}_rotated_old_whoami`]);
    });

    it('deletes (revokes) them through the object and the manager: their secrets get 401', () => {
      refused(seen[`${kind}_whoami_after_delete`]);
      refused(seen[`${kind}_rotated_whoami_after_delete`]);
      for (const id of [seen[`${kind}_created`].id, seen[`${kind}_rotated`].id]) {
        const entry = seen[`${kind}_listed_after_delete`].find((t: { id: number }) => t.id === id);
        if (entry) expect(entry).toMatchObject({ active: false, revoked: true });
      }
    });

    it('refuses a bad scope with 400', () => {
      expect(seen[`${kind}_bad_scope`].status).toBe(400);
    });
  });
});
