/**
 * GET/POST /jwt/auth on SQLite and PostgreSQL: the JWT's header and claims (iss, aud, sub, exp, nbf,
 * kid, x5c, access) checked against the exported certificate, the grant matrix (deploy tokens of the
 * project, of ancestor and unrelated groups; personal tokens by access level and scope), GitLab's
 * refusals (401 bad/revoked/expired credentials, 404 unknown service, 403 anonymous without scope),
 * and the signing key: generated once, shared by concurrent first uses, stored sealed.
 */
import { X509Certificate } from 'node:crypto';
import Fastify from 'fastify';
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, utcDateOf } from '../../../src/kernel/dates.js';
import { decorateCredentials } from '../../../src/http/plugins/authenticate.js';
import { registerRegistryAuthRoutes } from '../../../src/http/routes/registry-auth.js';
import { createRegistryModule } from '../../../src/protocols/registry/index.js';
import { libtrustKeyId } from '../../../src/protocols/registry/libtrust-kid.js';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, TEST_SECRET, type Response, type TestApp, type World } from '../../support/test-app.js';

const SERVICE = 'container_registry';
const ISSUER = 'latchkey';
const REPO = 'acme/platform/web';

const basic = (username: string, secret: string) => `Basic ${Buffer.from(`${username}:${secret}`).toString('base64')}`;
const query = (params: Record<string, string | string[]>) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const one of [v].flat()) q.append(k, one);
  return q.toString();
};

describe.each(DIALECTS)('registry token service /jwt/auth on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let cert: X509Certificate;
  const creds: Record<string, string> = {};

  async function auth(authorization: string | null, params: Record<string, string | string[]>): Promise<Response> {
    return t.request('GET', `/jwt/auth?${query(params)}`, { headers: authorization ? { authorization } : {} });
  }
  /** Granted actions per repository for `creds` asking `actions` on each of `repos`. */
  async function granted(authorization: string | null, repos: string[], actions = 'pull,push'): Promise<Record<string, string[]>> {
    const res = await auth(authorization, { service: SERVICE, scope: repos.map((r) => `repository:${r}:${actions}`) });
    expect(res.status, res.text).toBe(200);
    const claims = decodeJwt(res.body.token) as { access: { name: string; actions: string[] }[] };
    return Object.fromEntries(claims.access.map((a) => [a.name, a.actions]));
  }
  const deploy = async (resource: Parameters<TestApp['app']['services']['deployTokens']['create']>[1], scopes: string[], expiresAt?: string) => {
    const { token, secret } = await t.app.services.deployTokens.create(w.admin, resource, { name: `d-${scopes.join('-')}`, scopes, expiresAt });
    return { token, authorization: basic(token.username!, secret), username: token.username!, secret };
  };
  const pat = async (role: keyof World['users'], scopes: string[]) => {
    const user = w.users[role].user;
    const { secret } = await t.app.services.personalTokens.createFor(user, { name: 'registry', scopes, expiresAt: '2027-06-01' }, null);
    return basic(user.username, secret);
  };

  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
    cert = new X509Certificate((await t.app.services.registry.keys.current()).certificatePem);
    const rw = await deploy({ type: 'project', project: w.project }, ['read_registry', 'write_registry']);
    creds.rw = rw.authorization;
    creds.rwUser = rw.username;
    creds.rwSecret = rw.secret;
    creds.ro = (await deploy({ type: 'project', project: w.project }, ['read_registry'])).authorization;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('issues an ES256 JWT the exported certificate verifies, with the spec claims and a libtrust kid', async () => {
    const res = await auth(creds.rw!, { service: SERVICE, scope: `repository:${REPO}:pull,push`, account: creds.rwUser! });
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({ token: expect.any(String), access_token: res.body.token, expires_in: 300, issued_at: '2026-11-23T10:00:00Z' });
    const header = decodeProtectedHeader(res.body.token);
    expect(header).toEqual({ typ: 'JWT', alg: 'ES256', kid: libtrustKeyId(cert.publicKey), x5c: [cert.raw.toString('base64')] });
    expect(header.kid).toMatch(/^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);
    const { payload } = await jwtVerify(res.body.token, cert.publicKey, { issuer: ISSUER, audience: SERVICE, currentDate: t.clock.now() });
    const iat = Date.parse('2026-11-23T10:00:00Z') / 1000;
    expect(payload).toEqual({
      iss: ISSUER,
      sub: creds.rwUser,
      aud: SERVICE, // a string: registry 2.x refuses an array
      iat,
      nbf: iat - 5,
      exp: iat + 300,
      jti: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
      access: [{ type: 'repository', name: REPO, actions: ['pull', 'push'] }],
    });
  });

  it('drops the actions a token lacks instead of failing (read_registry → pull only; delete and * never)', async () => {
    expect(await granted(creds.ro!, [REPO])).toEqual({ [REPO]: ['pull'] });
    expect(await granted(creds.rw!, [REPO], 'pull,push,delete,*')).toEqual({ [REPO]: ['pull', 'push'] });
    expect(await granted(creds.rw!, ['acme/other/site', 'acme/nope/missing'])).toEqual({ 'acme/other/site': [], 'acme/nope/missing': [] });
    // Images below the project path belong to it.
    expect(await granted(creds.rw!, [`${REPO}/sub/image`])).toEqual({ [`${REPO}/sub/image`]: ['pull', 'push'] });
    const catalog = await auth(creds.rw!, { service: SERVICE, scope: 'registry:catalog:*' });
    expect(decodeJwt(catalog.body.token).access).toEqual([{ type: 'registry', name: 'catalog', actions: [] }]);
  });

  it('grants group deploy tokens on the projects of the group and its sub-groups only', async () => {
    const parent = await deploy({ type: 'group', group: w.top }, ['read_registry']);
    expect(await granted(parent.authorization, [REPO, 'acme/other/site'])).toEqual({ [REPO]: ['pull'], 'acme/other/site': ['pull'] });
    const sub = await deploy({ type: 'group', group: w.sub }, ['read_registry', 'write_registry']);
    expect(await granted(sub.authorization, [REPO, 'acme/other/site'])).toEqual({ [REPO]: ['pull', 'push'], 'acme/other/site': [] });
    const wrongScope = await deploy({ type: 'group', group: w.top }, ['read_repository']);
    expect(await granted(wrongScope.authorization, [REPO])).toEqual({ [REPO]: [] });
  });

  it('grants user tokens by access level (Reporter+ pull, Developer+ push) and token scope', async () => {
    expect(await granted(await pat('reporter', ['read_registry', 'write_registry']), [REPO])).toEqual({ [REPO]: ['pull'] });
    expect(await granted(await pat('developer', ['read_registry', 'write_registry']), [REPO])).toEqual({ [REPO]: ['pull', 'push'] });
    expect(await granted(await pat('developer', ['api']), [REPO])).toEqual({ [REPO]: ['pull', 'push'] });
    expect(await granted(await pat('developer', ['read_api']), [REPO])).toEqual({ [REPO]: ['pull'] });
    expect(await granted(await pat('maintainer', ['read_user', 'read_repository']), [REPO])).toEqual({ [REPO]: [] });
    expect(await granted(await pat('guest', ['api']), [REPO])).toEqual({ [REPO]: [] });
    expect(await granted(await pat('outsider', ['api']), [REPO])).toEqual({ [REPO]: [] });
    // Project access token: its bot user's level on the project decides.
    const { secret, bot } = await t.app.services.resourceTokens.create(w.admin, { type: 'project', project: w.project }, { name: 'bot', scopes: ['read_registry'], accessLevel: 20, expiresAt: '2027-01-01' });
    expect(await granted(basic(bot.username, secret), [REPO])).toEqual({ [REPO]: ['pull'] });
    // Any username goes with a user's token (GitLab's find_for_git_client): it is the token that counts.
    expect(await granted(basic('oauth2', secret), [REPO])).toEqual({ [REPO]: ['pull'] });
  });

  it('answers a login without scope with an empty grant, and checks the credentials', async () => {
    const res = await auth(creds.ro!, { service: SERVICE, account: 'anything' });
    expect(res.status).toBe(200);
    expect(decodeJwt(res.body.token).access).toEqual([]);
  });

  it("refuses bad credentials as GitLab does: 401 {errors:[{code:'UNAUTHORIZED'}]}", async () => {
    const unauthorized = { errors: [{ code: 'UNAUTHORIZED', message: 'HTTP Basic: Access denied' }] };
    const cases = [
      basic(creds.rwUser!, 'gldt-wrong'),
      basic('someone-else', creds.rwSecret!), // right token, wrong username
      basic(w.users.developer.user.username, creds.rwSecret!), // a deploy token under a user's name
      `Bearer ${creds.rwSecret}`, // not Basic: never silently anonymous
      'Basic !!!',
    ];
    for (const authorization of cases) {
      const res = await auth(authorization, { service: SERVICE, scope: `repository:${REPO}:pull` });
      expect(res.status, authorization).toBe(401);
      expect(res.body).toEqual(unauthorized);
    }
  });

  it('refuses revoked tokens at once and expired tokens from 00:00 UTC of their expiry date', async () => {
    const revoked = await deploy({ type: 'project', project: w.project }, ['read_registry']);
    expect((await auth(revoked.authorization, { service: SERVICE, scope: `repository:${REPO}:pull` })).status).toBe(200);
    await t.app.services.deployTokens.remove(w.admin, { type: 'project', project: w.project }, revoked.token.id);
    expect((await auth(revoked.authorization, { service: SERVICE, scope: `repository:${REPO}:pull` })).status).toBe(401);
    // The audit log names the refused token (never its secret).
    await t.app.services.auditWriter.flush();
    const audit = await t.request('GET', `/api/v4/latchkey/audit_events?token_id=${revoked.token.id}`, { token: w.adminToken });
    expect(audit.body.filter((e: any) => e.path === '/jwt/auth').map((e: any) => e.status)).toEqual([401, 200]);

    const tomorrow = addDays(utcDateOf(t.clock.now()), 1);
    const expiring = await deploy({ type: 'project', project: w.project }, ['read_registry'], tomorrow);
    const before = t.clock.now();
    t.clock.set(`${tomorrow}T00:00:00.000Z`);
    try {
      t.clock.advance(-1);
      expect((await auth(expiring.authorization, { service: SERVICE, scope: `repository:${REPO}:pull` })).status).toBe(200);
      t.clock.advance(1);
      const res = await auth(expiring.authorization, { service: SERVICE, scope: `repository:${REPO}:pull` });
      expect(res.status).toBe(401);
      expect(res.body.errors[0].code).toBe('UNAUTHORIZED');
    } finally {
      t.clock.set(before);
    }
  });

  it('hands the same still-valid JWT to a repeated request while its decision is cached, and a new one after', async () => {
    const d = await deploy({ type: 'project', project: w.project }, ['read_registry']);
    const params = { service: SERVICE, scope: `repository:${REPO}:pull` };
    const first = await auth(d.authorization, params);
    expect(first.status).toBe(200);
    const again = await auth(d.authorization, params);
    // The same token with the times it was signed with: issued_at + expires_in is still its exp.
    expect(again.body).toEqual(first.body);
    // Sent the same way as the first (the repeat's body is text made once per issued token).
    expect(again.text).toBe(first.text);
    expect(Object.keys(first.body)).toEqual(['token', 'access_token', 'expires_in', 'issued_at']);
    for (const res of [first, again]) {
      expect([res.headers['content-type'], res.headers['content-length'], res.headers['cache-control'], res.headers['pragma']]).toEqual(['application/json', String(Buffer.byteLength(first.text)), 'no-store', 'no-cache']);
    }
    // A malformed scope from a token with a warm cache is still parsed and refused.
    expect((await auth(d.authorization, { service: SERVICE, scope: `repository:${REPO}` })).status).toBe(400);
    expect(Date.parse(again.body.issued_at) / 1000 + again.body.expires_in).toBe((decodeJwt(again.body.token) as { exp: number }).exp);
    const other = await auth(d.authorization, { service: SERVICE, scope: `repository:${REPO}:pull,push` });
    expect(other.body.token).not.toBe(first.body.token);
    const before = t.clock.now();
    t.clock.advance(5_000);
    try {
      const later = await auth(d.authorization, params);
      expect(later.status).toBe(200);
      expect(later.body.token).not.toBe(first.body.token);
    } finally {
      t.clock.set(before);
    }
  });

  it('refuses a revoked token at once even with a warm decision cache (deploy token deleted, personal token revoked)', async () => {
    const params = { service: SERVICE, scope: `repository:${REPO}:pull` };
    const d = await deploy({ type: 'project', project: w.project }, ['read_registry']);
    for (let i = 0; i < 2; i++) expect((await auth(d.authorization, params)).status).toBe(200);
    await t.app.services.deployTokens.remove(w.admin, { type: 'project', project: w.project }, d.token.id);
    expect((await auth(d.authorization, params)).status).toBe(401);

    const user = w.users.developer.user;
    const pat = await t.app.services.personalTokens.createFor(user, { name: 'revoked-warm', scopes: ['read_registry'], expiresAt: '2027-06-01' }, null);
    const patAuth = basic(user.username, pat.secret);
    for (let i = 0; i < 2; i++) expect((await auth(patAuth, params)).status).toBe(200);
    await t.app.services.personalTokens.revoke(w.admin, pat.token.id);
    const res = await auth(patAuth, params);
    expect(res.status).toBe(401);
    expect(res.body.errors[0].code).toBe('UNAUTHORIZED');
  });

  it('answers an unknown or missing service 404, an anonymous request without scope 403, with scope an empty grant', async () => {
    const unknownServices: Record<string, string>[] = [{ service: 'other_registry', scope: `repository:${REPO}:pull` }, { scope: `repository:${REPO}:pull` }];
    for (const params of unknownServices) {
      const res = await auth(creds.rw!, params);
      expect(res.status).toBe(404);
      expect(res.body.errors[0].code).toBe('NOT_FOUND');
    }
    const denied = await auth(null, { service: SERVICE });
    expect(denied.status).toBe(403);
    expect(denied.body).toEqual({ errors: [{ code: 'DENIED', message: 'access forbidden' }] });
    const anonymous = await auth(null, { service: SERVICE, scope: `repository:${REPO}:pull` });
    expect(anonymous.status).toBe(200);
    expect(decodeJwt(anonymous.body.token)).toMatchObject({ sub: '', access: [{ type: 'repository', name: REPO, actions: [] }] });
  });

  it('answers malformed or too many scopes 400', async () => {
    const bad = await auth(creds.rw!, { service: SERVICE, scope: 'repository' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0]).toEqual({ code: 'INVALID_SCOPE', message: expect.stringContaining('is not "type:name:actions"') });
    const nul = await auth(creds.rw!, { service: SERVICE, scope: 'repository:acme/\u0000web:pull' });
    expect(nul.status).toBe(400);
    const many = await auth(creds.rw!, { service: SERVICE, scope: Array.from({ length: 33 }, (_, i) => `repository:a/p${i}:pull`) });
    expect(many.status).toBe(400);
  });

  it('serves the OAuth2 password grant (POST form) with the granted scope string', async () => {
    const form = (fields: Record<string, string | string[]>) => t.request('POST', '/jwt/auth', { rawBody: query(fields), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    const ok = await form({ grant_type: 'password', username: creds.rwUser!, password: creds.rwSecret!, service: SERVICE, client_id: 'containers/image', access_type: 'offline', scope: [`repository:${REPO}:pull,push`, 'repository:acme/other/site:pull'] });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ access_token: expect.any(String), token: ok.body.access_token, scope: `repository:${REPO}:pull,push`, expires_in: 300, issued_at: '2026-11-23T10:00:00Z' });
    expect(Object.keys(ok.body)).toEqual(['access_token', 'token', 'scope', 'expires_in', 'issued_at']);
    expect([ok.headers['content-type'], ok.headers['cache-control']]).toEqual(['application/json', 'no-store']);
    const { payload } = await jwtVerify(ok.body.access_token, cert.publicKey, { issuer: ISSUER, audience: SERVICE, currentDate: t.clock.now() });
    expect(payload.access).toEqual([{ type: 'repository', name: REPO, actions: ['pull', 'push'] }, { type: 'repository', name: 'acme/other/site', actions: [] }]);

    const wrong = await form({ grant_type: 'password', username: creds.rwUser!, password: 'nope', service: SERVICE });
    expect(wrong.status).toBe(401);
    expect(wrong.body.errors[0].code).toBe('UNAUTHORIZED');
    const refresh = await form({ grant_type: 'refresh_token', refresh_token: 'x', service: SERVICE, client_id: 'c' });
    expect(refresh).toMatchObject({ status: 400, body: { error: 'unsupported_grant_type' } });
    const missing = await form({ grant_type: 'password', service: SERVICE });
    expect(missing).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
  });

  it('puts the verified token (and its user) on the request for the audit log', async () => {
    const seen: { actor: string | null; tokenId: number | null; status: number }[] = [];
    const app = Fastify();
    decorateCredentials(app);
    app.addHook('onResponse', async (request, reply) => {
      seen.push({ actor: request.actor?.username ?? null, tokenId: request.authToken?.id ?? null, status: reply.statusCode });
    });
    registerRegistryAuthRoutes(app, t.app.services.registry.tokens);
    try {
      const dev = w.users.developer.user;
      const { token, secret } = await t.app.services.personalTokens.createFor(dev, { name: 'audit', scopes: ['read_registry'], expiresAt: '2027-06-01' }, null);
      const get = (authorization: string) => app.inject({ method: 'GET', url: `/jwt/auth?service=${SERVICE}&scope=repository:${REPO}:pull`, headers: { authorization } });
      await get(basic(dev.username, secret));
      await get(creds.ro!);
      await get(basic(dev.username, 'glpat-wrong'));
      expect(seen[0]).toEqual({ actor: dev.username, tokenId: token.id, status: 200 });
      expect(seen[1]).toMatchObject({ actor: null, tokenId: expect.any(Number), status: 200 });
      expect(seen[2]).toEqual({ actor: null, tokenId: null, status: 401 });
    } finally {
      await app.close();
    }
  });

  it('generates the signing key once: concurrent first uses on one store agree, and it is stored sealed', async () => {
    const settings = { service: SERVICE, issuer: ISSUER, tokenLifetimeSeconds: 300 };
    await t.app.store.db.deleteFrom('registry_signing_keys').execute();
    const modules = Array.from({ length: 4 }, () => createRegistryModule({ store: t.app.store, clock: t.clock, random: t.app.services.random, verifier: t.app.services.verifier, namespaces: t.app.services.namespaces, serverSecret: TEST_SECRET, settings }));
    const keys = await Promise.all(modules.map((m) => m.keys.current()));
    expect(new Set(keys.map((k) => k.kid)).size).toBe(1);
    expect(new Set(keys.map((k) => k.certificatePem)).size).toBe(1);
    const rows = await t.app.store.db.selectFrom('registry_signing_keys').selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.kid).toBe(keys[0]!.kid);
    expect(rows[0]!.private_key_encrypted).toMatch(/^v1:/);
    expect(rows[0]!.private_key_encrypted).not.toMatch(/PRIVATE KEY/);
    // Another server secret cannot open it, and says why.
    const stranger = createRegistryModule({ store: t.app.store, clock: t.clock, random: t.app.services.random, verifier: t.app.services.verifier, namespaces: t.app.services.namespaces, serverSecret: 'another-secret-0123456789abcdef0123456789', settings });
    await expect(stranger.keys.current()).rejects.toThrow(/LATCHKEY_SECRET differs/);
  });
});
