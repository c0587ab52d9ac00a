/**
 * The Redis that shared rate-limit suites use: LATCHKEY_TEST_REDIS_URL, default the machine's
 * 127.0.0.1:6379. `requireRedis()` has requireProgram's semantics (print `SKIP redis: …` and skip
 * locally, fail under CI=true). Each suite takes its own key prefix so parallel runs never share a
 * counter, and deletes its keys afterwards.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { requireProgram } from './programs.js';

export const REDIS_TEST_URL = process.env.LATCHKEY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** True when Redis answers PING; otherwise SKIP (or a failure under CI=true). */
export function requireRedis(): boolean {
  return requireProgram('redis', { command: 'redis-cli', args: ['-u', REDIS_TEST_URL, 'ping'], hint: `redis-server listening at ${REDIS_TEST_URL}`, timeoutMs: 5000 });
}

/** A key prefix no other test run uses. */
export function uniqueRedisPrefix(suite: string): string {
  return `latchkey-test:${suite}:${randomUUID()}:`;
}

/** Deletes every key under `prefix` (SCAN, so it never blocks the server). */
export async function deleteRedisKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_TEST_URL, { lazyConnect: true });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** The keys under `prefix` and their remaining lifetimes in seconds. */
export async function redisKeysWithTtl(prefix: string): Promise<Record<string, number>> {
  const redis = new Redis(REDIS_TEST_URL, { lazyConnect: true });
  try {
    await redis.connect();
    const keys = await redis.keys(`${prefix}*`);
    const out: Record<string, number> = {};
    for (const key of keys) out[key] = await redis.ttl(key);
    return out;
  } finally {
    redis.disconnect();
  }
}
