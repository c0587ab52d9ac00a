import { describe, expect, it } from 'vitest';
import { FakeClock } from '../kernel/clock.js';
import { createInProcessLimiter } from './in-process-limiter.js';
import { decideWindow, windowIndex } from './rate-limiter.js';

describe('in-process limiter (fixed, epoch-aligned windows on the injected clock)', () => {
  it('counts per key within one window and starts again at the next window boundary', async () => {
    const clock = new FakeClock('2026-11-23T10:00:05.000Z');
    const limiter = createInProcessLimiter(clock);
    expect((await limiter.hit('a', 60)).observed).toBe(1);
    expect((await limiter.hit('a', 60)).observed).toBe(2);
    expect((await limiter.hit('b', 60)).observed).toBe(1);
    clock.set('2026-11-23T10:00:59.999Z');
    expect(await limiter.hit('a', 60)).toEqual({ observed: 3, nowMs: Date.parse('2026-11-23T10:00:59.999Z') });
    clock.set('2026-11-23T10:01:00.000Z');
    expect((await limiter.hit('a', 60)).observed).toBe(1);
    expect((await limiter.hit('b', 60)).observed).toBe(1);
  });

  it('counts the same synchronously (local.hit), and local.peek tells the next count without taking it', async () => {
    const clock = new FakeClock('2026-11-23T10:00:05.000Z');
    const limiter = createInProcessLimiter(clock);
    expect(limiter.local!.peek('a', 60)).toEqual({ observed: 1, nowMs: Date.parse('2026-11-23T10:00:05.000Z') });
    expect(limiter.local!.peek('a', 60).observed).toBe(1);
    expect(limiter.local!.hit('a', 60).observed).toBe(1);
    expect((await limiter.hit('a', 60)).observed).toBe(2);
    expect(limiter.local!.peek('a', 60).observed).toBe(3);
    expect(limiter.local!.hit('a', 60).observed).toBe(3);
    clock.set('2026-11-23T10:01:00.000Z');
    expect(limiter.local!.peek('a', 60).observed).toBe(1);
  });

  it('keeps only the current window in memory', async () => {
    const clock = new FakeClock('2026-11-23T10:00:00.000Z');
    const limiter = createInProcessLimiter(clock);
    for (let i = 0; i < 1000; i++) await limiter.hit(`ip:${i}`, 60);
    clock.advance(60_000);
    await limiter.hit('ip:0', 60);
    // A key of the previous window starts from zero: its counter was dropped with the window.
    expect((await limiter.hit('ip:999', 60)).observed).toBe(1);
  });
});

describe('decideWindow (GitLab RequestThrottleData arithmetic)', () => {
  const at = (iso: string, observed: number) => ({ observed, nowMs: Date.parse(iso) });

  it('allows up to the limit and refuses from limit + 1, remaining never below 0', () => {
    expect(decideWindow(at('2026-11-23T10:00:15Z', 3), 3, 60)).toMatchObject({ allowed: true, observed: 3, remaining: 0 });
    expect(decideWindow(at('2026-11-23T10:00:15Z', 4), 3, 60)).toMatchObject({ allowed: false, observed: 4, remaining: 0 });
    expect(decideWindow(at('2026-11-23T10:00:15Z', 1), 3, 60)).toMatchObject({ allowed: true, remaining: 2 });
  });

  it('resets at the end of the epoch-aligned window: retry after = period - now % period', () => {
    const d = decideWindow(at('2026-11-23T10:00:15.900Z', 1), 600, 60);
    expect(d.retryAfterSeconds).toBe(45);
    expect(d.resetAt).toBe(Date.parse('2026-11-23T10:01:00Z') / 1000);
    // Exactly on a boundary the whole period is ahead.
    expect(decideWindow(at('2026-11-23T10:01:00Z', 1), 600, 60).retryAfterSeconds).toBe(60);
    expect(windowIndex(Date.parse('2026-11-23T10:00:59.999Z'), 60)).toBe(windowIndex(Date.parse('2026-11-23T10:00:00Z'), 60));
    expect(windowIndex(Date.parse('2026-11-23T10:01:00Z'), 60)).toBe(windowIndex(Date.parse('2026-11-23T10:00:00Z'), 60) + 1);
  });
});
