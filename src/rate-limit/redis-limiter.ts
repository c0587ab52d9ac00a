/**
 * The shared rate limiter: one counter per key and window in Redis (`REDIS_URL`), so any number of
 * nodes enforce one limit together. A Lua script counts atomically, so two nodes never both take the
 * last request of a quota.
 *
 * Clock: the window is computed from Redis's own `TIME`, not from the node's clock, so nodes whose
 * clocks disagree still share exactly one window; each counter expires (EXPIREAT) one second after its
 * window ends. The script builds its key from KEYS[1] plus the window index: a standalone Redis (or a
 * primary with replicas) is assumed, not Redis Cluster.
 *
 * Failures never hang a request: no offline queue (a command while disconnected fails at once), one
 * retry, a one-second command timeout. Reconnection goes on in the background.
 */
import { Redis } from 'ioredis';
import type { RateLimiter, WindowCount } from './rate-limiter.js';

// KEYS[1] = prefix + discriminator; ARGV[1] = period in seconds. Returns { count, Redis time in ms }.
const HIT_SCRIPT = `
local t = redis.call('TIME')
local seconds = tonumber(t[1])
local period = tonumber(ARGV[1])
local index = math.floor(seconds / period)
local key = KEYS[1] .. ':' .. index
local count = redis.call('INCR', key)
if count == 1 then redis.call('EXPIREAT', key, (index + 1) * period + 1) end
return { count, seconds * 1000 + math.floor(tonumber(t[2]) / 1000) }
`;

type ScriptedRedis = Redis & { latchkeyRateLimitHit(key: string, periodSeconds: number): Promise<[number, number]> };

export interface RedisLimiterOptions {
  url: string;
  /** Prepended to every key (`latchkey:ratelimit:` by default), so several instances can share a Redis. */
  keyPrefix: string;
  /** Connection errors (ioredis emits them while reconnecting); the caller decides how loudly to log. */
  onError(error: Error): void;
}

export function createRedisLimiter(options: RedisLimiterOptions): RateLimiter {
  const redis = new Redis(options.url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 1000,
    connectTimeout: 2000,
  }) as ScriptedRedis;
  redis.on('error', (e: Error) => options.onError(e));
  redis.defineCommand('latchkeyRateLimitHit', { numberOfKeys: 1, lua: HIT_SCRIPT });
  return {
    async hit(key: string, periodSeconds: number): Promise<WindowCount> {
      const [observed, nowMs] = await redis.latchkeyRateLimitHit(options.keyPrefix + key, periodSeconds);
      return { observed: Number(observed), nowMs: Number(nowMs) };
    },
    async ready() {
      if (redis.status === 'wait') await redis.connect();
    },
    async close() {
      if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
      else redis.disconnect();
    },
  };
}
