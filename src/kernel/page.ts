/**
 * GitLab's list pages: offset (`page`/`per_page`) or, where a list offers it, keyset (`pagination=keyset`:
 * the rows after the last one seen, in id order). The request and the result a store returns.
 */
export interface PageRequest {
  readonly page: number;
  readonly perPage: number;
  /**
   * Count the matching rows only up to this many (GitLab: 10,000); past it the page's `total` is a lower
   * bound and `exact` is false. Absent: count them all (the CLI, which walks every page by the total).
   */
  readonly countLimit?: number;
  /** Keyset page: the rows after `afterId` (null: from the start) in `direction` of id; `page` is ignored and nothing is counted. */
  readonly keyset?: { readonly afterId: number | null; readonly direction: 'asc' | 'desc' };
}

export interface Page<T> {
  readonly items: T[];
  /** The number of matching rows; a lower bound when `exact` is false. */
  readonly total: number;
  /** false: `total` was not counted to the end (past PageRequest.countLimit, or a keyset page). Absent: exact. */
  readonly exact?: boolean;
  /** Whether rows follow this page (set by the lists that page without an exact count). */
  readonly hasNext?: boolean;
}

export const offsetOf = (p: PageRequest): number => (p.page - 1) * p.perPage;

/** GitLab (Kaminari's MAX_COUNT_LIMIT): above this many rows a list sends no X-Total, X-Total-Pages or rel="last". */
export const COUNT_LIMIT = 10_000;
