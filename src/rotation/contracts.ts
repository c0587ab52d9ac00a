/**
 * Rotation orchestration (issue 16): the seams between its parts, so each is built and tested on its own.
 * Types only, no I/O.
 *
 * - `RotationService` (src/rotation/rotation-service.ts): the persisted, resumable job — renew the secret,
 *   write and verify every automatic placement, turn manual placements into tasks, retire the old secret
 *   when it is quiet or its grace ends. Started by the API, the CLI, the web UI and the scheduler.
 * - `PlacementIO` (src/rotation/placement-io.ts): writes a secret into a `ci_variable` placement in the
 *   placement's format (on this Latchkey or on a registered upstream, through GitLab's variables API) and
 *   reads it back.
 * - `UpstreamRotator` (src/rotation/upstream-rotator.ts): rotates a synced upstream token through the
 *   upstream's own rotate API (the bot identity is kept).
 * - `RotationTasks` (src/rotation/rotation-tasks.ts): manual placements as tasks on the entry, assigned to
 *   the owner group's Maintainers/Owners, reminded until checked off. The job keeps its new secret sealed
 *   (revealable on a task) until every task is checked off, or at most 30 days, then wipes it and finishes.
 * - `RotationScheduler` (src/rotation/rotation-policies.ts): per-entry or per-group policies that start a
 *   rotation N days before expiry at a chosen hour, and report each outcome (notice, webhook).
 */
import type { Placement } from '../inventory/credential.js';
import type { UtcDate } from '../kernel/dates.js';
import type { User } from '../namespaces/namespace.js';

/** Who or what started a rotation. */
export type RotationTrigger = 'api' | 'cli' | 'web' | 'schedule';

/** A job's life: `running` (steps to do), `waiting` (the old secret is in its grace, watched for quiet), `succeeded`, `failed`. */
export const ROTATION_STATES = ['running', 'waiting', 'succeeded', 'failed'] as const;
export type RotationState = (typeof ROTATION_STATES)[number];

/**
 * The steps, in order. `renew`: a new secret (Latchkey's own token rotated with a grace period, or the
 * upstream's rotate API). `write` / `verify`: one per automatic placement. `tasks`: manual placements
 * become tasks. `retire`: the old secret revoked once quiet or at the grace's end (Latchkey's own tokens;
 * an upstream rotation revokes the old one at once). `finish`: the pending secret wiped.
 */
export const ROTATION_STEP_KINDS = ['renew', 'write', 'verify', 'tasks', 'retire', 'finish'] as const;
export type RotationStepKind = (typeof ROTATION_STEP_KINDS)[number];

export interface RotationStep {
  readonly kind: RotationStepKind;
  /** The placement a write/verify step is about; null for the others. */
  readonly placementId: number | null;
  readonly state: 'pending' | 'done' | 'failed' | 'skipped';
  /** Why it failed or was skipped, or what it found ("still used from 10.0.0.7 (curl/8.5) at …"); never a secret. */
  readonly detail: string | null;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
}

export interface RotationJob {
  readonly id: number;
  readonly credentialId: number;
  readonly state: RotationState;
  readonly trigger: RotationTrigger;
  /** The user who started it; null for the scheduler. */
  readonly startedBy: number | null;
  /** The Latchkey token rotated away and the one issued (own tokens), or the upstream's token ids. */
  readonly oldTokenId: number | null;
  readonly newTokenId: number | null;
  readonly gracePeriodSeconds: number;
  readonly quietSeconds: number;
  /** Why the job failed (the failed step's detail). */
  readonly failure: string | null;
  readonly steps: readonly RotationStep[];
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly finishedAt: string | null;
}

export interface RotationOptions {
  readonly trigger: RotationTrigger;
  /** How long the old secret of Latchkey's own token keeps working at most (0: revoked once every placement holds the new one). */
  readonly gracePeriodSeconds?: number;
  /** Revoke the old secret once it has not been used for this long (within the grace). */
  readonly quietSeconds?: number;
  /** The new token's expiry; default: the token kind's rotate default. */
  readonly expiresAt?: UtcDate;
}

export interface StartedRotation {
  readonly job: RotationJob;
  /** False when a running job for the entry was returned instead (a retried request). */
  readonly created: boolean;
  /** The new secret, only in the answer of the request that created the job. */
  readonly secret: string | null;
}

export interface RotationService {
  /** Starts a rotation of an entry (or returns the one already running for it: never two at once). */
  start(actor: User | null, credentialId: number, options: RotationOptions): Promise<StartedRotation>;
  /** Called once for every job that reaches `succeeded` or `failed` (scheduler outcomes, webhooks, metrics). */
  onFinished(listener: (job: RotationJob) => void | Promise<void>): void;
  /**
   * The pending new secret of a job that is not finished, for a person who must paste it into a manual
   * placement (a task's "reveal"): Maintainers/Owners of the entry's owner group only; audited; 404 once
   * the job finished and the secret was wiped.
   */
  revealSecret(actor: User, jobId: number): Promise<string>;
  /** The tasks service's word that every task of the job was checked off: the job may finish (wipe the secret). */
  tasksDone(jobId: number): Promise<void>;
}

/** A placement write or read-back: ok, or the reason it could not be done ("403 Forbidden", "timed out after 10 s"). */
export type PlacementResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export interface PlacementIO {
  /** Whether Latchkey writes this placement itself: a `ci_variable` on this Latchkey or on a registered upstream. */
  isAutomatic(placement: Placement): boolean;
  /** Writes `secret` in the placement's format, keeping what else the value holds (other registries of a DOCKER_AUTH_CONFIG); creates the variable when absent. */
  write(placement: Placement, secret: string): Promise<PlacementResult>;
  /** Reads the placement back: ok when it holds `secret` (compared in constant time). */
  verify(placement: Placement, secret: string): Promise<PlacementResult>;
}

/** UpstreamRotator.whyNot's answer for an entry that is not a token synced from an upstream. */
export const NOT_AN_UPSTREAM_TOKEN = 'the entry is not a token synced from an upstream';

export interface UpstreamRotation {
  readonly secret: string;
  readonly remoteId: number;
  readonly expiresOn: UtcDate | null;
}

export interface UpstreamRotator {
  /** Whether the entry is a synced upstream token of a kind the upstream can rotate. */
  canRotate(credentialId: number): Promise<boolean>;
  /** Why it cannot (null: it can); NOT_AN_UPSTREAM_TOKEN when the entry is no synced upstream token at all. */
  whyNot?(credentialId: number): Promise<string | null>;
  /** Rotates it through the upstream's rotate API; the old secret stops working there at once. */
  rotate(credentialId: number, options: { expiresAt?: UtcDate }): Promise<UpstreamRotation>;
}

export interface RotationTasks {
  /** Opens one task per manual placement of the entry for this job (idempotent per job and placement). */
  openForJob(job: RotationJob, placements: readonly Placement[]): Promise<void>;
}
