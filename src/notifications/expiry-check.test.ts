import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addDays, daysUntil, utcDateOf } from '../kernel/dates.js';
import { currentInterval, dueNotice, EXPIRED_LOOKBACK_DAYS, noticeBands, type NoticeInterval } from './expiry-check.js';

const DAY = 86_400_000;
const RANK: Record<NoticeInterval, number> = { '60': 0, '30': 1, '7': 2, expired: 3 };
const at = (iso: string) => new Date(iso);

/** Runs the check at each instant, remembering what was noticed, as the job does across runs. */
function simulate(expiresAt: string, runs: Date[], revokedFrom: number | null = null) {
  const noticed: { interval: NoticeInterval; daysLeft: number; run: Date }[] = [];
  for (const run of runs) {
    const revoked = revokedFrom !== null && run.getTime() >= revokedFrom;
    const due = dueNotice({ expiresAt, revoked }, noticed.map((n) => n.interval), run);
    if (due) noticed.push({ ...due, run });
  }
  return noticed;
}

describe('expiry notice intervals', () => {
  it('a token first seen 25 days out gets the 30-day notice, later the 7-day one, never the 60-day one', () => {
    const runs = Array.from({ length: 40 }, (_, i) => new Date(Date.parse('2026-11-23T01:00:00Z') + i * DAY));
    const noticed = simulate(addDays('2026-11-23', 25), runs);
    expect(noticed.map((n) => [n.interval, n.daysLeft])).toEqual([
      ['30', 25],
      ['7', 7],
      ['expired', 0],
    ]);
  });

  it('daily runs from far out give 60, 30, 7 and expired, each on the first day of its window', () => {
    const runs = Array.from({ length: 120 }, (_, i) => new Date(Date.parse('2026-11-23T01:00:00Z') + i * DAY));
    const noticed = simulate('2027-02-28', runs);
    expect(noticed.map((n) => [n.interval, n.daysLeft, utcDateOf(n.run)])).toEqual([
      ['60', 60, '2026-12-30'],
      ['30', 30, '2027-01-29'],
      ['7', 7, '2027-02-21'],
      ['expired', 0, '2027-02-28'],
    ]);
  });

  it('window edges: 61 days out nothing, 60 → 60, 31 → 60, 30 → 30, 8 → 30, 7 → 7, 1 → 7, 0 → expired', () => {
    const now = at('2026-11-23T10:00:00Z');
    const interval = (days: number) => currentInterval(addDays('2026-11-23', days), now);
    expect([61, 60, 31, 30, 8, 7, 1, 0, -EXPIRED_LOOKBACK_DAYS, -EXPIRED_LOOKBACK_DAYS - 1].map(interval)).toEqual([
      null, '60', '60', '30', '30', '7', '7', 'expired', 'expired', null,
    ]);
  });

  it('revoked tokens and tokens without expiry get nothing', () => {
    const now = at('2026-11-23T10:00:00Z');
    expect(dueNotice({ expiresAt: '2026-11-25', revoked: true }, [], now)).toBeNull();
    expect(dueNotice({ expiresAt: '2026-11-20', revoked: true }, [], now)).toBeNull();
    expect(dueNotice({ expiresAt: null, revoked: false }, [], now)).toBeNull();
  });

  // Any expiry date, any increasing run times with any gaps (a job that was down for weeks, runs
  // several times a day, a restart), optionally a revocation at some point.
  const scenario = fc.record({
    start: fc.integer({ min: Date.parse('2026-01-01T00:00:00Z'), max: Date.parse('2030-01-01T00:00:00Z') }),
    expiresInDays: fc.integer({ min: -10, max: 200 }),
    gaps: fc.array(fc.integer({ min: 60_000, max: 20 * DAY }), { minLength: 1, maxLength: 60 }),
    revokeAfterRuns: fc.option(fc.integer({ min: 0, max: 60 }), { nil: null }),
  });

  it('property: never the same interval twice, never a less urgent one after a more urgent one, nothing once revoked', () => {
    fc.assert(
      fc.property(scenario, ({ start, expiresInDays, gaps, revokeAfterRuns }) => {
        const runs: Date[] = [];
        let t = start;
        for (const g of gaps) runs.push(new Date((t += g)));
        const expiresAt = addDays(utcDateOf(new Date(start)), expiresInDays);
        const revokedFrom = revokeAfterRuns === null ? null : (runs[Math.min(revokeAfterRuns, runs.length - 1)]!.getTime());
        const noticed = simulate(expiresAt, runs, revokedFrom);
        const intervals = noticed.map((n) => n.interval);
        expect(new Set(intervals).size).toBe(intervals.length);
        for (let i = 1; i < noticed.length; i++) expect(RANK[noticed[i]!.interval]).toBeGreaterThan(RANK[noticed[i - 1]!.interval]);
        for (const n of noticed) {
          if (revokedFrom !== null) expect(n.run.getTime()).toBeLessThan(revokedFrom);
          // Each notice is for the window the token is in at that run.
          expect(n.interval).toBe(currentInterval(expiresAt, n.run));
          if (n.interval === 'expired') expect(n.daysLeft).toBeLessThanOrEqual(0);
          else expect(n.daysLeft).toBeGreaterThan(n.interval === '60' ? 30 : n.interval === '30' ? 7 : 0);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('property: with about one run a day (any time of day), every window from the first one seen is noticed, in order', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.parse('2026-01-01T00:00:00Z'), max: Date.parse('2030-01-01T00:00:00Z') }),
        fc.integer({ min: 1, max: 120 }),
        fc.array(fc.integer({ min: 0, max: DAY - 1 }), { minLength: 125, maxLength: 125 }),
        (start, expiresInDays, jitters) => {
          const runs = jitters.map((j, i) => new Date(start + i * DAY + j));
          const expiresAt = addDays(utcDateOf(new Date(start)), expiresInDays);
          const firstWindow = currentInterval(expiresAt, runs[0]!);
          const want = (['60', '30', '7', 'expired'] as NoticeInterval[]).filter((i) => firstWindow === null || RANK[i] >= RANK[firstWindow]);
          expect(simulate(expiresAt, runs).map((n) => n.interval)).toEqual(want);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: the bands the scan queries select exactly the tokens dueNotice says are due', () => {
    const all: NoticeInterval[] = ['60', '30', '7', 'expired'];
    fc.assert(
      fc.property(
        fc.integer({ min: Date.parse('2026-01-01T00:00:00Z'), max: Date.parse('2030-01-01T00:00:00Z') }),
        fc.integer({ min: -40, max: 70 }),
        fc.subarray(all),
        (t, expiresInDays, noticed) => {
          const now = new Date(t);
          const expiresAt = addDays(utcDateOf(now), expiresInDays);
          const bands = noticeBands(now).filter((b) => b.from <= expiresAt && expiresAt <= b.to);
          // The bands never overlap; a date is in one band at most.
          expect(bands.length).toBeLessThanOrEqual(1);
          const band = bands[0];
          const selected = band !== undefined && !noticed.some((n) => band.settledBy.includes(n));
          const due = dueNotice({ expiresAt, revoked: false }, noticed, now);
          expect(selected).toBe(due !== null);
          if (due) expect(due.interval).toBe(band!.interval);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
