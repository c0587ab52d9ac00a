/** Rotation policies and scheduled runs as the API and `latchkey credential policy --json` answer them (snake_case, no secret). */
import type { CredentialPolicyView, PolicyView, RotationPolicy, ScheduledRun } from './rotation-policies.js';

export const presentPolicy = (p: RotationPolicy) => ({
  days_before_expiry: p.daysBeforeExpiry, hour: p.hour, grace_period: p.gracePeriodSeconds, quiet_period: p.quietSeconds, notify: p.notify, enabled: p.enabled, created_at: p.createdAt, updated_at: p.updatedAt,
});
const presentEffective = (e: PolicyView['effective']) =>
  e === null ? null : { ...presentPolicy(e.policy), source: e.source.type, group: e.source.type === 'group' ? { id: e.source.group.id, full_path: e.source.group.fullPath } : null };
export const presentRun = (r: ScheduledRun) => ({ due_on: r.dueOn, policy: r.policySource, state: r.state, job_id: r.jobId, reason: r.reason, scheduled_at: r.scheduledAt, finished_at: r.finishedAt });
export const presentCredentialPolicy = (v: CredentialPolicyView) => ({
  credential: { id: v.entry.id, slug: v.entry.slug, due_on: v.entry.dueOn },
  policy: v.policy === null ? null : presentPolicy(v.policy),
  effective: presentEffective(v.effective),
  rotates_at: v.rotatesAt,
  last_runs: v.lastRuns.map(presentRun),
});
export const presentGroupPolicy = (v: PolicyView & { group: { id: number; fullPath: string } }) => ({
  group: { id: v.group.id, full_path: v.group.fullPath },
  policy: v.policy === null ? null : presentPolicy(v.policy),
  effective: presentEffective(v.effective),
});
