import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../kernel/clock.js';
import { openStore, type Store } from '../store/open-store.js';
import { createTokenDigester } from './token-digest.js';
import { createTokenVerifier } from './verify-token.js';

const digester = createTokenDigester('v'.repeat(40));

describe('the token verifier', () => {
  let store: Store;
  let clock: FakeClock;
  beforeEach(async () => {
    store = await openStore({ kind: 'sqlite', file: ':memory:' });
    await store.migrate();
    clock = new FakeClock('2026-11-23T10:00:00Z');
  });
  afterEach(() => store.close());

  async function deployToken(secret: string, expiresAt: string | null) {
    return store.tokens.insert({
      kind: 'deploy', name: 'ci', description: '', digest: digester.digest(secret), userId: null, projectId: null, groupId: null,
      username: 'gitlab+deploy-token-1', scopes: ['read_repository'], accessLevel: null, expiresAt, createdBy: null, createdAt: clock.now().toISOString(),
    });
  }

  it('accepts a live token, refuses an unknown one, an empty one and an absurdly long one', async () => {
    const verifier = createTokenVerifier({ store, digester, clock, cacheMs: 1000 });
    const token = await deployToken('gldt-secret-one', null);
    const ok = await verifier.verify('gldt-secret-one');
    expect(ok.ok && ok.token.id).toBe(token.id);
    expect(await verifier.verify('gldt-secret-two')).toEqual({ ok: false, reason: 'unknown' });
    expect(await verifier.verify('')).toEqual({ ok: false, reason: 'unknown' });
    expect(await verifier.verify('x'.repeat(10_000))).toEqual({ ok: false, reason: 'unknown' });
  });

  it('stops accepting at 00:00 UTC of the expiry date, even from the cache', async () => {
    const verifier = createTokenVerifier({ store, digester, clock, cacheMs: 60_000 });
    await deployToken('gldt-expiring', '2026-11-25');
    clock.set('2026-11-24T23:59:59.500Z');
    expect((await verifier.verify('gldt-expiring')).ok).toBe(true);
    clock.set('2026-11-25T00:00:00.000Z'); // well within the cache's 60 s
    const r = await verifier.verify('gldt-expiring');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toBe('expired');
  });

  it('a revoke that calls invalidate takes effect at once; without it, only after the cache time', async () => {
    const verifier = createTokenVerifier({ store, digester, clock, cacheMs: 1000 });
    const a = await deployToken('gldt-a', null);
    const b = await deployToken('gldt-b', null);
    expect((await verifier.verify('gldt-a')).ok).toBe(true);
    expect((await verifier.verify('gldt-b')).ok).toBe(true);

    await store.tokens.markRevoked(a.id, clock.now().toISOString());
    verifier.invalidate(a.id);
    const ra = await verifier.verify('gldt-a');
    expect(!ra.ok && ra.reason).toBe('revoked');

    // Revoked by another node: this node's cache still holds b for up to cacheMs.
    await store.tokens.markDeleted(b.id, clock.now().toISOString());
    expect((await verifier.verify('gldt-b')).ok).toBe(true);
    clock.advance(1000);
    const rb = await verifier.verify('gldt-b');
    expect(!rb.ok && rb.reason).toBe('revoked');
  });

  it('a token both revoked and expired is reported as expired, as GitLab does', async () => {
    const verifier = createTokenVerifier({ store, digester, clock, cacheMs: 0 });
    const a = await deployToken('gldt-both', '2026-11-24');
    await store.tokens.markRevoked(a.id, clock.now().toISOString());
    const before = await verifier.verify('gldt-both');
    expect(!before.ok && before.reason).toBe('revoked');
    clock.set('2026-11-24T00:00:00Z');
    const after = await verifier.verify('gldt-both');
    expect(!after.ok && after.reason).toBe('expired');
  });

  it('with cacheMs 0 every verification reads the store', async () => {
    const verifier = createTokenVerifier({ store, digester, clock, cacheMs: 0 });
    const a = await deployToken('gldt-nocache', null);
    expect((await verifier.verify('gldt-nocache')).ok).toBe(true);
    await store.tokens.markRevoked(a.id, clock.now().toISOString());
    expect((await verifier.verify('gldt-nocache')).ok).toBe(false);
  });
});

describe('the token digester', () => {
  it('is an HMAC under the server secret: same secret same digest, other server secret other digest', () => {
    const other = createTokenDigester('w'.repeat(40));
    expect(digester.digest('gldt-x')).toMatch(/^[0-9a-f]{64}$/);
    expect(digester.digest('gldt-x')).toBe(digester.digest('gldt-x'));
    expect(other.digest('gldt-x')).not.toBe(digester.digest('gldt-x'));
    expect(digester.matches(digester.digest('a'), digester.digest('a'))).toBe(true);
    expect(digester.matches(digester.digest('a'), digester.digest('b'))).toBe(false);
    expect(digester.matches('', '')).toBe(false);
    expect(digester.matches('abcd', 'abcdef')).toBe(false);
  });
});
