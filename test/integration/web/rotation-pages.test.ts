/**
 * Rotation on the inventory entry page (issue 16) on both stores: the open rotation tasks with "Reveal
 * new secret" (shown once, no-store) and "Mark done" for Maintainers and Owners, through the same
 * service as the API; Reporters see the tasks without the buttons and are refused on post; a post
 * without the CSRF token changes nothing. The job engine's side is the contract's seam, played by a job
 * holder that keeps the secret until it is told every task is done.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCredentialInput } from '../../../src/inventory/credential.js';
import { jobHolder, jobOf } from '../../support/rotation-job-holder.js';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';
import { webClient } from '../../support/web-client.js';

const PASSWORD = 'correct horse battery';
const SECRET = 'glpat-rotated-secret-for-sonarqube';
const ENTRY = '/-/inventory/sonar-token';

describe.each(DIALECTS)('rotation on the entry page on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let maintainer: ReturnType<typeof webClient>;
  let reporter: ReturnType<typeof webClient>;
  const jobs = jobHolder();
  const told = jobs.told;
  let taskIds: number[] = [];

  beforeAll(async () => {
    t = await startTestApp(dialect, { now: '2026-12-03T10:00:00.000Z' });
    w = await seedWorld(t);
    for (const u of ['maintainer-user', 'reporter-user']) await t.app.services.accounts.setPasswordByUsername(u, PASSWORD);
    const entry = await t.app.services.inventory.create(w.admin, parseCredentialInput({
      slug: 'sonar-token', name: 'SonarQube token', kind: 'api_key', owner: 'acme/platform', renewal: { every_days: 90 },
      procedure: 'Paste it under **Administration**.',
      placements: [{ kind: 'manual', where: 'SonarQube <integration> settings' }, { kind: 'manual', where: 'Crowdin settings' }],
    }, { partial: false }));
    t.app.services.rotationTasks.bindRotation(jobs);
    jobs.secrets.set(3, SECRET);
    const job = jobOf(3, entry.id, w.users.maintainer.user.id, 'web');
    await t.app.services.rotationTasks.openForJob(job, entry.placements);
    taskIds = (await t.app.services.rotationTasks.list(w.admin, 'sonar-token', 'open', { page: 1, perPage: 10 })).tasks.items.map((x) => x.id);
    maintainer = webClient(t);
    reporter = webClient(t);
    expect((await maintainer.signIn('maintainer-user', PASSWORD)).status).toBe(303);
    expect((await reporter.signIn('reporter-user', PASSWORD)).status).toBe(303);
  });
  afterAll(() => t.close());

  it('lists the open tasks with their buttons for Maintainers, without them for Reporters', async () => {
    const page = await maintainer.get(ENTRY);
    expect(page.status).toBe(200);
    expect(page.html).toContain('<h2 id="tasks-heading">Rotation tasks</h2>');
    expect(page.html).toContain('<th scope="row">SonarQube &lt;integration> settings</th>');
    expect(page.html).toContain('<th scope="row">Crowdin settings</th>');
    expect(page.html).toContain(`action="${ENTRY}/tasks/${taskIds[0]}/reveal"`);
    expect(page.html).toContain(`action="${ENTRY}/tasks/${taskIds[1]}/done"`);
    expect(page.html).toContain('aria-label="Mark done: Crowdin settings"');
    const read = await reporter.get(ENTRY);
    expect(read.status).toBe(200);
    expect(read.html).toContain('<th scope="row">Crowdin settings</th>');
    expect(read.html).not.toContain('Reveal new secret');
    expect(read.html).not.toContain('/done"');
  });

  it('reveals the new secret once, in the answer, to Maintainers only', async () => {
    // Pages one may not use answer 404, as everywhere in the web UI.
    const refused = await reporter.submit(ENTRY, {}, `${ENTRY}/tasks/${taskIds[0]}/reveal`);
    expect(refused.status).toBe(404);
    expect(refused.html).not.toContain(SECRET);
    // Without the CSRF token: refused before anything happens.
    const forged = await maintainer.post(`${ENTRY}/tasks/${taskIds[0]}/reveal`, {});
    expect(forged.status).toBe(403);
    expect(forged.html).not.toContain(SECRET);
    const shown = await maintainer.submit(ENTRY, {}, `${ENTRY}/tasks/${taskIds[0]}/reveal`);
    expect(shown.status).toBe(200);
    expect(shown.headers['cache-control']).toBe('no-store');
    expect(shown.html).toContain(`value="${SECRET}"`);
    expect(shown.html).toContain('New secret for: SonarQube &lt;integration> settings');
    // The entry page itself never shows it.
    expect((await maintainer.get(ENTRY)).html).not.toContain(SECRET);
  });

  it('marks tasks done, the last one letting the job wipe its secret; a reveal after says so', async () => {
    expect((await reporter.submit(ENTRY, {}, `${ENTRY}/tasks/${taskIds[0]}/done`)).status).toBe(404);
    expect((await t.app.services.rotationTasks.list(w.admin, 'sonar-token', 'open', { page: 1, perPage: 10 })).tasks.total).toBe(2);
    const first = await maintainer.submit(ENTRY, {}, `${ENTRY}/tasks/${taskIds[0]}/done`);
    expect(first.status).toBe(303);
    expect(first.location).toBe(`${ENTRY}?notice=task_done`);
    const after = await maintainer.get(first.location!);
    expect(after.html).toContain('Task marked done.');
    expect(after.html).not.toContain(`action="${ENTRY}/tasks/${taskIds[0]}/done"`);
    expect(after.html).toContain(`action="${ENTRY}/tasks/${taskIds[1]}/done"`);
    expect(told).toEqual([]);
    expect((await maintainer.submit(ENTRY, {}, `${ENTRY}/tasks/${taskIds[1]}/done`)).status).toBe(303);
    expect(told).toEqual([3]);
    expect((await maintainer.get(ENTRY)).html).toContain('No open tasks.');
    const gone = await maintainer.submit(ENTRY, {}, `${ENTRY}/tasks/${taskIds[1]}/reveal`);
    expect(gone.status).toBe(404);
    expect(gone.html).toContain('the rotation no longer holds the new secret');
    expect(gone.html).not.toContain(SECRET);
  });
});

describe.each(DIALECTS)('"Rotate" on the entry page on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let maintainer: ReturnType<typeof webClient>;
  let reporter: ReturnType<typeof webClient>;
  let ref: string;
  beforeAll(async () => {
    t = await startTestApp(dialect, { now: '2026-12-03T10:00:00.000Z' });
    w = await seedWorld(t);
    for (const u of ['maintainer-user', 'reporter-user']) await t.app.services.accounts.setPasswordByUsername(u, PASSWORD);
    const project = { type: 'project' as const, project: w.project };
    const token = await t.app.services.deployTokens.create(w.users.maintainer.user, project, { name: 'sonar-pull', scopes: ['read_registry'], expiresAt: '2027-06-01' });
    ref = `token-${token.token.id}`;
    await t.app.services.inventory.update(w.users.maintainer.user, ref, parseCredentialInput({ placements: [{ kind: 'manual', where: 'SonarQube integration' }] }, { partial: true }));
    await t.app.services.inventory.create(w.admin, parseCredentialInput({ slug: 'npm-publish', name: 'NPM publish', kind: 'npm_token', owner: 'acme/platform', renewal: { every_days: 90 } }, { partial: false }));
    maintainer = webClient(t);
    reporter = webClient(t);
    expect((await maintainer.signIn('maintainer-user', PASSWORD)).status).toBe(303);
    expect((await reporter.signIn('reporter-user', PASSWORD)).status).toBe(303);
  });
  afterAll(() => t.close());

  it('rotates a token entry: the new secret once, the job with its steps, the task it opened', async () => {
    const path = `/-/inventory/${ref}`;
    const before = await maintainer.get(path);
    expect(before.html).toContain(`action="${path}/rotate"`);
    expect(before.html).toContain('Never rotated by Latchkey.');
    expect((await reporter.get(path)).html).not.toContain(`action="${path}/rotate"`);
    expect((await reporter.submit(path, {}, `${path}/rotate`)).status).toBe(404);
    // An outside entry Latchkey cannot rotate offers no button; a forged post says why.
    const outside = await maintainer.get('/-/inventory/npm-publish');
    expect(outside.html).not.toContain('/rotate"');
    const refused = await maintainer.submit('/-/inventory/npm-publish', {}, '/-/inventory/npm-publish/rotate');
    expect(refused.status).toBe(400);
    expect(refused.html).toContain('Nothing to rotate');

    const answer = await maintainer.submit(path, {}, `${path}/rotate`);
    expect(answer.status).toBe(200);
    expect(answer.headers['cache-control']).toBe('no-store');
    const value = /id="new-token"[^>]*value="([^"]+)"/.exec(answer.html)?.[1] ?? '';
    expect(value).toMatch(/^gldt-/);
    expect((await t.app.services.verifier.verify(value, {})).ok).toBe(true);
    const job = (await t.app.services.rotations.list(w.users.maintainer.user, ref, { page: 1, perPage: 5 })).items[0]!;
    expect(job.trigger).toBe('web');
    expect(answer.html).toContain(`New secret of rotation #${job.id}`);
    expect(answer.html).toContain(`Rotation #${job.id}: ${job.state}`);
    expect(answer.html).toContain('<th scope="row">Renew the secret</th>');
    expect(answer.html).toContain('<th scope="row">Tasks for manual placements</th>');
    expect(answer.html).toContain('1 task opened: SonarQube integration');
    expect(answer.html).toContain('<th scope="row">SonarQube integration</th>');

    // Shown once: the entry page lists the job, never the secret; a second post finds the job under way.
    const later = await maintainer.get(path);
    expect(later.html).toContain(`Rotation #${job.id}`);
    expect(later.html).not.toContain(value);
    const again = await maintainer.submit(path, {}, `${path}/rotate`);
    expect(again.status).toBe(200);
    expect(again.html).toContain(`A rotation of this entry is already under way (#${job.id})`);
    expect(again.html).not.toContain(value);
    expect((await t.app.services.rotations.list(w.users.maintainer.user, ref, { page: 1, perPage: 5 })).items).toHaveLength(1);
  });
});
