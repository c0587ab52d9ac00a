/**
 * The rotation job (issue 16): one persisted, resumable procedure per rotation of an inventory entry —
 * renew the secret, write and verify every automatic placement, open tasks for the manual ones, retire
 * the old secret once it is quiet or its grace ends, wipe the pending secret. Each step is a row; a job
 * is advanced by one node at a time (a lease in the database) from its first pending step, so a node
 * stopped at any point leaves a job another start (or node) continues.
 *
 * Crash safety of the renew step: a Latchkey token is rotated in the same transaction that stores the
 * job's sealed new secret and marks the step done (lifecycle.rotate's `alsoIn`): a crash leaves either
 * no new token or a new token the job holds. An upstream's rotate call cannot share a transaction, so
 * the step is marked started before the call; a job found with a started, unfinished upstream renew
 * fails with that reason instead of rotating a second time.
 */
import type { AuditRecord } from '../audit/audit-writer.js';
import type { Credential, Placement } from '../inventory/credential.js';
import type { InventoryStore } from '../inventory/inventory-store.js';
import { describePlacement } from '../inventory/credential.js';
import type { Clock } from '../kernel/clock.js';
import { offsetOf, type Page, type PageRequest } from '../kernel/page.js';
import type { UtcDate } from '../kernel/dates.js';
import { conflict, DomainError, forbidden, invalidRecord, notFound, unprocessableRecord } from '../kernel/errors.js';
import type { SecretBox } from '../kernel/secret-box.js';
import type { User } from '../namespaces/namespace.js';
import type { Store } from '../store/open-store.js';
import type { ExpiryPolicy } from '../tokens/expiry-policy.js';
import { GITLAB_DEPLOY_TOKEN_NAME } from '../tokens/deploy-token-secret-store.js';
import { MAX_GRACE_PERIOD_SECONDS, type TokenLifecycle } from '../tokens/token-lifecycle.js';
import { isRevokedAt, isTokenExpiredAt, type Token } from '../tokens/token.js';
import { USAGE_LAG_MS } from '../tokens/token-usage-tracker.js';
import { NOT_AN_UPSTREAM_TOKEN, type PlacementIO, type RotationJob, type RotationOptions, type RotationService, type RotationStepKind, type RotationTasks, type StartedRotation, type UpstreamRotator } from './contracts.js';
import type { NewRotationStep, StoredRotationJob, TokenUse } from './rotation-job-store.js';

/** HKDF purpose of a job's pending secret. Frozen: stored values were sealed under it. */
export const ROTATION_SECRET_PURPOSE = 'rotation-pending-secret v1';

/** Defaults of a rotation: the old secret works for a day at most, and goes once unused for an hour. */
export const DEFAULT_GRACE_SECONDS = 86_400;
export const DEFAULT_QUIET_SECONDS = 3_600;
/** With grace 0 the old secret still works while the placements are written, at most this long. */
export const WRITE_WINDOW_SECONDS = 3_600;
/** A job with manual tasks keeps its secret until they are checked off, at most this long. */
export const TASKS_KEEP_SECONDS = 30 * 86_400;

export interface RotationServiceDeps {
  store: Store;
  /** The stored entry a rotation works on, if `actor` may manage it (the inventory's authorisation). */
  rotatable(actor: User, ref: string): Promise<Credential>;
  /** Whether `actor` may read the entry (404 otherwise). */
  readable(actor: User, ref: string): Promise<{ id: number | null }>;
  entries: Pick<InventoryStore, 'findById' | 'findTokenEntry'>;
  lifecycle: Pick<TokenLifecycle, 'rotate' | 'revoke'>;
  expiryPolicy: Pick<ExpiryPolicy, 'forRotation'>;
  box: SecretBox;
  /** The box of `gitlab-deploy-token` secrets CI is handed (CI_DEPLOY_PASSWORD): a rotated one keeps being handed out. */
  ciSecretBox?: SecretBox;
  placements: PlacementIO;
  upstream: UpstreamRotator;
  /** Manual placements as tasks; absent, the tasks step lists them and the job does not wait for anyone. */
  tasks: RotationTasks | null;
  clock: Clock;
  /** This node's name in job leases. */
  holder: string;
  /** How long a node holds a job it advances; a stopped node's job is resumed after it. */
  leaseMs: number;
  /**
   * How far behind a token's stored last use may be (the usage writer's throttle and flush, USAGE_LAG_MS):
   * a use inside it may not be written yet, so the quiet time only counts as passed this much later.
   */
  usageLagMs?: number;
  audit?: (entry: AuditRecord) => void | Promise<void>;
  /** Test hook (LATCHKEY_FAULT_POINT): called with `rotation:<step>` right after a step is persisted. */
  faultPoint?: (point: string) => void;
  onError?: (e: unknown) => void;
}

/** A step's result: go on, wait for a later tick, or the job failed with this reason. */
type Outcome = { readonly next: 'go' } | { readonly next: 'wait' } | { readonly next: 'fail'; readonly reason: string };
const GO: Outcome = { next: 'go' };
const WAIT: Outcome = { next: 'wait' };
const fail = (reason: string): Outcome => ({ next: 'fail', reason });


export type RotationEngine = RotationService & {
  /** start() by an entry's ref (id, slug or token-<id>), for the API and the CLI. */
  startByRef(actor: User, ref: string, options: RotationOptions): Promise<StartedRotation>;
  /** A job, if `actor` may read its entry. */
  get(actor: User, id: number): Promise<RotationJob>;
  /** An entry's jobs (null: every entry's, admins only), newest first. */
  list(actor: User, ref: string | null, page: PageRequest): Promise<Page<RotationJob>>;
  /** Every job whose lease is free, advanced (serve: at start and on every tick). Returns how many were looked at. */
  resumeAll(): Promise<number>;
  /** Advances one job as far as it goes now. */
  advance(id: number): Promise<void>;
};

const publicJob = (job: StoredRotationJob): RotationJob => ({
  id: job.id,
  credentialId: job.credentialId,
  state: job.state,
  trigger: job.trigger,
  startedBy: job.startedBy,
  oldTokenId: job.oldTokenId,
  newTokenId: job.newTokenId,
  gracePeriodSeconds: job.gracePeriodSeconds,
  quietSeconds: job.quietSeconds,
  failure: job.failure,
  steps: job.steps,
  createdAt: job.createdAt,
  updatedAt: job.updatedAt,
  finishedAt: job.finishedAt,
});

const checkSeconds = (name: string, value: number | undefined, fallback: number): number => {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0 || value > MAX_GRACE_PERIOD_SECONDS) throw invalidRecord(`${name} must be from 0 to ${MAX_GRACE_PERIOD_SECONDS} seconds`);
  return value;
};

/** The newest value of a usage window (value → ISO instant), or null. */
const newest = (window: Readonly<Record<string, string>>): string | null => {
  let best: [string, string] | null = null;
  for (const entry of Object.entries(window)) if (best === null || entry[1] > best[1]) best = entry;
  return best?.[0] ?? null;
};

/** "still used from 10.0.0.7 (curl/8.5) at …": where the old secret was last seen. */
const stillUsed = (use: TokenUse): string => {
  const ip = newest(use.windowIps) ?? use.lastUsedIps[0] ?? 'an unknown address';
  const agent = newest(use.windowUserAgents);
  return `still used from ${ip}${agent ? ` (${agent})` : ''} at ${use.lastUsedAt}`;
};

export function createRotationService(deps: RotationServiceDeps): RotationEngine {
  const { store, clock, box } = deps;
  const jobs = store.rotationJobs;
  const now = () => clock.now();
  const iso = () => now().toISOString();
  const listeners: ((job: RotationJob) => void | Promise<void>)[] = [];
  const runningHere = new Set<number>();
  const report = (e: unknown) => (deps.onError ?? (() => {}))(e);
  const NOT_FOUND = () => notFound('Rotation Not Found', 'ROTATION_NOT_FOUND');

  const audit = async (credential: Pick<Credential, 'id' | 'slug' | 'owner'> | null, event: string, actor: string | null, data: Record<string, unknown>) => {
    try {
      await deps.audit?.({ at: iso(), event, actorUsername: actor, groupId: credential?.owner.id ?? null, data: { credential_id: credential?.id ?? null, slug: credential?.slug ?? null, ...data } });
    } catch (e) {
      report(e);
    }
  };

  /** The live token of a token entry's chain (null for outside entries). */
  const liveTokenOf = async (credential: Credential): Promise<Token | null> => {
    if (credential.tokenId === null) return null;
    const read = await deps.entries.findTokenEntry(credential.tokenId, iso().slice(0, 10) as UtcDate);
    return read === null ? null : store.tokens.findById(read.token.id);
  };

  /** The groups whose token lifetime limit applies to a token (its group's chain). */
  const groupIdsOf = async (token: Token): Promise<readonly number[]> => {
    const groupId = token.groupId ?? (token.projectId !== null ? (await store.namespaces.findProjectById(token.projectId))?.groupId : undefined);
    if (groupId === undefined || groupId === null) return [];
    return (await store.namespaces.findGroupById(groupId))?.ancestorIds ?? [];
  };

  const plan = (credential: Credential): NewRotationStep[] => {
    const steps: NewRotationStep[] = [{ kind: 'renew', placementId: null }];
    for (const p of credential.placements) if (deps.placements.isAutomatic(p)) steps.push({ kind: 'write', placementId: p.id }, { kind: 'verify', placementId: p.id });
    steps.push({ kind: 'tasks', placementId: null }, { kind: 'retire', placementId: null }, { kind: 'finish', placementId: null });
    return steps;
  };

  const leaseUntil = () => new Date(now().getTime() + deps.leaseMs).toISOString();

  async function begin(actor: User | null, credential: Credential, options: RotationOptions): Promise<StartedRotation> {
    const running = await jobs.findUnfinished(credential.id);
    if (running !== null) return { job: publicJob(running), created: false, secret: null };
    const grace = checkSeconds('grace_period', options.gracePeriodSeconds, DEFAULT_GRACE_SECONDS);
    const quiet = checkSeconds('quiet_period', options.quietSeconds, DEFAULT_QUIET_SECONDS);
    let oldTokenId: number | null = null;
    let expiresAt: UtcDate | null = options.expiresAt ?? null;
    const live = await liveTokenOf(credential);
    if (credential.tokenId !== null) {
      if (live === null || isRevokedAt(live, now()) || live.supersededAt !== null) {
        // A request that raced this one may have started a job since the check above: its renew step
        // supersedes (or, without a grace, revokes) this token. That job is the answer, as for a retry.
        const started = await jobs.findUnfinished(credential.id);
        if (started !== null) return { job: publicJob(started), created: false, secret: null };
        throw conflict(`Nothing to rotate: the token of ${credential.slug} is revoked`, 'ROTATION_TOKEN_REVOKED');
      }
      if (isTokenExpiredAt(live, now())) throw conflict(`Nothing to rotate: the token of ${credential.slug} has expired`, 'ROTATION_TOKEN_EXPIRED');
      oldTokenId = live.id;
      expiresAt = await deps.expiryPolicy.forRotation(options.expiresAt, { now: now(), groupIds: await groupIdsOf(live) });
    } else if (!(await deps.upstream.canRotate(credential.id))) {
      // A synced upstream token the upstream cannot rotate (a deploy token, one revoked there…) says why.
      const why = (await deps.upstream.whyNot?.(credential.id)) ?? NOT_AN_UPSTREAM_TOKEN;
      if (why !== NOT_AN_UPSTREAM_TOKEN) throw unprocessableRecord(`Nothing to rotate here: ${credential.slug} is a synced upstream token, and ${why}; renew it by hand and mark it renewed (POST …/renewals)`, 'ROTATION_NOTHING_TO_ROTATE');
      throw unprocessableRecord(`Nothing to rotate: ${credential.slug} is neither a Latchkey token nor a synced upstream token; renew it by hand and mark it renewed (POST …/renewals)`, 'ROTATION_NOTHING_TO_ROTATE');
    }
    const at = iso();
    let id: number;
    try {
      id = await store.transaction((ports) =>
        ports.rotationJobs.insert(
          { credentialId: credential.id, trigger: options.trigger, startedBy: actor && actor.id > 0 ? actor.id : null, oldTokenId, gracePeriodSeconds: grace, quietSeconds: quiet, expiresAt, at, leaseHolder: deps.holder, leaseUntil: leaseUntil() },
          plan(credential),
        ),
      );
    } catch (e) {
      // Another request started one first (the partial unique index): that job is the answer.
      if (!(e instanceof DomainError && e.code === 'ALREADY_EXISTS')) throw e;
      const other = await jobs.findUnfinished(credential.id);
      if (other === null) throw e;
      return { job: publicJob(other), created: false, secret: null };
    }
    await audit(credential, 'credential.rotation_started', actor?.username ?? null, { job_id: id, trigger: options.trigger, grace_period: grace, quiet_period: quiet });
    deps.faultPoint?.('rotation:start');
    const secret = await run(id, true);
    return { job: publicJob((await jobs.findById(id))!), created: true, secret };
  }

  /**
   * Advances a job from its first pending step while this node holds its lease. Returns the new secret
   * when this call issued it (the starter's answer), null otherwise.
   */
  async function run(id: number, leased = false): Promise<string | null> {
    // The lease keeps other nodes out; this keeps a second run of this node out (a tick during a request's run).
    if (runningHere.has(id)) return null;
    if (!leased && !(await jobs.claim(id, deps.holder, iso(), leaseUntil()))) return null;
    runningHere.add(id);
    let issued: string | null = null;
    try {
      for (;;) {
        const job = await jobs.findById(id);
        if (job === null || job.finishedAt !== null) return issued;
        // The lease is renewed before each step: a step never outlives it by much (writes have timeouts).
        if (!(await jobs.claim(id, deps.holder, iso(), leaseUntil()))) return issued;
        const position = job.steps.findIndex((s) => s.state === 'pending');
        if (position < 0) return issued;
        const step = job.steps[position]!;
        const credential = await deps.entries.findById(job.credentialId);
        if (credential === null) return issued; // deleted: the job went with it (cascade)
        if (step.startedAt === null && step.kind !== 'renew') {
          await jobs.startStep(id, position, iso());
          await audit(credential, 'credential.rotation_step_started', null, { job_id: id, step: step.kind, placement_id: step.placementId });
        }
        const outcome = await runStep(job, position, credential, (secret) => (issued = secret));
        if (outcome.next === 'wait') {
          if (job.state !== 'waiting') await jobs.update(id, { state: 'waiting' }, iso());
          return issued;
        }
        if (outcome.next === 'fail') {
          await failJob(job, position, credential, outcome.reason);
          return issued;
        }
        const after = (await jobs.findById(id))!;
        const done = after.steps[position]!;
        await audit(credential, 'credential.rotation_step_finished', null, { job_id: id, step: done.kind, placement_id: done.placementId, state: done.state, detail: done.detail });
        if (after.finishedAt !== null) await finished(after, credential);
        deps.faultPoint?.(`rotation:${step.kind}`);
      }
    } catch (e) {
      report(e);
      return issued;
    } finally {
      runningHere.delete(id);
      await jobs.release(id, deps.holder).catch(report);
    }
  }

  async function failJob(job: StoredRotationJob, position: number, credential: Credential, reason: string): Promise<void> {
    const at = iso();
    await store.transaction(async (ports) => {
      await ports.rotationJobs.finishStep(job.id, position, 'failed', reason, at);
      await ports.rotationJobs.skipRest(job.id, position + 1, 'not run: an earlier step failed', at);
      await ports.rotationJobs.update(job.id, { state: 'failed', failure: reason, secretSealed: null, finishedAt: at }, at);
    });
    const step = job.steps[position]!;
    await audit(credential, 'credential.rotation_step_finished', null, { job_id: job.id, step: step.kind, placement_id: step.placementId, state: 'failed', detail: reason });
    await finished((await jobs.findById(job.id))!, credential);
  }

  async function finished(job: StoredRotationJob, credential: Credential): Promise<void> {
    await audit(credential, job.state === 'succeeded' ? 'credential.rotation_succeeded' : 'credential.rotation_failed', null, { job_id: job.id, failure: job.failure, new_token_id: job.newTokenId });
    for (const listener of listeners) {
      try {
        await listener(publicJob(job));
      } catch (e) {
        report(e);
      }
    }
  }

  const done = (job: StoredRotationJob, position: number, detail: string) => jobs.finishStep(job.id, position, 'done', detail, iso());

  async function runStep(job: StoredRotationJob, position: number, credential: Credential, issued: (secret: string) => void): Promise<Outcome> {
    const step = job.steps[position]!;
    const kind: RotationStepKind = step.kind;
    const placementOf = (id: number | null): Placement | undefined => credential.placements.find((p) => p.id === id);
    switch (kind) {
      case 'renew':
        return job.oldTokenId !== null ? renewOwn(job, position, credential, issued) : renewUpstream(job, position, credential, issued);
      case 'write':
      case 'verify': {
        const placement = placementOf(step.placementId);
        if (placement === undefined) {
          await jobs.finishStep(job.id, position, 'skipped', 'the placement was removed from the entry', iso());
          return GO;
        }
        if (job.secretSealed === null) return fail('the pending secret is gone');
        const secret = box.open(job.secretSealed);
        const result = kind === 'write' ? await deps.placements.write(placement, secret) : await deps.placements.verify(placement, secret);
        if (!result.ok) return fail(`${describePlacement(placement)}: ${kind === 'write' ? 'cannot write' : 'read back'}: ${result.reason}`);
        await done(job, position, kind === 'write' ? `wrote ${describePlacement(placement)}` : `${describePlacement(placement)} holds the new secret`);
        return GO;
      }
      case 'tasks': {
        const written = new Set(job.steps.filter((s) => s.kind === 'write').map((s) => s.placementId));
        const left = credential.placements.filter((p) => !written.has(p.id));
        const manual = left.filter((p) => p.kind === 'manual');
        const byHand = left.filter((p) => p.kind !== 'manual');
        const notes = byHand.length > 0 ? [`update by hand: ${byHand.map(describePlacement).join('; ')}`] : [];
        if (manual.length === 0 || deps.tasks === null) {
          if (manual.length > 0) notes.unshift(`update by hand (no task service): ${manual.map(describePlacement).join('; ')}`);
          await jobs.finishStep(job.id, position, 'skipped', notes.length > 0 ? notes.join('; ') : 'no manual placements', iso());
          return GO;
        }
        await deps.tasks.openForJob(publicJob(job), left);
        await done(job, position, [`${manual.length} task${manual.length === 1 ? '' : 's'} opened: ${manual.map(describePlacement).join('; ')}`, ...notes].join('; '));
        return GO;
      }
      case 'retire':
        return retire(job, position);
      case 'finish': {
        const tasks = job.steps.find((s) => s.kind === 'tasks');
        const keepUntil = new Date(Date.parse(job.createdAt) + TASKS_KEEP_SECONDS * 1000).toISOString();
        if (tasks?.state === 'done' && job.tasksDoneAt === null && iso() < keepUntil) {
          await jobs.noteStep(job.id, position, `waiting for the manual tasks to be checked off (the new secret is kept until then, at the latest ${keepUntil})`, iso());
          return WAIT;
        }
        const at = iso();
        await store.transaction(async (ports) => {
          await ports.rotationJobs.finishStep(job.id, position, 'done', 'the pending secret was wiped', at);
          await ports.rotationJobs.update(job.id, { state: 'succeeded', secretSealed: null, finishedAt: at }, at);
        });
        return GO;
      }
    }
  }

  async function renewOwn(job: StoredRotationJob, position: number, credential: Credential, issued: (secret: string) => void): Promise<Outcome> {
    const live = await liveTokenOf(credential);
    // The renew step commits with the new token: a live token other than the job's old one was rotated elsewhere.
    if (live === null || live.id !== job.oldTokenId) return fail('the token was rotated or removed outside this job before it could rotate it');
    await jobs.startStep(job.id, position, iso());
    await audit(credential, 'credential.rotation_step_started', null, { job_id: job.id, step: 'renew', placement_id: null });
    const by = job.startedBy === null ? null : await store.namespaces.findUserById(job.startedBy);
    const grace = job.gracePeriodSeconds > 0 ? job.gracePeriodSeconds : WRITE_WINDOW_SECONDS;
    try {
      const result = await deps.lifecycle.rotate(live, {
        by,
        expiresAt: job.expiresAt as UtcDate | null,
        gracePeriodSeconds: grace,
        alsoIn: async (ports, { token, secret }) => {
          const at = iso();
          await ports.rotationJobs.update(job.id, { newTokenId: token.id, secretSealed: box.seal(secret) }, at);
          if (token.kind === 'deploy' && token.name === GITLAB_DEPLOY_TOKEN_NAME && deps.ciSecretBox) await ports.deployTokenSecrets.insert(token.id, deps.ciSecretBox.seal(secret), at);
          await ports.rotationJobs.finishStep(job.id, position, 'done', `token ${token.id} issued (expires ${token.expiresAt ?? 'never'}); token ${live.id} works until ${new Date(Date.parse(at) + grace * 1000).toISOString()} at the latest`, at);
        },
      });
      issued(result.secret);
      return GO;
    } catch (e) {
      if (e instanceof DomainError) return fail(`cannot rotate token ${live.id}: ${e.message}`);
      throw e;
    }
  }

  async function renewUpstream(job: StoredRotationJob, position: number, credential: Credential, issued: (secret: string) => void): Promise<Outcome> {
    const interrupted = 'interrupted during the upstream rotate call (the process stopped): the upstream may have issued a new token that Latchkey does not hold; check the token there and rotate again';
    if (job.steps[position]!.startedAt !== null) return fail(interrupted);
    // Persisted before the call: a resumed job never calls the upstream twice.
    if (!(await jobs.startStep(job.id, position, iso()))) return fail(interrupted);
    await audit(credential, 'credential.rotation_step_started', null, { job_id: job.id, step: 'renew', placement_id: null });
    let rotation;
    try {
      rotation = await deps.upstream.rotate(credential.id, job.expiresAt === null ? {} : { expiresAt: job.expiresAt as UtcDate });
    } catch (e) {
      return fail(`the upstream refused the rotation: ${(e as Error).message}`);
    }
    const at = iso();
    await store.transaction(async (ports) => {
      // Another node may have failed the job meanwhile (this call outlived the lease): that verdict stands.
      if ((await ports.rotationJobs.findById(job.id))?.finishedAt !== null) return;
      await ports.rotationJobs.update(job.id, { newTokenId: rotation.remoteId, secretSealed: box.seal(rotation.secret) }, at);
      await ports.rotationJobs.finishStep(job.id, position, 'done', `rotated on the upstream: token ${rotation.remoteId} (expires ${rotation.expiresOn ?? 'never'}); the old one stopped working there`, at);
    });
    issued(rotation.secret);
    return GO;
  }

  /** The old secret goes once it has been unused for the quiet time, or its grace ended (or at once with grace 0). */
  async function retire(job: StoredRotationJob, position: number): Promise<Outcome> {
    if (job.oldTokenId === null) {
      await jobs.finishStep(job.id, position, 'skipped', 'the upstream revoked the old token when it rotated it', iso());
      return GO;
    }
    const old = await store.tokens.findById(job.oldTokenId);
    if (old === null || old.revokedAt !== null) {
      await done(job, position, `token ${job.oldTokenId} was already revoked${old?.revokedAt ? ` at ${old.revokedAt}` : ''}`);
      return GO;
    }
    const at = now();
    const rotatedAt = job.steps.find((s) => s.kind === 'renew')?.finishedAt ?? job.createdAt;
    let reason: string | null = null;
    if (job.gracePeriodSeconds === 0) reason = 'every automatic placement holds the new secret (no grace period)';
    else if (old.graceUntil !== null && at.getTime() >= Date.parse(old.graceUntil)) reason = `its grace period ended at ${old.graceUntil}`;
    const use = await jobs.tokenUse(old.id);
    const usedSince = use?.lastUsedAt && use.lastUsedAt > rotatedAt ? use.lastUsedAt : null;
    const quietFrom = usedSince ?? rotatedAt;
    // A use the usage writer held back may not be stored yet (up to its minute plus a flush): the quiet time waits that much longer.
    const quietEnds = new Date(Date.parse(quietFrom) + job.quietSeconds * 1000 + (deps.usageLagMs ?? USAGE_LAG_MS));
    if (reason === null && at.getTime() >= quietEnds.getTime()) reason = `unused since ${quietFrom} for the quiet time (${job.quietSeconds} s)`;
    if (reason === null) {
      const until = old.graceUntil ? `, at the latest at ${old.graceUntil}` : '';
      const note = usedSince !== null && use !== null ? `${stillUsed(use)}; revoked once unused for ${job.quietSeconds} s (at ${quietEnds.toISOString()} unless used again)${until}` : `not used since the rotation; revoked at ${quietEnds.toISOString()} unless used again${until}`;
      if (note !== job.steps[position]!.detail) await jobs.noteStep(job.id, position, note, iso());
      return WAIT;
    }
    await deps.lifecycle.revoke(old, { by: null, reason: 'rotated' });
    await jobs.update(job.id, { state: 'running' }, iso());
    await done(job, position, `token ${old.id} revoked: ${reason}`);
    return GO;
  }

  const findJob = async (id: number): Promise<StoredRotationJob> => {
    const job = Number.isSafeInteger(id) && id > 0 && id <= 2147483647 ? await jobs.findById(id) : null;
    if (job === null) throw NOT_FOUND();
    return job;
  };

  return {
    async start(actor, credentialId, options) {
      const credential = actor === null ? await deps.entries.findById(credentialId) : await deps.rotatable(actor, String(credentialId));
      if (credential === null) throw notFound('Credential Not Found', 'CREDENTIAL_NOT_FOUND');
      return begin(actor, credential, options);
    },

    async startByRef(actor, ref, options) {
      return begin(actor, await deps.rotatable(actor, ref), options);
    },

    onFinished(listener) {
      listeners.push(listener);
    },

    async revealSecret(actor, jobId) {
      const job = await findJob(jobId);
      const credential = await deps.rotatable(actor, String(job.credentialId)).catch((e: unknown) => {
        // Someone who cannot read the entry learns nothing of the job.
        if (e instanceof DomainError && e.kind === 'not_found') throw NOT_FOUND();
        throw e;
      });
      if (job.finishedAt !== null || job.secretSealed === null) throw notFound('Rotation secret Not Found', 'ROTATION_SECRET_WIPED');
      await audit(credential, 'credential.rotation_secret_revealed', actor.username, { job_id: job.id });
      return box.open(job.secretSealed);
    },

    async tasksDone(jobId) {
      const job = await findJob(jobId);
      if (job.tasksDoneAt === null) await jobs.update(job.id, { tasksDoneAt: iso() }, iso());
      await run(job.id);
    },

    async get(actor, id) {
      const job = await findJob(id);
      await deps.readable(actor, String(job.credentialId)).catch((e: unknown) => {
        if (e instanceof DomainError && e.kind === 'not_found') throw NOT_FOUND();
        throw e;
      });
      return publicJob(job);
    },

    async list(actor, ref, page) {
      let credentialId: number | undefined;
      if (ref === null) {
        if (!actor.isAdmin) throw forbidden('ROTATIONS_NEED_ADMIN');
      } else {
        const entry = await deps.readable(actor, ref);
        if (entry.id === null) return { items: [], total: 0, hasNext: false };
        credentialId = entry.id;
      }
      const afterId = page.keyset?.afterId ?? undefined;
      const result = await jobs.list({ ...(credentialId !== undefined ? { credentialId } : {}), ...(afterId !== undefined ? { afterId } : {}), keyset: page.keyset !== undefined }, page.perPage + 1, offsetOf(page));
      const items = result.items.slice(0, page.perPage).map(publicJob);
      return { items, total: result.total ?? 0, ...(result.total === null ? { exact: false } : {}), hasNext: result.items.length > page.perPage };
    },

    async resumeAll() {
      const ids = await jobs.resumable(iso(), 100);
      for (const id of ids) await run(id);
      return ids.length;
    },

    async advance(id) {
      await run(id);
    },
  };
}
