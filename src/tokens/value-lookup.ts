/**
 * "Is this value one of ours?" (the leak response): a pasted value is a Latchkey token of any kind (an
 * OAuth2 access token with the grant it was issued under), an OAuth2 refresh token (shown by its grant),
 * an outside credential whose value was fingerprinted in the inventory (issue 14), or neither (the token
 * service's 404). One rule for `POST|DELETE /api/v4/admin/token` and the admin page; admins only.
 */
import { DomainError } from '../kernel/errors.js';
import type { User } from '../namespaces/namespace.js';
import type { Credential, InventoryEntry } from '../inventory/credential.js';
import type { InventoryService } from '../inventory/inventory-service.js';
import type { OAuthService } from '../oauth/oauth-service.js';
import type { Token } from './token.js';
import type { AdminTokenService } from './admin-token-service.js';

/** An OAuth2 grant with its application and user, as the OAuth service describes it. */
export type DescribedGrant = NonNullable<Awaited<ReturnType<OAuthService['grantOfAccessToken']>>>;

export type ValueMatch =
  | { readonly type: 'token'; readonly token: Token; readonly owner: User | null; readonly grant: DescribedGrant | null; readonly entry: InventoryEntry | null }
  | { readonly type: 'oauth_refresh'; readonly grant: DescribedGrant }
  | { readonly type: 'inventory'; readonly credentials: Credential[] };

export interface ValueLookupDeps {
  readonly adminTokens: AdminTokenService;
  readonly inventory: Pick<InventoryService, 'recogniseValue' | 'entryOfToken'>;
  readonly oauth: Pick<OAuthService, 'grantOfAccessToken' | 'grantOfRefreshToken' | 'revokeGrantAsAdmin'>;
}

/** Longest value the inventory look-up digests (a pasted certificate or key file at most). */
const MAX_INVENTORY_VALUE = 10_000;

const isNotFound = (e: unknown): boolean => e instanceof DomainError && e.code === 'TOKEN_NOT_FOUND';

export async function lookUpValue(deps: ValueLookupDeps, actor: User, value: unknown): Promise<ValueMatch> {
  try {
    const found = await deps.adminTokens.identify(actor, value);
    const grant = found.token.kind === 'oauth' ? await deps.oauth.grantOfAccessToken(found.token.id) : null;
    // Its inventory entry, when it has one: where it is configured, and its state now.
    const entry = found.token.kind === 'oauth' ? null : await deps.inventory.entryOfToken(found.token.id);
    return { type: 'token', ...found, grant, entry };
  } catch (e) {
    if (!isNotFound(e) || typeof value !== 'string') throw e;
    // An OAuth refresh token is no token record: it is known by its grant.
    const grant = await deps.oauth.grantOfRefreshToken(value.trim());
    if (grant) return { type: 'oauth_refresh', grant };
    // Not a Latchkey token: maybe an outside credential whose value was fingerprinted in the inventory.
    if (value.length > MAX_INVENTORY_VALUE) throw e;
    const credentials = await deps.inventory.recogniseValue(value);
    if (credentials.length === 0) throw e;
    return { type: 'inventory', credentials };
  }
}

/**
 * Revokes a token by its value. An OAuth token, access or refresh, ends its whole grant: whoever leaked
 * one may hold the other.
 */
export async function revokeValue(deps: Omit<ValueLookupDeps, 'inventory'>, actor: User, value: unknown): Promise<void> {
  const grant = await deps.adminTokens.identify(actor, value).then(
    ({ token }) => (token.kind === 'oauth' ? deps.oauth.grantOfAccessToken(token.id) : null),
    async (e: unknown) => (isNotFound(e) && typeof value === 'string' && (await deps.oauth.grantOfRefreshToken(value.trim()))) || Promise.reject(e),
  );
  if (grant) await deps.oauth.revokeGrantAsAdmin(actor, grant.grant.id);
  else await deps.adminTokens.revoke(actor, value);
}
