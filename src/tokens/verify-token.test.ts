import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
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

describe('the verify cache (issue 13: one query a miss, a bound in bytes)', () => {
  let store: Store;
  let clock: FakeClock;
  beforeEach(async () => {
    store = await openStore({ kind: 'sqlite', file: ':memory:' });
    await store.migrate();
    clock = new FakeClock('2026-11-23T10:00:00Z');
  });
  afterEach(() => store.close());

  /** Counts the store reads the verifier makes. */
  function counting() {
    const calls = { withUser: 0, byDigest: 0, user: 0, digests: [] as number[] };
    const tokens = store.tokens;
    const namespaces = store.namespaces;
    const spied = {
      ...store,
      tokens: { ...tokens, findByDigestsWithUser: (d: readonly string[]) => (calls.withUser++, calls.digests.push(d.length), tokens.findByDigestsWithUser(d)), findByDigest: (d: string) => (calls.byDigest++, tokens.findByDigest(d)) },
      namespaces: { ...namespaces, findUserById: (id: number) => (calls.user++, namespaces.findUserById(id)) },
    } as Store;
    return { spied, calls };
  }

  async function personal(secret: string, username: string) {
    const user = await store.namespaces.insertUser({ username, name: username, email: `${username}@example.com`, isAdmin: false, botKind: null, passwordHash: null, createdAt: clock.now().toISOString() });
    await store.tokens.insert({
      kind: 'personal', name: 'pat', description: '', digest: digester.digest(secret), userId: user.id, projectId: null, groupId: null,
      username: null, scopes: ['api'], accessLevel: null, expiresAt: null, createdBy: null, createdAt: clock.now().toISOString(),
    });
    return user;
  }

  it('a miss reads the token and its user in one query; a hit reads nothing', async () => {
    const { spied, calls } = counting();
    const verifier = createTokenVerifier({ store: spied, digester, clock, cacheMs: 1000 });
    const user = await personal('glpat-one-query', 'alice');
    const r = await verifier.verify('glpat-one-query');
    expect(r.ok && r.user).toMatchObject({ id: user.id, username: 'alice', state: 'active', isAdmin: false, email: 'alice@example.com' });
    expect(calls).toEqual({ withUser: 1, byDigest: 0, user: 0, digests: [1] });
    await verifier.verify('glpat-one-query');
    expect(calls.withUser).toBe(1);
    // A blocked user is seen through the joined row too.
    await store.namespaces.setUserState(user.id, 'blocked');
    clock.advance(1001);
    const blocked = await verifier.verify('glpat-one-query');
    expect(!blocked.ok && blocked.reason).toBe('user_blocked');
  });

  it('a hit costs no HMAC: the cache is keyed by a salted fingerprint, the digest computed on a miss only', async () => {
    const hmacs: string[] = [];
    const counted = { ...digester, digest: (secret: string) => (hmacs.push(secret), digester.digest(secret)) };
    const verifier = createTokenVerifier({ store, digester: counted, clock, cacheMs: 1000 });
    const alice = await personal('glpat-fingerprint-a', 'alice');
    const bob = await personal('glpat-fingerprint-b', 'bob');
    const a = await verifier.verify('glpat-fingerprint-a');
    expect(a.ok && a.user?.id).toBe(alice.id);
    expect(hmacs).toEqual(['glpat-fingerprint-a']);
    // Hits on every entry point: verify, verifyCached, verifyCachedOrLoad.
    expect((await verifier.verify('glpat-fingerprint-a')).ok).toBe(true);
    expect(verifier.verifyCached('glpat-fingerprint-a', {}, () => true)?.user?.id).toBe(alice.id);
    expect((verifier.verifyCachedOrLoad('glpat-fingerprint-a', {}, () => true) as { user: { id: number } } | null)?.user.id).toBe(alice.id);
    expect(hmacs).toEqual(['glpat-fingerprint-a']);
    // Another secret is its own entry; a secret that only differs in a character finds nothing.
    const b = await verifier.verifyCachedOrLoad('glpat-fingerprint-b', {}, () => true);
    expect((b as { user: { id: number } } | null)?.user.id).toBe(bob.id);
    expect(verifier.verifyCached('glpat-fingerprint-c', {}, () => true)).toBeNull();
    expect(await verifier.verify('glpat-fingerprint-c')).toEqual({ ok: false, reason: 'unknown' });
    expect(hmacs).toEqual(['glpat-fingerprint-a', 'glpat-fingerprint-b', 'glpat-fingerprint-c']);
    expect(verifier.cacheSize().entries).toBe(2);
    // Stale after cacheMs: read again, with its HMAC.
    clock.advance(1001);
    expect((await verifier.verify('glpat-fingerprint-a')).ok).toBe(true);
    expect(hmacs.at(-1)).toBe('glpat-fingerprint-a');
    expect(hmacs).toHaveLength(4);
  });

  it('holds the cache under maxBytes, dropping the oldest entries first', async () => {
    const { spied, calls } = counting();
    const probe = createTokenVerifier({ store, digester, clock, cacheMs: 60_000 });
    for (let i = 0; i < 10; i++) await personal(`glpat-bytes-${i}`, `user${i}`);
    await probe.verify('glpat-bytes-0');
    const one = probe.cacheSize().bytes;
    expect(one).toBeGreaterThan(300);
    const verifier = createTokenVerifier({ store: spied, digester, clock, cacheMs: 60_000, maxBytes: one * 3 + one / 2 });
    for (let i = 0; i < 10; i++) expect((await verifier.verify(`glpat-bytes-${i}`)).ok).toBe(true);
    const size = verifier.cacheSize();
    expect(size.entries).toBe(3);
    expect(size.bytes).toBeLessThanOrEqual(one * 3 + one / 2);
    // The newest three are hits, the oldest went first and is read again.
    const before = calls.withUser;
    for (const i of [7, 8, 9]) await verifier.verify(`glpat-bytes-${i}`);
    expect(calls.withUser).toBe(before);
    await verifier.verify('glpat-bytes-0');
    expect(calls.withUser).toBe(before + 1);
    expect(verifier.cacheSize().bytes).toBeLessThanOrEqual(one * 3 + one / 2);
  });

  it('estimates an entry at no less than the heap it really takes (and not far more): the bound in bytes holds', async () => {
    // A process of its own, with --expose-gc: the heap after a full collection, before and after 5,000
    // personal tokens (each with its user) went into a cache, against what the cache counted for them.
    const module = (path: string) => fileURLToPath(new URL(path, import.meta.url));
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', HEAP_CHILD, module('../store/open-store.ts'), module('./verify-token.ts'), module('./token-digest.ts'), '5000'],
      { timeout: 120_000 },
    );
    const { entries, bytes, real } = JSON.parse(stdout) as { entries: number; bytes: number; real: number };
    expect(entries).toBe(5000);
    expect(bytes).toBeGreaterThanOrEqual(real);
    expect(bytes).toBeLessThan(real * 1.25);
  }, 120_000);

  it('holds the cache under maxEntries, the oldest first, also when expired entries are read again', async () => {
    const { spied, calls } = counting();
    for (let i = 0; i < 5; i++) await personal(`glpat-entries-${i}`, `entries${i}`);
    const verifier = createTokenVerifier({ store: spied, digester, clock, cacheMs: 1000, maxEntries: 3 });
    for (let i = 0; i < 5; i++) expect((await verifier.verify(`glpat-entries-${i}`)).ok).toBe(true);
    expect(verifier.cacheSize().entries).toBe(3);
    const three = verifier.cacheSize().bytes;
    // Expired entries read again replace themselves: the count and the bytes stay as they were.
    for (let round = 0; round < 3; round++) {
      clock.advance(1000);
      for (const i of [2, 3, 4]) expect((await verifier.verify(`glpat-entries-${i}`)).ok).toBe(true);
      expect(verifier.cacheSize()).toEqual({ entries: 3, bytes: three });
    }
    // A new token pushes out the oldest (2), and 3 and 4 are still hits.
    expect((await verifier.verify('glpat-entries-0')).ok).toBe(true);
    expect(verifier.cacheSize().entries).toBe(3);
    const before = calls.withUser;
    for (const i of [3, 4, 0]) await verifier.verify(`glpat-entries-${i}`);
    expect(calls.withUser).toBe(before);
    await verifier.verify('glpat-entries-2');
    expect(calls.withUser).toBe(before + 1);
  });

  /** `counting`, with the first look-up held until `release` is called. */
  function gated() {
    const { spied, calls } = counting();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let first = true;
    const inner = spied.tokens.findByDigestsWithUser;
    const held = { ...spied, tokens: { ...spied.tokens, findByDigestsWithUser: async (d: readonly string[]) => {
      const result = inner(d);
      if (first) { first = false; await gate; }
      return result;
    } } } as Store;
    return { held, calls, release };
  }

  it('misses arriving while a look-up runs share the next query, each answered with its own token and user', async () => {
    const { held, calls, release } = gated();
    const verifier = createTokenVerifier({ store: held, digester, clock, cacheMs: 1000 });
    for (const name of ['ann', 'bob', 'cid', 'dee']) await personal(`glpat-batch-${name}`, name);
    const first = verifier.verify('glpat-batch-ann');
    await new Promise((resolve) => setImmediate(resolve)); // the first look-up is under way (held)
    const rest = ['bob', 'cid', 'cid', 'dee', 'nobody'].map((name) => verifier.verify(`glpat-batch-${name}`));
    release();
    const results = await Promise.all([first, ...rest]);
    expect(results.map((r) => (r.ok ? r.user?.username : r.reason))).toEqual(['ann', 'bob', 'cid', 'cid', 'dee', 'unknown']);
    // One query for ann, then one for the four other digests (cid asked twice, read once).
    expect(calls.digests).toEqual([1, 4]);
  });

  it('an entry read while its revocation was published is answered but not cached', async () => {
    let publish!: (tokenId: number) => void;
    const feed = { subscribe: (listener: (tokenId: number) => void) => ((publish = listener), () => {}) };
    const { held, calls, release } = gated();
    const verifier = createTokenVerifier({ store: held, digester, clock, cacheMs: 60_000, revocations: feed });
    await personal('glpat-racing', 'rae');
    const pending = verifier.verify('glpat-racing');
    await new Promise((resolve) => setImmediate(resolve));
    publish(12345); // any invalidation while the row is being read
    release();
    expect((await pending).ok).toBe(true);
    expect(verifier.cacheSize().entries).toBe(0);
    await verifier.verify('glpat-racing');
    expect(calls.withUser).toBe(2);
    expect(verifier.cacheSize().entries).toBe(1);
  });

  it('maxBytes 0 caches nothing; a revoke drops the entry and its bytes', async () => {
    const { spied, calls } = counting();
    await personal('glpat-zero', 'zed');
    const none = createTokenVerifier({ store: spied, digester, clock, cacheMs: 60_000, maxBytes: 0 });
    await none.verify('glpat-zero');
    await none.verify('glpat-zero');
    expect(calls.withUser).toBe(2);
    expect(none.cacheSize()).toEqual({ entries: 0, bytes: 0 });

    const verifier = createTokenVerifier({ store, digester, clock, cacheMs: 60_000 });
    const r = await verifier.verify('glpat-zero');
    expect(verifier.cacheSize().entries).toBe(1);
    verifier.invalidate(r.ok ? r.token.id : -1);
    expect(verifier.cacheSize()).toEqual({ entries: 0, bytes: 0 });
  });

  describe("the fast lane's verifyCachedOrLoad", () => {
    const anyone = () => true;
    function noting() {
      const notes: { tokenId: number; row: unknown }[] = [];
      return { notes, usage: { note: (token: { id: number }, _context: unknown, _now: Date, row?: unknown) => void notes.push({ tokenId: token.id, row }) } };
    }

    it('answers a cached token at once, reads a missing one (one query, kept, usage noted with its row), and names an unknown digest', async () => {
      const { spied, calls } = counting();
      const { notes, usage } = noting();
      const verifier = createTokenVerifier({ store: spied, digester, clock, cacheMs: 1000, usage });
      const user = await personal('glpat-lane-miss', 'lena');
      const pending = verifier.verifyCachedOrLoad('glpat-lane-miss', {}, anyone);
      expect(pending).toBeInstanceOf(Promise);
      expect(await pending).toMatchObject({ user: { id: user.id, username: 'lena' } });
      expect(calls.withUser).toBe(1);
      expect(notes).toHaveLength(1);
      expect(notes[0]!.row).toBeDefined(); // the row read with it: the tracker's first write reads nothing
      const hit = verifier.verifyCachedOrLoad('glpat-lane-miss', {}, anyone);
      expect(hit).not.toBeInstanceOf(Promise);
      expect(hit).toMatchObject({ user: { id: user.id } });
      expect(calls.withUser).toBe(1);
      expect(notes.map((n) => n.row)).toEqual([notes[0]!.row, undefined]);

      expect(await verifier.verifyCachedOrLoad('glpat-nobody', {}, anyone)).toEqual({ absent: digester.digest('glpat-nobody') });
      expect(verifier.verifyCachedOrLoad('', {}, anyone)).toBeNull();
      // `verify` takes the lane's read as its own: no second query for the same request.
      const before = calls.withUser;
      expect(await verifier.verify('glpat-nobody', { absentDigest: digester.digest('glpat-nobody') })).toEqual({ ok: false, reason: 'unknown' });
      expect(calls.withUser).toBe(before);
      // Another digest named absent changes nothing: the token is read as usual.
      expect((await verifier.verify('glpat-lane-miss', { absentDigest: digester.digest('glpat-nobody') })).ok).toBe(true);
    });

    it('refuses what it reads and does not take without noting anything, and keeps it for verify to judge from the cache', async () => {
      const { spied, calls } = counting();
      const { notes, usage } = noting();
      const verifier = createTokenVerifier({ store: spied, digester, clock, cacheMs: 1000, usage });
      await personal('glpat-lane-declined', 'dina');
      expect(await verifier.verifyCachedOrLoad('glpat-lane-declined', {}, () => false)).toBeNull();
      expect(notes).toHaveLength(0);
      expect((await verifier.verify('glpat-lane-declined')).ok).toBe(true);
      expect(calls.withUser).toBe(1);
      expect(notes).toHaveLength(1);

      const user = await personal('glpat-lane-blocked', 'bea');
      await store.namespaces.setUserState(user.id, 'blocked');
      expect(await verifier.verifyCachedOrLoad('glpat-lane-blocked', {}, anyone)).toBeNull();
      expect(notes).toHaveLength(1);
    });

    it('does not keep what it read while an invalidation arrived, and a failed read rejects with nothing kept', async () => {
      let publish!: (tokenId: number) => void;
      const feed = { subscribe: (listener: (tokenId: number) => void) => ((publish = listener), () => {}) };
      const { held, release } = gated();
      const verifier = createTokenVerifier({ store: held, digester, clock, cacheMs: 60_000, revocations: feed });
      await personal('glpat-lane-racing', 'rex');
      const pending = verifier.verifyCachedOrLoad('glpat-lane-racing', {}, anyone);
      await new Promise((resolve) => setImmediate(resolve));
      publish(999);
      release();
      expect(await pending).not.toBeNull();
      expect(verifier.cacheSize().entries).toBe(0);

      const broken = { ...store, tokens: { ...store.tokens, findByDigestsWithUser: async () => { throw new Error('database down'); } } } as Store;
      const failing = createTokenVerifier({ store: broken, digester, clock, cacheMs: 60_000 });
      await expect(failing.verifyCachedOrLoad('glpat-lane-racing', {}, anyone)).rejects.toThrow('database down');
      expect(failing.cacheSize().entries).toBe(0);
    });
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

/** The child of the heap test: argv = open-store, verify-token and token-digest modules, and how many tokens. */
const HEAP_CHILD = `
const [{ openStore }, { createTokenVerifier }, { createTokenDigester }] = await Promise.all(process.argv.slice(1, 4).map((p) => import(p)));
const n = Number(process.argv[4]);
const warmUp = 2000;
const store = await openStore({ kind: 'sqlite', file: ':memory:' });
await store.migrate();
const digester = createTokenDigester('v'.repeat(40));
const at = '2026-11-23T10:00:00.000Z';
const secret = (i) => 'glpat-heap-' + i;
for (let i = 0; i < n + warmUp; i++) {
  const user = await store.namespaces.insertUser({ username: 'user-' + i, name: 'User Number ' + i, email: 'user-' + i + '@example.com', isAdmin: false, botKind: null, passwordHash: null, createdAt: at });
  await store.tokens.insert({ kind: 'personal', name: 'ci-' + i, description: 'pipeline access', digest: digester.digest(secret(i)), userId: user.id, projectId: null, groupId: null,
    username: null, scopes: ['api', 'read_repository'], accessLevel: null, expiresAt: '2027-11-23', createdBy: null, createdAt: at });
}
const clock = { now: () => new Date(at) };
const verifierOf = () => createTokenVerifier({ store, digester, clock, cacheMs: 60_000, maxEntries: 1_000_000, maxBytes: 2 ** 30 });
// The look-up path compiled and optimised (statements, JIT) before the measure, with tokens of its own.
const warm = verifierOf();
for (let i = n; i < n + warmUp; i++) await warm.verify(secret(i));
const collect = () => { for (let i = 0; i < 4; i++) globalThis.gc(); };
collect();
const before = process.memoryUsage().heapUsed;
const verifier = verifierOf();
for (let i = 0; i < n; i++) await verifier.verify(secret(i));
collect();
const real = process.memoryUsage().heapUsed - before;
console.log(JSON.stringify({ ...verifier.cacheSize(), real, warm: warm.cacheSize().entries }));
await store.close();
`;
