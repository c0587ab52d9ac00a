/** The storage port for token usage (last_used_*, the reuse window, the reuse flag). Implemented in store/token-usage.ts. */
import type { TokenEvent } from '../events/token-events.js';
import type { Page, PageRequest } from '../kernel/page.js';
import type { Token } from './token.js';
import type { MergedUsage, ReuseEvidence, UsageRecord } from './token-usage.js';

export interface FlaggedToken {
  readonly token: Token;
  /** What was seen when it was flagged (null only for rows flagged without evidence). */
  readonly evidence: ReuseEvidence | null;
}

export interface FlaggedTokenFilter {
  /** Only tokens that still work (not revoked, not past a rotation grace, not expired) at this instant. */
  readonly activeAt?: Date;
}

/** One token's merge for `saveUsages`, written if its record is still at `revision`. */
export interface UsageWrite {
  readonly tokenId: number;
  readonly revision: number;
  readonly merged: MergedUsage;
}

export interface TokenUsageStore {
  /** The usage record of a token; null when there is no such token. */
  findUsage(tokenId: number): Promise<UsageRecord | null>;
  /**
   * Writes a merge if the record is still at `revision` (compare-and-set); false when another writer won.
   * `flagEvent` (the write that flags the token) goes into the token-event outbox in the same
   * transaction, so the flag and its event commit together or not at all.
   */
  saveUsage(tokenId: number, revision: number, merged: MergedUsage, flagEvent: TokenEvent | null): Promise<boolean>;
  /** The usage records of many tokens at once (one query per few hundred ids); absent ids have no token. */
  findUsages(tokenIds: readonly number[]): Promise<Map<number, UsageRecord>>;
  /**
   * Many compare-and-set writes in one statement per few hundred (merges that flag nothing: a flag goes
   * through `saveUsage` with its event); returns the ids written — the others lost their race.
   */
  saveUsages(writes: readonly UsageWrite[]): Promise<Set<number>>;
  /** Flagged tokens (deleted ones excluded), most recently flagged first. */
  listFlagged(filter: FlaggedTokenFilter, page: PageRequest): Promise<Page<FlaggedToken>>;
}
