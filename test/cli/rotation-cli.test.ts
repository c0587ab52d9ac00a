/**
 * `latchkey credential rotate` and `latchkey credential rotations` in-process on both stores: a deploy
 * token's entry rotated with the new secret printed once (the old one revoked at once with --grace 0),
 * a retry while a job waits answers that job without a secret, the jobs listed with their steps (table
 * and --json, never a secret), and bad options refused before anything changes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliHarness } from '../support/cli-harness.js';
import { DIALECTS } from '../support/dialects.js';

describe.each(DIALECTS)('latchkey credential rotate|rotations on %s', (dialect) => {
  const h = createCliHarness(dialect, { prefix: 'latchkey-rotation-cli-' });
  const { cli, cliJson } = h;
  let adminToken: string;
  let projectId: number;

  beforeAll(async () => {
    await h.setUp();
    adminToken = (await cliJson('admin', 'bootstrap', '--expires-in-days', '200')).token;
    const group = await h.api('POST', '/api/v4/groups', { token: adminToken, body: { name: 'ops', path: 'ops' } });
    const project = await h.api('POST', '/api/v4/projects', { token: adminToken, body: { name: 'app', path: 'app', namespace_id: group.body.id } });
    expect(project.status).toBe(201);
    projectId = project.body.id;
  });
  afterAll(() => h.tearDown());

  const deployToken = async (name: string) => {
    const res = await h.api('POST', `/api/v4/projects/${projectId}/deploy_tokens`, { token: adminToken, body: { name, scopes: ['read_registry'], expires_at: '2027-06-01' } });
    expect(res.status).toBe(201);
    return res.body as { id: number; token: string };
  };
  const works = (secret: string) => h.withServices(async ({ services }) => (await services.verifier.verify(secret)).ok);

  it('rotates a deploy token, prints the new secret once, and lists the job with its steps', async () => {
    const old = await deployToken('cli-rotated');
    const run = await cli('credential', 'rotate', `token-${old.id}`, '--grace', '0', '--quiet', '0');
    expect(run.code, run.err).toBe(0);
    const secret = /New secret \(shown once, not stored in the clear\): (\S+)/.exec(run.out)?.[1];
    expect(secret).toMatch(/^gldt-/);
    expect(run.out).toMatch(/Rotation \d+ of token-\d+: succeeded \(cli, started /);
    expect(run.out).toMatch(/retire\s+-\s+done\s+\S+\s+\S+\s+token \d+ revoked: every automatic placement holds the new secret/);
    expect(await works(secret!)).toBe(true);
    expect(await works(old.token)).toBe(false);

    const jobs = await cliJson('credential', 'rotations', `token-${old.id}`);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ state: 'succeeded', trigger: 'cli', old_token_id: old.id, grace_period: 0, quiet_period: 0 });
    expect(jobs[0].steps.map((s: any) => s.kind)).toEqual(['renew', 'tasks', 'retire', 'finish']);
    for (const s of jobs[0].steps) expect(s.finished_at).toMatch(/^\d{4}-/);
    const table = await cli('credential', 'rotations');
    expect(table.code).toBe(0);
    expect(table.out).toContain(`Rotation ${jobs[0].id} of entry ${jobs[0].credential_id}: succeeded`);
    expect(JSON.stringify(jobs) + table.out).not.toContain(secret);
  });

  it('a second rotate while the job waits for the old secret to go quiet answers that job, without a secret', async () => {
    const old = await deployToken('cli-waiting');
    const first = await cliJson('credential', 'rotate', `token-${old.id}`, '--grace', '2h', '--quiet', '30m');
    expect(first).toMatchObject({ state: 'waiting', grace_period: 7200, quiet_period: 1800 });
    expect(first.token).toMatch(/^gldt-/);
    const again = await cli('credential', 'rotate', `token-${old.id}`);
    expect(again.code).toBe(0);
    expect(again.out).toContain('A rotation of this entry is already running');
    expect(again.out).not.toContain('gldt-');
    expect(again.out).toContain(`Rotation ${first.id} of token-${old.id}: waiting`);
    expect(await works(old.token)).toBe(true);
  });

  it('a manual placement becomes a task: the job keeps its secret (revealable) until the task is checked off, then wipes it', async () => {
    const old = await deployToken('cli-manual');
    const put = await h.api('PUT', `/api/v4/latchkey/credentials/token-${old.id}`, { token: adminToken, body: { placements: [{ kind: 'manual', where: 'SonarQube integration' }] } });
    expect(put.status).toBe(200);
    const job = await cliJson('credential', 'rotate', `token-${old.id}`, '--grace', '0', '--quiet', '0');
    expect(job.state).toBe('waiting');
    expect(job.steps.map((s: any) => `${s.kind}:${s.state}`)).toEqual(['renew:done', 'tasks:done', 'retire:done', 'finish:pending']);
    const tasks = await h.api('GET', `/api/v4/latchkey/credentials/token-${old.id}/tasks`, { token: adminToken });
    expect(tasks.body).toHaveLength(1);
    expect(tasks.body[0]).toMatchObject({ job_id: job.id, where: 'SonarQube integration', state: 'open' });
    const reveal = await h.api('POST', `/api/v4/latchkey/credentials/token-${old.id}/tasks/${tasks.body[0].id}/reveal`, { token: adminToken });
    expect(reveal.body.token).toBe(job.token);
    expect((await h.api('POST', `/api/v4/latchkey/credentials/token-${old.id}/tasks/${tasks.body[0].id}/done`, { token: adminToken })).status).toBe(200);
    const [after] = await cliJson('credential', 'rotations', `token-${old.id}`);
    expect(after).toMatchObject({ id: job.id, state: 'succeeded' });
    expect((await h.api('POST', `/api/v4/latchkey/credentials/token-${old.id}/tasks/${tasks.body[0].id}/reveal`, { token: adminToken })).status).toBe(404);
  });

  it('refuses bad options and what it cannot rotate', async () => {
    const old = await deployToken('cli-bad');
    expect(await cli('credential', 'rotate', `token-${old.id}`, '--grace', 'soon')).toMatchObject({ code: 2, err: 'latchkey: --grace must be a duration (seconds, or a number with s, m, h or d such as 12h)' });
    expect((await cli('credential', 'rotate', `token-${old.id}`, '--expires-at', 'tomorrow')).code).toBe(2);
    expect((await cli('credential', 'rotate', 'no-such-entry')).err).toBe('latchkey: 404 Credential Not Found');
    expect((await cli('credential', 'rotations', `token-${old.id}`)).out).toBe('(none)');
    expect(await works(old.token)).toBe(true);
  });
});
