import { describe, expect, it } from 'vitest';
import { createExpiryPolicy } from './expiry-policy.js';

const now = new Date('2026-11-23T10:00:00Z');
const storeWith = (groupDays: Record<number, number | null>) =>
  ({
    tokens: {
      groupLifetimeLimit: async (ids: readonly number[]) => {
        const days = ids.map((id) => groupDays[id]).filter((d): d is number => typeof d === 'number');
        return days.length === 0 ? null : Math.min(...days);
      },
    },
  }) as any;

describe('expiry policy', () => {
  const policy = createExpiryPolicy({ requireExpiry: true, maxLifetimeDays: 365 }, storeWith({ 1: null, 2: 30 }));

  it('defaults a new token to the maximum lifetime, and a rotation to one week', async () => {
    expect(await policy.forNewToken(undefined, { now })).toBe('2027-11-23');
    expect(await policy.forNewToken(null, { now })).toBe('2027-11-23');
    expect(await policy.forRotation(undefined, { now })).toBe('2026-11-30');
  });

  it('accepts up to the maximum, refuses beyond with the reason', async () => {
    expect(await policy.forNewToken('2027-11-23', { now })).toBe('2027-11-23');
    await expect(policy.forNewToken('2027-11-24', { now })).rejects.toMatchObject({ message: 'Expires at must be before 2027-11-24 (maximum lifetime 365 days)' });
    await expect(policy.forRotation('2027-11-24', { now })).rejects.toMatchObject({ message: '400 Bad request - Expires at must be before 2027-11-24 (maximum lifetime 365 days)' });
  });

  it('a group in the chain may be stricter, never looser', async () => {
    expect(await policy.forNewToken(undefined, { now, groupIds: [1, 2] })).toBe('2026-12-23');
    await expect(policy.forNewToken('2026-12-24', { now, groupIds: [1, 2] })).rejects.toMatchObject({ code: 'EXPIRY_BEYOND_MAX_LIFETIME' });
    expect(await policy.forNewToken('2027-11-23', { now, groupIds: [1] })).toBe('2027-11-23');
    const loose = createExpiryPolicy({ requireExpiry: true, maxLifetimeDays: 10 }, storeWith({ 3: 100 }));
    expect(await loose.maxLifetimeDays({ now, groupIds: [3] })).toBe(10);
  });

  it('a rotation default never exceeds a shorter maximum', async () => {
    const short = createExpiryPolicy({ requireExpiry: true, maxLifetimeDays: 3 }, storeWith({}));
    expect(await short.forRotation(undefined, { now })).toBe('2026-11-26');
  });

  it('without required expiry an omitted date means none', async () => {
    const optional = createExpiryPolicy({ requireExpiry: false, maxLifetimeDays: 365 }, storeWith({}));
    expect(await optional.forNewToken(undefined, { now })).toBeNull();
  });

  it('past, today and nonsense dates are refused', async () => {
    await expect(policy.forNewToken('2026-11-23', { now })).rejects.toMatchObject({ message: 'Expires at must be a date in the future' });
    await expect(policy.forNewToken('soon', { now })).rejects.toMatchObject({ message: 'expires_at is invalid' });
  });
});
