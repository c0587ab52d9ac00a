/**
 * Token values are found in free text by format and checksum, whatever their prefix, and nothing else
 * is touched. @see issue 12 item 4
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cryptoTokenGenerator } from '../kernel/random.js';
import { generateToken } from './token-format.js';
import { containsToken, redactPath, redactTokens } from './token-redaction.js';

const random = cryptoTokenGenerator;
const pat = generateToken('glpat-', random);
const deploy = generateToken('gldt-', random);
const custom = generateToken('acme9-', random);

describe('redactTokens', () => {
  it('replaces tokens of any prefix anywhere in a line', () => {
    expect(redactTokens(`GET /api/v4/projects/${pat}/x`)).toBe('GET /api/v4/projects/[REDACTED]/x');
    expect(redactTokens(`{"ua":"curl ${deploy}","u":"${custom}"}`)).toBe('{"ua":"curl [REDACTED]","u":"[REDACTED]"}');
    expect(redactTokens(`x${pat}`)).toBe('x[REDACTED]');
    expect(redactTokens(`${pat} ${deploy}\n${pat}`)).toBe('[REDACTED] [REDACTED]\n[REDACTED]');
  });

  it('leaves text alone whose checksum does not match, or that is not token-shaped', () => {
    const tampered = pat.slice(0, -1) + (pat.endsWith('A') ? 'B' : 'A');
    expect(redactTokens(tampered)).toBe(tampered);
    expect(redactTokens('glpat-short')).toBe('glpat-short');
    expect(containsToken('/api/v4/projects/acme%2Fweb/deploy_tokens')).toBe(false);
  });

  it('never changes text without a token, and always removes an embedded one (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), fc.string({ maxLength: 60 }), (before, after) => {
        if (!containsToken(before + after)) expect(redactTokens(before + after)).toBe(before + after);
        const sep = (s: string) => (/[0-9A-Za-z]$/.test(s) ? `${s} ` : s);
        const line = `${sep(before)}${pat} ${after}`;
        expect(redactTokens(line)).not.toContain(pat);
      }),
      { seed: 20261202, numRuns: 500 },
    );
  });
});

describe('redactPath', () => {
  it('redacts plain and percent-encoded tokens in a path', () => {
    expect(redactPath(`/api/v4/projects/${pat}`)).toBe('/api/v4/projects/[REDACTED]');
    const encoded = `/api/v4/projects/%${pat.charCodeAt(0).toString(16)}${pat.slice(1)}`;
    expect(redactPath(encoded)).toBe('/api/v4/projects/[REDACTED]');
    expect(redactPath('/api/v4/projects/acme%2Fweb')).toBe('/api/v4/projects/acme%2Fweb');
    expect(redactPath('/bad%zz/x')).toBe('/bad%zz/x');
  });
});
