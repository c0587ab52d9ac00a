/**
 * The JSON form of inventory entries, shared by the API, the CLI's `--json` and the export: snake_case,
 * a renewal object with only its rule's fields, placements with only their kind's fields. Never a
 * fingerprint: only whether one is set.
 */
import type { InventoryEntry, Placement, Renewal } from './credential.js';
import { describePlacement, placementFieldsOf } from './credential.js';
import type { RenewalEntry } from './inventory-store.js';

export function presentRenewalRule(r: Renewal): Record<string, string | number> {
  switch (r.type) {
    case 'expires_at':
      return { expires_at: r.expiresAt };
    case 'every_days':
      return { every_days: r.everyDays };
    case 'event':
      return { event: r.event, review_every_days: r.reviewEveryDays };
  }
}

export function presentPlacement(p: Placement) {
  return { id: p.id, ...placementFieldsOf(p), description: describePlacement(p) };
}

export function presentCredential(c: InventoryEntry) {
  return {
    id: c.id,
    slug: c.slug,
    name: c.name,
    kind: c.kind,
    provider: c.provider,
    resource: c.resource,
    owner: c.owner === null ? null : { id: c.owner.id, full_path: c.owner.fullPath },
    scopes: [...c.scopes],
    role: c.role,
    purpose: c.purpose,
    renewal: presentRenewalRule(c.renewal),
    renewed_on: c.renewedOn,
    due_on: c.dueOn,
    procedure: c.procedure,
    fingerprint_set: c.hasFingerprint,
    token_id: c.tokenId,
    // A Latchkey token's entry: the token's state now, and since when.
    ...(c.tokenStatus ? { token_state: c.tokenStatus.state, token_state_since: c.tokenStatus.since } : {}),
    placements: c.placements.map(presentPlacement),
    created_at: c.createdAt,
    updated_at: c.updatedAt,
  };
}

export function presentRenewalEntry(r: RenewalEntry) {
  return {
    id: r.id,
    renewed_at: r.renewedAt,
    renewed_on: r.renewedOn,
    renewed_by: r.renewedBy.username,
    previous_due_on: r.previousDueOn,
    due_on: r.dueOn,
    placements_updated: r.placementsUpdated.map((p) => ({ id: p.id, description: p.description })),
    note: r.note,
  };
}
