/**
 * Rotation jobs (issue 16) through the API, on both stores with the injected clock: a deploy token's
 * entry rotated with a grace period and a quiet time (the old secret works during the grace, "still used
 * from …" while it is used, revoked once quiet), the idempotent retry, concurrent requests for one entry,
 * a placement that cannot be written (job failed, old secret kept), an upstream token through a rotator
 * double, and an upstream call interrupted by a crash. Placement writes, upstream rotation and tasks are
 * test doubles here (their real implementations are tested on their own).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Placement } from '../../../src/inventory/credential.js';
import type { PlacementIO, RotationJob, RotationTasks, UpstreamRotator } from '../../../src/rotation/contracts.js';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';

const START = '2026-11-23T10:00:00.000Z';

/** CI variables in memory: `FORBIDDEN` keys refuse writes as an upstream's 403 would. */
class PlacementsDouble implements PlacementIO {
  readonly values = new Map<number, string>();
  isAutomatic(p: Placement): boolean {
    return p.kind === 'ci_variable';
  }
  async write(p: Placement, secret: string) {
    if (p.key === 'FORBIDDEN') return { ok: false as const, reason: '403 Forbidden' };
    this.values.set(p.id, secret);
    return { ok: true as const };
  }
  async verify(p: Placement, secret: string) {
    return this.values.get(p.id) === secret ? { ok: true as const } : { ok: false as const, reason: 'stale: holds an older secret' };
  }
}

class TasksDouble implements RotationTasks {
  readonly opened: { jobId: number; placements: string[] }[] = [];
  async openForJob(job: RotationJob, placements: readonly Placement[]) {
    this.opened.push({ jobId: job.id, placements: placements.map((p) => p.where ?? p.key ?? '') });
  }
}

class UpstreamDouble implements UpstreamRotator {
  readonly rotatable = new Set<number>();
  calls = 0;
  async canRotate(id: number) {
    return this.rotatable.has(id);
  }
  async rotate() {
    this.calls++;
    return { secret: `glpat-upstream-new-${this.calls}`, remoteId: 700 + this.calls, expiresOn: '2027-01-01' as const };
  }
}

describe.each(DIALECTS)('rotation jobs on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  const placements = new PlacementsDouble();
  const tasks = new TasksDouble();
  const upstream = new UpstreamDouble();
  beforeAll(async () => {
    t = await startTestApp(dialect, { now: START, overrides: { rotation: { placements, tasks, upstream } } });
    w = await seedWorld(t);
  });
  afterAll(() => t?.close());

  const maintainer = () => w.users.maintainer.token;
  const deployToken = async (name: string) => {
    const res = await t.request('POST', `/api/v4/projects/${w.project.id}/deploy_tokens`, { token: maintainer(), body: { name, scopes: ['read_registry'], expires_at: '2027-06-01' } });
    expect(res.status).toBe(201);
    return res.body as { id: number; token: string };
  };
  const withPlacements = async (tokenId: number, list: unknown[]) => {
    const res = await t.request('PUT', `/api/v4/latchkey/credentials/token-${tokenId}`, { token: maintainer(), body: { placements: list } });
    expect(res.status).toBe(200);
    return res.body as { id: number; placements: { id: number; key?: string }[] };
  };
  const rotate = (ref: string, body: unknown = {}, token = maintainer()) => t.request('POST', `/api/v4/latchkey/credentials/${ref}/rotate`, { token, body });
  const job = async (id: number) => (await t.request('GET', `/api/v4/latchkey/rotations/${id}`, { token: maintainer() })).body;
  const works = async (secret: string, context = {}) => (await t.app.services.verifier.verify(secret, context)).ok;
  const sealed = async (id: number) => (await t.app.store.db.selectFrom('rotation_jobs' as any).select('secret_sealed' as any).where('id' as any, '=', id).executeTakeFirstOrThrow()) as { secret_sealed: string | null };
  const step = (j: any, kind: string) => j.steps.find((s: any) => s.kind === kind);

  it('a deploy token: new secret written and verified, tasks opened, old one works during the grace, "still used from" while used, revoked once quiet', async () => {
    t.clock.set(START);
    const old = await deployToken('registry-pull');
    const entry = await withPlacements(old.id, [
      { kind: 'ci_variable', instance: 'latchkey.test', project: 'acme/platform/web', key: 'REGISTRY_TOKEN' },
      { kind: 'manual', where: 'SonarQube integration' },
    ]);
    const res = await rotate(`token-${old.id}`, { grace_period: '2h', quiet_period: 600 });
    expect(res.status).toBe(201);
    const secret = res.body.token as string;
    expect(secret).toMatch(/^gldt-/);
    expect(res.body).toMatchObject({ credential_id: entry.id, state: 'waiting', trigger: 'api', old_token_id: old.id, grace_period: 7200, quiet_period: 600, failure: null, finished_at: null });
    expect(res.body.steps.map((s: any) => [s.kind, s.state])).toEqual([['renew', 'done'], ['write', 'done'], ['verify', 'done'], ['tasks', 'done'], ['retire', 'pending'], ['finish', 'pending']]);
    expect(res.body.steps[0].started_at).toBe(START);
    const ci = entry.placements.find((p) => p.key === 'REGISTRY_TOKEN')!;
    expect(placements.values.get(ci.id)).toBe(secret);
    expect(tasks.opened).toContainEqual({ jobId: res.body.id, placements: ['SonarQube integration'] });
    expect(await works(secret)).toBe(true);
    // The entry follows the new token.
    expect((await t.request('GET', `/api/v4/latchkey/credentials/token-${old.id}`, { token: maintainer() })).body.token_id).toBe(res.body.new_token_id);

    // A forgotten consumer keeps using the old secret within the grace.
    t.clock.advance(5 * 60_000);
    expect(await works(old.token, { ip: '10.0.0.7', userAgent: 'curl/8.5' })).toBe(true);
    await t.app.services.tokenUsage.flushAll();
    await t.app.services.rotations.resumeAll();
    let j = await job(res.body.id);
    expect(j.state).toBe('waiting');
    expect(step(j, 'retire').detail).toContain('still used from 10.0.0.7 (curl/8.5) at 2026-11-23T10:05:00.000Z');
    // 9 minutes after that last use: not quiet yet.
    t.clock.advance(9 * 60_000);
    await t.app.services.rotations.resumeAll();
    expect(step(await job(res.body.id), 'retire').state).toBe('pending');
    // Still working within the grace; that use at 10:14 starts the quiet time again.
    expect(await works(old.token)).toBe(true);
    await t.app.services.tokenUsage.flushAll();
    t.clock.advance(9 * 60_000);
    await t.app.services.rotations.resumeAll();
    expect(step(await job(res.body.id), 'retire').detail).toContain('at 2026-11-23T10:14:00.000Z');
    // 10 minutes after it: the quiet time has passed, but a use held back by the usage writer may not be
    // written yet (one write a minute per token, flushed every 10 s), so the old secret waits 70 s more.
    t.clock.advance(60_000);
    await t.app.services.rotations.resumeAll();
    expect(step(await job(res.body.id), 'retire')).toMatchObject({ state: 'pending', detail: expect.stringContaining('revoked once unused for 600 s (at 2026-11-23T10:25:10.000Z unless used again)') });
    t.clock.advance(70_000);
    await t.app.services.rotations.resumeAll();
    j = await job(res.body.id);
    expect(step(j, 'retire')).toMatchObject({ state: 'done' });
    expect(step(j, 'retire').detail).toMatch(/^token \d+ revoked: unused since 2026-11-23T10:14:00.000Z for the quiet time \(600 s\)$/);
    expect(await works(old.token)).toBe(false);
    expect(await works(secret)).toBe(true);
    // The manual task is open: the secret stays sealed and revealable to a Maintainer until it is checked off.
    expect(j.state).toBe('waiting');
    expect(await t.app.services.rotations.revealSecret(w.users.maintainer.user, res.body.id)).toBe(secret);
    await expect(t.app.services.rotations.revealSecret(w.users.developer.user, res.body.id)).rejects.toMatchObject({ kind: 'forbidden' });
    expect((await sealed(res.body.id)).secret_sealed).not.toBeNull();
    expect((await sealed(res.body.id)).secret_sealed).not.toContain(secret);
    await t.app.services.rotations.tasksDone(res.body.id);
    j = await job(res.body.id);
    expect(j).toMatchObject({ state: 'succeeded', failure: null });
    expect(j.finished_at).not.toBeNull();
    expect(step(j, 'finish')).toMatchObject({ state: 'done', detail: 'the pending secret was wiped' });
    expect((await sealed(res.body.id)).secret_sealed).toBeNull();
    await expect(t.app.services.rotations.revealSecret(w.users.maintainer.user, res.body.id)).rejects.toMatchObject({ kind: 'not_found' });

    // Listed with the entry; never a secret in a list, a job or the audit log.
    const list = await t.request('GET', `/api/v4/latchkey/credentials/token-${old.id}/rotations`, { token: w.users.reporter.token });
    expect(list.status).toBe(200);
    expect(list.body.map((x: any) => x.id)).toEqual([res.body.id]);
    expect(list.headers['x-total']).toBe('1');
    expect(JSON.stringify(list.body)).not.toContain(secret);
    await t.app.services.auditWriter.flush();
    const events = await t.app.store.db.selectFrom('audit_events').select(['event', 'data']).where('event', 'like', 'credential.rotation%').execute();
    expect(events.map((e) => e.event)).toEqual(expect.arrayContaining(['credential.rotation_started', 'credential.rotation_step_started', 'credential.rotation_step_finished', 'credential.rotation_succeeded']));
    expect(events.filter((e) => e.event === 'credential.rotation_step_finished').length).toBeGreaterThanOrEqual(6);
    expect(JSON.stringify(events)).not.toContain(secret);
  });

  it('an old secret still used when the grace ends is revoked then; a rotated gitlab-deploy-token is what CI is handed', async () => {
    t.clock.set(START);
    const old = await deployToken('gitlab-deploy-token');
    const res = await rotate(`token-${old.id}`, { grace_period: 3600, quiet_period: 1800 });
    expect(res.status).toBe(201);
    const ci = (await t.app.services.resourceTokens.create(w.admin, { type: 'project', project: w.project }, { name: 'ci', scopes: ['read_api'], accessLevel: 30 })).secret;
    const handed = await t.request('GET', `/api/v4/projects/${w.project.id}/latchkey/ci_variables`, { token: ci });
    expect(handed.body.CI_DEPLOY_PASSWORD).toBe(res.body.token);
    t.clock.advance(50 * 60_000);
    expect(await works(old.token, { ip: '10.0.0.9', userAgent: 'docker/27' })).toBe(true);
    await t.app.services.tokenUsage.flushAll();
    await t.app.services.rotations.resumeAll();
    expect(step(await job(res.body.id), 'retire').detail).toContain('still used from 10.0.0.9 (docker/27) at 2026-11-23T10:50:00.000Z; revoked once unused for 1800 s (at 2026-11-23T11:21:10.000Z unless used again), at the latest at 2026-11-23T11:00:00.000Z');
    t.clock.advance(10 * 60_000);
    await t.app.services.rotations.resumeAll();
    const j = await job(res.body.id);
    expect(j.state).toBe('succeeded');
    expect(step(j, 'retire').detail).toBe(`token ${old.id} revoked: its grace period ended at 2026-11-23T11:00:00.000Z`);
    expect(await works(old.token)).toBe(false);
  });

  it('a retry answers the running job (200, no secret), never a second rotation; concurrent requests start one job', async () => {
    t.clock.set(START);
    const old = await deployToken('concurrent');
    await withPlacements(old.id, [{ kind: 'ci_variable', instance: 'latchkey.test', project: 'acme/platform/web', key: 'CONCURRENT' }]);
    const answers = await Promise.all(Array.from({ length: 5 }, () => rotate(`token-${old.id}`, { grace_period: 3600 })));
    // On a mismatch the message carries every answer (a rare CI failure got one that was neither 200 nor 201).
    expect(answers.map((a) => a.status).sort(), JSON.stringify(answers.map((a) => [a.status, a.body]))).toEqual([200, 200, 200, 200, 201]);
    const created = answers.filter((a) => a.status === 201);
    const ids = new Set(answers.map((a) => a.body.id));
    expect(ids.size).toBe(1);
    for (const a of answers.filter((x) => x.status === 200)) expect(a.body.token).toBeNull();
    const successors = await t.app.store.db.selectFrom('tokens').select('id').where('rotated_from_id', '=', old.id).execute();
    expect(successors).toHaveLength(1);
    expect(successors[0]!.id).toBe(created[0]!.body.new_token_id);

    const retry = await rotate(`token-${old.id}`, { grace_period: 60 });
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ id: created[0]!.body.id, token: null, grace_period: 3600 });
    expect(await t.app.store.db.selectFrom('tokens').select('id').where('rotated_from_id', '=', old.id).execute()).toHaveLength(1);
  });

  it('a placement that cannot be written fails the job with the reason; the old secret is not revoked and written placements keep the new one', async () => {
    t.clock.set(START);
    const old = await deployToken('forbidden');
    const entry = await withPlacements(old.id, [
      { kind: 'ci_variable', instance: 'latchkey.test', project: 'acme/platform/web', key: 'WRITABLE' },
      { kind: 'ci_variable', instance: 'gitlab.example.com', project: 'elsewhere/app', key: 'FORBIDDEN' },
    ]);
    const res = await rotate(`token-${old.id}`, { grace_period: 0 });
    expect(res.status).toBe(201);
    expect(res.body.state).toBe('failed');
    expect(res.body.failure).toContain('403 Forbidden');
    expect(res.body.steps.map((s: any) => [s.kind, s.state])).toEqual([['renew', 'done'], ['write', 'done'], ['verify', 'done'], ['write', 'failed'], ['verify', 'skipped'], ['tasks', 'skipped'], ['retire', 'skipped'], ['finish', 'skipped']]);
    expect(placements.values.get(entry.placements.find((p) => p.key === 'WRITABLE')!.id)).toBe(res.body.token);
    expect(await works(old.token)).toBe(true);
    expect((await sealed(res.body.id)).secret_sealed).toBeNull();
    // Finished: the entry may be rotated again (after fixing the placement).
    const again = await rotate(`token-${old.id}`);
    expect(again.status).toBe(201);
    expect(again.body.id).not.toBe(res.body.id);
  });

  it('an upstream token rotates through the upstream rotator: its secret written, nothing to retire here', async () => {
    t.clock.set(START);
    const created = await t.request('POST', '/api/v4/latchkey/credentials', {
      token: maintainer(),
      body: { name: 'upstream bot', kind: 'gitlab_group_access_token', owner: 'acme/platform', renewal: { expires_at: '2026-12-31' }, placements: [{ kind: 'ci_variable', instance: 'gitlab.example.com', group: 'team', key: 'UPSTREAM_TOKEN' }] },
    });
    expect(created.status).toBe(201);
    upstream.rotatable.add(created.body.id);
    const before = upstream.calls;
    const res = await rotate(created.body.slug);
    expect(res.status).toBe(201);
    expect(upstream.calls).toBe(before + 1);
    expect(res.body.token).toBe(`glpat-upstream-new-${upstream.calls}`);
    expect(res.body).toMatchObject({ state: 'succeeded', old_token_id: null, new_token_id: 700 + upstream.calls });
    expect(step(res.body, 'retire')).toMatchObject({ state: 'skipped' });
    expect(placements.values.get(created.body.placements[0].id)).toBe(res.body.token);
  });

  it('an upstream rotate call interrupted by a crash fails the job on resume instead of rotating twice', async () => {
    t.clock.set(START);
    const created = await t.request('POST', '/api/v4/latchkey/credentials', {
      token: maintainer(),
      body: { name: 'interrupted bot', kind: 'gitlab_project_access_token', owner: 'acme/platform', renewal: { expires_at: '2026-12-31' } },
    });
    upstream.rotatable.add(created.body.id);
    // The state a node leaves when it dies during the upstream call: the job stored, its renew step started.
    const store = t.app.store.rotationJobs;
    const id = await store.insert(
      { credentialId: created.body.id, trigger: 'api', startedBy: null, oldTokenId: null, gracePeriodSeconds: 0, quietSeconds: 0, expiresAt: null, at: START, leaseHolder: 'dead-node', leaseUntil: '2026-11-23T10:01:00.000Z' },
      [{ kind: 'renew', placementId: null }, { kind: 'tasks', placementId: null }, { kind: 'retire', placementId: null }, { kind: 'finish', placementId: null }],
    );
    await store.startStep(id, 0, START);
    const calls = upstream.calls;
    // Its lease still runs: nobody takes the job over yet.
    await t.app.services.rotations.resumeAll();
    expect((await job(id)).state).toBe('running');
    t.clock.advance(2 * 60_000);
    await t.app.services.rotations.resumeAll();
    const j = await job(id);
    expect(j.state).toBe('failed');
    expect(j.failure).toContain('interrupted during the upstream rotate call');
    expect(upstream.calls).toBe(calls);
  });

  it('refuses what cannot be rotated, bad input and people who may not', async () => {
    t.clock.set(START);
    const outside = await t.request('POST', '/api/v4/latchkey/credentials', {
      token: maintainer(),
      body: { name: 'npm publish', kind: 'npm_token', owner: 'acme/platform', renewal: { every_days: 90 } },
    });
    const nothing = await rotate(outside.body.slug);
    expect(nothing.status).toBe(422);
    expect(nothing.body.message).toContain('Nothing to rotate');
    const old = await deployToken('refusals');
    expect((await rotate(`token-${old.id}`, { grace_period: 'soon' })).body).toEqual({ message: 'grace_period is invalid' });
    expect((await rotate(`token-${old.id}`, { quiet_period: 'later' })).status).toBe(400);
    expect((await rotate(`token-${old.id}`, { grace_period: '31d' })).status).toBe(400);
    expect((await rotate(`token-${old.id}`, { expires_at: '2026-02-30' })).body).toEqual({ message: 'expires_at is invalid' });
    expect((await rotate(`token-${old.id}`, {}, w.users.developer.token)).status).toBe(403);
    expect((await rotate(`token-${old.id}`, {}, w.users.outsider.token)).status).toBe(404);
    expect((await rotate('no-such-entry')).status).toBe(404);
    expect((await t.request('GET', '/api/v4/latchkey/rotations/999999', { token: maintainer() })).status).toBe(404);
    expect(await t.app.store.db.selectFrom('tokens').select('id').where('rotated_from_id', '=', old.id).execute()).toHaveLength(0);
    // A revoked token has nothing to rotate.
    await t.request('DELETE', `/api/v4/projects/${w.project.id}/deploy_tokens/${old.id}`, { token: maintainer() });
    expect((await rotate(`token-${old.id}`)).status).toBeGreaterThanOrEqual(400);
  });
});
