/** The pure parts of `latchkey token`: --grace-period, --scopes, --access-level, and a token's state word. */
import { describe, expect, it } from 'vitest';
import { CliInputError, parseAccessLevel, parseGracePeriod, parseScopes, parseTokenId, tokenState, tokenView } from '../../src/cli/token-format.js';
import type { Token } from '../../src/tokens/token.js';

const NOW = new Date('2026-06-15T12:00:00.000Z');

function token(overrides: Partial<Token> = {}): Token {
  return {
    id: 7,
    kind: 'personal',
    name: 'ci',
    description: '',
    userId: 3,
    projectId: null,
    groupId: null,
    username: null,
    scopes: ['read_api'],
    accessLevel: null,
    expiresAt: '2026-07-01',
    createdBy: null,
    createdAt: '2026-06-01T00:00:00.000Z',
    revokedAt: null,
    lastUsedAt: null,
    rotatedFromId: null,
    supersededAt: null,
    graceUntil: null,
    revokeReason: null,
    reuseDetectedAt: null,
    lastUsedIps: [],
    reuseFlaggedAt: null,
    impersonation: false,
    ...overrides,
  };
}

describe('parseGracePeriod', () => {
  it.each([
    ['3600', 3600],
    ['0', 0],
    ['90s', 90],
    ['30m', 1800],
    ['1h', 3600],
    ['7d', 604_800],
    [' 12h ', 43_200],
  ])('%s → %i seconds', (input, seconds) => {
    expect(parseGracePeriod(input)).toBe(seconds);
  });

  it.each(['', 'soon', '1w', '-5', '1.5h', 'h', '1h30m', '9999999999'])('refuses %j', (input) => {
    expect(() => parseGracePeriod(input)).toThrow(CliInputError);
  });
});

describe('option parsing', () => {
  it('splits scopes on commas, trimming and dropping empties; none at all is an error', () => {
    expect(parseScopes('read_api, read_user,,')).toEqual(['read_api', 'read_user']);
    expect(() => parseScopes(' , ')).toThrow(/--scopes needs at least one scope/);
  });

  it('reads access levels and token ids as whole numbers only', () => {
    expect(parseAccessLevel(undefined)).toBeUndefined();
    expect(parseAccessLevel('40')).toBe(40);
    expect(() => parseAccessLevel('maintainer')).toThrow(CliInputError);
    expect(parseTokenId('12')).toBe(12);
    for (const bad of ['', '1e3', '-1', '12345678901']) expect(() => parseTokenId(bad)).toThrow('token id must be a number');
  });
});

describe('tokenState', () => {
  it('active until 00:00 UTC of its expiry date, expired from then', () => {
    expect(tokenState(token(), NOW)).toBe('active');
    expect(tokenState(token({ expiresAt: '2026-06-16' }), NOW)).toBe('active');
    expect(tokenState(token({ expiresAt: '2026-06-15' }), NOW)).toBe('expired');
  });

  it('revoked, rotated, and revoked by reuse detection, whatever the expiry', () => {
    expect(tokenState(token({ revokedAt: '2026-06-10T00:00:00.000Z', revokeReason: 'revoked' }), NOW)).toBe('revoked');
    expect(tokenState(token({ revokedAt: '2026-06-10T00:00:00.000Z', revokeReason: 'admin', expiresAt: '2026-01-01' }), NOW)).toBe('revoked');
    expect(tokenState(token({ revokedAt: '2026-06-10T00:00:00.000Z', revokeReason: 'rotated', supersededAt: '2026-06-10T00:00:00.000Z' }), NOW)).toBe('rotated');
    expect(tokenState(token({ revokedAt: '2026-06-10T00:00:00.000Z', revokeReason: 'reuse_detected' }), NOW)).toBe('revoked (reuse detected)');
  });

  it('grace while a rotated-away secret still works, rotated from the end of its grace on', () => {
    const rotated = token({ supersededAt: '2026-06-15T11:00:00.000Z', graceUntil: '2026-06-15T13:00:00.000Z' });
    expect(tokenState(rotated, NOW)).toBe('grace');
    expect(tokenView(rotated, 'personal', 'alice', NOW)).toMatchObject({ state: 'grace', grace_until: '2026-06-15T13:00:00.000Z' });
    expect(tokenState(rotated, new Date('2026-06-15T13:00:00.000Z'))).toBe('rotated');
    expect(tokenView(rotated, 'personal', 'alice', new Date('2026-06-15T13:00:00.000Z')).grace_until).toBeNull();
  });
});
