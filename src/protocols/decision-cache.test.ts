import { describe, expect, it } from 'vitest';
import { FakeClock } from '../kernel/clock.js';
import { createLocalRevocationFeed } from '../tokens/revocation-feed.js';
import { createDecisionCache } from './decision-cache.js';

describe('decision cache', () => {
  const setUp = (ttlMs = 1000, maxEntries?: number) => {
    const clock = new FakeClock('2026-12-03T10:00:00.000Z');
    const revocations = createLocalRevocationFeed();
    const cache = createDecisionCache<string>({ clock, ttlMs, maxEntries, revocations });
    return { clock, revocations, cache };
  };

  it('keeps a decision per token and request for its time to live', () => {
    const { clock, cache } = setUp();
    cache.set(1, 7, 'read\nacme/web', 'allowed');
    expect(cache.get(1, 'read\nacme/web')).toBe('allowed');
    expect(cache.get(1, 'write\nacme/web')).toBeUndefined();
    expect(cache.get(2, 'read\nacme/web')).toBeUndefined();
    clock.advance(999);
    expect(cache.get(1, 'read\nacme/web')).toBe('allowed');
    clock.advance(1);
    expect(cache.get(1, 'read\nacme/web')).toBeUndefined();
    expect(cache.size()).toBe(0);
  });

  it("drops every decision of a token published on the revocation feed, of a user's tokens when the account changed, and everything on a resync", () => {
    const clock = new FakeClock('2026-12-03T10:00:00.000Z');
    let resync = () => {};
    const feed = createLocalRevocationFeed();
    const cache = createDecisionCache<string>({ clock, ttlMs: 60_000, revocations: { subscribe: feed.subscribe, subscribeUsers: feed.subscribeUsers, onResync: (l) => ((resync = l), () => {}) } });
    cache.set(1, 7, 'a', 'x');
    cache.set(1, 7, 'b', 'y');
    cache.set(2, null, 'a', 'z');
    cache.set(3, 8, 'a', 'w');
    cache.set(4, 8, 'a', 'v');
    feed.publish(1);
    expect([cache.get(1, 'a'), cache.get(1, 'b'), cache.get(2, 'a')]).toEqual([undefined, undefined, 'z']);
    // An account change (blocked, admin flag) drops the decisions of all of the user's tokens.
    feed.publishUser(8);
    expect([cache.get(3, 'a'), cache.get(4, 'a'), cache.get(2, 'a')]).toEqual([undefined, undefined, 'z']);
    resync();
    expect(cache.get(2, 'a')).toBeUndefined();
    expect(cache.size()).toBe(0);
  });

  it('is bounded in entries, the oldest going first; a time to live of 0 caches nothing', () => {
    const { cache } = setUp(1000, 2);
    cache.set(1, null, 'a', 'first');
    cache.set(2, null, 'a', 'second');
    cache.set(3, null, 'a', 'third');
    expect([cache.get(1, 'a'), cache.get(2, 'a'), cache.get(3, 'a')]).toEqual([undefined, 'second', 'third']);
    const off = setUp(0).cache;
    off.set(1, null, 'a', 'x');
    expect(off.get(1, 'a')).toBeUndefined();
  });
});
