/**
 * Port: the persisted rotation jobs and their steps (implemented in store/rotation-jobs.ts, both
 * dialects). The pending secret arrives sealed; this port never sees a plain secret. Part of the
 * store's transaction ports, so a rotation of a Latchkey token and the job's record of it commit together.
 */
import type { RotationJob, RotationState, RotationStep, RotationStepKind, RotationTrigger } from './contracts.js';

/** A job as stored: the contract's job plus what only the engine reads. */
export interface StoredRotationJob extends RotationJob {
  readonly expiresAt: string | null;
  readonly secretSealed: string | null;
  readonly tasksDoneAt: string | null;
  readonly leaseHolder: string | null;
  readonly leaseUntil: string | null;
}

export interface NewRotationJob {
  readonly credentialId: number;
  readonly trigger: RotationTrigger;
  readonly startedBy: number | null;
  readonly oldTokenId: number | null;
  readonly gracePeriodSeconds: number;
  readonly quietSeconds: number;
  readonly expiresAt: string | null;
  readonly at: string;
  /** Taken by the starter at once (it runs the first steps itself). */
  readonly leaseHolder: string;
  readonly leaseUntil: string;
}

export type NewRotationStep = Pick<RotationStep, 'kind' | 'placementId'>;

export interface RotationJobChange {
  readonly state?: RotationState;
  readonly failure?: string | null;
  readonly oldTokenId?: number | null;
  readonly newTokenId?: number | null;
  /** A sealed secret, or null to wipe it. */
  readonly secretSealed?: string | null;
  readonly tasksDoneAt?: string | null;
  readonly finishedAt?: string | null;
}

/** How a token was used lately (tokens.last_used_at and the usage window: value → last seen). */
export interface TokenUse {
  readonly lastUsedAt: string | null;
  readonly lastUsedIps: readonly string[];
  readonly windowIps: Readonly<Record<string, string>>;
  readonly windowUserAgents: Readonly<Record<string, string>>;
}

export interface RotationJobStore {
  /** Inserts a job with its steps (positions 0…n-1, all pending). A second unfinished job of the entry violates the unique index. */
  insert(job: NewRotationJob, steps: readonly NewRotationStep[]): Promise<number>;
  findById(id: number): Promise<StoredRotationJob | null>;
  /** The entry's unfinished job, if any. */
  findUnfinished(credentialId: number): Promise<StoredRotationJob | null>;
  /** Jobs of an entry (absent: of every entry), newest first; `keyset`: the jobs with an id below `afterId` (all when absent), not counted. */
  list(filter: { credentialId?: number; afterId?: number; keyset: boolean }, limit: number, offset: number): Promise<{ items: StoredRotationJob[]; total: number | null }>;
  /** Ids of unfinished jobs whose lease is free at `now`, oldest first. */
  resumable(now: string, limit: number): Promise<number[]>;
  /** Takes (or extends) the job's lease: false when another holder has it until after `now`, or the job finished. */
  claim(id: number, holder: string, now: string, until: string): Promise<boolean>;
  release(id: number, holder: string): Promise<void>;
  /** Marks a step started (`started_at`) unless it already was: false when it was. */
  startStep(id: number, position: number, at: string): Promise<boolean>;
  finishStep(id: number, position: number, state: RotationStep['state'], detail: string | null, at: string): Promise<void>;
  /** Changes a pending step's detail (what the retire step found, for instance) without finishing it. */
  noteStep(id: number, position: number, detail: string, at: string): Promise<void>;
  /** Steps still pending from `position` on become skipped with this detail. */
  skipRest(id: number, fromPosition: number, detail: string, at: string): Promise<void>;
  update(id: number, change: RotationJobChange, at: string): Promise<void>;
  tokenUse(tokenId: number): Promise<TokenUse | null>;
}

export type { RotationStepKind };
