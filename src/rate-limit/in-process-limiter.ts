/**
 * The default rate limiter: counters in this process's memory, so each node enforces its own limit.
 * Time comes from the injected Clock. Only the current window is kept: when the clock enters a new
 * window the old counters are dropped at once, so memory stays bounded by one window's keys.
 */
import type { Clock } from '../kernel/clock.js';
import { windowIndex, type RateLimiter, type WindowCount } from './rate-limiter.js';

export function createInProcessLimiter(clock: Clock): RateLimiter {
  // One map per period length (the API uses one); each holds the counters of its current window only.
  const windows = new Map<number, { index: number; counts: Map<string, number> }>();
  const count = (key: string, periodSeconds: number, counting: boolean): WindowCount => {
    const nowMs = clock.now().getTime();
    const index = windowIndex(nowMs, periodSeconds);
    let window = windows.get(periodSeconds);
    if (!window || window.index !== index) {
      window = { index, counts: new Map() };
      windows.set(periodSeconds, window);
    }
    const observed = (window.counts.get(key) ?? 0) + 1;
    if (counting) window.counts.set(key, observed);
    return { observed, nowMs };
  };
  const local = {
    hit: (key: string, periodSeconds: number) => count(key, periodSeconds, true),
    peek: (key: string, periodSeconds: number) => count(key, periodSeconds, false),
  };
  return {
    async hit(key: string, periodSeconds: number): Promise<WindowCount> {
      return local.hit(key, periodSeconds);
    },
    async ready() {},
    async close() {
      windows.clear();
    },
    local,
  };
}
