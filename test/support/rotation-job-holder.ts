/**
 * The job engine's side of the rotation tasks seam (contracts.ts `revealSecret` / `tasksDone`) for tests
 * of the tasks on their own: keeps a pending secret per job until it is told every task is done, as the
 * engine's `finish` step does, and records what it was told. `jobOf` builds a running job to open tasks for.
 */
import { notFound } from '../../src/kernel/errors.js';
import type { RotationJob } from '../../src/rotation/contracts.js';

export function jobHolder() {
  const secrets = new Map<number, string>();
  const told: number[] = [];
  return {
    secrets,
    told,
    async revealSecret(_actor: unknown, jobId: number): Promise<string> {
      const s = secrets.get(jobId);
      if (s === undefined) throw notFound('Secret Not Found');
      return s;
    },
    async tasksDone(jobId: number): Promise<void> {
      told.push(jobId);
      secrets.delete(jobId);
    },
  };
}

export const jobOf = (id: number, credentialId: number, startedBy: number | null, trigger: RotationJob['trigger'] = 'api'): RotationJob => ({
  id, credentialId, state: 'running', trigger, startedBy, oldTokenId: null, newTokenId: null, gracePeriodSeconds: 0, quietSeconds: 0, failure: null, steps: [],
  createdAt: '2026-12-03T10:00:00.000Z', updatedAt: '2026-12-03T10:00:00.000Z', finishedAt: null,
});
