/**
 * Rate limiting: GitLab's fixed windows (Rack::Attack). A window is `periodSeconds` long and aligned
 * on the Unix epoch, so every node — and every client — agrees where it ends. A limiter only counts;
 * `decideWindow` turns a count into the decision and the numbers GitLab's `RateLimit-*` headers carry
 * (lib/gitlab/rack_attack/request_throttle_data.rb).
 */

/** How many requests a key made in the current window, including this one, and when it was counted. */
export interface WindowCount {
  readonly observed: number;
  /** The instant the count was taken (Unix ms): the window it fell in is derived from it. */
  readonly nowMs: number;
}

/** A counter of requests per key and window. In-process (one node) or Redis (shared by every node). */
export interface RateLimiter {
  /** Counts one request against `key` in the window `now` falls in. Rejects when the store is unreachable. */
  hit(key: string, periodSeconds: number): Promise<WindowCount>;
  /** Connects, where there is something to connect to. Rejects when the store is unreachable. */
  ready(): Promise<void>;
  /**
   * A limiter whose counters are in this process (not Redis): the same count, synchronously, for the HTTP
   * fast lane (http/fast-lane.ts), which answers without awaiting. `peek` is what `hit` would count now,
   * without counting it.
   */
  readonly local?: {
    hit(key: string, periodSeconds: number): WindowCount;
    peek(key: string, periodSeconds: number): WindowCount;
  };
  close(): Promise<void>;
}

export interface WindowDecision {
  /** False once the key made more than `limit` requests in this window. */
  readonly allowed: boolean;
  readonly limit: number;
  readonly observed: number;
  /** `limit - observed`, never below 0. */
  readonly remaining: number;
  /** Unix seconds at which the window ends and the quota is whole again. */
  readonly resetAt: number;
  /** Seconds until `resetAt` (1..period): GitLab's `period - (now % period)`. */
  readonly retryAfterSeconds: number;
}

/** The index of the epoch-aligned window that `nowMs` falls in. */
export function windowIndex(nowMs: number, periodSeconds: number): number {
  return Math.floor(nowMs / 1000 / periodSeconds);
}

/** The decision for a count: Rack::Attack's `count > limit` and GitLab's header arithmetic. */
export function decideWindow(count: WindowCount, limit: number, periodSeconds: number): WindowDecision {
  const nowSeconds = Math.floor(count.nowMs / 1000);
  const retryAfterSeconds = periodSeconds - (nowSeconds % periodSeconds);
  return {
    allowed: count.observed <= limit,
    limit,
    observed: count.observed,
    remaining: Math.max(0, limit - count.observed),
    resetAt: nowSeconds + retryAfterSeconds,
    retryAfterSeconds,
  };
}
