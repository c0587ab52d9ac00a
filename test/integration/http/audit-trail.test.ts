/**
 * The audit trail of a scripted session on both stores: a project access token and a deploy token are
 * created, used (once with the secret in the query string), rotated, used with the rotated-away
 * secret (a reuse attempt), revoked, notified and expired — every request and token event is recorded
 * with actor, token id and `sha256:` hash, method, route, path, status, user agent and IP, and the
 * secret appears nowhere: not in any table, not in any captured log line. Then who may read the log
 * (admin, group Owner scoped to its tree, 403 for others), the filters, keyset pagination and bad input.
 */
import { createHash, createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { dumpDatabase } from '../../support/dump-database.js';
import { seedWorld, startTestApp, TEST_SECRET, type TestApp, type World } from '../../support/test-app.js';

const START = '2026-11-23T10:00:00.000Z';
const UA = 'audit-test-agent/1.0';
const hashOf = (secret: string) => `sha256:${createHash('sha256').update(createHmac('sha256', TEST_SECRET).update(secret).digest('hex')).digest('hex')}`;

describe.each(DIALECTS)('audit trail on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  const logLines: string[] = [];
  const secrets: string[] = [];
  let projectToken: { id: number; token: string };
  let rotated: { id: number; token: string };
  let deployToken: { id: number; token: string; username: string };
  let events: any[];

  const audit = async (query: string, token = w.adminToken) => t.request('GET', `/api/v4/latchkey/audit_events?${query}`, { token });
  /** Every entry matching `query`, through keyset pagination (oldest first for readability). */
  const allEntries = async (query: string) => {
    const out: any[] = [];
    let url: string | null = `/api/v4/latchkey/audit_events?per_page=100&${query}`;
    while (url) {
      const res = await t.request('GET', url, { token: w.adminToken });
      expect(res.status, res.text).toBe(200);
      out.push(...res.body);
      const link = res.headers.link as string | undefined;
      url = link ? new URL(/<([^>]+)>; rel="next"/.exec(link)![1]!).pathname + new URL(/<([^>]+)>; rel="next"/.exec(link)![1]!).search : null;
    }
    return out.reverse();
  };

  beforeAll(async () => {
    t = await startTestApp(dialect, { now: START, env: { LATCHKEY_LOG_LEVEL: 'info', LATCHKEY_AUDIT_FLUSH_MS: '60000' }, logStream: { write: (line) => void logLines.push(line) } });
    w = await seedWorld(t);
    secrets.push(w.adminToken, ...Object.values(w.users).map((u) => u.token));
    const headers = { 'user-agent': UA };

    // Create (admin), use (bot), rotate, use the new secret, revoke, then present the rotated-away one.
    projectToken = (await t.request('POST', `/api/v4/projects/${w.project.id}/access_tokens`, { token: w.adminToken, headers, body: { name: 'ci', scopes: ['read_api'], access_level: 30, expires_at: '2026-11-28' } })).body;
    secrets.push(projectToken.token);
    expect((await t.request('GET', `/api/v4/projects/${w.project.id}`, { token: projectToken.token, headers })).status).toBe(200);
    // The secret in the query string: the log keeps the path only.
    expect((await t.request('GET', `/api/v4/projects/${w.project.id}?private_token=${projectToken.token}`, { headers })).status).toBe(200);
    t.clock.set('2026-11-23T10:01:00.000Z');
    rotated = (await t.request('POST', `/api/v4/projects/${w.project.id}/access_tokens/${projectToken.id}/rotate`, { token: w.adminToken, headers, body: { expires_at: '2026-11-28' } })).body;
    secrets.push(rotated.token);
    expect((await t.request('GET', `/api/v4/projects/${w.project.id}`, { token: rotated.token, headers })).status).toBe(200);
    expect((await t.request('DELETE', `/api/v4/projects/${w.project.id}/access_tokens/${rotated.id}`, { token: w.adminToken, headers })).status).toBe(204);
    t.clock.set('2026-11-23T10:02:00.000Z');
    expect((await t.request('GET', `/api/v4/projects/${w.project.id}`, { token: projectToken.token, headers })).status).toBe(401);

    // A deploy token: created, refused on the API (not_for_api), attributed all the same.
    deployToken = (await t.request('POST', `/api/v4/projects/${w.project.id}/deploy_tokens`, { token: w.adminToken, headers, body: { name: 'pull', scopes: ['read_registry'], expires_at: '2026-11-28' } })).body;
    secrets.push(deployToken.token);
    expect((await t.request('GET', `/api/v4/projects/${w.project.id}`, { token: deployToken.token, headers })).status).toBe(401);

    // The deploy token is notified (expiring within 7 days), then expires.
    await t.app.services.expiryNotifier.run();
    t.clock.set('2026-11-28T00:30:00.000Z');
    await t.app.services.expiryNotifier.run();
    await t.app.services.auditWriter.flush();
    events = await allEntries('');
  });
  afterAll(() => t?.close());

  it('records every request and token event of the session, in order', async () => {
    const ofToken = (id: number) => events.filter((e) => e.token_id === id).map((e) => (e.event === 'http.request' ? `${e.method} ${e.route} ${e.status}` : e.event));
    expect(ofToken(projectToken.id)).toEqual([
      'token.created',
      'GET /api/v4/projects/:id 200',
      'GET /api/v4/projects/:id 200',
      // (the rotate request itself is the admin's: it carries the admin's token id)
      'token.rotated',
      // The rotated-away secret presented again: refused, and recorded as a reuse attempt.
      'token.reuse_attempt',
      'GET /api/v4/projects/:id 401',
    ]);
    expect(ofToken(rotated.id)).toEqual([
      // created by the rotation (no token.created: the rotated event names it as new_token_id)
      'GET /api/v4/projects/:id 200',
      'token.revoked',
      // revoked: no expiry notices (they are for active tokens)
    ]);
    expect(ofToken(deployToken.id)).toEqual(['token.created', 'GET /api/v4/projects/:id 401', 'token.expiring', 'token.expired']);
    expect(events.find((e) => e.event === 'token.rotated' && e.token_id === projectToken.id).details).toMatchObject({ new_token_id: rotated.id, by: 'root' });
    expect(events.find((e) => e.event === 'token.reuse_attempt' && e.token_id === projectToken.id)).toMatchObject({
      ip: '127.0.0.1',
      user_agent: UA,
      details: { endpoint: `GET /api/v4/projects/${w.project.id}`, rotated_at: '2026-11-23T10:01:00.000Z' },
    });
    expect(events.find((e) => e.event === 'token.revoked' && e.token_id === rotated.id)).toMatchObject({ actor_type: 'user', actor_username: 'root', actor_id: w.admin.id, details: { by: 'root' } });
    // ids are dense and ascending: the chain's order
    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
  });

  it('each request entry has time, actor, token id and hash, method, route, path, status, user agent and IP', () => {
    const use = events.find((e) => e.event === 'http.request' && e.token_id === projectToken.id && e.status === 200);
    expect(use).toMatchObject({
      created_at: START,
      actor_type: 'bot',
      actor_username: expect.stringMatching(/^project_\d+_bot_/),
      token_id: projectToken.id,
      token_hash: hashOf(projectToken.token),
      method: 'GET',
      route: '/api/v4/projects/:id',
      path: `/api/v4/projects/${w.project.id}`,
      status: 200,
      user_agent: UA,
      ip: '127.0.0.1',
      project_id: w.project.id,
    });
    const refused = events.find((e) => e.event === 'http.request' && e.token_id === projectToken.id && e.status === 401);
    expect(refused).toMatchObject({ actor_type: null, token_hash: hashOf(projectToken.token), path: `/api/v4/projects/${w.project.id}` });
    const admin = events.find((e) => e.event === 'http.request' && e.method === 'POST' && e.route === '/api/v4/projects/:id/access_tokens');
    expect(admin).toMatchObject({ actor_type: 'user', actor_username: 'root', actor_id: w.admin.id, status: 201, token_hash: hashOf(w.adminToken) });
    const rotate = events.find((e) => e.event === 'http.request' && e.route === '/api/v4/projects/:id/access_tokens/:token_id/rotate');
    expect(rotate).toMatchObject({ actor_username: 'root', status: 200, path: `/api/v4/projects/${w.project.id}/access_tokens/${projectToken.id}/rotate` });
    const deployUse = events.find((e) => e.event === 'http.request' && e.token_id === deployToken.id);
    expect(deployUse).toMatchObject({ token_hash: hashOf(deployToken.token), status: 401 });
  });

  it('contains no secret anywhere: not in any table, not in any log line', async () => {
    const dump = await dumpDatabase(t.app.store);
    expect(Object.keys(dump)).toEqual(expect.arrayContaining(['audit_events', 'tokens', 'webhook_deliveries']));
    expect(dump.audit_events!.length).toBeGreaterThan(1000);
    expect(logLines.length).toBeGreaterThan(10);
    expect(logLines.join('\n')).toContain('/api/v4/projects/');
    expect(secrets).toHaveLength(11);
    for (const secret of secrets) {
      for (const [table, text] of Object.entries(dump)) expect(text.includes(secret), `${table} contains a secret`).toBe(false);
      expect(logLines.some((l) => l.includes(secret)), 'a log line contains a secret').toBe(false);
    }
  });

  it('filters by token id, token hash, actor, event, status, project, group and time', async () => {
    const ids = (res: { body: any[] }) => res.body.map((e) => e.id);
    const byHash = await audit(`token_hash=${encodeURIComponent(hashOf(projectToken.token))}&per_page=100`);
    expect(byHash.status).toBe(200);
    expect(ids(byHash)).toEqual(ids(await audit(`token_id=${projectToken.id}&per_page=100`)));
    expect(byHash.body).toHaveLength(6);
    const created = await audit('event=token.created&per_page=100');
    expect(created.body.map((e: any) => e.token_id)).toEqual(expect.arrayContaining([projectToken.id, deployToken.id]));
    expect(created.body.every((e: any) => e.event === 'token.created')).toBe(true);
    const refused = await audit('status=401&per_page=100');
    expect(refused.body.map((e: any) => e.token_id).sort()).toEqual([projectToken.id, deployToken.id].sort());
    const byActor = await audit('actor=root&event=http.request&per_page=100');
    expect(byActor.body.length).toBeGreaterThan(3);
    expect(byActor.body.every((e: any) => e.actor_username === 'root')).toBe(true);
    const inProject = await audit(`project=${encodeURIComponent('acme/platform/web')}&per_page=100`);
    expect(new Set(inProject.body.map((e: any) => e.token_id))).toEqual(new Set([projectToken.id, rotated.id, deployToken.id]));
    const inGroup = await audit(`group=${w.top.id}&per_page=100`);
    expect(ids(inGroup)).toEqual(ids(inProject));
    expect((await audit(`group=${encodeURIComponent('acme/other')}`)).body).toEqual([]);
    const window = await audit(`created_after=2026-11-23T10:01:00Z&created_before=2026-11-23T10:01:59Z&per_page=100`);
    expect(window.body.length).toBeGreaterThan(0);
    expect(window.body.every((e: any) => e.created_at.startsWith('2026-11-23T10:01:'))).toBe(true);
  });

  it('keyset pagination: pages follow the Link header, newest first, no overlap, no gap', async () => {
    const seen: number[] = [];
    let url: string | null = '/api/v4/latchkey/audit_events?pagination=keyset&per_page=7';
    let pages = 0;
    while (url) {
      const res = await t.request('GET', url, { token: w.adminToken });
      expect(res.status).toBe(200);
      expect(res.body.length).toBeLessThanOrEqual(7);
      seen.push(...res.body.map((e: any) => e.id));
      const m = /<([^>]+)>; rel="next"/.exec((res.headers.link as string) ?? '');
      url = m ? m[1]!.replace(/^https?:\/\/[^/]+/, '') : null;
      pages++;
    }
    // (the listing requests themselves are queued, not yet written: the set is stable while paging)
    expect(pages).toBeGreaterThan(3);
    expect(seen).toEqual([...seen].sort((a, b) => b - a));
    expect(seen.at(-1)).toBe(1);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBe(seen[0]);
  });

  it('a group Owner sees its tree only; a Maintainer and an outsider are refused', async () => {
    await t.app.services.auditWriter.flush();
    const owner = await audit('per_page=100', w.users.owner.token);
    expect(owner.status).toBe(200);
    expect(owner.body.length).toBeGreaterThan(5);
    expect(owner.body.every((e: any) => e.project_id === w.project.id)).toBe(true);
    expect((await audit(`group=${encodeURIComponent('acme/platform')}`, w.users.owner.token)).status).toBe(200);
    // acme (the parent) is not the owner's: not even visible
    expect((await audit(`group=acme`, w.users.owner.token)).status).toBe(404);
    for (const role of ['maintainer', 'outsider'] as const) {
      const res = await audit('', w.users[role].token);
      expect(res.status).toBe(403);
      expect(res.body).toEqual({ message: '403 Forbidden' });
    }
    expect((await t.request('GET', '/api/v4/latchkey/audit_events')).status).toBe(401);
  });

  it.each([
    ['token_hash=abc', 400],
    ['created_after=yesterday', 400],
    ['created_before=2026-13-45T99:00:00Z', 400],
    ['cursor=not-a-cursor', 400],
    [`cursor=${Buffer.from('{"id_before":99999999999}').toString('base64url')}`, 400],
    [`cursor=${Buffer.from('{"id_before":-1}').toString('base64url')}`, 400],
    ['project=99999999999', 404],
    ['group=..%2Fetc', 404],
    ['per_page=0', 400],
    ['status=42', 400],
    ['token_id=x', 400],
    ['project=999999', 404],
  ])('bad query %s answers %i, never 500', async (query, status) => {
    const res = await audit(query);
    expect(res.status, res.text).toBe(status);
    expect(typeof (res.body.error ?? res.body.message)).toBe('string');
  });
});
