/**
 * The nginx auth_request endpoint for git over HTTP, at the HTTP level (as nginx calls it: GET with
 * the client's Authorization header plus X-Original-URI / X-Original-Method / X-Real-IP): who may fetch
 * and push which project, by token kind, scope and member level, and how each refusal is answered.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Resource } from '../../../src/namespaces/namespace.js';
import type { VerifyContext } from '../../../src/tokens/verify-token.js';
import { DIALECTS } from '../../support/dialects.js';
import { ROLES, seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';

const AUTH = '/api/v4/latchkey/git/auth';
const basic = (username: string, secret: string) => `Basic ${Buffer.from(`${username}:${secret}`).toString('base64')}`;
const FETCH = ['GET', '/acme/platform/web.git/info/refs?service=git-upload-pack'] as const;
const FETCH_PACK = ['POST', '/acme/platform/web.git/git-upload-pack'] as const;
const PUSH = ['GET', '/acme/platform/web.git/info/refs?service=git-receive-pack'] as const;
const PUSH_PACK = ['POST', '/acme/platform/web.git/git-receive-pack'] as const;
const NOT_FOUND = { message: "The project you were looking for could not be found or you don't have permission to view it." };

describe.each(DIALECTS)('git auth_request endpoint on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  const deploy: Record<string, { username: string; secret: string }> = {};

  const ask = (request: readonly [string, string], authorization?: string, extra: Record<string, string> = {}) =>
    t.request('GET', AUTH, {
      headers: { 'x-original-method': request[0], 'x-original-uri': request[1], ...(authorization ? { authorization } : {}), ...extra },
    });
  const personal = async (role: keyof World['users'] | 'admin', scopes: string[]) => {
    const user = role === 'admin' ? w.admin : w.users[role].user;
    const { secret } = await t.app.services.personalTokens.createFor(user, { name: `git ${scopes.join(' ')}`, scopes, expiresAt: '2027-06-01' }, null);
    return basic(user.username, secret);
  };

  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
    const make = async (name: string, resource: Resource, scopes: string[], username?: string) => {
      const { token, secret } = await t.app.services.deployTokens.create(w.admin, resource, { name, scopes, expiresAt: '2026-12-01', username });
      deploy[name] = { username: token.username!, secret };
    };
    await make('project', { type: 'project', project: w.project }, ['read_repository', 'read_registry']);
    await make('named', { type: 'project', project: w.project }, ['read_repository'], 'ci-reader');
    await make('registry', { type: 'project', project: w.project }, ['read_registry', 'write_registry']);
    await make('subGroup', { type: 'group', group: w.sub }, ['read_repository']);
    await make('otherProject', { type: 'project', project: w.otherProject }, ['read_repository']);
  });
  afterAll(() => t?.close());

  const asDeploy = (name: string) => basic(deploy[name]!.username, deploy[name]!.secret);

  describe('a deploy token', () => {
    it('with read_repository fetches its project; X-Latchkey-User names it for REMOTE_USER', async () => {
      for (const request of [FETCH, FETCH_PACK]) {
        const res = await ask(request, asDeploy('project'));
        expect(res.status).toBe(200);
        expect(res.headers['x-latchkey-user']).toBe(deploy.project!.username);
        expect(res.body).toEqual({ username: deploy.project!.username, project: 'acme/platform/web', operation: 'fetch' });
      }
      const named = await ask(FETCH, asDeploy('named'));
      expect(named.status).toBe(200);
      expect(named.headers['x-latchkey-user']).toBe('ci-reader');
    });

    it('never pushes (deploy tokens have no write_repository): 403 before any pack is sent', async () => {
      for (const request of [PUSH, PUSH_PACK]) {
        const res = await ask(request, asDeploy('project'));
        expect(res.status).toBe(403);
        expect(res.body).toEqual({ message: 'You are not allowed to upload code.' });
        expect(res.headers['x-latchkey-user']).toBeUndefined();
      }
    });

    it('without read_repository cannot fetch (403)', async () => {
      const res = await ask(FETCH, asDeploy('registry'));
      expect(res.status).toBe(403);
      expect(res.body).toEqual({ message: 'You are not allowed to download code.' });
    });

    it('must be presented with its own username (401 otherwise)', async () => {
      const res = await ask(FETCH, basic('someone-else', deploy.project!.secret));
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Basic realm="Latchkey"');
    });

    it("of a group fetches the group's projects; of another project sees a 404, the same as an unknown project", async () => {
      expect((await ask(FETCH, asDeploy('subGroup'))).status).toBe(200);
      const siteFetch = ['GET', '/acme/other/site.git/info/refs?service=git-upload-pack'] as const;
      expect((await ask(siteFetch, asDeploy('otherProject'))).status).toBe(200);
      for (const [request, who] of [[siteFetch, 'subGroup'], [FETCH, 'otherProject'], [['GET', '/acme/platform/nope.git/info/refs?service=git-upload-pack'], 'project']] as const) {
        const res = await ask(request, asDeploy(who));
        expect(res.status).toBe(404);
        expect(res.body).toEqual(NOT_FOUND);
      }
    });

    it('stops at once when deleted, and at 00:00 UTC of its expiry date (401)', async () => {
      const { token, secret } = await t.app.services.deployTokens.create(w.admin, { type: 'project', project: w.project }, { name: 'short', scopes: ['read_repository'], expiresAt: '2026-11-25' });
      const auth = basic(token.username!, secret);
      expect((await ask(FETCH, auth)).status).toBe(200);
      t.clock.set('2026-11-25T00:00:00.000Z');
      try {
        expect((await ask(FETCH, auth)).status).toBe(401);
      } finally {
        t.clock.set('2026-11-23T10:00:00.000Z');
      }
      expect((await ask(FETCH, auth)).status).toBe(200);
      await t.app.services.deployTokens.remove(w.admin, { type: 'project', project: w.project }, token.id);
      const res = await ask(FETCH, auth);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ message: 'HTTP Basic: Access denied' });
      // The audit log names the token on every answer, refused ones included.
      await t.app.services.auditWriter.flush();
      const audit = await t.request('GET', `/api/v4/latchkey/audit_events?token_id=${token.id}`, { token: w.adminToken });
      expect(audit.body.filter((e: any) => e.path !== null).map((e: any) => [e.path, e.status])).toEqual([401, 200, 401, 200].map((status) => ['/api/v4/latchkey/git/auth', status]));
    });
  });

  describe('the decision cache', () => {
    it('answers a repeated request without reading the project again, for as long as a verification is cached', async () => {
      const { secret, token } = await t.app.services.deployTokens.create(w.admin, { type: 'project', project: w.project }, { name: 'cached', scopes: ['read_repository'] });
      const auth = basic(token.username!, secret);
      expect((await ask(FETCH, auth)).status).toBe(200);
      const reads = vi.spyOn(t.app.store.namespaces, 'findProjectByPath');
      try {
        const again = await ask(FETCH, auth);
        expect(again.status).toBe(200);
        expect(again.body).toEqual({ username: token.username, project: 'acme/platform/web', operation: 'fetch' });
        expect(reads).not.toHaveBeenCalled();
        // Another operation is another decision; so is the same one once the time to live has passed.
        expect((await ask(PUSH, auth)).status).toBe(403);
        expect(reads).toHaveBeenCalledTimes(1);
        const before = t.clock.now();
        t.clock.advance(5_000);
        try {
          expect((await ask(FETCH, auth)).status).toBe(200);
          expect(reads).toHaveBeenCalledTimes(2);
        } finally {
          t.clock.set(before);
        }
      } finally {
        reads.mockRestore();
      }
    });

    it('refuses a revoked token at once, warm decision cache or not (deploy token deleted, personal token revoked)', async () => {
      const { secret, token } = await t.app.services.deployTokens.create(w.admin, { type: 'project', project: w.project }, { name: 'revoked-warm', scopes: ['read_repository'] });
      const auth = basic(token.username!, secret);
      for (let i = 0; i < 2; i++) expect((await ask(FETCH, auth)).status).toBe(200);
      await t.app.services.deployTokens.remove(w.admin, { type: 'project', project: w.project }, token.id);
      expect((await ask(FETCH, auth)).status).toBe(401);

      const user = w.users.developer.user;
      const pat = await t.app.services.personalTokens.createFor(user, { name: 'revoked-warm', scopes: ['write_repository'], expiresAt: '2027-06-01' }, null);
      const patAuth = basic(user.username, pat.secret);
      for (let i = 0; i < 2; i++) expect((await ask(PUSH, patAuth)).status).toBe(200);
      await t.app.services.personalTokens.revoke(w.admin, pat.token.id);
      expect((await ask(PUSH, patAuth)).status).toBe(401);
    });
  });

  describe('a personal token', () => {
    it('fetches from Reporter up and pushes from Developer up (write_repository); Guest and Planner get 403, outsiders 404', async () => {
      const expected = { guest: [403, 403], planner: [403, 403], reporter: [200, 403], developer: [200, 200], maintainer: [200, 200], owner: [200, 200], outsider: [404, 404], admin: [200, 200] } as const;
      for (const role of [...ROLES, 'outsider', 'admin'] as const) {
        const auth = await personal(role, ['write_repository']);
        const fetch = await ask(FETCH, auth);
        const push = await ask(PUSH_PACK, auth);
        expect([fetch.status, push.status], role).toEqual(expected[role]);
      }
      const guest = await personal('guest', ['write_repository']);
      expect((await ask(FETCH, guest)).body).toEqual({ message: 'You are not allowed to download code from this project.' });
      const reporter = await personal('reporter', ['write_repository']);
      expect((await ask(PUSH, reporter)).body).toEqual({ message: 'You are not allowed to push code to this project.' });
      expect((await ask(FETCH, await personal('outsider', ['api']))).body).toEqual(NOT_FOUND);
    });

    it("needs a git scope as GitLab's abilities_for_scopes: api and write_repository push; read_api and read_repository only fetch", async () => {
      const expected: Record<string, [number, number]> = {
        api: [200, 200],
        write_repository: [200, 200],
        read_api: [200, 403],
        read_repository: [200, 403],
        read_user: [403, 403],
        read_registry: [403, 403],
        self_rotate: [403, 403],
      };
      for (const [scope, statuses] of Object.entries(expected)) {
        const auth = await personal('developer', [scope]);
        const fetch = await ask(FETCH, auth);
        const push = await ask(PUSH, auth);
        expect([fetch.status, push.status], scope).toEqual(statuses);
        if (push.status === 403) expect(push.body).toEqual({ message: 'You are not allowed to upload code.' });
      }
    });

    it('is accepted under any username (as GitLab), and names its user in X-Latchkey-User', async () => {
      const auth = await personal('developer', ['write_repository']);
      const secret = Buffer.from(auth.slice(6), 'base64').toString().split(':')[1]!;
      const res = await ask(PUSH, basic('oauth2', secret));
      expect(res.status).toBe(200);
      expect(res.headers['x-latchkey-user']).toBe('developer-user');
      expect(res.body).toEqual({ username: 'developer-user', project: 'acme/platform/web', operation: 'push' });
    });

    it('stops working when its user is blocked (401)', async () => {
      const auth = await personal('maintainer', ['read_repository']);
      expect((await ask(FETCH, auth)).status).toBe(200);
      await t.app.store.namespaces.setUserState(w.users.maintainer.user.id, 'blocked');
      try {
        t.clock.advance(5_000); // past the verification cache
        expect((await ask(FETCH, auth)).status).toBe(401);
      } finally {
        await t.app.store.namespaces.setUserState(w.users.maintainer.user.id, 'active');
      }
    });
  });

  it('a project access token acts through its bot membership: Developer pushes its project, not another', async () => {
    const { secret, bot } = await t.app.services.resourceTokens.create(w.admin, { type: 'project', project: w.project }, { name: 'ci', scopes: ['write_repository'], accessLevel: 30, expiresAt: '2027-01-01' });
    const res = await ask(PUSH_PACK, basic('anything', secret));
    expect(res.status).toBe(200);
    expect(res.headers['x-latchkey-user']).toBe(bot.username);
    expect((await ask(['POST', '/acme/other/site.git/git-receive-pack'], basic('anything', secret))).status).toBe(404);
  });

  it("a group access token acts through its bot's group membership: a Reporter bot fetches the group's projects but cannot push", async () => {
    const { secret } = await t.app.services.resourceTokens.create(w.admin, { type: 'group', group: w.sub }, { name: 'mirror', scopes: ['write_repository'], accessLevel: 20, expiresAt: '2027-01-01' });
    expect((await ask(FETCH_PACK, basic('mirror', secret))).status).toBe(200);
    const push = await ask(PUSH, basic('mirror', secret));
    expect(push.status).toBe(403);
    expect(push.body).toEqual({ message: 'You are not allowed to push code to this project.' });
    expect((await ask(['GET', '/acme/other/site.git/info/refs?service=git-upload-pack'], basic('mirror', secret))).status).toBe(404);
  });

  describe('without a usable credential: 401 with a Basic challenge, so git sends its credentials', () => {
    it.each([
      ['no Authorization header', undefined],
      ['an unknown token', basic('developer-user', 'glpat-unknown-token')],
      ['an empty password', basic('developer-user', '')],
      ['a Bearer header instead of Basic', 'Bearer glpat-whatever'],
      ['Basic without a colon', `Basic ${Buffer.from('no-colon').toString('base64')}`],
    ])('%s', async (_name, authorization) => {
      const res = await ask(FETCH, authorization);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Basic realm="Latchkey"');
      expect(res.body).toEqual({ message: 'HTTP Basic: Access denied' });
    });

    it('PRIVATE-TOKEN (the API plugin) does not authenticate git requests', async () => {
      const res = await ask(FETCH, undefined, { 'private-token': w.adminToken });
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Basic realm="Latchkey"');
    });

    it('an unknown project asks for credentials too (existence is not revealed before authentication)', async () => {
      const res = await ask(['GET', '/acme/nope.git/info/refs?service=git-upload-pack']);
      expect(res.status).toBe(401);
    });
  });

  describe('bad requests', () => {
    it('answers 400 when nginx did not set X-Original-URI or X-Original-Method', async () => {
      const auth = asDeploy('project');
      const noUri = await t.request('GET', AUTH, { headers: { authorization: auth, 'x-original-method': 'GET' } });
      expect(noUri.status).toBe(400);
      expect(noUri.body).toEqual({ error: 'X-Original-URI header is missing' });
      const noMethod = await t.request('GET', AUTH, { headers: { authorization: auth, 'x-original-uri': FETCH[1] } });
      expect(noMethod.status).toBe(400);
      expect(noMethod.body).toEqual({ error: 'X-Original-Method header is missing' });
    });

    it.each([
      ['the dumb protocol', 'GET', '/acme/platform/web.git/info/refs'],
      ['a POST to info/refs', 'POST', '/acme/platform/web.git/info/refs?service=git-upload-pack'],
      ['a repository file', 'GET', '/acme/platform/web.git/HEAD'],
      ['a dot-dot path', 'POST', '/acme/other/../platform/web.git/git-upload-pack'],
    ])('answers 404 to %s, even with a valid credential', async (_name, method, uri) => {
      const res = await ask([method, uri], asDeploy('project'));
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ message: '404 Not Found' });
    });
  });

  it('passes the client address from X-Real-IP (when it is an IP), the user agent and the git endpoint to the verifier', async () => {
    const seen: VerifyContext[] = [];
    const { verifier } = t.app.services;
    const original = verifier.verify;
    verifier.verify = (secret, context = {}) => {
      seen.push(context);
      return original(secret, context);
    };
    try {
      await ask(FETCH, asDeploy('project'), { 'x-real-ip': '203.0.113.9', 'user-agent': 'git/2.39.5' });
      await ask(FETCH, asDeploy('project'), { 'x-real-ip': 'not-an-address', 'user-agent': 'curl/7.88.1' });
    } finally {
      verifier.verify = original;
    }
    expect(seen).toEqual([
      { ip: '203.0.113.9', userAgent: 'git/2.39.5', endpoint: 'GET /acme/platform/web.git/info/refs' },
      { ip: '127.0.0.1', userAgent: 'curl/7.88.1', endpoint: 'GET /acme/platform/web.git/info/refs' },
    ]);
  });
});

describe.each(DIALECTS)('git auth_request endpoint under rate limits on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  beforeAll(async () => {
    t = await startTestApp(dialect, { env: { LATCHKEY_RATE_LIMIT_PER_MINUTE: '3', LATCHKEY_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: '2' } });
    w = await seedWorld(t);
  });
  afterAll(() => t?.close());

  const ask = (authorization: string | null, realIp: string) =>
    t.request('GET', AUTH, { headers: { 'x-original-method': FETCH[0], 'x-original-uri': FETCH[1], 'x-real-ip': realIp, ...(authorization ? { authorization } : {}) } });

  it('counts anonymous tries per git client (X-Real-IP), not per nginx, and tokens per token', async () => {
    // Two anonymous tries per minute per client address: a third from the same client is refused,
    // another client behind the same nginx is not.
    expect((await ask(null, '203.0.113.1')).status).toBe(401);
    expect((await ask(null, '203.0.113.1')).status).toBe(401);
    const third = await ask(null, '203.0.113.1');
    expect([third.status, third.body, third.headers['ratelimit-name']]).toEqual([429, { message: 'Retry later' }, 'throttle_unauthenticated_api']);
    expect((await ask(null, '203.0.113.2')).status).toBe(401);

    const { secret } = await t.app.services.personalTokens.createFor(w.users.developer.user, { name: 'git', scopes: ['read_repository'], expiresAt: '2027-06-01' }, null);
    const auth = basic('developer-user', secret);
    // The token has its own budget, wherever it comes from.
    const answers = [];
    for (const ip of ['203.0.113.1', '203.0.113.3', '203.0.113.4', '203.0.113.5']) answers.push(await ask(auth, ip));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429]);
    expect(answers[0]!.headers['ratelimit-name']).toBe('throttle_authenticated_api');
    expect(answers.map((a) => a.headers['ratelimit-observed'])).toEqual(['1', '2', '3', '4']);
  });
});
