/**
 * RotationPolicyStore over Kysely (both dialects): rotation policies of entries and groups, the
 * scheduler's scan of the entries under a policy, and the scheduled runs (one per entry and due date).
 * Also the count of placements out of sync that /metrics reports. The tables' types live here.
 */
import { sql, type Generated, type Kysely, type Selectable } from 'kysely';
import type { Database } from './database.js';
import type { InventoryCredentialsTable } from './inventory.js';
import type { PlacementChecksTable } from './upstreams.js';
import { notEndedUpstream, type UpstreamTokensTable } from './upstream-tokens-table.js';
import type { PolicyCandidate, PolicyHolder, RotationPolicy, RotationPolicyFields, RotationPolicyStore, RunState, ScheduledRun } from '../rotation/rotation-policies.js';

export interface RotationPoliciesTable {
  id: Generated<number>;
  credential_id: number | null;
  group_id: number | null;
  days_before_expiry: number;
  hour: number;
  grace_period_seconds: number;
  quiet_seconds: number;
  notify: number;
  enabled: number;
  updated_by: number | null;
  created_at: string;
  updated_at: string;
}

export interface RotationScheduleRunsTable {
  id: Generated<number>;
  credential_id: number;
  due_on: string;
  policy_source: string;
  state: string;
  job_id: number | null;
  reason: string | null;
  scheduled_at: string;
  claimed_at: string;
  finished_at: string | null;
}

type Tables = Database & {
  inventory_credentials: InventoryCredentialsTable;
  upstream_tokens: UpstreamTokensTable;
  placement_checks: PlacementChecksTable;
  rotation_policies: RotationPoliciesTable;
  rotation_schedule_runs: RotationScheduleRunsTable;
};

const toPolicy = (r: Selectable<RotationPoliciesTable>): RotationPolicy => ({
  daysBeforeExpiry: r.days_before_expiry,
  hour: r.hour,
  gracePeriodSeconds: r.grace_period_seconds,
  quietSeconds: r.quiet_seconds,
  notify: r.notify === 1,
  enabled: r.enabled === 1,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const toRun = (r: Selectable<RotationScheduleRunsTable>): ScheduledRun => ({
  id: r.id,
  credentialId: r.credential_id,
  dueOn: r.due_on,
  policySource: r.policy_source,
  state: r.state as RunState,
  jobId: r.job_id,
  reason: r.reason,
  scheduledAt: r.scheduled_at,
  finishedAt: r.finished_at,
});

const holderColumn = (h: PolicyHolder) => (h.type === 'credential' ? 'credential_id' : 'group_id') as 'credential_id' | 'group_id';

/** Placement checks that found the placement not holding the current secret (a fingerprint-less entry cannot tell). */
export const OUT_OF_SYNC_STATUSES = ['stale', 'missing', 'cannot_read'] as const;

export function createRotationPolicyStore(database: Kysely<Database>): RotationPolicyStore & { countPlacementsOutOfSync(): Promise<number> } {
  const db = database as unknown as Kysely<Tables>;
  return {
    async find(holder) {
      const r = await db.selectFrom('rotation_policies').selectAll().where(holderColumn(holder), '=', holder.id).executeTakeFirst();
      return r ? toPolicy(r) : null;
    },

    async findForGroups(groupIds) {
      if (groupIds.length === 0) return new Map();
      const rows = await db.selectFrom('rotation_policies').selectAll().where('group_id', 'in', [...groupIds]).execute();
      return new Map(rows.map((r) => [r.group_id!, toPolicy(r)]));
    },

    async put(holder, fields: RotationPolicyFields, actorId, at) {
      const values = {
        days_before_expiry: fields.daysBeforeExpiry,
        hour: fields.hour,
        grace_period_seconds: fields.gracePeriodSeconds,
        quiet_seconds: fields.quietSeconds,
        notify: fields.notify ? 1 : 0,
        enabled: fields.enabled ? 1 : 0,
        updated_by: actorId,
        updated_at: at,
      };
      const column = holderColumn(holder);
      await db
        .insertInto('rotation_policies')
        .values({ credential_id: null, group_id: null, [column]: holder.id, ...values, created_at: at })
        .onConflict((oc) => oc.column(column).doUpdateSet(values))
        .execute();
      return (await this.find(holder))!;
    },

    async remove(holder) {
      const r = await db.deleteFrom('rotation_policies').where(holderColumn(holder), '=', holder.id).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },

    async candidates(until) {
      const policies = await db.selectFrom('rotation_policies').selectAll().execute();
      const own = new Map(policies.filter((p) => p.credential_id !== null).map((p) => [p.credential_id!, toPolicy(p)]));
      const groups = new Map(policies.filter((p) => p.group_id !== null).map((p) => [p.group_id!, toPolicy(p)]));
      if (policies.length === 0) return { entries: [], own, groups };
      const rows = await db
        .selectFrom('inventory_credentials as c')
        .innerJoin('groups as g', 'g.id', 'c.owner_group_id')
        .select(['c.id', 'c.due_on', 'c.token_id', 'g.traversal_path'])
        .select(sql<number>`case when exists (select 1 from upstream_tokens u where u.credential_id = c.id) then 1 else 0 end`.as('upstream'))
        // Outside entries by their stored due date; a token's row holds none (its token's expiry counts).
        .where((eb) => eb.or([eb('c.token_id', 'is not', null), eb('c.due_on', '<=', until)]))
        .where(notEndedUpstream)
        .where((eb) =>
          eb.or([
            eb.exists(eb.selectFrom('rotation_policies as p').select(sql<number>`1`.as('one')).whereRef('p.credential_id', '=', 'c.id')),
            eb.exists(eb.selectFrom('rotation_policies as p').select(sql<number>`1`.as('one')).where('p.group_id', 'is not', null).where(sql<boolean>`g.traversal_path like '%/' || ${sql.ref('p.group_id')} || '/%'`)),
          ]),
        )
        .orderBy('c.id')
        .execute();
      const entries: PolicyCandidate[] = rows.map((r) => ({
        credentialId: r.id,
        dueOn: r.due_on,
        tokenId: r.token_id,
        upstream: Number(r.upstream) === 1,
        ancestorIds: r.traversal_path.split('/').filter(Boolean).map(Number),
      }));
      return { entries, own, groups };
    },

    async groupTokens(until) {
      const rows = await db
        .selectFrom('tokens as t')
        .leftJoin('users as u', 'u.id', 't.user_id')
        .leftJoin('projects as p', 'p.id', 't.project_id')
        // The group a token's entry belongs to: its group, its project's, or its service account's (inventory-tokens.ts).
        .innerJoin('groups as g', (j) => j.on(sql<boolean>`g.id = coalesce(t.group_id, p.group_id, u.provisioned_by_group_id)`))
        .select(['t.id', 'g.traversal_path'])
        .where('t.superseded_at', 'is', null)
        .where('t.revoked_at', 'is', null)
        .where('t.deleted_at', 'is', null)
        .where('t.kind', '<>', 'oauth')
        .where('t.expires_at', 'is not', null)
        .where('t.expires_at', '<=', until)
        .where((eb) => eb.exists(eb.selectFrom('rotation_policies as rp').select(sql<number>`1`.as('one')).where('rp.group_id', 'is not', null).where(sql<boolean>`g.traversal_path like '%/' || ${sql.ref('rp.group_id')} || '/%'`)))
        // The first token of a chain holds its row: those with one were scanned as entries.
        .where((eb) => eb.not(eb.exists(eb.selectFrom('inventory_credentials as c').select(sql<number>`1`.as('one')).whereRef('c.token_id', '=', 't.id'))))
        .orderBy('t.id')
        .execute();
      return rows.map((r) => ({ tokenId: r.id, ancestorIds: r.traversal_path.split('/').filter(Boolean).map(Number) }));
    },

    async claimRun(run) {
      const inserted = await db
        .insertInto('rotation_schedule_runs')
        .values({ credential_id: run.credentialId, due_on: run.dueOn, policy_source: run.policySource, state: run.state, job_id: null, reason: run.reason, scheduled_at: run.at, claimed_at: run.at, finished_at: run.state === 'not_rotatable' ? run.at : null })
        .onConflict((oc) => oc.columns(['credential_id', 'due_on']).doNothing())
        .returning('id')
        .executeTakeFirst();
      if (inserted) return inserted.id;
      // A node that claimed it died before the job answered: take it over (start returns a running job, never a second one).
      const taken = await db
        .updateTable('rotation_schedule_runs')
        .set({ claimed_at: run.at })
        .where('credential_id', '=', run.credentialId)
        .where('due_on', '=', run.dueOn)
        .where('state', '=', 'starting')
        .where('claimed_at', '<', run.staleBefore)
        .returning('id')
        .executeTakeFirst();
      return taken?.id ?? null;
    },

    async markStarted(runId, jobId) {
      await db.updateTable('rotation_schedule_runs').set({ state: 'started', job_id: jobId }).where('id', '=', runId).where('state', '=', 'starting').execute();
    },

    async finishRun(runId, state, reason, at) {
      await db.updateTable('rotation_schedule_runs').set({ state, reason, finished_at: at }).where('id', '=', runId).where('state', 'in', ['starting', 'started']).execute();
    },

    async finishRunsOfJob(jobId, state, reason, at) {
      const rows = await db
        .updateTable('rotation_schedule_runs')
        .set({ state, reason, finished_at: at })
        .where('job_id', '=', jobId)
        .where('state', '=', 'started')
        .returningAll()
        .execute();
      return rows.map(toRun);
    },

    async lastRuns(credentialId, limit) {
      const rows = await db.selectFrom('rotation_schedule_runs').selectAll().where('credential_id', '=', credentialId).orderBy('id', 'desc').limit(limit).execute();
      return rows.map(toRun);
    },

    async countPlacementsOutOfSync() {
      const r = await db.selectFrom('placement_checks').select((eb) => eb.fn.countAll<string | number>().as('n')).where('status', 'in', [...OUT_OF_SYNC_STATUSES]).executeTakeFirstOrThrow();
      return Number(r.n);
    },
  };
}
