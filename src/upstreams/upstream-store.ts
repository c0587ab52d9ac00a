/**
 * The storage port of upstreams and their synced tokens. Implemented in store/upstreams.ts (both
 * dialects). The sealed token goes in and comes out only through `sealedToken`; no list returns it.
 */
import type { InventoryStore } from '../inventory/inventory-store.js';
import type { Page, PageRequest } from '../kernel/page.js';
import type { PlacementCheck, RemoteToken, SyncCounts, SyncedToken, Upstream } from './upstream.js';

export interface UpstreamRecord {
  readonly name: string;
  readonly url: string;
  readonly tokenSealed: string;
  readonly ownerGroupId: number;
  readonly source: 'api' | 'config';
}

/** A finished sync: `ok`, or `failed` with its reason (the entries stay as they were). */
export interface SyncOutcome {
  readonly finishedAt: string;
  readonly status: 'ok' | 'failed';
  readonly reason: string | null;
  readonly counts: SyncCounts | null;
}

/** What a sync writes, bound to one transaction. */
export interface UpstreamSyncPorts {
  /** The inventory, in the same transaction. */
  readonly inventory: InventoryStore;
  /** Every token an earlier sync of this upstream kept, disappeared ones included. */
  knownTokens(upstreamId: number): Promise<SyncedToken[]>;
  /** Inserts or updates the (upstream, kind, remote id) row; it is `present` afterwards. */
  saveToken(upstreamId: number, token: RemoteToken, credentialId: number, at: string): Promise<void>;
  markDisappeared(upstreamId: number, token: Pick<RemoteToken, 'kind' | 'remoteId'>, at: string): Promise<void>;
  /**
   * A rotation upstream replaced the token: its row (and so its entry) follows the new remote id, and the
   * old id is remembered as rotated away (the upstream lists it as revoked from then on).
   */
  moveToken(upstreamId: number, kind: RemoteToken['kind'], fromRemoteId: number, toRemoteId: number, at: string): Promise<void>;
  /** `<kind> <remote id>` of every token a rotation replaced: a sync leaves them alone. */
  rotatedAway(upstreamId: number): Promise<Set<string>>;
}

export interface UpstreamStore {
  /** Every upstream, by name. */
  list(): Promise<Upstream[]>;
  findByName(name: string): Promise<Upstream | null>;
  /** The sealed token of an upstream (null: no such upstream). */
  sealedToken(id: number): Promise<string | null>;
  /** Throws the store's ALREADY_EXISTS conflict when the name is taken. */
  insert(record: UpstreamRecord, at: string): Promise<Upstream>;
  update(id: number, changes: Partial<Omit<UpstreamRecord, 'name'>>, at: string): Promise<void>;
  /** Removes the upstream and its token links; the inventory entries stay (they hold what users added). */
  delete(id: number): Promise<void>;
  markSyncStarted(id: number, at: string): Promise<void>;
  recordSyncOutcome(id: number, outcome: SyncOutcome): Promise<void>;
  /** The synced tokens of an upstream, by kind and remote id. */
  listTokens(upstreamId: number, page: PageRequest): Promise<Page<SyncedToken>>;
  /** The synced token an inventory entry is, with its upstream's id; null when the entry is no synced token. */
  tokenOfCredential(credentialId: number): Promise<{ upstreamId: number; token: SyncedToken } | null>;
  /** Keeps the last check of a placement (replacing the one before). */
  savePlacementCheck(check: PlacementCheck): Promise<void>;
  /** The last checks of an entry's placements. */
  listPlacementChecks(credentialId: number): Promise<PlacementCheck[]>;
  /** Runs `fn` in one transaction over the upstream's tokens and the inventory. */
  transaction<T>(fn: (ports: UpstreamSyncPorts) => Promise<T>): Promise<T>;
}
