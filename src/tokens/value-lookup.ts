/**
 * "Is this value one of ours?" (the leak response): a pasted value is a Latchkey token of any kind, or
 * an outside credential whose value was fingerprinted in the inventory (issue 14), or neither (the
 * token service's 404). One rule for `POST /api/v4/admin/token` and the admin page; admins only.
 */
import { DomainError } from '../kernel/errors.js';
import type { User } from '../namespaces/namespace.js';
import type { Credential } from '../inventory/credential.js';
import type { InventoryService } from '../inventory/inventory-service.js';
import type { Token } from './token.js';
import type { AdminTokenService } from './admin-token-service.js';

export type ValueMatch = { readonly type: 'token'; readonly token: Token; readonly owner: User | null } | { readonly type: 'inventory'; readonly credentials: Credential[] };

/** Longest value the inventory look-up digests (a pasted certificate or key file at most). */
const MAX_INVENTORY_VALUE = 10_000;

export async function lookUpValue(deps: { adminTokens: AdminTokenService; inventory: Pick<InventoryService, 'recogniseValue'> }, actor: User, value: unknown): Promise<ValueMatch> {
  try {
    return { type: 'token', ...(await deps.adminTokens.identify(actor, value)) };
  } catch (e) {
    // Not a Latchkey token: maybe an outside credential whose value was fingerprinted in the inventory.
    if (!(e instanceof DomainError) || e.code !== 'TOKEN_NOT_FOUND' || typeof value !== 'string' || value.length > MAX_INVENTORY_VALUE) throw e;
    const credentials = await deps.inventory.recogniseValue(value);
    if (credentials.length === 0) throw e;
    return { type: 'inventory', credentials };
  }
}
