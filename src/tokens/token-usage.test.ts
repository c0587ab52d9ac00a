/** The pure usage rules: last_used_ips order and bound, the sliding reuse window, flagging once. */
import { describe, expect, it } from 'vitest';
import { exceedsReuseLimits, mergeUsage, normaliseUserAgent, type Observed, type UsageRecord } from './token-usage.js';
import { cryptoTokenGenerator } from '../kernel/random.js';
import { generateToken } from './token-format.js';

const POLICY = { windowMs: 3_600_000, maxUserAgents: 3, maxIps: 3 };
const T0 = Date.parse('2026-11-23T10:00:00.000Z');
const EMPTY: UsageRecord = { lastUsedAt: null, lastUsedIps: [], windowIps: {}, windowUserAgents: {}, reuseFlaggedAt: null, revision: 0 };

function seen(at: number, ips: string[], userAgents: string[] = []): Observed {
  return { usedAt: at, ips: new Map(ips.map((ip, i) => [ip, at - i])), userAgents: new Map(userAgents.map((ua, i) => [ua, at - i])) };
}

describe('mergeUsage', () => {
  it('puts newly seen IPs first, keeps each once and only the five most recent', () => {
    const stored = { ...EMPTY, lastUsedIps: ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5'] };
    const m = mergeUsage(stored, seen(T0, ['10.0.0.9', '10.0.0.3']), new Date(T0), POLICY);
    expect(m.lastUsedIps).toEqual(['10.0.0.9', '10.0.0.3', '10.0.0.1', '10.0.0.2', '10.0.0.4']);
    expect(m.lastUsedAt).toBe(new Date(T0).toISOString());
  });

  it('moves last_used_at to the latest use, never backwards', () => {
    const stored = { ...EMPTY, lastUsedAt: '2026-11-23T10:05:00.000Z' };
    expect(mergeUsage(stored, seen(T0, []), new Date(T0 + 60_000), POLICY).lastUsedAt).toBe('2026-11-23T10:05:00.000Z');
    expect(mergeUsage(EMPTY, seen(T0 + 30_000, []), new Date(T0 + 60_000), POLICY).lastUsedAt).toBe('2026-11-23T10:00:30.000Z');
  });

  it('flags a token seen from more distinct user agents than allowed within the window, once', () => {
    const first = mergeUsage(EMPTY, seen(T0, ['10.0.0.1'], ['ci/1', 'ci/2', 'ci/3']), new Date(T0), POLICY);
    expect(first.flagged).toBeNull();
    expect(first.reuseFlaggedAt).toBeNull();
    const stored = { ...EMPTY, windowIps: first.windowIps, windowUserAgents: first.windowUserAgents };
    const second = mergeUsage(stored, seen(T0 + 1000, ['10.0.0.1'], ['bot/4']), new Date(T0 + 1000), POLICY);
    expect(second.reuseFlaggedAt).toBe(new Date(T0 + 1000).toISOString());
    expect([...second.flagged!.userAgents].sort()).toEqual(['bot/4', 'ci/1', 'ci/2', 'ci/3']);
    expect(second.flagged?.ips).toEqual(['10.0.0.1']);
    // Already flagged: the flag stays, and no second flagging is reported.
    const again = mergeUsage({ ...stored, reuseFlaggedAt: second.reuseFlaggedAt }, seen(T0 + 2000, [], ['bot/5']), new Date(T0 + 2000), POLICY);
    expect(again.flagged).toBeNull();
    expect(again.reuseFlaggedAt).toBe(second.reuseFlaggedAt);
  });

  it('flags on distinct IPs alone', () => {
    const m = mergeUsage(EMPTY, seen(T0, ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'], ['same']), new Date(T0), POLICY);
    expect(m.flagged?.ips).toHaveLength(4);
  });

  it('forgets values last seen before the window: four agents spread over more than an hour are not reuse', () => {
    let record: UsageRecord = EMPTY;
    for (const [i, ua] of ['a', 'b', 'c', 'd'].entries()) {
      const at = T0 + i * 25 * 60_000; // every 25 minutes: at most three within any hour
      const m = mergeUsage(record, seen(at, [], [ua]), new Date(at), POLICY);
      expect(m.flagged).toBeNull();
      record = { ...record, windowIps: m.windowIps, windowUserAgents: m.windowUserAgents };
    }
    expect(Object.keys(record.windowUserAgents).sort()).toEqual(['b', 'c', 'd']);
  });

  it('a limit of 0 turns that check off', () => {
    expect(exceedsReuseLimits(100, 100, { windowMs: 1, maxIps: 0, maxUserAgents: 0 })).toBe(false);
    expect(exceedsReuseLimits(100, 1, { windowMs: 1, maxIps: 0, maxUserAgents: 3 })).toBe(false);
    expect(exceedsReuseLimits(1, 4, { windowMs: 1, maxIps: 0, maxUserAgents: 3 })).toBe(true);
  });

  it('keeps user agents bounded in length', () => {
    expect(normaliseUserAgent('x'.repeat(10_000))).toHaveLength(256);
    expect(normaliseUserAgent('  ')).toBeNull();
  });

  it('answers a user agent seen before as the first time (kept clean ones), and redacts a token in it every time', () => {
    const browser = '  Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 ';
    const leaky = (n: number) => `terraform-provider-gitlab/17.${n} token=${generateToken('glpat-', cryptoTokenGenerator)}`;
    const first = leaky(0);
    for (let round = 0; round < 2; round++) {
      expect(normaliseUserAgent(browser)).toBe(browser.trim());
      expect(normaliseUserAgent(first)).toBe('terraform-provider-gitlab/17.0 token=[REDACTED]');
      expect(normaliseUserAgent(`${'x'.repeat(300)} ${first}`)).toBe('x'.repeat(256));
      // More distinct agents than are kept: the oldest go, and every answer is still the agent's own.
      for (let i = 0; i < 300; i++) expect(normaliseUserAgent(`ci-runner/${i} (linux; amd64; build 1234567890abcdef)`)).toBe(`ci-runner/${i} (linux; amd64; build 1234567890abcdef)`);
      for (let i = 1; i < 4; i++) expect(normaliseUserAgent(leaky(i))).toBe(`terraform-provider-gitlab/17.${i} token=[REDACTED]`);
    }
  });
});
