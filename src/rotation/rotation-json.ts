/** A rotation job as the API and the CLI show it: snake_case, steps with their times, never a secret. */
import type { RotationJob } from './contracts.js';

export function presentRotation(job: RotationJob) {
  return {
    id: job.id,
    credential_id: job.credentialId,
    state: job.state,
    trigger: job.trigger,
    started_by: job.startedBy,
    old_token_id: job.oldTokenId,
    new_token_id: job.newTokenId,
    grace_period: job.gracePeriodSeconds,
    quiet_period: job.quietSeconds,
    failure: job.failure,
    steps: job.steps.map((s) => ({ kind: s.kind, placement_id: s.placementId, state: s.state, detail: s.detail, started_at: s.startedAt, finished_at: s.finishedAt })),
    created_at: job.createdAt,
    updated_at: job.updatedAt,
    finished_at: job.finishedAt,
  };
}
