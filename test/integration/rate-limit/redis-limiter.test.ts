/**
 * The Redis limiter against the machine's Redis: two limiters (two connections, as two nodes) share
 * one exact counter under concurrency, the window comes from Redis's clock and its key expires after
 * the window, and an unreachable Redis fails fast instead of hanging a request.
 */
import { createServer } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedisLimiter, windowIndex, type RateLimiter } from '../../../src/rate-limit/index.js';
import { deleteRedisKeys, REDIS_TEST_URL, redisKeysWithTtl, requireRedis, uniqueRedisPrefix } from '../../support/redis.js';

const prefix = uniqueRedisPrefix('redis-limiter');
const limiters: RateLimiter[] = [];
function limiter(url = REDIS_TEST_URL): RateLimiter {
  const l = createRedisLimiter({ url, keyPrefix: prefix, onError: () => {} });
  limiters.push(l);
  return l;
}

afterAll(async () => {
  for (const l of limiters) await l.close();
  await deleteRedisKeys(prefix);
});

describe.runIf(requireRedis())('Redis limiter', () => {
  it('gives two nodes one atomic counter: 60 concurrent hits observe 1..60 exactly once each', async () => {
    const [a, b] = [limiter(), limiter()];
    await Promise.all([a.ready(), b.ready()]);
    const counts = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).hit('shared', 60)));
    expect(counts.map((c) => c.observed).sort((x, y) => x - y)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    // Another key is counted on its own.
    expect((await a.hit('other', 60)).observed).toBe(1);
  });

  it("takes the window from Redis's clock and lets the key expire one second after the window ends", async () => {
    const l = limiter();
    await l.ready();
    const count = await l.hit('ttl', 60);
    expect(Math.abs(count.nowMs - Date.now())).toBeLessThan(5000);
    const keys = await redisKeysWithTtl(`${prefix}ttl`);
    const index = windowIndex(count.nowMs, 60);
    expect(Object.keys(keys)).toEqual([`${prefix}ttl:${index}`]);
    const secondsLeft = (index + 1) * 60 + 1 - Math.floor(count.nowMs / 1000);
    expect(keys[`${prefix}ttl:${index}`]).toBeGreaterThanOrEqual(secondsLeft - 2);
    expect(keys[`${prefix}ttl:${index}`]).toBeLessThanOrEqual(secondsLeft);
  });

  it('fails fast when Redis does not answer, and closes cleanly', async () => {
    // A port that was free a moment ago: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const l = limiter(`redis://127.0.0.1:${port}`);
    await expect(l.ready()).rejects.toThrow();
    const started = Date.now();
    await expect(l.hit('down', 60)).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(3000);
    await l.close();
  });
});
