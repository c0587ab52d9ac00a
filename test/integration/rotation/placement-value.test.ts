/**
 * `valueForPlacement` is the inverse of `secretHeldBy` for every placement format (issue 16): whatever
 * the variable held before, the value written makes the placement read back the new secret, and what
 * else it held — other registries of a DOCKER_AUTH_CONFIG, other machines of a .netrc — survives.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { secretHeldBy, valueForPlacement } from '../../../src/upstreams/placement-value.js';

const TOKEN_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~+/='.split('');
const secret = fc.array(fc.constantFrom(...TOKEN_CHARS), { minLength: 1, maxLength: 80 }).map((cs) => cs.join(''));
const username = fc.option(fc.stringMatching(/^[a-z][a-z0-9_.+-]{0,20}$/), { nil: null });
const registry = fc.option(fc.domain().chain((d) => fc.option(fc.integer({ min: 1, max: 65535 }), { nil: null }).map((port) => (port === null ? d : `${d}:${port}`))), { nil: null });
const placement = fc.record({
  format: fc.constantFrom('raw' as const, 'docker_auth_config' as const, 'netrc' as const, 'user_password' as const, null),
  registry,
  username,
  instance: fc.option(fc.domain(), { nil: null }),
});
const auth = (user: string, password: string) => Buffer.from(`${user}:${password}`).toString('base64');
/** Anything a variable may hold: nothing, any text, or something close to each format (so the merging paths run). */
const current = fc.option(
  fc.oneof(
    fc.string(),
    fc.json(),
    fc.tuple(fc.dictionary(fc.domain(), fc.record({ auth: fc.base64String(), email: fc.emailAddress() })), fc.dictionary(fc.string(), fc.jsonValue())).map(([auths, extra]) => JSON.stringify({ ...extra, auths })),
    fc.array(fc.tuple(fc.domain(), fc.stringMatching(/^[a-z]{1,8}$/), secret)).map((lines) => lines.map(([m, l, p]) => `machine ${m} login ${l} password ${p}`).join('\n')),
    fc.tuple(fc.stringMatching(/^[a-z]{0,8}$/), secret).map(([u, p]) => `${u}:${p}`),
  ),
  { nil: null },
);

describe('valueForPlacement, the inverse of secretHeldBy', () => {
  it('any placement, any secret of token characters, any current value: the written value reads back as the secret', () => {
    fc.assert(
      fc.property(placement, secret, current, (p, s, before) => {
        expect(secretHeldBy(p, valueForPlacement(p, s, before))).toBe(s);
      }),
      { numRuns: 2000 },
    );
  });

  it("DOCKER_AUTH_CONFIG: every other registry's entry and every other key survive, unchanged", () => {
    const others = fc.dictionary(fc.domain(), fc.record({ auth: fc.base64String({ minLength: 4 }) }), { minKeys: 1 });
    fc.assert(
      fc.property(others, fc.domain(), username, secret, fc.dictionary(fc.stringMatching(/^[a-z]{1,10}$/), fc.jsonValue()), (auths, reg, user, s, extra) => {
        fc.pre(!(reg in auths) && !('auths' in extra));
        const before = JSON.stringify({ ...extra, auths: { ...auths, [reg]: { auth: auth('old', 'old-secret'), email: 'ops@example.com' } } });
        const p = { format: 'docker_auth_config' as const, registry: reg, username: user, instance: null };
        const after = JSON.parse(valueForPlacement(p, s, before));
        for (const [k, v] of Object.entries(auths)) expect(after.auths[k]).toEqual(v);
        for (const [k, v] of Object.entries(extra)) expect(after[k]).toEqual(JSON.parse(JSON.stringify(v)));
        // The registry's own entry: its other fields kept, the user the placement's (else the one it had).
        expect(after.auths[reg]).toEqual({ email: 'ops@example.com', auth: auth(user ?? 'old', s) });
      }),
      { numRuns: 500 },
    );
  });

  it('writes each format as documented', () => {
    const docker = { format: 'docker_auth_config' as const, registry: 'registry.example.com', username: 'bot', instance: 'gitlab.example.com' };
    expect(JSON.parse(valueForPlacement(docker, 'glpat-new', null))).toEqual({ auths: { 'registry.example.com': { auth: auth('bot', 'glpat-new') } } });
    // A plain password next to the registry's auth would keep the old secret in clear: dropped.
    const withPassword = JSON.stringify({ auths: { 'registry.example.com': { username: 'bot', password: 'glpat-old' }, 'docker.io': { auth: 'eDp5' } }, credHelpers: { 'gcr.io': 'gcr' } });
    expect(JSON.parse(valueForPlacement(docker, 'glpat-new', withPassword))).toEqual({
      auths: { 'registry.example.com': { auth: auth('bot', 'glpat-new') }, 'docker.io': { auth: 'eDp5' } },
      credHelpers: { 'gcr.io': 'gcr' },
    });
    const netrc = { format: 'netrc' as const, registry: null, username: 'bot', instance: 'git.example.com' };
    expect(valueForPlacement(netrc, 'glpat-new', null)).toBe('machine git.example.com login bot password glpat-new');
    expect(valueForPlacement(netrc, 'glpat-new', 'machine a.example login ci password keep\nmachine git.example.com\n  login bot\n  password glpat-old\n')).toBe(
      'machine a.example login ci password keep\nmachine git.example.com\n  login bot\n  password glpat-new\n',
    );
    // No entry for that login: a new line first, the others kept.
    expect(valueForPlacement(netrc, 'glpat-new', 'machine a.example login ci password keep')).toBe('machine git.example.com login bot password glpat-new\nmachine a.example login ci password keep');
    expect(valueForPlacement({ format: 'user_password', registry: null, username: 'deployer', instance: null }, 'glpat-new', 'someone:glpat-old')).toBe('deployer:glpat-new');
    expect(valueForPlacement({ format: 'user_password', registry: null, username: null, instance: null }, 'glpat-new', 'someone:glpat-old')).toBe('someone:glpat-new');
    expect(valueForPlacement({ format: 'raw', registry: null, username: null, instance: null }, 'glpat-new', 'glpat-old')).toBe('glpat-new');
  });
});
