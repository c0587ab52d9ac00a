/**
 * The storage port of the credential inventory. Implemented in store/inventory.ts (both dialects).
 * The fingerprint goes in (a digest, never a value) and is only ever compared in a query: it never
 * comes back out.
 */
import type { UtcDate } from '../kernel/dates.js';
import type { Page, PageRequest } from '../kernel/page.js';
import type { Credential, CredentialAttributes, InventoryEntry, Placement, PlacementFields } from './credential.js';
import type { TokenCore, TokenEntryKind, TokenStateFilter } from './token-entry.js';

/** The columns of an entry a write sets. */
export interface CredentialRecord extends CredentialAttributes {
  readonly ownerGroupId: number;
  readonly renewedOn: UtcDate | null;
  readonly dueOn: UtcDate;
}

/** Which entries a list returns. */
export interface CredentialFilter {
  /** Only entries whose owning group (or an ancestor of it) has this user as Reporter or above; absent: all. */
  readonly readableBy?: { readonly userId: number; readonly today: UtcDate };
  readonly ownerGroupId?: number;
  readonly kind?: string;
  /** Case-insensitive substring of the slug, name or provider. */
  readonly search?: string;
  /** Due on or before this date. */
  readonly dueOnOrBefore?: UtcDate;
  /** list(): the rows of tokens' inventory fields instead of outside entries. */
  readonly tokenFields?: boolean;
  /** Without synced entries whose upstream token ended (revoked or disappeared): nothing to renew there. */
  readonly live?: boolean;
}

/** Which of Latchkey's tokens a list returns, and which page of them (token id order). */
export interface TokenEntryFilter {
  /** Tokens of groups where this user is Reporter or above (or whose inventory row such a group owns), and the user's own personal tokens; absent: all. */
  readonly readableBy?: { readonly userId: number; readonly today: UtcDate };
  readonly ownerGroupId?: number;
  readonly kind?: TokenEntryKind;
  /** Case-insensitive substring of the token's name. */
  readonly search?: string;
  /** Expiring on or before this date. */
  readonly dueOnOrBefore?: UtcDate;
  /** Which tokens by state (absent: active ones; revoked includes deleted), as of `today`. */
  readonly state?: TokenStateFilter;
  readonly today: UtcDate;
  readonly limit: number;
  readonly offset?: number;
  /** Keyset: the tokens after this id. */
  readonly afterId?: number;
  /** Count the matching tokens up to this many (null: all of them); absent: no count. */
  readonly countLimit?: number | null;
}

export interface TokenEntryPage {
  readonly items: InventoryEntry[];
  readonly total: number;
  readonly exact: boolean;
  readonly hasNext: boolean;
}

/** A token's entry with what it is made of: the token, and its inventory row (null: none yet). */
export interface TokenEntryRead {
  readonly entry: InventoryEntry;
  readonly token: TokenCore;
  readonly fields: Credential | null;
}

/** One renewal as kept in the history. */
export interface RenewalEntry {
  readonly id: number;
  readonly credentialId: number;
  readonly renewedAt: string;
  readonly renewedOn: UtcDate;
  readonly renewedBy: { readonly id: number | null; readonly username: string | null };
  readonly previousDueOn: UtcDate;
  readonly dueOn: UtcDate;
  readonly placementsUpdated: readonly { readonly id: number; readonly description: string }[];
  readonly note: string | null;
}

export type NewRenewalEntry = Omit<RenewalEntry, 'id'>;

/** Where a placement matches a reverse look-up: every given field must be equal. */
export interface PlacementQuery {
  readonly kind?: string;
  readonly instance?: string;
  readonly project?: string;
  readonly group?: string;
  readonly key?: string;
  readonly host?: string;
  readonly path?: string;
  readonly namespace?: string;
  readonly name?: string;
}

export interface InventoryStore {
  /** Stored entries of outside credentials (not the rows of tokens' inventory fields); `page.keyset` pages after an id. */
  list(filter: CredentialFilter, page: PageRequest): Promise<Page<Credential>>;
  /** A page of Latchkey's own tokens as entries. */
  listTokenEntries(filter: TokenEntryFilter): Promise<TokenEntryPage>;
  /** The entry of the rotation chain `tokenId` belongs to, at its last token whatever its state (as of `today`); null when there is no such token. */
  findTokenEntry(tokenId: number, today: UtcDate): Promise<TokenEntryRead | null>;
  /** The inventory rows (owner, purpose, placements) of these tokens' rotation chains, by token id; tokens without one are absent. */
  tokenFields(tokens: readonly { id: number; rotatedFromId: number | null }[]): Promise<Map<number, Credential>>;
  findById(id: number): Promise<Credential | null>;
  findBySlug(slug: string): Promise<Credential | null>;
  /** The entries with these ids (those that exist), by id: one batch for a page of them (the reminder job). */
  findByIds(ids: readonly number[]): Promise<Credential[]>;
  /** Entries whose fingerprint equals this digest. */
  findByFingerprint(fingerprint: string): Promise<Credential[]>;
  /** Throws the store's ALREADY_EXISTS conflict when the slug is taken. Returns the new id. `tokenId`: the inventory row of a token chain (its first token). */
  insert(record: CredentialRecord, createdBy: number | null, at: string, tokenId?: number): Promise<number>;
  update(id: number, record: CredentialRecord, at: string): Promise<void>;
  /** Sets (a digest) or clears (null) the fingerprint. */
  setFingerprint(id: number, fingerprint: string | null): Promise<void>;
  delete(id: number): Promise<void>;

  /** Replaces every placement of the entry, in this order. */
  replacePlacements(credentialId: number, placements: readonly PlacementFields[]): Promise<void>;
  addPlacement(credentialId: number, placement: PlacementFields): Promise<Placement>;
  updatePlacement(id: number, placement: PlacementFields): Promise<Placement>;
  deletePlacement(id: number): Promise<void>;
  /** Placements matching the query with the entry each belongs to, for entries the filter allows. */
  findPlacements(query: PlacementQuery, filter: CredentialFilter, page: PageRequest): Promise<Page<{ placement: Placement; credential: Credential }>>;

  addRenewal(renewal: NewRenewalEntry): Promise<RenewalEntry>;
  /** Newest first. */
  listRenewals(credentialId: number, page: PageRequest): Promise<Page<RenewalEntry>>;

  /** Runs `fn` with a store bound to one transaction; nested calls join it. */
  transaction<T>(fn: (store: InventoryStore) => Promise<T>): Promise<T>;
}
