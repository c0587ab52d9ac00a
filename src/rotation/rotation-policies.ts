/**
 * Scheduled rotation (issue 16 item 3): policies per inventory entry or per group, and the scheduler
 * that starts a rotation `days_before_expiry` days before an entry's due date at `hour` UTC. A group's
 * policy covers the entries owned by it and its subgroups (the nearest group's wins) unless the entry has
 * its own. Each scheduled attempt is a row unique per entry and due date: whichever node inserts it
 * starts the rotation, so one due date is rotated once, whatever the nodes, ticks and restarts.
 */
import type { Clock } from '../kernel/clock.js';
import { addDays, midnightUtc, utcDateOf, type UtcDate } from '../kernel/dates.js';
import { DomainError, forbidden, notFound } from '../kernel/errors.js';
import { AccessLevel } from '../namespaces/access-levels.js';
import type { Group, User } from '../namespaces/namespace.js';
import type { Credential, InventoryEntry } from '../inventory/credential.js';
import { NO_EXPIRY } from '../inventory/token-entry.js';
import type { AuditRecord } from '../audit/audit-writer.js';
import type { RotationJob, RotationService } from './contracts.js';
import { DEFAULT_GRACE_SECONDS, DEFAULT_QUIET_SECONDS } from './rotation-service.js';

export interface RotationPolicyFields {
  readonly daysBeforeExpiry: number;
  /** The hour (UTC) of the day it starts. */
  readonly hour: number;
  readonly gracePeriodSeconds: number;
  readonly quietSeconds: number;
  /** E-mail the outcome of a scheduled rotation to the owning group's Maintainers and Owners. */
  readonly notify: boolean;
  readonly enabled: boolean;
}

export interface RotationPolicy extends RotationPolicyFields {
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** Whose policy: an entry's own, or a group's (for its tree). */
export type PolicyHolder = { readonly type: 'credential'; readonly id: number } | { readonly type: 'group'; readonly id: number };

export type PolicyInput = Partial<RotationPolicyFields>;

export const MAX_DAYS_BEFORE_EXPIRY = 365;
/** The longest grace or quiet period: 30 days, as long as a job keeps a pending secret. */
export const MAX_PERIOD_SECONDS = 30 * 86_400;

export const RUN_STATES = ['starting', 'started', 'succeeded', 'failed', 'not_rotatable'] as const;
export type RunState = (typeof RUN_STATES)[number];

/** One scheduled attempt: the due date it rotates for, whose policy, what came of it. */
export interface ScheduledRun {
  readonly id: number;
  readonly credentialId: number;
  readonly dueOn: UtcDate;
  /** `credential`, or `group:<id>`. */
  readonly policySource: string;
  readonly state: RunState;
  readonly jobId: number | null;
  readonly reason: string | null;
  readonly scheduledAt: string;
  readonly finishedAt: string | null;
}

/** An entry under some policy, as the scheduler's scan finds it. */
export interface PolicyCandidate {
  readonly credentialId: number;
  /** The stored due date (outside entries); a token's entry reads its token's expiry instead. */
  readonly dueOn: UtcDate;
  readonly tokenId: number | null;
  /** A synced token of an upstream GitLab (rotated through the upstream's API). */
  readonly upstream: boolean;
  /** The owning group's chain, root first. */
  readonly ancestorIds: readonly number[];
}

export interface RotationPolicyStore {
  find(holder: PolicyHolder): Promise<RotationPolicy | null>;
  /** The policies of these groups, by group id. */
  findForGroups(groupIds: readonly number[]): Promise<Map<number, RotationPolicy>>;
  put(holder: PolicyHolder, fields: RotationPolicyFields, actorId: number | null, at: string): Promise<RotationPolicy>;
  remove(holder: PolicyHolder): Promise<boolean>;
  /** Entries with a policy of their own or under a group's: outside ones due on or before `until`, every token's. */
  candidates(until: UtcDate): Promise<{ entries: PolicyCandidate[]; own: Map<number, RotationPolicy>; groups: Map<number, RotationPolicy> }>;
  /**
   * Live Latchkey tokens of a group's tree under a group policy, expiring on or before `until`, whose
   * entry may have no stored row yet (a token's entry exists without one): the row is made when one is due.
   */
  groupTokens(until: UtcDate): Promise<{ tokenId: number; ancestorIds: number[] }[]>;
  /**
   * Records the attempt for (entry, due date) unless one exists; a `starting` one claimed before
   * `staleBefore` (its node died before the job answered) is taken over. The run's id when this caller
   * owns it, null otherwise.
   */
  claimRun(run: { credentialId: number; dueOn: UtcDate; policySource: string; state: 'starting' | 'not_rotatable'; reason: string | null; at: string; staleBefore: string }): Promise<number | null>;
  markStarted(runId: number, jobId: number): Promise<void>;
  finishRun(runId: number, state: 'succeeded' | 'failed', reason: string | null, at: string): Promise<void>;
  /** Finishes the runs waiting on this job; answers them. */
  finishRunsOfJob(jobId: number, state: 'succeeded' | 'failed', reason: string | null, at: string): Promise<ScheduledRun[]>;
  lastRuns(credentialId: number, limit: number): Promise<ScheduledRun[]>;
}

export const RUN_LEASE_MS = 10 * 60_000;

/** GitLab's `render_validation_error!` shape, every problem at once. */
const invalidPolicy = (errors: Record<string, string[]>) => {
  const [field, reasons] = Object.entries(errors)[0]!;
  return new DomainError('invalid', 'INVALID_ROTATION_POLICY', `${field} ${reasons[0]}`, errors);
};

const isWhole = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
const FIELDS = ['days_before_expiry', 'hour', 'grace_period', 'quiet_period', 'notify', 'enabled'] as const;

/** A PUT body: the given fields, each checked; unknown fields are refused by name. */
export function parsePolicyInput(body: unknown): PolicyInput {
  if (body === null || body === undefined) body = {};
  if (typeof body !== 'object' || Array.isArray(body)) throw invalidPolicy({ base: ['must be an object'] });
  const b = body as Record<string, unknown>;
  const errors: Record<string, string[]> = {};
  const out: { -readonly [K in keyof PolicyInput]: PolicyInput[K] } = {};
  for (const k of Object.keys(b)) if (!(FIELDS as readonly string[]).includes(k)) errors[k] = ['is not a rotation policy field'];
  const whole = (field: string, min: number, max: number, unit: string): number | undefined => {
    const v = b[field];
    if (v === undefined) return undefined;
    // Forms and the CLI send numbers as text.
    const n = typeof v === 'string' && /^[0-9]{1,10}$/.test(v) ? Number(v) : v;
    if (!isWhole(n, min, max)) {
      errors[field] = [`must be a whole number of ${unit} from ${min} to ${max}`];
      return undefined;
    }
    return n;
  };
  const flag = (field: string): boolean | undefined => {
    const v = b[field];
    if (v === undefined) return undefined;
    if (v === true || v === 'true') return true;
    if (v === false || v === 'false') return false;
    errors[field] = ['must be true or false'];
    return undefined;
  };
  out.daysBeforeExpiry = whole('days_before_expiry', 1, MAX_DAYS_BEFORE_EXPIRY, 'days');
  out.hour = whole('hour', 0, 23, 'hours (UTC)');
  out.gracePeriodSeconds = whole('grace_period', 0, MAX_PERIOD_SECONDS, 'seconds');
  out.quietSeconds = whole('quiet_period', 0, MAX_PERIOD_SECONDS, 'seconds');
  out.notify = flag('notify');
  out.enabled = flag('enabled');
  if (Object.keys(errors).length > 0) throw invalidPolicy(errors);
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined)) as PolicyInput;
}

/** The policy after a PUT: given fields over the current ones (or the defaults of a new one). */
export function mergePolicy(current: RotationPolicyFields | null, input: PolicyInput): RotationPolicyFields {
  if (current === null && input.daysBeforeExpiry === undefined) throw invalidPolicy({ days_before_expiry: ['is missing'] });
  const merged: RotationPolicyFields = {
    daysBeforeExpiry: input.daysBeforeExpiry ?? current!.daysBeforeExpiry,
    hour: input.hour ?? current?.hour ?? 0,
    // A new policy's defaults are a rotate request's (rotation-service.ts); its quiet time fits in a shorter grace.
    gracePeriodSeconds: input.gracePeriodSeconds ?? current?.gracePeriodSeconds ?? DEFAULT_GRACE_SECONDS,
    quietSeconds: input.quietSeconds ?? current?.quietSeconds ?? Math.min(DEFAULT_QUIET_SECONDS, input.gracePeriodSeconds ?? DEFAULT_GRACE_SECONDS),
    notify: input.notify ?? current?.notify ?? false,
    enabled: input.enabled ?? current?.enabled ?? true,
  };
  if (merged.quietSeconds > merged.gracePeriodSeconds) throw invalidPolicy({ quiet_period: [`must not exceed grace_period (${merged.gracePeriodSeconds} seconds): the old secret is revoked at the grace's end at the latest`] });
  return merged;
}

/** The policy that applies to an entry: its own, else the nearest group's along its owner's chain. */
export function effectivePolicy(own: RotationPolicy | null, ancestorIds: readonly number[], groups: ReadonlyMap<number, RotationPolicy>): { policy: RotationPolicy; source: PolicyHolder } | null {
  if (own !== null) return { policy: own, source: { type: 'credential', id: 0 } };
  for (let i = ancestorIds.length - 1; i >= 0; i--) {
    const policy = groups.get(ancestorIds[i]!);
    if (policy) return { policy, source: { type: 'group', id: ancestorIds[i]! } };
  }
  return null;
}

/** When a policy starts the rotation for a due date: `days` before it, at `hour` UTC. */
export function rotatesAt(policy: RotationPolicyFields, dueOn: UtcDate): Date {
  return new Date(midnightUtc(addDays(dueOn, -policy.daysBeforeExpiry)).getTime() + policy.hour * 3_600_000);
}

const sourceText = (source: PolicyHolder) => (source.type === 'credential' ? 'credential' : `group:${source.id}`);

export const NOT_ROTATABLE = 'not rotatable: an outside credential that is neither a Latchkey token nor a synced upstream token; renew it by hand (latchkey credential renew)';

export interface RotationSchedulerDeps {
  store: RotationPolicyStore;
  clock: Clock;
  /** The rotation job engine's start (RotationService.start); null while none is wired: nothing is started. */
  start: RotationService['start'] | null;
  /** A token's entry: its live token's expiry (null: no expiry, or no longer active). */
  tokenDueOn(tokenId: number, today: UtcDate): Promise<UtcDate | null>;
  /** The stored row of a token's entry, made (empty, audited as the scheduler's) when it has none; null when it cannot have one. */
  tokenEntryRow(tokenId: number): Promise<number | null>;
  /** One node at a time scans (the job lock of the expiry jobs). */
  lock: { tryLock(name: string, holder: string, now: string, until: string): Promise<boolean>; unlock(name: string, holder: string, now: string): Promise<void> };
  holder: string;
  /** A start the engine refused (no job exists): reported as a failed rotation (rotation-outcomes.ts onRefused). */
  onRefused?: (credentialId: number, reason: string) => Promise<void>;
  onError?: (e: unknown) => void;
}

export interface ScheduleTickSummary {
  ran: boolean;
  started: number;
  failed: number;
  notRotatable: number;
}

export const SCHEDULE_LOCK = 'rotation-schedule';

/**
 * Who makes a token entry's stored row when a group's policy makes it due (audited as `rotation-scheduler`):
 * the system, as the CLI's admin is (namespace-service.ts); never a stored user (id 0).
 */
export const ROTATION_SCHEDULER_ACTOR: User = { id: 0, username: 'rotation-scheduler', name: 'rotation scheduler', email: null, isAdmin: true, botKind: null, state: 'active', createdAt: '1970-01-01T00:00:00.000Z' };

export function createRotationScheduler(deps: RotationSchedulerDeps) {
  const { store, clock } = deps;

  /** Records the attempt for (entry, due date) and, when this node recorded it and the entry can be rotated, starts the job. */
  async function attempt(credentialId: number, rotatable: boolean, applies: { policy: RotationPolicy; source: PolicyHolder }, dueOn: UtcDate, summary: ScheduleTickSummary): Promise<void> {
    const now = clock.now();
    const runId = await store.claimRun({
      credentialId, dueOn, policySource: sourceText(applies.source), state: rotatable ? 'starting' : 'not_rotatable', reason: rotatable ? null : NOT_ROTATABLE,
      at: now.toISOString(), staleBefore: new Date(now.getTime() - RUN_LEASE_MS).toISOString(),
    });
    if (runId === null) return;
    if (!rotatable) {
      summary.notRotatable++;
      return;
    }
    try {
      const { job } = await deps.start!(null, credentialId, { trigger: 'schedule', gracePeriodSeconds: applies.policy.gracePeriodSeconds, quietSeconds: applies.policy.quietSeconds });
      await store.markStarted(runId, job.id);
      // A job that ended inside start (nothing to write, or refused at once) may have reported before the run knew its id.
      if (job.state === 'succeeded' || job.state === 'failed') await store.finishRun(runId, job.state, job.failure, clock.now().toISOString());
      summary.started++;
    } catch (e) {
      // A refusal (the entry cannot be rotated now) is this due date's outcome; the next due date tries again.
      await store.finishRun(runId, 'failed', (e as Error).message, clock.now().toISOString());
      summary.failed++;
      await deps.onRefused?.(credentialId, (e as Error).message);
    }
  }

  const scheduler = {
    /**
     * One pass: every entry whose policy says it is due now (due date − days ≤ today, the hour reached,
     * no attempt for this due date yet) gets one attempt. `ran: false` when another node holds the lock.
     */
    async tick(): Promise<ScheduleTickSummary> {
      const summary: ScheduleTickSummary = { ran: false, started: 0, failed: 0, notRotatable: 0 };
      if (deps.start === null) return summary;
      const now = clock.now();
      const at = now.toISOString();
      if (!(await deps.lock.tryLock(SCHEDULE_LOCK, deps.holder, at, new Date(now.getTime() + RUN_LEASE_MS).toISOString()))) return summary;
      summary.ran = true;
      try {
        const today = utcDateOf(now);
        const { entries, own, groups } = await store.candidates(addDays(today, MAX_DAYS_BEFORE_EXPIRY));
        const isDue = (policy: RotationPolicyFields, dueOn: UtcDate | null): dueOn is UtcDate => dueOn !== null && dueOn !== NO_EXPIRY && rotatesAt(policy, dueOn) <= now;
        for (const entry of entries) {
          const applies = effectivePolicy(own.get(entry.credentialId) ?? null, entry.ancestorIds, groups);
          if (applies === null || !applies.policy.enabled) continue;
          const dueOn = entry.tokenId !== null ? await deps.tokenDueOn(entry.tokenId, today) : entry.dueOn;
          if (isDue(applies.policy, dueOn)) await attempt(entry.credentialId, entry.tokenId !== null || entry.upstream, applies, dueOn, summary);
        }
        // Latchkey tokens under a group's policy whose entry has no stored row yet: the row is made for the job to belong to.
        for (const token of groups.size === 0 ? [] : await store.groupTokens(addDays(today, MAX_DAYS_BEFORE_EXPIRY))) {
          const applies = effectivePolicy(null, token.ancestorIds, groups);
          if (applies === null || !applies.policy.enabled) continue;
          const dueOn = await deps.tokenDueOn(token.tokenId, today);
          if (!isDue(applies.policy, dueOn)) continue;
          const credentialId = await deps.tokenEntryRow(token.tokenId);
          // A row of its own may hold its own policy: the pass above decided for it.
          if (credentialId === null || own.has(credentialId)) continue;
          await attempt(credentialId, true, applies, dueOn, summary);
        }
      } finally {
        await deps.lock.unlock(SCHEDULE_LOCK, deps.holder, clock.now().toISOString());
      }
      return summary;
    },

    /** Runs `tick` every `intervalMs` (`latchkey serve`); the returned function stops it. */
    start(intervalMs: number): () => void {
      let running = false;
      const timer = setInterval(() => {
        if (running) return;
        running = true;
        scheduler
          .tick()
          .catch((e) => deps.onError?.(e))
          .finally(() => {
            running = false;
          });
      }, intervalMs);
      timer.unref();
      return () => clearInterval(timer);
    },
  };
  return scheduler;
}

export type RotationScheduler = ReturnType<typeof createRotationScheduler>;

/** What GET …/rotation_policy answers. */
export interface PolicyView {
  readonly policy: RotationPolicy | null;
  /** The policy that applies: the own one, or the nearest group's (with that group). */
  readonly effective: { readonly policy: RotationPolicy; readonly source: { type: 'credential' } | { type: 'group'; group: Pick<Group, 'id' | 'fullPath'> } } | null;
}

export interface CredentialPolicyView extends PolicyView {
  readonly entry: InventoryEntry;
  /** When the effective policy starts the rotation for the current due date (null: disabled, or no due date). */
  readonly rotatesAt: string | null;
  readonly lastRuns: readonly ScheduledRun[];
}

export interface RotationPolicyServiceDeps {
  store: RotationPolicyStore;
  inventory: { entryRow(actor: User, ref: string, need: 'read' | 'manage'): Promise<{ entry: InventoryEntry; row: Credential | null }> };
  findGroup(ref: string): Promise<Group | null>;
  findGroupById(id: number): Promise<Group | null>;
  accessLevel(user: User, resource: { type: 'group'; group: Group }): Promise<number>;
  clock: Clock;
  audit?: (entry: AuditRecord) => void;
}

export type RotationPolicyService = ReturnType<typeof createRotationPolicyService>;

export function createRotationPolicyService(deps: RotationPolicyServiceDeps) {
  const { store, clock } = deps;

  /** A group `actor` may read (Reporter+, admins any; else 404) or manage (Maintainer+, else 403). */
  const authoriseGroup = async (actor: User, ref: string, need: 'read' | 'manage'): Promise<Group> => {
    const group = await deps.findGroup(ref);
    const level = group === null ? 0 : actor.isAdmin ? AccessLevel.OWNER : await deps.accessLevel(actor, { type: 'group', group });
    if (group === null || level < AccessLevel.REPORTER) throw notFound('Group Not Found', 'GROUP_NOT_FOUND');
    if (need === 'manage' && level < AccessLevel.MAINTAINER) throw forbidden('ROTATION_POLICY_NEEDS_MAINTAINER');
    return group;
  };

  /** The nearest group policy along a group's chain (its own included). */
  const inherited = async (group: Group | null): Promise<PolicyView['effective']> => {
    if (group === null) return null;
    const policies = await store.findForGroups(group.ancestorIds);
    const found = effectivePolicy(null, group.ancestorIds, policies);
    if (found === null) return null;
    const holder = found.source.id === group.id ? group : await deps.findGroupById(found.source.id);
    return { policy: found.policy, source: { type: 'group', group: { id: found.source.id, fullPath: holder?.fullPath ?? '' } } };
  };

  const audit = (actor: User, event: string, groupId: number, data: Record<string, unknown>) =>
    deps.audit?.({ at: clock.now().toISOString(), event, actorUsername: actor.username, groupId, data: { by: actor.username, ...data } });

  const fieldsOf = (p: RotationPolicyFields) => ({ days_before_expiry: p.daysBeforeExpiry, hour: p.hour, grace_period: p.gracePeriodSeconds, quiet_period: p.quietSeconds, notify: p.notify, enabled: p.enabled });

  async function credentialView(entry: InventoryEntry, row: Credential | null): Promise<CredentialPolicyView> {
    const own = row === null ? null : await store.find({ type: 'credential', id: row.id });
    const ownerGroup = entry.owner === null ? null : await deps.findGroupById(entry.owner.id);
    const effective: PolicyView['effective'] = own !== null ? { policy: own, source: { type: 'credential' } } : await inherited(ownerGroup);
    const due = entry.tokenStatus !== undefined && entry.tokenStatus.state !== 'active' ? null : entry.dueOn;
    const at = effective !== null && effective.policy.enabled && due !== null && due !== NO_EXPIRY ? rotatesAt(effective.policy, due).toISOString() : null;
    return { entry, policy: own, effective, rotatesAt: at, lastRuns: row === null ? [] : await store.lastRuns(row.id, 10) };
  }

  return {
    async getForCredential(actor: User, ref: string): Promise<CredentialPolicyView> {
      const { entry, row } = await deps.inventory.entryRow(actor, ref, 'read');
      return credentialView(entry, row);
    },

    async putForCredential(actor: User, ref: string, input: PolicyInput): Promise<CredentialPolicyView> {
      const { row } = await deps.inventory.entryRow(actor, ref, 'manage');
      const holder: PolicyHolder = { type: 'credential', id: row!.id };
      const fields = mergePolicy(await store.find(holder), input);
      await store.put(holder, fields, actor.id > 0 ? actor.id : null, clock.now().toISOString());
      audit(actor, 'credential.rotation_policy_set', row!.owner.id, { credential_id: row!.id, slug: row!.slug, ...fieldsOf(fields) });
      // Read again: a token's entry got its stored row (and id) just now.
      const fresh = await deps.inventory.entryRow(actor, ref, 'read');
      return credentialView(fresh.entry, fresh.row);
    },

    async removeForCredential(actor: User, ref: string): Promise<void> {
      const { row } = await deps.inventory.entryRow(actor, ref, 'manage');
      if (!(await store.remove({ type: 'credential', id: row!.id }))) throw notFound('Rotation Policy Not Found', 'ROTATION_POLICY_NOT_FOUND');
      audit(actor, 'credential.rotation_policy_removed', row!.owner.id, { credential_id: row!.id, slug: row!.slug });
    },

    async getForGroup(actor: User, ref: string): Promise<PolicyView & { group: Group }> {
      const group = await authoriseGroup(actor, ref, 'read');
      return { group, policy: await store.find({ type: 'group', id: group.id }), effective: await inherited(group) };
    },

    async putForGroup(actor: User, ref: string, input: PolicyInput): Promise<PolicyView & { group: Group }> {
      const group = await authoriseGroup(actor, ref, 'manage');
      const holder: PolicyHolder = { type: 'group', id: group.id };
      const fields = mergePolicy(await store.find(holder), input);
      const policy = await store.put(holder, fields, actor.id > 0 ? actor.id : null, clock.now().toISOString());
      audit(actor, 'group.rotation_policy_set', group.id, { group: group.fullPath, ...fieldsOf(fields) });
      return { group, policy, effective: await inherited(group) };
    },

    async removeForGroup(actor: User, ref: string): Promise<void> {
      const group = await authoriseGroup(actor, ref, 'manage');
      if (!(await store.remove({ type: 'group', id: group.id }))) throw notFound('Rotation Policy Not Found', 'ROTATION_POLICY_NOT_FOUND');
      audit(actor, 'group.rotation_policy_removed', group.id, { group: group.fullPath });
    },
  };
}

/** The finished job's outcome as a run records it. */
export const outcomeOf = (job: RotationJob): 'succeeded' | 'failed' => (job.state === 'succeeded' ? 'succeeded' : 'failed');
