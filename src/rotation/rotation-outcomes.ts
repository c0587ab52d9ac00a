/**
 * What happens when a rotation job finishes (RotationService.onFinished, any trigger): the scheduled run
 * waiting on it records the outcome, hooks subscribed to `credential.rotated` / `credential.rotation_failed`
 * along the owning group's chain get a delivery in the webhook outbox, the counter of rotations moves,
 * and — for a scheduled rotation whose policy says `notify` — the owning group's Maintainers and Owners
 * get an e-mail. Never a secret: ids, names, states and the failure's reason only.
 */
import type { Clock } from '../kernel/clock.js';
import { utcDateOf } from '../kernel/dates.js';
import type { Credential } from '../inventory/credential.js';
import type { InventoryStore } from '../inventory/inventory-store.js';
import type { ComposedEmail } from '../notifications/expiry-email.js';
import { escapeHtml, oneLine } from '../notifications/credential-email.js';
import type { ExpiryNoticeStore } from '../notifications/expiry-notice-store.js';
import { ownerAudiences, type OwnerAudience } from '../notifications/owner-audience.js';
import type { Mailer } from '../notifications/mailer.js';
import type { StoredHook } from '../webhooks/webhook-store.js';
import type { PlacementCheck } from '../upstreams/upstream.js';
import type { RotationJob } from './contracts.js';
import { effectivePolicy, outcomeOf, type RotationPolicyStore } from './rotation-policies.js';

export const CREDENTIAL_ROTATED_EVENT = 'credential.rotated';
export const CREDENTIAL_ROTATION_FAILED_EVENT = 'credential.rotation_failed';

/** Credential deliveries carry no token (as `credential.expiring`'s): the payload names the entry. */
const NO_TOKEN = 0;

export interface RotationOutcomeDeps {
  store: Pick<RotationPolicyStore, 'finishRunsOfJob' | 'find' | 'findForGroups'>;
  inventory: Pick<InventoryStore, 'findByIds'>;
  facts: Pick<ExpiryNoticeStore, 'findGroups' | 'listMembersOf'>;
  hooks: { liveHooks(): Promise<StoredHook[]>; insertDeliveries(rows: readonly { hookId: number; tokenId: number; event: string; payload: string; at: string }[]): Promise<void> };
  mailer: Mailer;
  clock: Clock;
  /** The last check of a placement (issue 15's placement_checks): what /metrics counts as out of sync. */
  savePlacementCheck(check: PlacementCheck): Promise<void>;
  onOutcome?: (labels: { outcome: 'succeeded' | 'failed'; trigger: string }) => void;
  onEmail?: (outcome: 'sent' | 'failed') => void;
  onError?: (e: unknown) => void;
}

/** The body of a `credential.rotated` / `credential.rotation_failed` delivery. */
export function rotationOutcomePayload(c: Pick<Credential, 'id' | 'slug' | 'name' | 'kind' | 'provider' | 'owner'>, job: RotationJob, at: string): string {
  return JSON.stringify({
    event: job.state === 'succeeded' ? CREDENTIAL_ROTATED_EVENT : CREDENTIAL_ROTATION_FAILED_EVENT,
    at,
    credential: { id: c.id, slug: c.slug, name: c.name, kind: c.kind, provider: c.provider, owner: { id: c.owner.id, full_path: c.owner.fullPath } },
    job: {
      id: job.id,
      state: job.state,
      trigger: job.trigger,
      failure: job.failure,
      old_token_id: job.oldTokenId,
      new_token_id: job.newTokenId,
      created_at: job.createdAt,
      finished_at: job.finishedAt,
    },
  });
}


/**
 * The body of the `credential.rotation_failed` delivery of a scheduled rotation the engine refused to start
 * (the token expired or was revoked meanwhile, the upstream cannot rotate it…): no job exists, so `job`
 * is null and `failure` says why.
 */
export function refusedStartPayload(c: Pick<Credential, 'id' | 'slug' | 'name' | 'kind' | 'provider' | 'owner'>, reason: string, at: string): string {
  return JSON.stringify({
    event: CREDENTIAL_ROTATION_FAILED_EVENT,
    at,
    credential: { id: c.id, slug: c.slug, name: c.name, kind: c.kind, provider: c.provider, owner: { id: c.owner.id, full_path: c.owner.fullPath } },
    job: null,
    trigger: 'schedule',
    failure: reason,
  });
}

/** The notice of a scheduled rotation's outcome. */
export function composeRotationEmail(c: Pick<Credential, 'slug' | 'name' | 'owner'>, job: RotationJob): ComposedEmail {
  return composeOutcomeEmail(c, job.state === 'succeeded', job.failure, `Rotation job ${job.id}, finished at ${job.finishedAt ?? job.updatedAt}.`);
}

/** The notice of a scheduled rotation the engine refused to start: no job, the reason. */
export function composeRefusedStartEmail(c: Pick<Credential, 'slug' | 'name' | 'owner'>, reason: string, at: string): ComposedEmail {
  return composeOutcomeEmail(c, false, reason, `No rotation job was started (${at}); nothing was changed.`);
}

function composeOutcomeEmail(c: Pick<Credential, 'slug' | 'name' | 'owner'>, ok: boolean, failure: string | null, jobLine: string): ComposedEmail {
  const name = oneLine(c.name);
  const subject = ok ? `[Latchkey] credential "${name}" was rotated` : `[Latchkey] scheduled rotation of credential "${name}" failed`;
  const lines = [
    'Hello,',
    '',
    ok
      ? `The scheduled rotation of ${name} (${c.slug}, owned by ${c.owner.fullPath}) succeeded: every automatic placement holds the new secret.`
      : `The scheduled rotation of ${name} (${c.slug}, owned by ${c.owner.fullPath}) failed: ${oneLine(failure ?? 'no reason recorded')}.`,
    jobLine,
    ok ? '' : 'Placements already written keep the new secret; fix the cause and rotate again (latchkey credential rotate ' + c.slug + ').',
    `Its steps: latchkey credential rotations ${c.slug}`,
    '',
    "You get this e-mail as a Maintainer or Owner of the owning group, because the entry's rotation policy asks for notices.",
    '-- ',
    'Latchkey',
    '',
  ];
  const text = lines.join('\n');
  const html = `<p>${lines.slice(2, 6).filter(Boolean).map((l) => escapeHtml(l)).join('</p><p>')}</p>`;
  return { subject, text, html };
}

export function createRotationOutcomes(deps: RotationOutcomeDeps) {
  const { clock } = deps;

  /**
   * The placements the job wrote and read back, or failed to: their last check is now the job's word
   * (a failed write or read-back leaves the placement stale; a read-back that matched, in sync).
   */
  async function recordPlacements(job: RotationJob, credential: Credential, at: string): Promise<void> {
    const live = new Set(credential.placements.map((p) => p.id));
    const found = new Map<number, Pick<PlacementCheck, 'status' | 'detail'>>();
    for (const step of job.steps) {
      if (step.placementId === null || !live.has(step.placementId) || (step.kind !== 'write' && step.kind !== 'verify')) continue;
      if (step.state === 'failed') found.set(step.placementId, { status: 'stale', detail: `rotation job ${job.id}: the ${step.kind === 'write' ? 'write' : 'read-back'} failed: ${step.detail ?? 'no reason recorded'}` });
      else if (step.state === 'done' && step.kind === 'verify' && !found.has(step.placementId)) found.set(step.placementId, { status: 'in_sync', detail: `in sync: read back by rotation job ${job.id}` });
    }
    for (const [placementId, check] of found) await deps.savePlacementCheck({ placementId, credentialId: credential.id, ...check, checkedAt: at });
  }

  async function report(job: RotationJob): Promise<void> {
    if (job.state !== 'succeeded' && job.state !== 'failed') return;
    const outcome = outcomeOf(job);
    deps.onOutcome?.({ outcome, trigger: job.trigger });
    const at = clock.now().toISOString();
    // A job that ends inside start() reports before its run knows the job: the scheduler finishes that run itself.
    await deps.store.finishRunsOfJob(job.id, outcome, job.failure, at);
    const [credential] = await deps.inventory.findByIds([job.credentialId]);
    if (credential === undefined) return;
    await recordPlacements(job, credential, at);
    const audience = (await ownerAudiences(deps.facts, [credential.owner.id], utcDateOf(clock.now()))).get(credential.owner.id)!;
    const event = outcome === 'succeeded' ? CREDENTIAL_ROTATED_EVENT : CREDENTIAL_ROTATION_FAILED_EVENT;
    // An instance hook, or a group hook on the owning group's chain.
    const hooks = (await deps.hooks.liveHooks()).filter((h) => h.events.includes(event) && (h.groupId === null || audience.chain.has(h.groupId)));
    if (hooks.length > 0) {
      const payload = rotationOutcomePayload(credential, job, at);
      await deps.hooks.insertDeliveries(hooks.map((h) => ({ hookId: h.id, tokenId: NO_TOKEN, event, payload, at })));
    }
    if (job.trigger !== 'schedule') return;
    await notify(credential, audience, () => composeRotationEmail(credential, job));
  }

  /** The owning group's Maintainers and Owners get the e-mail when the policy that applies says `notify`. */
  async function notify(credential: Credential, audience: OwnerAudience, compose: () => ComposedEmail): Promise<void> {
    if (!deps.mailer.enabled) return;
    const own = await deps.store.find({ type: 'credential', id: credential.id });
    const chain = [...audience.chain];
    const applies = effectivePolicy(own, chain, await deps.store.findForGroups(chain));
    if (!applies?.policy.notify) return;
    const mail = compose();
    for (const r of audience.recipients) {
      try {
        await deps.mailer.send({ to: r.email, ...mail });
        deps.onEmail?.('sent');
      } catch (e) {
        deps.onEmail?.('failed');
        deps.onError?.(e);
      }
    }
  }

  /** A scheduled start the engine refused: reported as a failed rotation (counter, hooks, notice) though no job exists. */
  async function reportRefused(credentialId: number, reason: string): Promise<void> {
    deps.onOutcome?.({ outcome: 'failed', trigger: 'schedule' });
    const at = clock.now().toISOString();
    const [credential] = await deps.inventory.findByIds([credentialId]);
    if (credential === undefined) return;
    const audience = (await ownerAudiences(deps.facts, [credential.owner.id], utcDateOf(clock.now()))).get(credential.owner.id)!;
    const hooks = (await deps.hooks.liveHooks()).filter((h) => h.events.includes(CREDENTIAL_ROTATION_FAILED_EVENT) && (h.groupId === null || audience.chain.has(h.groupId)));
    if (hooks.length > 0) {
      const payload = refusedStartPayload(credential, reason, at);
      await deps.hooks.insertDeliveries(hooks.map((h) => ({ hookId: h.id, tokenId: NO_TOKEN, event: CREDENTIAL_ROTATION_FAILED_EVENT, payload, at })));
    }
    await notify(credential, audience, () => composeRefusedStartEmail(credential, reason, at));
  }

  return {
    /** The scheduler's word that the engine refused a scheduled start; a failure is reported, never thrown. */
    async onRefused(credentialId: number, reason: string): Promise<void> {
      try {
        await reportRefused(credentialId, reason);
      } catch (e) {
        deps.onError?.(e);
      }
    },
    /** The listener for RotationService.onFinished; a failure is reported, never thrown into the job. */
    async onFinished(job: RotationJob): Promise<void> {
      try {
        await report(job);
      } catch (e) {
        deps.onError?.(e);
      }
    },
  };
}

export type RotationOutcomes = ReturnType<typeof createRotationOutcomes>;
