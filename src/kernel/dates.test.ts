import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addDays, daysUntil, isExpiredAt, midnightUtc, MIDNIGHTS_KEPT, parseExpiryDate, presentExpiryDate, utcDateOf } from './dates.js';

const day = fc.date({ min: new Date('1971-01-01T00:00:00Z'), max: new Date('2999-12-31T00:00:00Z'), noInvalidDate: true }).map(utcDateOf);

describe('UTC expiry dates', () => {
  it('a token expiring on a date works until 23:59:59.999 UTC the day before and not from 00:00 UTC', () => {
    expect(isExpiredAt('2026-11-25', new Date('2026-11-24T23:59:59.999Z'))).toBe(false);
    expect(isExpiredAt('2026-11-25', new Date('2026-11-25T00:00:00.000Z'))).toBe(true);
    expect(isExpiredAt(null, new Date('2999-01-01T00:00:00Z'))).toBe(false);
  });

  it('expiry is decided by the instant, never by the local time zone of an offset', () => {
    // 2026-11-25T01:00+02:00 is 2026-11-24T23:00Z: still before midnight UTC.
    expect(isExpiredAt('2026-11-25', new Date('2026-11-25T01:00:00+02:00'))).toBe(false);
  });

  it('parses ISO dates and date-times to the UTC date they fall on', () => {
    expect(parseExpiryDate('2027-01-01')).toBe('2027-01-01');
    expect(parseExpiryDate('2027-01-01T00:00:00Z')).toBe('2027-01-01');
    expect(parseExpiryDate('2027-01-01T00:00:00.000Z')).toBe('2027-01-01');
    expect(parseExpiryDate('2027-01-01T23:30:00-02:00')).toBe('2027-01-02');
    expect(parseExpiryDate('2027-01-01T01:30:00+0200')).toBe('2026-12-31');
    expect(parseExpiryDate(' 2027-01-01 ')).toBe('2027-01-01');
  });

  it.each(['2026-02-30', '2026-13-01', 'tomorrow', '', '2027-01-01T25:00:00Z', '2027-01-01T10:61Z', '27-01-01', '2027-1-1', '2027-01-01Tfoo'])(
    'refuses %j',
    (input) => expect(parseExpiryDate(input)).toBeNull(),
  );

  it('round-trips every date through its wire form (property)', () => {
    fc.assert(
      fc.property(day, (d) => {
        const wire = presentExpiryDate(d)!;
        expect(wire).toBe(`${d}T00:00:00.000Z`);
        expect(parseExpiryDate(wire)).toBe(d);
        expect(parseExpiryDate(d)).toBe(d);
        expect(midnightUtc(d).toISOString()).toBe(wire);
      }),
    );
  });

  it('addDays and daysUntil agree (property)', () => {
    fc.assert(
      fc.property(day, fc.integer({ min: -2000, max: 2000 }), fc.integer({ min: 0, max: 86_399_999 }), (d, n, msIntoDay) => {
        const later = addDays(d, n);
        const now = new Date(midnightUtc(d).getTime() + msIntoDay);
        expect(daysUntil(later, now)).toBe(n);
        expect(isExpiredAt(later, now)).toBe(n <= 0);
      }),
    );
  });

  it('isExpiredAt answers the same from its remembered midnights, past their bound too', () => {
    const start = Date.UTC(2026, 0, 1);
    const dates = Array.from({ length: MIDNIGHTS_KEPT + 500 }, (_, i) => utcDateOf(new Date(start + i * 86_400_000)));
    // Three passes: the first fills (and empties) the memory, the others read it, each against the parse.
    for (let pass = 0; pass < 3; pass++) {
      for (const [i, date] of dates.entries()) {
        const midnight = Date.parse(`${date}T00:00:00Z`);
        const delta = (i % 3) - 1; // just before, at and after 00:00 UTC
        expect(isExpiredAt(date, new Date(midnight + delta))).toBe(delta >= 0);
      }
    }
    // Not a date: never expired, as before (the comparison with NaN is false), remembered or not.
    expect(isExpiredAt('never', new Date('2999-01-01T00:00:00Z'))).toBe(false);
    expect(isExpiredAt('never', new Date('2999-01-01T00:00:00Z'))).toBe(false);
  });
});
