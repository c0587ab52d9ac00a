/**
 * Rotation tasks (issue 16) on both stores: manual placements become tasks once per job and placement,
 * listed open first (Reporter+), checked off by Maintainers and Owners only (idempotent), the job told
 * when its last task closes, the pending secret revealed on a task only while the job holds it, audit
 * entries without the secret, and a daily e-mail reminder once a day (injected clock, a real SMTP sink)
 * until the task is checked off.
 *
 * The job engine is the contract's `revealSecret` / `tasksDone` seam, played by test/support/rotation-job-holder.ts.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';
import { startSmtpSink, type SmtpSink } from '../../support/smtp-sink.js';
import { jobHolder, jobOf } from '../../support/rotation-job-holder.js';
import { createRotationTaskStore } from '../../../src/store/rotation-tasks.js';
import type { Credential } from '../../../src/inventory/credential.js';
import { parseCredentialInput } from '../../../src/inventory/credential.js';

const CREDENTIALS = '/api/v4/latchkey/credentials';

describe.each(DIALECTS)('rotation tasks on %s', (dialect) => {
  let sink: SmtpSink;
  let t: TestApp;
  let w: World;
  let entry: Credential;
  let jobs: ReturnType<typeof jobHolder>;
  beforeAll(async () => {
    sink = await startSmtpSink();
  });
  afterAll(() => sink.stop());
  beforeEach(async () => {
    sink.mails.length = 0;
    t = await startTestApp(dialect, { now: '2026-12-03T10:00:00.000Z', env: { LATCHKEY_SMTP_URL: sink.url, LATCHKEY_MAIL_FROM: 'Latchkey <tokens@example.com>', LATCHKEY_PUBLIC_URL: 'https://latchkey.example.com' } });
    w = await seedWorld(t);
    entry = await t.app.services.inventory.create(w.admin, parseCredentialInput({
      slug: 'sonar-token',
      name: 'SonarQube token',
      kind: 'gitlab_group_token',
      owner: 'acme/platform',
      renewal: { expires_at: '2027-06-01' },
      procedure: 'Paste it under **Administration → DevOps Platform Integrations**.',
      placements: [
        { kind: 'ci_variable', instance: 'gitlab.com', project: 'tocco-client', key: 'SONAR_TOKEN' },
        { kind: 'manual', where: 'SonarQube DevOps Platform Integrations: gitlab.com Backend' },
        { kind: 'manual', where: 'Crowdin: GitLab integration settings' },
      ],
    }, { partial: false }));
    jobs = jobHolder();
    t.app.services.rotationTasks.bindRotation(jobs);
  });
  afterEach(() => t?.close());

  const open = (jobId: number) => t.app.services.rotationTasks.openForJob(jobOf(jobId, entry.id, w.users.maintainer.user.id), entry.placements);
  const tasks = async (token: string, query = '') => {
    const res = await t.request('GET', `${CREDENTIALS}/sonar-token/tasks${query}`, { token });
    return res;
  };
  const auditEvents = async (event: string) => {
    await t.app.services.auditWriter.flush();
    const res = await t.request('GET', `/api/v4/latchkey/audit_events?event=${event}&per_page=100`, { token: w.adminToken });
    expect(res.status).toBe(200);
    return res.body as { event: string; actor_username: string | null; details: Record<string, unknown> }[];
  };

  it('opens one task per manual placement, once per job and placement, listed open first', async () => {
    await open(7);
    await open(7); // a resumed job, or another node: nothing twice
    const listed = await tasks(w.users.reporter.token);
    expect(listed.status).toBe(200);
    expect(listed.headers['x-total']).toBe('2');
    const body = listed.body as any[];
    expect(body.map((x) => [x.job_id, x.where, x.state])).toEqual([
      [7, 'SonarQube DevOps Platform Integrations: gitlab.com Backend', 'open'],
      [7, 'Crowdin: GitLab integration settings', 'open'],
    ]);
    const manual = entry.placements.filter((p) => p.kind === 'manual').map((p) => p.id);
    expect(body.map((x) => x.placement_id)).toEqual(manual);
    expect(body[0]).toMatchObject({ credential_id: entry.id, procedure: entry.procedure, assigned_to: { group: { id: w.sub.id, full_path: 'acme/platform' }, access_levels: [40, 50] }, created_at: '2026-12-03T10:00:00.000Z', done_at: null, done_by: null });

    // A second rotation opens its own tasks; checked-off ones sort after the open ones.
    t.clock.advance(60_000);
    await open(8);
    const first = body[0].id as number;
    expect((await t.request('POST', `${CREDENTIALS}/sonar-token/tasks/${first}/done`, { token: w.users.maintainer.token })).status).toBe(200);
    const all = (await tasks(w.users.reporter.token)).body as any[];
    expect(all.map((x) => [x.job_id, x.state])).toEqual([[7, 'open'], [8, 'open'], [8, 'open'], [7, 'done']]);
    expect(((await tasks(w.users.reporter.token, '?state=done')).body as any[]).map((x) => x.id)).toEqual([first]);
    expect(((await tasks(w.users.reporter.token, '?state=open')).body as any[]).length).toBe(3);
    expect((await tasks(w.users.reporter.token, '?state=bogus')).status).toBe(400);

    // Outsiders and Guests see nothing of the entry.
    expect((await tasks(w.users.outsider.token)).status).toBe(404);
    expect((await tasks(w.users.guest.token)).status).toBe(404);

    const opened = (await auditEvents('credential.rotation_task_opened')).filter((e) => e.details.slug === 'sonar-token');
    expect(opened).toHaveLength(4);
    expect(opened.every((e) => e.actor_username === 'maintainer-user' && e.details.trigger === 'api')).toBe(true);
    expect(opened.map((e) => e.details.job_id).sort()).toEqual([7, 7, 8, 8]);
  });

  it('lets Maintainers and Owners check tasks off (idempotent) and tells the job when its last one closes', async () => {
    jobs.secrets.set(7, 'glpat-new-secret-of-job-7');
    await open(7);
    const [a, b] = ((await tasks(w.users.maintainer.token)).body as any[]).map((x) => x.id as number);

    for (const who of ['reporter', 'developer'] as const) {
      const refused = await t.request('POST', `${CREDENTIALS}/sonar-token/tasks/${a}/done`, { token: w.users[who].token });
      expect(refused.status).toBe(403);
    }
    expect((await t.request('POST', `${CREDENTIALS}/sonar-token/tasks/${a}/done`, { token: w.users.outsider.token })).status).toBe(404);
    expect((await t.request('POST', `${CREDENTIALS}/sonar-token/tasks/999999/done`, { token: w.users.maintainer.token })).status).toBe(404);
    expect((await t.request('POST', `${CREDENTIALS}/sonar-token/tasks/0/done`, { token: w.users.maintainer.token })).status).toBe(400);
    expect(((await tasks(w.users.maintainer.token, '?state=open')).body as any[]).length).toBe(2);

    t.clock.advance(3_600_000);
    const done = await t.request('POST', `${CREDENTIALS}/sonar-token/tasks/${a}/done`, { token: w.users.maintainer.token });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ id: a, state: 'done', done_at: '2026-12-03T11:00:00.000Z', done_by: 'maintainer-user' });
    expect(jobs.told).toEqual([]);
    // Again: no change (still the first check-off), and the job is not told while a task is open.
    t.clock.advance(60_000);
    const again = await t.request('POST', `${CREDENTIALS}/sonar-token/tasks/${a}/done`, { token: w.users.owner.token });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ done_at: '2026-12-03T11:00:00.000Z', done_by: 'maintainer-user' });
    expect(jobs.told).toEqual([]);

    const last = await t.request('POST', `${CREDENTIALS}/sonar-token/tasks/${b}/done`, { token: w.users.owner.token });
    expect(last.status).toBe(200);
    expect(last.body).toMatchObject({ done_by: 'owner-user' });
    expect(jobs.told).toEqual([7]);

    const doneEvents = (await auditEvents('credential.rotation_task_done')).filter((e) => e.details.slug === 'sonar-token');
    expect(doneEvents.map((e) => [e.actor_username, e.details.task_id])).toEqual(expect.arrayContaining([['maintainer-user', a], ['owner-user', b]]));
    expect(doneEvents).toHaveLength(2);
  });

  it('reveals the pending secret while the job holds it, to Maintainers and Owners only, and 404 after', async () => {
    const secret = 'glpat-pending-secret-0123456789';
    jobs.secrets.set(7, secret);
    await open(7);
    const [a, b] = ((await tasks(w.users.maintainer.token)).body as any[]).map((x) => x.id as number);

    expect((await t.request('POST', `${CREDENTIALS}/sonar-token/tasks/${a}/reveal`, { token: w.users.reporter.token })).status).toBe(403);
    expect((await t.request('POST', `${CREDENTIALS}/sonar-token/tasks/${a}/reveal`, { token: w.users.outsider.token })).status).toBe(404);
    const shown = await t.request('POST', `${CREDENTIALS}/sonar-token/tasks/${a}/reveal`, { token: w.users.maintainer.token });
    expect(shown.status).toBe(200);
    expect(shown.body).toEqual({ token: secret });
    expect(shown.headers['cache-control']).toBe('no-store');

    // The last task closes: the job wipes its secret and a reveal finds nothing.
    for (const id of [a, b]) expect((await t.request('POST', `${CREDENTIALS}/sonar-token/tasks/${id}/done`, { token: w.users.maintainer.token })).status).toBe(200);
    const gone = await t.request('POST', `${CREDENTIALS}/sonar-token/tasks/${a}/reveal`, { token: w.users.owner.token });
    expect(gone.status).toBe(404);
    expect(gone.text).not.toContain(secret);

    const revealed = await auditEvents('credential.rotation_task_revealed');
    expect(revealed.map((e) => [e.actor_username, e.details.task_id, e.details.job_id])).toEqual([['maintainer-user', a, 7]]);
    await t.app.services.auditWriter.flush();
    const everything = await t.request('GET', '/api/v4/latchkey/audit_events?per_page=100', { token: w.adminToken });
    expect(everything.text).not.toContain(secret);
  });

  it('reminds the owning group’s Maintainers and Owners of an open task once a day until it is checked off', async () => {
    await open(7);
    const [a, b] = ((await tasks(w.users.maintainer.token)).body as any[]).map((x) => x.id as number);
    const mailTo = (email: string) => sink.mails.filter((m) => m.rcptTo.includes(email));

    const first = await t.app.services.expiryNotifier.run();
    expect(first.rotationTasks).toMatchObject({ ran: true, reminders: 2, emailsFailed: 0 });
    expect(mailTo('maintainer@example.com')).toHaveLength(1);
    expect(mailTo('owner@example.com')).toHaveLength(1);
    expect(mailTo('root@example.com')).toHaveLength(1); // Owner of acme, inherited
    for (const who of ['developer', 'reporter', 'guest', 'outsider']) expect(mailTo(`${who}@example.com`)).toHaveLength(0);
    const [mail] = mailTo('maintainer@example.com');
    expect(mail!.subject).toBe('[Latchkey] 2 rotation tasks are still open');
    expect(mail!.text).toContain('* SonarQube token (gitlab_group_token, owned by acme/platform)');
    expect(mail!.text).toContain('  update: SonarQube DevOps Platform Integrations: gitlab.com Backend');
    expect(mail!.text).toContain('  update: Crowdin: GitLab integration settings');
    expect(mail!.text).toContain('    Paste it under **Administration → DevOps Platform Integrations**.');
    expect(mail!.text).toContain('https://latchkey.example.com/-/inventory/sonar-token');

    // The same day, again (another node, or a second run): nothing new.
    t.clock.advance(6 * 3_600_000);
    const sameDay = await t.app.services.expiryNotifier.run();
    expect(sameDay.rotationTasks.reminders).toBe(0);
    expect(mailTo('maintainer@example.com')).toHaveLength(1);

    // The next day: reminded again; one task checked off in between is left out.
    expect((await t.request('POST', `${CREDENTIALS}/sonar-token/tasks/${a}/done`, { token: w.users.maintainer.token })).status).toBe(200);
    t.clock.advance(18 * 3_600_000);
    const nextDay = await t.app.services.expiryNotifier.run();
    expect(nextDay.rotationTasks.reminders).toBe(1);
    const second = mailTo('maintainer@example.com');
    expect(second).toHaveLength(2);
    expect(second[1]!.subject).toBe('[Latchkey] rotation of "SonarQube token": update Crowdin: GitLab integration settings');
    expect(second[1]!.text).not.toContain('SonarQube DevOps Platform Integrations');

    // Every day until the last one is checked off, then never again.
    t.clock.advance(24 * 3_600_000);
    const thirdDay = await t.app.services.expiryNotifier.run();
    expect(thirdDay.rotationTasks.reminders).toBe(1);
    expect(mailTo('maintainer@example.com')).toHaveLength(3);
    expect((await t.request('POST', `${CREDENTIALS}/sonar-token/tasks/${b}/done`, { token: w.users.maintainer.token })).status).toBe(200);
    t.clock.advance(24 * 3_600_000);
    const after = await t.app.services.expiryNotifier.run();
    expect(after.rotationTasks).toMatchObject({ ran: true, reminders: 0, emailsSent: 0 });
    expect(mailTo('maintainer@example.com')).toHaveLength(3);
  });

  it('skips a reminder decided before its task was checked off (decided by a node that died before sending)', async () => {
    await open(7);
    const [a] = ((await tasks(w.users.maintainer.token)).body as any[]).map((x) => x.id as number);
    const maintainer = w.users.maintainer.user;
    await createRotationTaskStore(t.app.store.db).recordReminders([{ taskId: a!, remindedOn: '2026-12-03', decidedAt: '2026-12-03T09:00:00.000Z', recipients: [{ userId: maintainer.id, email: 'maintainer@example.com' }] }], null);
    expect((await t.request('POST', `${CREDENTIALS}/sonar-token/tasks/${a}/done`, { token: w.users.maintainer.token })).status).toBe(200);
    const run = await t.app.services.expiryNotifier.run();
    expect(run.rotationTasks).toMatchObject({ ran: true, reminders: 1, deliveriesSkipped: 1 });
    const mails = sink.mails.filter((m) => m.rcptTo.includes('maintainer@example.com'));
    expect(mails).toHaveLength(1);
    expect(mails[0]!.text).toContain('Crowdin: GitLab integration settings');
    expect(mails[0]!.text).not.toContain('SonarQube DevOps Platform Integrations');
  });
});

describe.each(DIALECTS)('rotation tasks with the job engine on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  beforeAll(async () => {
    t = await startTestApp(dialect, { now: '2026-12-03T10:00:00.000Z' });
    w = await seedWorld(t);
  });
  afterAll(() => t?.close());

  it('a rotation opens a task per manual placement, reveals its pending secret while it waits, and finishes once the last task is done', async () => {
    const maintainer = w.users.maintainer.token;
    const created = await t.request('POST', `/api/v4/projects/${w.project.id}/deploy_tokens`, { token: maintainer, body: { name: 'sonar-pull', scopes: ['read_registry'], expires_at: '2027-06-01' } });
    expect(created.status).toBe(201);
    const ref = `token-${created.body.id}`;
    const entry = await t.request('PUT', `${CREDENTIALS}/${ref}`, { token: maintainer, body: { procedure: 'Paste it in SonarQube.', placements: [{ kind: 'manual', where: 'SonarQube integration' }] } });
    expect(entry.status).toBe(200);

    const rotated = await t.request('POST', `${CREDENTIALS}/${ref}/rotate`, { token: maintainer, body: { grace_period: 0 } });
    expect(rotated.status).toBe(201);
    const secret = rotated.body.token as string;
    const jobId = rotated.body.id as number;
    const listed = (await t.request('GET', `${CREDENTIALS}/${ref}/tasks`, { token: w.users.reporter.token })).body as any[];
    expect(listed.map((x) => [x.job_id, x.where, x.state, x.procedure])).toEqual([[jobId, 'SonarQube integration', 'open', 'Paste it in SonarQube.']]);
    // A retried rotate returns the running job and opens nothing more.
    expect((await t.request('POST', `${CREDENTIALS}/${ref}/rotate`, { token: maintainer, body: { grace_period: 0 } })).body.id).toBe(jobId);
    expect(((await t.request('GET', `${CREDENTIALS}/${ref}/tasks`, { token: maintainer })).body as any[]).length).toBe(1);

    const task = listed[0].id as number;
    expect((await t.request('POST', `${CREDENTIALS}/${ref}/tasks/${task}/reveal`, { token: w.users.reporter.token })).status).toBe(403);
    const shown = await t.request('POST', `${CREDENTIALS}/${ref}/tasks/${task}/reveal`, { token: maintainer });
    expect(shown.status).toBe(200);
    expect(shown.body).toEqual({ token: secret });
    expect((await t.request('GET', `/api/v4/latchkey/rotations/${jobId}`, { token: maintainer })).body.finished_at).toBeNull();

    t.clock.advance(60_000);
    expect((await t.request('POST', `${CREDENTIALS}/${ref}/tasks/${task}/done`, { token: maintainer })).status).toBe(200);
    const finished = (await t.request('GET', `/api/v4/latchkey/rotations/${jobId}`, { token: maintainer })).body;
    expect(finished.state).toBe('succeeded');
    expect(finished.steps.at(-1)).toMatchObject({ kind: 'finish', state: 'done' });
    const gone = await t.request('POST', `${CREDENTIALS}/${ref}/tasks/${task}/reveal`, { token: maintainer });
    expect(gone.status).toBe(404);
    expect(gone.text).not.toContain(secret);
  });

  it('a check-off stands when the job it would tell is gone', async () => {
    const entry = await t.app.services.inventory.create(w.admin, parseCredentialInput({ slug: 'orphan', name: 'Orphan', kind: 'api_key', owner: 'acme/platform', renewal: { every_days: 30 }, placements: [{ kind: 'manual', where: 'Somewhere' }] }, { partial: false }));
    await t.app.services.rotationTasks.openForJob(jobOf(987654, entry.id, null, 'schedule'), entry.placements);
    const [task] = (await t.request('GET', `${CREDENTIALS}/orphan/tasks`, { token: w.users.maintainer.token })).body as any[];
    const done = await t.request('POST', `${CREDENTIALS}/orphan/tasks/${task.id}/done`, { token: w.users.maintainer.token });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ state: 'done', done_by: 'maintainer-user' });
  });
});
