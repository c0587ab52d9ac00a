/**
 * GitLab's project and group hooks API (issue 11 item 6): registration as GitLab documents it (fields,
 * defaults, Maintainer+/Owner, errors, the token write-only and sealed), and GitLab's
 * expiring_access_token / expiring_deploy_token deliveries at 60, 30 and 7 days through the expiry job
 * and the webhook dispatcher to a real HTTP receiver, bodies compared with GitLab's documented examples.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';
import { startReceiver, type Receiver } from './webhooks-receiver.js';

const enc = encodeURIComponent;
const projectHooks = (path = 'acme/platform/web') => `/api/v4/projects/${enc(path)}/hooks`;
const groupHooks = (path: string) => `/api/v4/groups/${enc(path)}/hooks`;

/** doc/user/project/integrations/webhook_events.md, "Project and group access token events" (payload example for project). */
const DOC_ACCESS_TOKEN_PROJECT = {
  object_kind: 'access_token',
  project: {
    id: 7, name: 'Flight', description: 'Eum dolore maxime atque reprehenderit voluptatem.', web_url: 'https://example.com/flightjs/Flight', avatar_url: null,
    git_ssh_url: 'ssh://git@example.com/flightjs/Flight.git', git_http_url: 'https://example.com/flightjs/Flight.git', namespace: 'Flightjs', visibility_level: 0,
    path_with_namespace: 'flightjs/Flight', default_branch: 'master', ci_config_path: null, homepage: 'https://example.com/flightjs/Flight',
    url: 'ssh://git@example.com/flightjs/Flight.git', ssh_url: 'ssh://git@example.com/flightjs/Flight.git', http_url: 'https://example.com/flightjs/Flight.git',
  },
  object_attributes: { user_id: 90, created_at: '2024-01-24 16:27:40 UTC', id: 25, name: 'acd', expires_at: '2024-01-26', last_used_at: '2024-01-20 10:15:30 UTC' },
  event_name: 'expiring_access_token',
};
/** The same section's payload example for group. */
const DOC_ACCESS_TOKEN_GROUP = {
  object_kind: 'access_token',
  group: { group_name: 'Twitter', group_path: 'twitter', group_id: 35, full_path: 'twitter' },
  object_attributes: { user_id: 90, created_at: '2024-01-24 16:27:40 UTC', id: 25, name: 'acd', expires_at: '2024-01-26', last_used_at: '2024-01-20 10:15:30 UTC' },
  event_name: 'expiring_access_token',
};
/** "Project and group deploy token events" (payload example for project). */
const DOC_DEPLOY_TOKEN_PROJECT = {
  object_kind: 'deploy_token',
  project: DOC_ACCESS_TOKEN_PROJECT.project,
  object_attributes: { id: 79, name: 'seven-days-6days', expires_at: '2025-08-03 07:57:25 UTC', created_at: '2025-07-28 07:57:25 UTC', revoked: false, deploy_token_type: 'project_type' },
  event_name: 'expiring_deploy_token',
};

/** GitLab's expiring workers merge the interval into the body (Gitlab::DataBuilder::Resource*TokenPayload.build(..., { interval: :seven_days })). */
const withInterval = (doc: object) => ({ ...doc, interval: 'seven_days' });
/** Keys (recursively, in order) of a JSON object: the shape a receiver parses. */
const keysOf = (v: unknown): unknown => (v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, keysOf(x)])) : true);

describe.each(DIALECTS)('GitLab project and group hooks on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let receiver: Receiver;

  beforeAll(async () => {
    // 2026-11-23: a token expiring 2027-01-20 is 58 days out (60-day notice), then 30, then 7.
    t = await startTestApp(dialect, { env: { LATCHKEY_WEBHOOK_ALLOW_LOCAL_NETWORK: 'true', LATCHKEY_PUBLIC_URL: 'https://latchkey.example.com' } });
    w = await seedWorld(t);
  });
  afterAll(() => t?.close());
  afterEach(async () => {
    await receiver?.close();
    for (const url of [projectHooks(), groupHooks('acme'), groupHooks('acme/platform')]) {
      const list = await t.request('GET', url, { token: w.adminToken });
      for (const h of list.body) await t.request('DELETE', `${url}/${h.id}`, { token: w.adminToken });
    }
  });

  it('registers a project hook with GitLab\'s fields and defaults; the token is write-only and stored sealed', async () => {
    const created = await t.request('POST', projectHooks(), {
      token: w.users.maintainer.token,
      body: { url: 'https://receiver.example.com/hook', token: 'receiver-secret-123', resource_access_token_events: true, push_events: false, name: 'Expiry', custom_headers: [{ key: 'X-Team', value: 'platform-secret-value' }] },
    });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.any(Number), url: 'https://receiver.example.com/hook', name: 'Expiry', description: null, created_at: t.clock.now().toISOString(),
      push_events: false, tag_push_events: false, merge_requests_events: false, repository_update_events: false, enable_ssl_verification: true,
      alert_status: 'executable', disabled_until: null, url_variables: [], push_events_branch_filter: null, branch_filter_strategy: 'wildcard',
      custom_webhook_template: null, custom_headers: [{ key: 'X-Team' }], token_present: true, project_id: w.project.id,
      issues_events: false, confidential_issues_events: false, note_events: false, confidential_note_events: null, pipeline_events: false, wiki_page_events: false,
      deployment_events: false, feature_flag_events: false, job_events: false, releases_events: false, milestone_events: false, emoji_events: false,
      resource_access_token_events: true, resource_deploy_token_events: false, vulnerability_events: false,
    });
    const id = created.body.id;
    expect(created.text).not.toContain('receiver-secret-123');
    expect(created.text).not.toContain('platform-secret-value');

    const got = await t.request('GET', `${projectHooks()}/${id}`, { token: w.users.maintainer.token });
    expect(got.status).toBe(200);
    expect(got.body).toEqual(created.body);
    const listed = await t.request('GET', projectHooks(), { token: w.users.owner.token });
    expect(listed.body).toEqual([created.body]);
    expect(listed.headers['x-total']).toBe('1');
    // By id as well as by path; the other project's list is its own.
    expect((await t.request('GET', `/api/v4/projects/${w.project.id}/hooks/${id}`, { token: w.adminToken })).body.id).toBe(id);
    expect((await t.request('GET', `${projectHooks('acme/other/site')}/${id}`, { token: w.adminToken })).status).toBe(404);

    const row = await t.app.store.db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain('receiver-secret-123');
    expect(JSON.stringify(row)).not.toContain('platform-secret-value');
    expect(row.secret_encrypted).toMatch(/^v1:/);
    // A GitLab hook is not a Latchkey-format hook: it is not listed there.
    expect((await t.request('GET', '/api/v4/latchkey/webhooks', { token: w.adminToken })).body).toEqual([]);

    // PUT changes what is given; a new URL resets the token unless one comes with it (GitLab).
    const edited = await t.request('PUT', `${projectHooks()}/${id}`, { token: w.users.maintainer.token, body: { resource_deploy_token_events: true, description: 'tokens' } });
    expect(edited.status).toBe(200);
    expect(edited.body).toMatchObject({ resource_access_token_events: true, resource_deploy_token_events: true, description: 'tokens', token_present: true, push_events: false });
    const moved = await t.request('PUT', `${projectHooks()}/${id}`, { token: w.users.maintainer.token, body: { url: 'https://other.example.com/hook' } });
    expect(moved.body).toMatchObject({ url: 'https://other.example.com/hook', token_present: false, custom_headers: [{ key: 'X-Team' }] });
    const retoken = await t.request('PUT', `${projectHooks()}/${id}`, { token: w.users.maintainer.token, body: { url: 'https://receiver.example.com/hook', token: 'again' } });
    expect(retoken.body.token_present).toBe(true);

    // Custom headers one at a time.
    expect((await t.request('PUT', `${projectHooks()}/${id}/custom_headers/X-Env`, { token: w.users.maintainer.token, body: { value: 'prod' } })).status).toBe(204);
    expect((await t.request('GET', `${projectHooks()}/${id}`, { token: w.users.maintainer.token })).body.custom_headers).toEqual([{ key: 'X-Team' }, { key: 'X-Env' }]);
    expect((await t.request('DELETE', `${projectHooks()}/${id}/custom_headers/X-Team`, { token: w.users.maintainer.token })).status).toBe(204);
    expect((await t.request('DELETE', `${projectHooks()}/${id}/custom_headers/X-Team`, { token: w.users.maintainer.token })).body).toEqual({ message: '404 Not found' });

    expect((await t.request('DELETE', `${projectHooks()}/${id}`, { token: w.users.maintainer.token })).status).toBe(204);
    expect(await t.request('GET', `${projectHooks()}/${id}`, { token: w.users.maintainer.token })).toMatchObject({ status: 404, body: { message: '404 Not found' } });
    expect((await t.request('DELETE', `${projectHooks()}/${id}`, { token: w.users.maintainer.token })).status).toBe(404);
  });

  it('refuses who GitLab refuses and bad input as GitLab does, changing nothing', async () => {
    const body = { url: 'https://receiver.example.com/hook' };
    // Project hooks: Maintainer+; group hooks: Owner.
    expect((await t.request('POST', projectHooks(), { token: w.users.developer.token, body })).status).toBe(403);
    expect((await t.request('GET', projectHooks(), { token: w.users.developer.token })).status).toBe(403);
    // Authorised before the body is read, as Grape's `before`: 403, not 400.
    expect((await t.request('POST', projectHooks(), { token: w.users.developer.token, body: { url: 'not-a-url', push_events: 'maybe' } })).status).toBe(403);
    expect((await t.request('GET', `${projectHooks()}/1`, { token: w.users.outsider.token })).body).toEqual({ message: '404 Project Not Found' });
    expect((await t.request('GET', projectHooks(), { token: w.users.outsider.token })).body).toEqual({ message: '404 Project Not Found' });
    expect((await t.request('GET', projectHooks(), { token: null })).status).toBe(401);
    expect((await t.request('POST', groupHooks('acme/platform'), { token: w.users.maintainer.token, body })).status).toBe(403);
    const groupHook = await t.request('POST', groupHooks('acme/platform'), { token: w.users.owner.token, body: { ...body, resource_deploy_token_events: true, member_events: true } });
    expect(groupHook.status).toBe(201);
    expect(groupHook.body).toMatchObject({ group_id: w.sub.id, resource_deploy_token_events: true, member_events: true, subgroup_events: false, push_events: true, token_present: false });
    expect(groupHook.body).not.toHaveProperty('project_id');
    // A group's hook is not reachable under a project or another group.
    expect((await t.request('GET', `${groupHooks('acme')}/${groupHook.body.id}`, { token: w.adminToken })).status).toBe(404);
    expect((await t.request('GET', `${projectHooks()}/${groupHook.body.id}`, { token: w.adminToken })).status).toBe(404);

    const before = Number((await t.app.store.db.selectFrom('webhooks').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    const admin = w.adminToken;
    expect(await t.request('POST', projectHooks(), { token: admin, body: {} })).toMatchObject({ status: 400, body: { error: 'url is missing' } });
    expect(await t.request('POST', projectHooks(), { token: admin, body: { url: 'not-a-url' } })).toMatchObject({ status: 422, body: { error: 'Invalid url given' } });
    expect(await t.request('POST', projectHooks(), { token: admin, body: { url: 'ftp://example.com/x' } })).toMatchObject({ status: 422, body: { error: 'Invalid url given' } });
    expect(await t.request('POST', projectHooks(), { token: admin, body: { ...body, push_events: 'maybe' } })).toMatchObject({ status: 400, body: { error: 'push_events is invalid' } });
    expect(await t.request('POST', projectHooks(), { token: admin, body: { ...body, branch_filter_strategy: 'glob' } })).toMatchObject({ status: 400, body: { error: 'branch_filter_strategy does not have a valid value' } });
    expect(await t.request('POST', projectHooks(), { token: admin, body: { ...body, token: 'a\r\nX-Injected: 1' } })).toMatchObject({ status: 400, body: { error: 'token is invalid' } });
    expect((await t.request('POST', projectHooks(), { token: admin, body: { ...body, custom_headers: [{ key: 'X-Gitlab-Token', value: 'forged' }] } })).status).toBe(400);
    expect((await t.request('POST', projectHooks(), { token: admin, body: { ...body, custom_headers: [{ key: 'Bad Header', value: 'x' }] } })).status).toBe(400);
    expect((await t.request('POST', projectHooks(), { token: admin, body: { ...body, url_variables: [{ key: 'a', value: 'b' }] } })).status).toBe(400);
    expect((await t.request('POST', projectHooks(), { token: admin, body: { ...body, custom_webhook_template: '{"a":"{{object_kind}}"}' } })).status).toBe(400);
    expect(await t.request('PUT', `${groupHooks('acme/platform')}/${groupHook.body.id}`, { token: admin, body: {} })).toMatchObject({ status: 400, body: { error: 'No parameters provided' } });
    expect(await t.request('PUT', `${groupHooks('acme/platform')}/${groupHook.body.id}`, { token: admin, body: { url: 'nope' } })).toMatchObject({ status: 422, body: { error: 'Invalid url given' } });
    expect(await t.request('GET', `${projectHooks()}/abc`, { token: admin })).toMatchObject({ status: 400, body: { error: 'hook_id is invalid' } });
    expect(Number((await t.app.store.db.selectFrom('webhooks').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)).toBe(before);
    expect((await t.request('GET', `${groupHooks('acme/platform')}/${groupHook.body.id}`, { token: admin })).body.url).toBe(body.url);
  });

  it('sends expiring_access_token and expiring_deploy_token at 60, 30 and 7 days with GitLab\'s headers and bodies', async () => {
    receiver = await startReceiver();
    const projectHook = await t.request('POST', projectHooks(), { token: w.users.maintainer.token, body: { url: receiver.url, token: 'gl-hook-secret', resource_access_token_events: true, resource_deploy_token_events: true, custom_headers: [{ key: 'X-Team', value: 'platform' }] } });
    const groupHook = await t.request('POST', groupHooks('acme'), { token: w.adminToken, body: { url: `${receiver.url}?group`, resource_access_token_events: true } });
    // Subscribed to nothing this test produces: receives nothing.
    await t.request('POST', groupHooks('acme/platform'), { token: w.adminToken, body: { url: `${receiver.url}?none`, push_events: true } });
    expect([projectHook.status, groupHook.status]).toEqual([201, 201]);

    const web = { type: 'project' as const, project: w.project };
    const { resourceTokens, deployTokens, personalTokens } = t.app.services;
    const bot = await resourceTokens.create(w.admin, web, { name: 'ci-bot', scopes: ['read_api'], expiresAt: '2027-01-20' });
    const groupBot = await resourceTokens.create(w.admin, { type: 'group', group: w.sub }, { name: 'group-bot', scopes: ['read_api'], expiresAt: '2027-01-20' });
    const deploy = await deployTokens.create(w.admin, web, { name: 'registry-pull', scopes: ['read_registry'], expiresAt: '2027-01-20' });
    await personalTokens.createFor(w.users.developer.user, { name: 'laptop', scopes: ['read_api'], expiresAt: '2027-01-20' }, null);

    const received = async () => {
      await t.app.services.expiryNotifier.run();
      await t.app.services.webhookDispatcher.runDue();
      return receiver.received.splice(0).map((r) => ({ headers: r.headers, body: JSON.parse(r.rawBody) }));
    };

    const sixty = await received();
    // Project hook: the project token and the project deploy token; acme's group hook: the project token
    // and the group token of acme/platform (in its tree); the ?none hook nothing.
    const summary = (list: typeof sixty) => list.map((r) => [r.headers['x-gitlab-event'], r.body.event_name, r.body.object_attributes.name, r.headers['x-gitlab-token'] ?? null, r.body.interval]).sort((a, b) => String(a).localeCompare(String(b)));
    expect(summary(sixty)).toEqual(
      [
        ['Resource Access Token Hook', 'expiring_access_token', 'ci-bot', 'gl-hook-secret', 'sixty_days'],
        ['Resource Access Token Hook', 'expiring_access_token', 'ci-bot', null, 'sixty_days'],
        ['Resource Access Token Hook', 'expiring_access_token', 'group-bot', null, 'sixty_days'],
        ['Resource Deploy Token Hook', 'expiring_deploy_token', 'registry-pull', 'gl-hook-secret', 'sixty_days'],
      ].sort((a, b) => String(a).localeCompare(String(b))),
    );

    const projectBody = sixty.find((r) => r.body.object_attributes.id === bot.token.id && r.headers['x-gitlab-token'])!.body;
    expect(keysOf(projectBody)).toEqual(keysOf(withInterval(DOC_ACCESS_TOKEN_PROJECT)));
    expect(projectBody).toEqual({
      object_kind: 'access_token',
      project: {
        id: w.project.id, name: 'Web', description: null, web_url: 'https://latchkey.example.com/acme/platform/web', avatar_url: null, git_ssh_url: null,
        git_http_url: 'https://latchkey.example.com/acme/platform/web.git', namespace: 'Platform', visibility_level: 0, path_with_namespace: 'acme/platform/web',
        default_branch: null, ci_config_path: null, homepage: 'https://latchkey.example.com/acme/platform/web', url: null, ssh_url: null, http_url: 'https://latchkey.example.com/acme/platform/web.git',
      },
      object_attributes: { user_id: bot.token.userId, created_at: '2026-11-23 10:00:00 UTC', id: bot.token.id, name: 'ci-bot', expires_at: '2027-01-20', last_used_at: null },
      event_name: 'expiring_access_token',
      interval: 'sixty_days',
    });
    const groupBody = sixty.find((r) => r.body.object_attributes.id === groupBot.token.id)!.body;
    expect(keysOf(groupBody)).toEqual(keysOf(withInterval(DOC_ACCESS_TOKEN_GROUP)));
    expect(groupBody.group).toEqual({ group_name: 'Platform', group_path: 'platform', group_id: w.sub.id, full_path: 'acme/platform' });
    const deployBody = sixty.find((r) => r.body.event_name === 'expiring_deploy_token')!.body;
    expect(keysOf(deployBody)).toEqual(keysOf(withInterval(DOC_DEPLOY_TOKEN_PROJECT)));
    expect(deployBody.object_attributes).toEqual({ id: deploy.token.id, name: 'registry-pull', expires_at: '2027-01-20 00:00:00 UTC', created_at: '2026-11-23 10:00:00 UTC', revoked: false, deploy_token_type: 'project_type' });
    // Value types as GitLab's example wherever Latchkey has a value.
    for (const [ours, doc] of [[projectBody, withInterval(DOC_ACCESS_TOKEN_PROJECT)], [deployBody, withInterval(DOC_DEPLOY_TOKEN_PROJECT)]] as const) {
      const walk = (a: any, b: any) => {
        for (const k of Object.keys(b)) {
          if (a[k] === null || b[k] === null) continue;
          if (typeof b[k] === 'object') walk(a[k], b[k]);
          else expect([k, typeof a[k]]).toEqual([k, typeof b[k]]);
        }
      };
      walk(ours, doc);
    }

    // GitLab's headers on every delivery; custom headers too; nothing Latchkey-signed.
    for (const r of sixty) {
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers['x-gitlab-instance']).toBe('https://latchkey.example.com');
      expect(r.headers['x-gitlab-webhook-uuid']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(r.headers['x-gitlab-event-uuid']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(r.headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
      expect(r.headers['x-latchkey-signature']).toBeUndefined();
    }
    expect(new Set(sixty.map((r) => r.headers['x-gitlab-event-uuid'])).size).toBe(sixty.length);
    expect(sixty.filter((r) => r.headers['x-gitlab-token']).every((r) => r.headers['x-team'] === 'platform')).toBe(true);

    // Nothing more the same day; the 30-day and 7-day notices follow.
    expect(await received()).toEqual([]);
    t.clock.advance(30 * 86_400_000); // 2026-12-23: 28 days left
    expect(summary(await received()).map((r) => r[4])).toEqual(['thirty_days', 'thirty_days', 'thirty_days', 'thirty_days']);
    t.clock.advance(22 * 86_400_000); // 2027-01-14: 6 days left
    const seven = await received();
    expect(summary(seven).map((r) => r[4])).toEqual(['seven_days', 'seven_days', 'seven_days', 'seven_days']);
    expect(keysOf(seven.find((r) => r.body.event_name === 'expiring_deploy_token')!.body)).toEqual(keysOf(withInterval(DOC_DEPLOY_TOKEN_PROJECT)));
    // Expired: GitLab has no hook event for it.
    t.clock.advance(7 * 86_400_000);
    expect(await received()).toEqual([]);
  });

  it('applies the local-network guard of the other webhooks', async () => {
    const strict = await startTestApp(dialect);
    try {
      const sw = await seedWorld(strict);
      for (const url of ['http://127.0.0.1:9/hook', 'http://localhost/hook', 'http://169.254.169.254/latest', 'http://[::1]/x']) {
        expect(await strict.request('POST', projectHooks(), { token: sw.adminToken, body: { url } })).toMatchObject({ status: 422, body: { error: 'Url is blocked: Requests to the local network are not allowed' } });
      }
      expect((await strict.request('POST', projectHooks(), { token: sw.adminToken, body: { url: 'http://user:pw@example.com/' } })).status).toBe(422);
    } finally {
      await strict.close();
    }
  });
});
