import { describe, expect, it } from 'vitest';
import { DomainError } from '../kernel/errors.js';
import { readExpiryInput } from './expiry-input.js';

const now = new Date('2026-11-23T10:00:00Z');

function failure(input: unknown): DomainError {
  try {
    readExpiryInput(input, now);
  } catch (e) {
    if (e instanceof DomainError) return e;
    throw e;
  }
  throw new Error(`accepted ${JSON.stringify(input)}`);
}

describe('expires_at input', () => {
  it('absent, null or empty means no expiry', () => {
    expect(readExpiryInput(undefined, now)).toBeNull();
    expect(readExpiryInput(null, now)).toBeNull();
    expect(readExpiryInput('', now)).toBeNull();
  });

  it('tomorrow is the earliest accepted date', () => {
    expect(readExpiryInput('2026-11-24', now)).toBe('2026-11-24');
    expect(readExpiryInput('2026-11-24T00:00:00Z', now)).toBe('2026-11-24');
  });

  it.each(['2026-11-23', '2026-11-22', '2000-01-01'])('refuses %s (dead on arrival) as GitLab refuses a past date', (input) => {
    const e = failure(input);
    expect(e.kind).toBe('invalid');
    expect(e.fields).toEqual({ expires_at: ['must be a date in the future'] });
  });

  it.each([42, true, {}, [], 'soon', '2026-02-30'])('refuses %j as invalid', (input) => {
    const e = failure(input);
    expect(e.kind).toBe('invalid');
    expect(e.fields).toBeUndefined();
    expect(e.message).toBe('expires_at is invalid');
  });
});
