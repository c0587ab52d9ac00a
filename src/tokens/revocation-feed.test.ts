import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../kernel/clock.js';
import { openStore, type Store } from '../store/open-store.js';
import { decodeRevocation, encodeRevocation } from './revocation-broadcast.js';
import { createLocalRevocationFeed } from './revocation-feed.js';
import { createTokenDigester } from './token-digest.js';
import { createTokenVerifier } from './verify-token.js';

describe('revocation messages between nodes', () => {
  it('a token id travels as the bare id (what every node version reads), a user id after user:', () => {
    expect(encodeRevocation({ kind: 'token', id: 42 })).toBe('42');
    expect(encodeRevocation({ kind: 'user', id: 7 })).toBe('user:7');
    expect(decodeRevocation('42')).toEqual({ kind: 'token', id: 42 });
    expect(decodeRevocation('user:7')).toEqual({ kind: 'user', id: 7 });
  });

  it('anything else is ignored', () => {
    for (const payload of [undefined, '', '0', '-1', '01', '1.5', 'user:', 'user:0', 'group:3', 'USER:3', ' 3', '3 ', '99999999999999999', 'user:1e3']) {
      expect(decodeRevocation(payload)).toBeNull();
    }
  });
});

describe('a user published on the feed', () => {
  const digester = createTokenDigester('v'.repeat(40));
  let store: Store;
  const clock = new FakeClock('2026-11-23T10:00:00Z');
  beforeEach(async () => {
    store = await openStore({ kind: 'sqlite', file: ':memory:' });
    await store.migrate();
  });
  afterEach(() => store.close());

  async function personalToken(secret: string, userId: number) {
    return store.tokens.insert({
      kind: 'personal', name: secret, description: '', digest: digester.digest(secret), userId, projectId: null, groupId: null,
      username: null, scopes: ['api'], accessLevel: null, expiresAt: null, createdBy: null, createdAt: clock.now().toISOString(),
    });
  }

  it('drops every cached token of that user, and only theirs', async () => {
    const feed = createLocalRevocationFeed();
    const verifier = createTokenVerifier({ store, digester, clock, cacheMs: 60_000, revocations: feed });
    const at = clock.now().toISOString();
    const alice = await store.namespaces.insertUser({ username: 'alice', name: 'Alice', email: 'alice@example.com', isAdmin: false, botKind: null, passwordHash: null, createdAt: at });
    const bob = await store.namespaces.insertUser({ username: 'bob', name: 'Bob', email: 'bob@example.com', isAdmin: false, botKind: null, passwordHash: null, createdAt: at });
    await personalToken('glpat-alice-1', alice.id);
    await personalToken('glpat-alice-2', alice.id);
    await personalToken('glpat-bob', bob.id);
    for (const s of ['glpat-alice-1', 'glpat-alice-2', 'glpat-bob']) expect((await verifier.verify(s)).ok).toBe(true);

    await store.namespaces.setUserState(alice.id, 'blocked');
    await store.namespaces.setUserState(bob.id, 'blocked');
    // Cached: neither change is seen until the feed names the user.
    expect((await verifier.verify('glpat-alice-1')).ok).toBe(true);
    feed.publishUser(alice.id);
    expect(await verifier.verify('glpat-alice-1')).toMatchObject({ ok: false, reason: 'user_blocked' });
    expect(await verifier.verify('glpat-alice-2')).toMatchObject({ ok: false, reason: 'user_blocked' });
    expect((await verifier.verify('glpat-bob')).ok).toBe(true);
  });
});
