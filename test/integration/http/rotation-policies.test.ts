/**
 * Scheduled rotation (issue 16 item 3 and the metrics of item 4) on both stores with the injected clock:
 * policies per entry and per group (validation, permissions, inheritance by subgroup entries, an entry's
 * own policy overriding), the scheduler starting exactly one rotation per due date at the policy's hour
 * (two ticks, two nodes on one store), the outcome of each scheduled run, `credential.rotated` /
 * `credential.rotation_failed` deliveries to a real receiver, the notice e-mail, and /metrics.
 *
 * The rotation job engine is another part of issue 16; here a double of its contract
 * (src/rotation/contracts.ts) records what is started and finishes jobs on the test's word.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../../src/app.js';
import { loadConfig } from '../../../src/config.js';
import type { RotationJob, RotationOptions, RotationService, RotationStep, StartedRotation } from '../../../src/rotation/contracts.js';
import type { User } from '../../../src/namespaces/namespace.js';
import { signDelivery } from '../../../src/webhooks/signature.js';
import { DIALECTS } from '../../support/dialects.js';
import { seededTokenGenerator } from '../../support/seeded-token-generator.js';
import { startSmtpSink, type SmtpSink } from '../../support/smtp-sink.js';
import { seedWorld, startTestApp, TEST_SECRET, type TestApp, type World } from '../../support/test-app.js';
import { startReceiver, type Receiver } from './webhooks-receiver.js';

const CREDENTIALS = '/api/v4/latchkey/credentials';

/** The jobs table the engine would keep in the store: shared by the nodes' engines. */
interface JobTable {
  nextId: number;
  jobs: Map<number, RotationJob>;
  starts: { node: string; actor: User | null; credentialId: number; options: RotationOptions }[];
  /** Entries whose start is refused with this reason (as the engine refuses a token that has expired meanwhile). */
  refuse?: Map<number, string>;
}

/** A double of the rotation engine: one running job per entry (a retried start answers it), jobs finished by `finish`. */
function engineDouble(node: string, table: JobTable, now: () => string): RotationService & { finish(id: number, state: 'succeeded' | 'failed', failure?: string, steps?: RotationStep[]): Promise<void> } {
  const listeners: ((job: RotationJob) => void | Promise<void>)[] = [];
  return {
    async start(actor, credentialId, options): Promise<StartedRotation> {
      table.starts.push({ node, actor, credentialId, options });
      const refusal = table.refuse?.get(credentialId);
      if (refusal !== undefined) throw new Error(refusal);
      const running = [...table.jobs.values()].find((j) => j.credentialId === credentialId && (j.state === 'running' || j.state === 'waiting'));
      if (running) return { job: running, created: false, secret: null };
      const job: RotationJob = {
        id: table.nextId++, credentialId, state: 'running', trigger: options.trigger, startedBy: actor?.id ?? null, oldTokenId: 1, newTokenId: null,
        gracePeriodSeconds: options.gracePeriodSeconds ?? 0, quietSeconds: options.quietSeconds ?? 0, failure: null, steps: [], createdAt: now(), updatedAt: now(), finishedAt: null,
      };
      table.jobs.set(job.id, job);
      return { job, created: true, secret: 'glpat-never-shown' };
    },
    onFinished(listener) {
      listeners.push(listener);
    },
    async revealSecret() {
      throw new Error('not part of this double');
    },
    async tasksDone() {},
    async finish(id, state, failure, steps) {
      const job = { ...table.jobs.get(id)!, state, failure: failure ?? null, updatedAt: now(), finishedAt: now(), newTokenId: state === 'succeeded' ? 2 : null, ...(steps ? { steps } : {}) };
      table.jobs.set(id, job);
      for (const l of listeners) await l(job);
    },
  };
}

describe.each(DIALECTS)('rotation policies and the scheduler on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let table: JobTable;
  let engine: ReturnType<typeof engineDouble>;
  let sink: SmtpSink;
  let receiver: Receiver;
  const others: App[] = [];

  beforeAll(async () => {
    sink = await startSmtpSink();
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await sink.stop();
    await receiver.close();
  });
  beforeEach(async () => {
    sink.mails.length = 0;
    receiver.received.length = 0;
    table = { nextId: 1, jobs: new Map(), starts: [] };
    let clockRef: { now(): Date } | null = null;
    engine = engineDouble('a', table, () => clockRef!.now().toISOString());
    t = await startTestApp(dialect, { now: '2026-12-03T10:00:00.000Z', env: { LATCHKEY_SMTP_URL: sink.url, LATCHKEY_MAIL_FROM: 'Latchkey <tokens@example.com>', LATCHKEY_WEBHOOK_ALLOW_LOCAL_NETWORK: 'true' }, overrides: { rotations: engine } });
    clockRef = t.clock;
    w = await seedWorld(t);
  });
  afterEach(async () => {
    for (const o of others.splice(0)) await o.close();
    await t?.close();
  });

  /** A second node on the same store and clock, with its own engine over the same jobs. */
  async function secondNode() {
    const engineB = engineDouble('b', table, () => t.clock.now().toISOString());
    const config = loadConfig({ LATCHKEY_SECRET: TEST_SECRET, LATCHKEY_LOG_LEVEL: 'silent', LATCHKEY_DATA_DIR: '/nonexistent-latchkey-test' });
    const app = await buildApp(config, { clock: t.clock, store: t.app.store, random: seededTokenGenerator(`${dialect}-b-${Math.random()}`), rotations: engineB });
    others.push(app);
    return { app, engine: engineB };
  }

  const groupToken = async (expiresAt: string) => {
    const res = await t.request('POST', `/api/v4/groups/${w.sub.id}/access_tokens`, { token: w.adminToken, body: { name: 'ci-bot', scopes: ['read_registry'], access_level: 30, expires_at: expiresAt } });
    expect(res.status).toBe(201);
    return res.body as { id: number };
  };
  const outside = async (slug: string, owner: string, expiresAt: string) => {
    const res = await t.request('POST', CREDENTIALS, { token: w.adminToken, body: { slug, name: slug, kind: 'api_key', owner, renewal: { expires_at: expiresAt } } });
    expect(res.status).toBe(201);
    return res.body as { id: number };
  };
  const policy = (ref: string, token: string) => t.request('GET', `${CREDENTIALS}/${ref}/rotation_policy`, { token });
  const putPolicy = (ref: string, token: string, body: unknown) => t.request('PUT', `${CREDENTIALS}/${ref}/rotation_policy`, { token, body });
  const putGroupPolicy = (group: string | number, token: string, body: unknown) => t.request('PUT', `/api/v4/latchkey/groups/${encodeURIComponent(String(group))}/rotation_policy`, { token, body });

  it('validates a policy, naming the field, and lets Maintainers and Owners of the owning group set it', async () => {
    await outside('npm-publish', 'acme/platform', '2027-01-10');
    const maintainer = w.users.maintainer.token;
    const bad: [unknown, Record<string, string[]>][] = [
      [{ hour: 3 }, { days_before_expiry: ['is missing'] }],
      [{ days_before_expiry: 0 }, { days_before_expiry: ['must be a whole number of days from 1 to 365'] }],
      [{ days_before_expiry: 366 }, { days_before_expiry: ['must be a whole number of days from 1 to 365'] }],
      [{ days_before_expiry: 7.5 }, { days_before_expiry: ['must be a whole number of days from 1 to 365'] }],
      [{ days_before_expiry: 7, hour: 24, notify: 'maybe', colour: 'red' }, { hour: ['must be a whole number of hours (UTC) from 0 to 23'], notify: ['must be true or false'], colour: ['is not a rotation policy field'] }],
      [{ days_before_expiry: 7, grace_period: 60, quiet_period: 120 }, { quiet_period: ['must not exceed grace_period (60 seconds): the old secret is revoked at the grace\'s end at the latest'] }],
      [{ days_before_expiry: 7, grace_period: 30 * 86400 + 1 }, { grace_period: ['must be a whole number of seconds from 0 to 2592000'] }],
      [[1], { base: ['must be an object'] }],
    ];
    for (const [body, message] of bad) {
      const res = await putPolicy('npm-publish', maintainer, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body).toEqual({ message });
    }
    expect((await policy('npm-publish', maintainer)).body.policy).toBeNull();

    // Who may: Reporters read, Developers and Reporters may not change (403), outsiders see nothing (404).
    expect((await putPolicy('npm-publish', w.users.developer.token, { days_before_expiry: 7 })).status).toBe(403);
    expect((await putPolicy('npm-publish', w.users.outsider.token, { days_before_expiry: 7 })).status).toBe(404);
    expect(await policy('npm-publish', w.users.outsider.token)).toMatchObject({ status: 404, body: { message: '404 Credential Not Found' } });
    expect((await policy('npm-publish', w.users.reporter.token)).status).toBe(200);

    const set = await putPolicy('npm-publish', maintainer, { days_before_expiry: 14, hour: '6', grace_period: 3600, quiet_period: 600, notify: true });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({
      credential: { slug: 'npm-publish', due_on: '2027-01-10' },
      policy: { days_before_expiry: 14, hour: 6, grace_period: 3600, quiet_period: 600, notify: true, enabled: true },
      effective: { days_before_expiry: 14, source: 'credential', group: null },
      rotates_at: '2026-12-27T06:00:00.000Z',
      last_runs: [],
    });
    // A later PUT changes the given fields only.
    // A new policy's quiet time defaults to an hour, within a shorter grace.
    await outside('short-grace', 'acme/platform', '2027-01-10');
    expect((await putPolicy('short-grace', maintainer, { days_before_expiry: 1, grace_period: 600 })).body.policy).toMatchObject({ grace_period: 600, quiet_period: 600 });
    expect((await putPolicy('short-grace', maintainer, { grace_period: 60 })).body).toEqual({ message: { quiet_period: ["must not exceed grace_period (60 seconds): the old secret is revoked at the grace's end at the latest"] } });
    const changed = await putPolicy('npm-publish', w.users.owner.token, { hour: 23, enabled: false });
    expect(changed.body.policy).toMatchObject({ days_before_expiry: 14, hour: 23, grace_period: 3600, notify: true, enabled: false });
    expect(changed.body.rotates_at).toBeNull();

    expect((await t.request('DELETE', `${CREDENTIALS}/npm-publish/rotation_policy`, { token: w.users.developer.token })).status).toBe(403);
    expect((await t.request('DELETE', `${CREDENTIALS}/npm-publish/rotation_policy`, { token: maintainer })).status).toBe(204);
    expect(await t.request('DELETE', `${CREDENTIALS}/npm-publish/rotation_policy`, { token: maintainer })).toMatchObject({ status: 404, body: { message: '404 Rotation Policy Not Found' } });
    expect((await policy('npm-publish', maintainer)).body).toMatchObject({ policy: null, effective: null, rotates_at: null });

    // Groups: Maintainer+ of the group sets it; a Reporter reads it; an outsider does not see the group.
    expect((await putGroupPolicy('acme/platform', w.users.reporter.token, { days_before_expiry: 7 })).status).toBe(403);
    expect(await putGroupPolicy('acme/platform', w.users.outsider.token, { days_before_expiry: 7 })).toMatchObject({ status: 404, body: { message: '404 Group Not Found' } });
    expect((await putGroupPolicy('acme/platform', maintainer, { days_before_expiry: 400 })).body).toEqual({ message: { days_before_expiry: ['must be a whole number of days from 1 to 365'] } });
    const group = await putGroupPolicy('acme/platform', maintainer, { days_before_expiry: 7 });
    expect(group.status).toBe(200);
    expect(group.body).toMatchObject({ group: { id: w.sub.id, full_path: 'acme/platform' }, policy: { days_before_expiry: 7, hour: 0, grace_period: 86400, quiet_period: 3600, notify: false, enabled: true }, effective: { source: 'group', group: { full_path: 'acme/platform' } } });
    expect((await t.request('GET', `/api/v4/latchkey/groups/${w.sub.id}/rotation_policy`, { token: w.users.reporter.token })).body.policy.days_before_expiry).toBe(7);
    // Nothing of the refused writes was stored.
    expect(await (t.app.store.db as any).selectFrom('rotation_policies').select(['credential_id', 'group_id', 'days_before_expiry', 'grace_period_seconds']).orderBy('id').execute()).toEqual([
      { credential_id: expect.any(Number), group_id: null, days_before_expiry: 1, grace_period_seconds: 600 },
      { credential_id: null, group_id: w.sub.id, days_before_expiry: 7, grace_period_seconds: 86400 },
    ]);
  });

  it("applies a group's policy to the entries of its subgroups, the nearest group's first, and an entry's own over both", async () => {
    await outside('npm-publish', 'acme/platform', '2027-01-10');
    expect((await putGroupPolicy('acme', w.adminToken, { days_before_expiry: 30, hour: 2 })).status).toBe(200);
    let view = (await policy('npm-publish', w.users.maintainer.token)).body;
    expect(view).toMatchObject({ policy: null, effective: { days_before_expiry: 30, source: 'group', group: { id: w.top.id, full_path: 'acme' } }, rotates_at: '2026-12-11T02:00:00.000Z' });
    // The sub-group's own policy is nearer.
    expect((await putGroupPolicy('acme/platform', w.adminToken, { days_before_expiry: 10 })).status).toBe(200);
    view = (await policy('npm-publish', w.users.maintainer.token)).body;
    expect(view).toMatchObject({ effective: { days_before_expiry: 10, group: { full_path: 'acme/platform' } }, rotates_at: '2026-12-31T00:00:00.000Z' });
    expect((await t.request('GET', `/api/v4/latchkey/groups/acme%2Fplatform/rotation_policy`, { token: w.adminToken })).body.effective.group.full_path).toBe('acme/platform');
    // The entry's own, disabled, overrides both: nothing is scheduled.
    expect((await putPolicy('npm-publish', w.users.maintainer.token, { days_before_expiry: 3, enabled: false })).status).toBe(200);
    view = (await policy('npm-publish', w.users.maintainer.token)).body;
    expect(view).toMatchObject({ effective: { days_before_expiry: 3, source: 'credential', enabled: false }, rotates_at: null });
  });

  it('starts one rotation per due date at the hour, on one of two nodes, and records its outcome', async () => {
    const token = await groupToken('2026-12-20');
    const ref = `token-${token.id}`;
    const set = await putPolicy(ref, w.users.maintainer.token, { days_before_expiry: 7, hour: 9, grace_period: 3600, quiet_period: 900, notify: true });
    expect(set.status).toBe(200);
    expect(set.body.rotates_at).toBe('2026-12-13T09:00:00.000Z');
    const entryId = set.body.credential.id as number;
    expect(entryId).toEqual(expect.any(Number));
    // An outside credential under a group policy cannot be rotated: recorded once.
    const npm = await outside('npm-publish', 'acme/platform', '2026-12-20');
    expect((await putGroupPolicy('acme/platform', w.adminToken, { days_before_expiry: 7, hour: 9 })).status).toBe(200);
    const hook = await t.request('POST', '/api/v4/latchkey/webhooks', { token: w.adminToken, body: { url: receiver.url, events: ['credential.rotated', 'credential.rotation_failed'] } });
    expect(hook.status).toBe(201);

    const b = await secondNode();
    const a = t.app.services.rotationScheduler;
    // The day before, and the day itself before 09:00: nothing.
    t.clock.set('2026-12-12T23:00:00.000Z');
    expect(await a.tick()).toMatchObject({ ran: true, started: 0, notRotatable: 0 });
    t.clock.set('2026-12-13T08:59:59.000Z');
    expect(await a.tick()).toMatchObject({ ran: true, started: 0 });
    expect(table.starts).toEqual([]);

    // 09:00: both nodes tick at once, then again, and again after a restart of b: one start in all.
    t.clock.set('2026-12-13T09:00:00.000Z');
    const first = await Promise.all([a.tick(), b.app.services.rotationScheduler.tick()]);
    expect(first.reduce((n, s) => n + s.started, 0)).toBe(1);
    expect(first.reduce((n, s) => n + s.notRotatable, 0)).toBe(1);
    expect(await a.tick()).toMatchObject({ started: 0 });
    t.clock.set('2026-12-13T10:30:00.000Z');
    expect(await b.app.services.rotationScheduler.tick()).toMatchObject({ ran: true, started: 0, notRotatable: 0 });
    expect(table.starts).toHaveLength(1);
    expect(table.starts[0]).toMatchObject({ actor: null, credentialId: entryId, options: { trigger: 'schedule', gracePeriodSeconds: 3600, quietSeconds: 900 } });
    const jobId = [...table.jobs.keys()][0]!;

    // The outside entry under the group's policy: its run says why nothing started, once (b's tick found it recorded).
    const npmView = (await policy('npm-publish', w.users.maintainer.token)).body;
    expect(npmView.last_runs).toEqual([{ due_on: '2026-12-20', policy: `group:${w.sub.id}`, state: 'not_rotatable', job_id: null, reason: expect.stringMatching(/^not rotatable: an outside credential/), scheduled_at: '2026-12-13T09:00:00.000Z', finished_at: '2026-12-13T09:00:00.000Z' }]);
    expect(npm.id).toBe(npmView.credential.id);

    let view = (await policy(ref, w.users.reporter.token)).body;
    expect(view.last_runs).toEqual([{ due_on: '2026-12-20', policy: 'credential', state: 'started', job_id: jobId, reason: null, scheduled_at: '2026-12-13T09:00:00.000Z', finished_at: null }]);

    // The job succeeds: the run says so, a signed credential.rotated delivery goes out, the Maintainers and Owners are told.
    t.clock.set('2026-12-13T09:05:00.000Z');
    await engine.finish(jobId, 'succeeded');
    view = (await policy(ref, w.users.reporter.token)).body;
    expect(view.last_runs[0]).toMatchObject({ state: 'succeeded', job_id: jobId, finished_at: '2026-12-13T09:05:00.000Z' });
    await t.app.services.webhookDispatcher.runDue();
    expect(receiver.received).toHaveLength(1);
    const got = receiver.received[0]!;
    expect(got.headers['x-latchkey-event']).toBe('credential.rotated');
    expect(got.headers['x-latchkey-signature']).toBe(signDelivery(hook.body.secret, Number(got.headers['x-latchkey-timestamp']), got.rawBody));
    const body = JSON.parse(got.rawBody);
    expect(body).toMatchObject({ event: 'credential.rotated', credential: { id: entryId, slug: `token-${token.id}`, owner: { id: w.sub.id, full_path: 'acme/platform' } }, job: { id: jobId, state: 'succeeded', trigger: 'schedule', failure: null } });
    expect(got.rawBody).not.toContain('glpat-');
    const notices = sink.mails.filter((m) => m.subject.includes('rotated'));
    expect(notices.flatMap((m) => m.rcptTo).sort()).toEqual(['maintainer@example.com', 'owner@example.com', 'root@example.com']);
    expect(notices[0]!.subject).toBe(`[Latchkey] credential "token-${token.id}" was rotated`);
    expect(notices[0]!.text).toContain(`Rotation job ${jobId}`);

    // Metrics: the outcome by trigger.
    const metrics = await t.app.services.metricsScraper.render();
    expect(metrics).toContain('latchkey_rotations_total{outcome="succeeded",trigger="schedule"} 1');
  });

  it('reports a failed job: the run, a credential.rotation_failed delivery with the reason, and the counter; no mail without notify; any trigger is delivered', async () => {
    const token = await groupToken('2026-12-20');
    const ref = `token-${token.id}`;
    expect((await putPolicy(ref, w.users.maintainer.token, { days_before_expiry: 7 })).status).toBe(200);
    const group = await t.request('POST', `/api/v4/groups/${w.top.id}/latchkey/webhooks`, { token: w.adminToken, body: { url: receiver.url, events: ['credential.rotation_failed'] } });
    expect(group.status).toBe(201);
    t.clock.set('2026-12-13T00:00:00.000Z');
    expect(await t.app.services.rotationScheduler.tick()).toMatchObject({ started: 1 });
    const jobId = [...table.jobs.keys()][0]!;
    await engine.finish(jobId, 'failed', 'placement 3: 403 Forbidden');
    expect((await policy(ref, w.users.maintainer.token)).body.last_runs[0]).toMatchObject({ state: 'failed', reason: 'placement 3: 403 Forbidden', job_id: jobId });
    // A job started by hand (API trigger) is reported to hooks and the counter too, and leaves the runs alone.
    const manual = await engine.start(w.admin, table.jobs.get(jobId)!.credentialId, { trigger: 'api' });
    await engine.finish(manual.job.id, 'failed', 'timed out after 10 s');
    await t.app.services.webhookDispatcher.runDue();
    const bodies = receiver.received.map((r) => JSON.parse(r.rawBody));
    expect(bodies.map((b) => [b.event, b.job.id, b.job.trigger, b.job.failure])).toEqual([
      ['credential.rotation_failed', jobId, 'schedule', 'placement 3: 403 Forbidden'],
      ['credential.rotation_failed', manual.job.id, 'api', 'timed out after 10 s'],
    ]);
    expect((await policy(ref, w.users.maintainer.token)).body.last_runs).toHaveLength(1);
    expect(sink.mails).toHaveLength(0);
    const metrics = await t.app.services.metricsScraper.render();
    expect(metrics).toContain('latchkey_rotations_total{outcome="failed",trigger="schedule"} 1');
    expect(metrics).toContain('latchkey_rotations_total{outcome="failed",trigger="api"} 1');
    // The failed due date is not tried again.
    expect(await t.app.services.rotationScheduler.tick()).toMatchObject({ started: 0 });
  });

  it('records a start the engine refuses as a failed run with its reason, once, and reports it as a failed rotation', async () => {
    const token = await groupToken('2026-12-20');
    const ref = `token-${token.id}`;
    const set = await putPolicy(ref, w.users.maintainer.token, { days_before_expiry: 7, notify: true });
    const hook = await t.request('POST', `/api/v4/groups/${w.top.id}/latchkey/webhooks`, { token: w.adminToken, body: { url: receiver.url, events: ['credential.rotation_failed'] } });
    expect(hook.status).toBe(201);
    table.refuse = new Map([[set.body.credential.id, 'Nothing to rotate: the token of x has expired']]);
    t.clock.set('2026-12-13T00:00:00.000Z');
    expect(await t.app.services.rotationScheduler.tick()).toMatchObject({ started: 0, failed: 1 });
    expect(await t.app.services.rotationScheduler.tick()).toMatchObject({ started: 0, failed: 0 });
    expect(table.starts).toHaveLength(1);
    expect((await policy(ref, w.users.maintainer.token)).body.last_runs).toEqual([
      expect.objectContaining({ due_on: '2026-12-20', state: 'failed', job_id: null, reason: 'Nothing to rotate: the token of x has expired', finished_at: '2026-12-13T00:00:00.000Z' }),
    ]);
    // No job exists, yet the owners hear of it: one credential.rotation_failed delivery (job null, the reason), one notice, the counter.
    await t.app.services.webhookDispatcher.runDue();
    expect(receiver.received.map((r) => JSON.parse(r.rawBody))).toEqual([
      expect.objectContaining({ event: 'credential.rotation_failed', job: null, trigger: 'schedule', failure: 'Nothing to rotate: the token of x has expired', credential: expect.objectContaining({ id: set.body.credential.id, slug: ref }) }),
    ]);
    const notices = sink.mails.filter((m) => m.subject.includes('failed'));
    expect(notices.flatMap((m) => m.rcptTo).sort()).toEqual(['maintainer@example.com', 'owner@example.com', 'root@example.com']);
    expect(notices[0]!.text).toContain('the token of x has expired');
    expect(notices[0]!.text).toContain('No rotation job was started');
    expect(await t.app.services.metricsScraper.render()).toContain('latchkey_rotations_total{outcome="failed",trigger="schedule"} 1');
  });

  it("rotates the Latchkey tokens of a group's tree under its policy, making their entries' rows; people's tokens have no owning group", async () => {
    const groupTok = await groupToken('2026-12-20');
    const projectTok = await t.request('POST', `/api/v4/projects/${w.project.id}/access_tokens`, { token: w.adminToken, body: { name: 'deployer', scopes: ['read_api'], access_level: 30, expires_at: '2026-12-21' } });
    expect(projectTok.status).toBe(201);
    const later = await t.request('POST', `/api/v4/projects/${w.project.id}/access_tokens`, { token: w.adminToken, body: { name: 'later', scopes: ['read_api'], access_level: 30, expires_at: '2027-03-01' } });
    expect(later.status).toBe(201);
    expect((await putGroupPolicy('acme', w.adminToken, { days_before_expiry: 7, hour: 0, grace_period: 600 })).status).toBe(200);
    expect(await (t.app.store.db as any).selectFrom('inventory_credentials').select('id').execute()).toEqual([]);
    const before = (await policy(`token-${groupTok.id}`, w.users.maintainer.token)).body;
    expect(before).toMatchObject({ credential: { id: null }, effective: { source: 'group', group: { full_path: 'acme' } }, rotates_at: '2026-12-13T00:00:00.000Z', last_runs: [] });

    t.clock.set('2026-12-13T00:00:00.000Z');
    expect(await t.app.services.rotationScheduler.tick()).toMatchObject({ started: 1 });
    t.clock.set('2026-12-14T00:00:00.000Z');
    expect(await t.app.services.rotationScheduler.tick()).toMatchObject({ started: 1 });
    expect(await t.app.services.rotationScheduler.tick()).toMatchObject({ started: 0 });
    const rows = await (t.app.store.db as any).selectFrom('inventory_credentials').select(['id', 'token_id', 'owner_group_id']).orderBy('id').execute();
    expect(rows.map((r: any) => [r.token_id, r.owner_group_id])).toEqual([[groupTok.id, w.sub.id], [projectTok.body.id, w.sub.id]]);
    expect(table.starts.map((s) => [s.credentialId, s.options.trigger, s.options.gracePeriodSeconds])).toEqual([[rows[0].id, 'schedule', 600], [rows[1].id, 'schedule', 600]]);
    const view = (await policy(`token-${projectTok.body.id}`, w.users.maintainer.token)).body;
    expect(view.last_runs).toEqual([expect.objectContaining({ due_on: '2026-12-21', policy: `group:${w.top.id}`, state: 'started' })]);
  });

  it('exposes placements out of sync by their last check', async () => {
    const entry = await t.request('POST', CREDENTIALS, {
      token: w.adminToken,
      body: { slug: 'registry', name: 'Registry', kind: 'gitlab_group_token', owner: 'acme/platform', renewal: { expires_at: '2027-01-10' }, placements: [
        { kind: 'ci_variable', instance: 'gitlab.com', project: 'a/b', key: 'A' },
        { kind: 'ci_variable', instance: 'gitlab.com', project: 'a/b', key: 'B' },
        { kind: 'ci_variable', instance: 'gitlab.com', project: 'a/b', key: 'C' },
        { kind: 'ci_variable', instance: 'gitlab.com', project: 'a/b', key: 'D' },
      ] },
    });
    expect(entry.status).toBe(201);
    const gauge = async () => /^latchkey_placements_out_of_sync (\d+)$/m.exec(await t.app.services.metricsScraper.render())?.[1];
    expect(await gauge()).toBe('0');
    const ids = entry.body.placements.map((p: { id: number }) => p.id);
    const statuses = ['stale', 'in_sync', 'cannot_read', 'no_fingerprint'];
    await (t.app.store.db as any)
      .insertInto('placement_checks')
      .values(ids.map((id: number, i: number) => ({ placement_id: id, credential_id: entry.body.id, status: statuses[i], detail: statuses[i], checked_at: '2026-12-03T10:00:00.000Z' })))
      .execute();
    expect(await gauge()).toBe('2');

    // A rotation job's writes and read-backs become the placements' last checks: A and C read back fine, B's write failed.
    const started = await engine.start(w.admin, entry.body.id, { trigger: 'api' });
    const step = (kind: RotationStep['kind'], placementId: number | null, state: RotationStep['state'], detail: string | null = null): RotationStep => ({ kind, placementId, state, detail, startedAt: null, finishedAt: null });
    await engine.finish(started.job.id, 'failed', `placement ${ids[1]}: 403 Forbidden`, [
      step('renew', null, 'done'), step('write', ids[0], 'done'), step('verify', ids[0], 'done'), step('write', ids[1], 'failed', '403 Forbidden'), step('verify', ids[1], 'skipped'),
      step('write', ids[2], 'done'), step('verify', ids[2], 'done'),
    ]);
    const checks = (await t.request('GET', `${CREDENTIALS}/registry/placement_checks`, { token: w.adminToken })).body;
    expect(checks.map((c: any) => [c.placement_id, c.status, c.detail])).toEqual([
      [ids[0], 'in_sync', `in sync: read back by rotation job ${started.job.id}`],
      [ids[1], 'stale', `rotation job ${started.job.id}: the write failed: 403 Forbidden`],
      [ids[2], 'in_sync', `in sync: read back by rotation job ${started.job.id}`],
      [ids[3], 'no_fingerprint', 'no_fingerprint'],
    ]);
    expect(await gauge()).toBe('1');
  });
});

describe.each(DIALECTS)('scheduled rotation with the rotation job engine on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver.close();
  });
  beforeEach(async () => {
    receiver.received.length = 0;
    t = await startTestApp(dialect, { now: '2026-12-03T10:00:00.000Z', env: { LATCHKEY_WEBHOOK_ALLOW_LOCAL_NETWORK: 'true' } });
    w = await seedWorld(t);
  });
  afterEach(() => t?.close());

  it("rotates a group token on its policy's day through the job: the old token stops, the run and the webhook say succeeded", async () => {
    const created = await t.request('POST', `/api/v4/groups/${w.sub.id}/access_tokens`, { token: w.adminToken, body: { name: 'ci-bot', scopes: ['read_api'], access_level: 30, expires_at: '2026-12-20' } });
    expect(created.status).toBe(201);
    const ref = `token-${created.body.id}`;
    expect((await t.request('PUT', `${CREDENTIALS}/${ref}/rotation_policy`, { token: w.users.maintainer.token, body: { days_before_expiry: 7, hour: 0, grace_period: 0 } })).status).toBe(200);
    const hook = await t.request('POST', '/api/v4/latchkey/webhooks', { token: w.adminToken, body: { url: receiver.url, events: ['credential.rotated', 'credential.rotation_failed'] } });
    expect(hook.status).toBe(201);
    expect((await t.request('GET', '/api/v4/personal_access_tokens/self', { token: created.body.token })).status).toBe(200);

    t.clock.set('2026-12-13T00:00:00.000Z');
    expect(await t.app.services.rotationScheduler.tick()).toMatchObject({ started: 1, failed: 0 });
    await t.app.services.rotations.resumeAll();
    const view = (await t.request('GET', `${CREDENTIALS}/${ref}/rotation_policy`, { token: w.users.maintainer.token })).body;
    expect(view.last_runs).toEqual([expect.objectContaining({ due_on: '2026-12-20', policy: 'credential', state: 'succeeded', job_id: expect.any(Number) })]);
    const jobId = view.last_runs[0].job_id;
    const job = (await t.request('GET', `/api/v4/latchkey/rotations/${jobId}`, { token: w.users.maintainer.token })).body;
    expect(job).toMatchObject({ state: 'succeeded', trigger: 'schedule' });
    // The old secret stops working; the new token's expiry is the next due date, not yet due.
    expect((await t.request('GET', '/api/v4/personal_access_tokens/self', { token: created.body.token })).status).toBe(401);
    expect(await t.app.services.rotationScheduler.tick()).toMatchObject({ started: 0 });

    await t.app.services.webhookDispatcher.runDue();
    const bodies = receiver.received.map((r) => JSON.parse(r.rawBody));
    expect(bodies).toEqual([expect.objectContaining({ event: 'credential.rotated', job: expect.objectContaining({ id: jobId, state: 'succeeded', trigger: 'schedule', failure: null }) })]);
    expect(await t.app.services.metricsScraper.render()).toContain('latchkey_rotations_total{outcome="succeeded",trigger="schedule"} 1');
  });
});
