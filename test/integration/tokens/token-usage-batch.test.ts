/**
 * Usage writes in batches (issue 13): the tokens first seen while a write runs go together in one
 * compare-and-set statement (store.saveUsages), not one commit per token, on both stores; a row another
 * node wrote meanwhile loses its race, is read again and merged, so no sighting is lost.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { DIALECTS, createTestDatabase } from '../../support/dialects.js';
import { FakeClock } from '../../../src/kernel/clock.js';
import { openStore, type Store } from '../../../src/store/open-store.js';
import { createTokenUsageStore } from '../../../src/store/token-usage.js';
import { createTokenDigester } from '../../../src/tokens/token-digest.js';
import { createTokenUsageTracker } from '../../../src/tokens/token-usage-tracker.js';
import { createTokenVerifier } from '../../../src/tokens/verify-token.js';
import { mergeUsage } from '../../../src/tokens/token-usage.js';
import type { Token } from '../../../src/tokens/token.js';
import type { TokenUsageStore } from '../../../src/tokens/token-usage-store.js';

const digester = createTokenDigester('b'.repeat(40));
const POLICY = { windowMs: 3_600_000, maxUserAgents: 0, maxIps: 0 };

describe.each(DIALECTS)('batched token usage writes on %s', (dialect) => {
  let store: Store;
  let drop: () => Promise<void>;
  let clock: FakeClock;

  beforeEach(async () => {
    const db = await createTestDatabase(dialect);
    drop = db.drop;
    store = await openStore(db.location);
    await store.migrate();
    clock = new FakeClock('2026-12-03T10:00:00Z');
  });
  afterEach(async () => {
    await store.close();
    await drop();
  });

  async function tokens(n: number): Promise<{ token: Token; secret: string }[]> {
    const out = [];
    for (let i = 0; i < n; i++) {
      const secret = `gldt-batch-${i}`;
      const token = await store.tokens.insert({
        kind: 'deploy', name: `ci-${i}`, description: '', digest: digester.digest(secret), userId: null, projectId: null, groupId: null,
        username: `gitlab+deploy-token-${i}`, scopes: ['read_repository'], accessLevel: null, expiresAt: null, createdBy: null, createdAt: clock.now().toISOString(),
      });
      out.push({ token, secret });
    }
    return out;
  }

  /** The store with its batch calls recorded (how many tokens each read and statement carried). */
  function counted(inner: TokenUsageStore, hooks: { afterRead?: () => Promise<void>; beforeWrite?: () => Promise<void> } = {}) {
    const batches: number[] = [];
    const singles: number[] = [];
    const reads: number[] = [];
    const usage: TokenUsageStore = {
      ...inner,
      findUsages: async (ids) => {
        reads.push(ids.length);
        const found = await inner.findUsages(ids);
        await hooks.afterRead?.();
        return found;
      },
      saveUsages: async (writes) => {
        batches.push(writes.length);
        await hooks.beforeWrite?.();
        return inner.saveUsages(writes);
      },
      saveUsage: async (...args) => {
        singles.push(args[0]);
        return inner.saveUsage(...args);
      },
    };
    return { usage, batches, singles, reads };
  }

  it('tokens first seen in the same turn are written in one statement, each with its own IP', async () => {
    const seeded = await tokens(40);
    const { usage, batches, singles } = counted(createTokenUsageStore(store.db));
    const tracker = createTokenUsageTracker({ store: usage, clock, policy: POLICY });
    for (const [i, { token }] of seeded.entries()) tracker.note(token, { ip: `10.0.0.${i + 1}`, userAgent: 'git/2.43' }, clock.now());
    await tracker.idle();
    expect(batches).toEqual([40]);
    expect(singles).toEqual([]);
    for (const [i, { token }] of seeded.entries()) {
      expect(await store.tokens.findById(token.id)).toMatchObject({ lastUsedAt: '2026-12-03T10:00:00.000Z', lastUsedIps: [`10.0.0.${i + 1}`] });
    }
  });

  it('writes started while a batch is written wait for it and go together in the next one (verified through the verifier)', async () => {
    const seeded = await tokens(30);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let first = true;
    // The first batch's write waits until every other token has been verified.
    const { usage, batches } = counted(createTokenUsageStore(store.db), { beforeWrite: () => (first ? ((first = false), gate) : Promise.resolve()) });
    const tracker = createTokenUsageTracker({ store: usage, clock, policy: POLICY });
    const verifier = createTokenVerifier({ store, digester, clock, cacheMs: 1000, usage: tracker });
    expect((await verifier.verify(seeded[0]!.secret, { ip: '10.0.0.1', userAgent: 'x' })).ok).toBe(true);
    await new Promise((resolve) => setImmediate(resolve)); // the first batch has started and waits at the gate
    const rest = await Promise.all(seeded.slice(1).map(({ secret }, i) => verifier.verify(secret, { ip: `10.0.1.${i + 1}`, userAgent: 'x' })));
    expect(rest.every((r) => r.ok)).toBe(true);
    release();
    await tracker.idle();
    expect(batches).toEqual([1, 29]);
    expect((await store.tokens.findById(seeded[29]!.token.id))!.lastUsedIps).toEqual(['10.0.1.29']);
  });

  it('a token verified on a cache miss is written without a read, and so are its later writes; another node\'s write costs one read', async () => {
    const [a, b] = await tokens(2);
    const inner = createTokenUsageStore(store.db);
    const { usage, reads } = counted(inner);
    const tracker = createTokenUsageTracker({ store: usage, clock, policy: POLICY });
    const verifier = createTokenVerifier({ store, digester, clock, cacheMs: 1000, usage: tracker });
    const use = async (secret: string, ip: string) => expect((await verifier.verify(secret, { ip, userAgent: 'x' })).ok).toBe(true);
    await use(a!.secret, '10.0.0.1');
    await use(b!.secret, '10.0.0.2');
    await tracker.idle();
    expect(reads).toEqual([]);
    expect((await store.tokens.findById(a!.token.id))!.lastUsedIps).toEqual(['10.0.0.1']);

    // A minute on (the cache long expired): both written again from what this node wrote, still no read.
    clock.advance(60_000);
    await use(a!.secret, '10.0.0.3');
    await use(b!.secret, '10.0.0.2');
    await tracker.idle();
    expect(reads).toEqual([]);
    expect((await store.tokens.findById(a!.token.id))!.lastUsedIps).toEqual(['10.0.0.3', '10.0.0.1']);

    // Another node writes a meanwhile: this node's next write of a loses its race, reads a again and merges.
    const stored = (await inner.findUsage(a!.token.id))!;
    const other = mergeUsage(stored, { usedAt: clock.now().getTime(), ips: new Map([['198.51.100.9', clock.now().getTime()]]), userAgents: new Map() }, clock.now(), POLICY);
    expect(await inner.saveUsage(a!.token.id, stored.revision, other, null)).toBe(true);
    clock.advance(60_000);
    await use(a!.secret, '10.0.0.4');
    await use(b!.secret, '10.0.0.2');
    await tracker.idle();
    expect(reads).toEqual([1]);
    expect((await store.tokens.findById(a!.token.id))!.lastUsedIps).toEqual(['10.0.0.4', '198.51.100.9', '10.0.0.3', '10.0.0.1']);
    expect((await store.tokens.findById(b!.token.id))).toMatchObject({ lastUsedAt: '2026-12-03T10:02:00.000Z', lastUsedIps: ['10.0.0.2'] });

    // Unused for a throttle period, a flush lets a's record go: its next write reads it first, unless
    // the use comes with the row (a cache miss, as above); here it comes from the cache (no row).
    clock.advance(30_000);
    await use(b!.secret, '10.0.0.2');
    clock.advance(30_000);
    await tracker.flushDue(); // b used since its write: written from its record; a idle: record dropped
    expect(reads).toEqual([1]);
    tracker.note(a!.token, { ip: '10.0.0.5', userAgent: 'x' }, clock.now());
    await tracker.idle();
    expect(reads).toEqual([1, 1]);
    expect((await store.tokens.findById(a!.token.id))!.lastUsedIps).toEqual(['10.0.0.5', '10.0.0.4', '198.51.100.9', '10.0.0.3', '10.0.0.1']);
  });

  it('a row another node wrote after the read loses the race in the batch, is read again and merged', async () => {
    const [a, b] = await tokens(2);
    const inner = createTokenUsageStore(store.db);
    let raced = false;
    // Between this node's read and its write, another node records a use of token a from another IP.
    const afterRead = async () => {
      if (raced) return;
      raced = true;
      const stored = (await inner.findUsage(a!.token.id))!;
      const other = mergeUsage(stored, { usedAt: clock.now().getTime(), ips: new Map([['198.51.100.9', clock.now().getTime()]]), userAgents: new Map() }, clock.now(), POLICY);
      expect(await inner.saveUsage(a!.token.id, stored.revision, other, null)).toBe(true);
    };
    const { usage, batches } = counted(inner, { afterRead });
    const tracker = createTokenUsageTracker({ store: usage, clock, policy: POLICY });
    clock.advance(1000);
    tracker.note(a!.token, { ip: '10.0.0.1', userAgent: 'x' }, clock.now());
    tracker.note(b!.token, { ip: '10.0.0.2', userAgent: 'x' }, clock.now());
    await tracker.idle();
    // The first statement wrote b only; a was written by the retry, on top of the other node's write.
    expect(batches).toEqual([2, 1]);
    expect((await store.tokens.findById(a!.token.id))!.lastUsedIps).toEqual(['10.0.0.1', '198.51.100.9']);
    expect((await store.tokens.findById(b!.token.id))!.lastUsedIps).toEqual(['10.0.0.2']);
  });
  it('a batch write leaves the store as it was: later writes, reads and (SQLite) its flush setting', async () => {
    const seeded = await tokens(3);
    const synchronous = async () => (dialect === 'sqlite' ? (await sql<{ synchronous: number }>`pragma synchronous`.execute(store.db)).rows[0]!.synchronous : null);
    const before = await synchronous();
    const usage = createTokenUsageStore(store.db);
    const records = await usage.findUsages(seeded.map(({ token }) => token.id));
    const at = clock.now().toISOString();
    const writes = seeded.map(({ token }, i) => ({ tokenId: token.id, revision: records.get(token.id)!.revision, merged: mergeUsage(records.get(token.id)!, { usedAt: clock.now().getTime(), ips: new Map([[`10.0.2.${i}`, clock.now().getTime()]]), userAgents: new Map() }, clock.now(), POLICY) }));
    // The third is stale (another writer moved its revision on): it is not written.
    writes[2] = { ...writes[2]!, revision: writes[2]!.revision + 7 };
    expect([...(await usage.saveUsages(writes))].sort()).toEqual([seeded[0]!.token.id, seeded[1]!.token.id].sort());
    expect(await synchronous()).toBe(before);
    expect(await store.tokens.findById(seeded[0]!.token.id)).toMatchObject({ lastUsedAt: at, lastUsedIps: ['10.0.2.0'] });
    expect((await store.tokens.findById(seeded[2]!.token.id))!.lastUsedAt).toBeNull();
    // The connection is usable for the next transaction (nothing left open).
    await store.tokens.markRevoked(seeded[1]!.token.id, at);
    expect((await store.tokens.findById(seeded[1]!.token.id))!.revokedAt).toBe(at);
  });
});
