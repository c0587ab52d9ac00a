/**
 * Rate limiting's public surface: the limiter port, the window arithmetic, and `createRateLimiter`,
 * which picks the implementation — Redis when `REDIS_URL` is configured, in-process otherwise.
 */
import type { Clock } from '../kernel/clock.js';
import { createInProcessLimiter } from './in-process-limiter.js';
import type { RateLimiter } from './rate-limiter.js';
import { createRedisLimiter } from './redis-limiter.js';

export { decideWindow, windowIndex, type RateLimiter, type WindowCount, type WindowDecision } from './rate-limiter.js';
export { createInProcessLimiter } from './in-process-limiter.js';
export { createRedisLimiter } from './redis-limiter.js';

export function createRateLimiter(options: { redisUrl: string | null; keyPrefix: string; clock: Clock; onError(error: Error): void }): RateLimiter {
  if (options.redisUrl) return createRedisLimiter({ url: options.redisUrl, keyPrefix: options.keyPrefix, onError: options.onError });
  return createInProcessLimiter(options.clock);
}
