/**
 * The usage tracker behind the verifier, with an injected clock: writes at most once a minute per
 * token, a new IP written by the next tick without another request, reuse flagged at once and only
 * once, and two nodes' sightings counted together.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../kernel/clock.js';
import { createEventOutboxStore } from '../events/event-outbox.js';
import { openStore, type Store } from '../store/open-store.js';
import { createTokenUsageStore } from '../store/token-usage.js';
import { createTokenDigester } from './token-digest.js';
import { createTokenUsageTracker } from './token-usage-tracker.js';
import { createTokenVerifier } from './verify-token.js';
import type { Token } from './token.js';

const digester = createTokenDigester('u'.repeat(40));
const POLICY = { windowMs: 3_600_000, maxUserAgents: 3, maxIps: 3 };

describe('the token usage tracker', () => {
  let store: Store;
  let clock: FakeClock;
  /** The events the tracker's writes committed into the outbox (nothing relays them here). */
  const published = () => createEventOutboxStore(store.db).pending(100);

  beforeEach(async () => {
    store = await openStore({ kind: 'sqlite', file: ':memory:' });
    await store.migrate();
    clock = new FakeClock('2026-11-23T10:00:00Z');
  });
  afterEach(() => store.close());

  async function token(secret: string): Promise<Token> {
    return store.tokens.insert({
      kind: 'deploy', name: 'ci', description: '', digest: digester.digest(secret), userId: null, projectId: null, groupId: null,
      username: 'gitlab+deploy-token-1', scopes: ['read_repository'], accessLevel: null, expiresAt: null, createdBy: null, createdAt: clock.now().toISOString(),
    });
  }

  function node(policy = POLICY) {
    const tracker = createTokenUsageTracker({ store: createTokenUsageStore(store.db), clock, policy });
    const verifier = createTokenVerifier({ store, digester, clock, cacheMs: 1000, usage: tracker });
    return { tracker, verifier };
  }

  const stored = async (id: number) => (await store.tokens.findById(id))!;

  it('writes last_used_at and last_used_ips at most once a minute per token', async () => {
    const t = await token('gldt-throttle');
    const { tracker, verifier } = node();
    expect((await verifier.verify('gldt-throttle', { ip: '10.0.0.1', userAgent: 'git/2.43' })).ok).toBe(true);
    await tracker.idle();
    expect(await stored(t.id)).toMatchObject({ lastUsedAt: '2026-11-23T10:00:00.000Z', lastUsedIps: ['10.0.0.1'] });

    clock.advance(30_000);
    await verifier.verify('gldt-throttle', { ip: '10.0.0.1', userAgent: 'git/2.43' });
    await tracker.flushDue(); // not due: 30 s since the last write
    expect((await stored(t.id)).lastUsedAt).toBe('2026-11-23T10:00:00.000Z');

    clock.advance(30_000); // a minute since the last write: this use writes
    await verifier.verify('gldt-throttle', { ip: '10.0.0.1', userAgent: 'git/2.43' });
    await tracker.idle();
    expect((await stored(t.id)).lastUsedAt).toBe('2026-11-23T10:01:00.000Z');
  });

  it('tracks at most maxEntries tokens: the oldest goes first, its unwritten sightings written as it goes', async () => {
    const [a, b, c] = [await token('gldt-bound-a'), await token('gldt-bound-b'), await token('gldt-bound-c')];
    const tracker = createTokenUsageTracker({ store: createTokenUsageStore(store.db), clock, policy: POLICY, maxEntries: 2 });
    const verifier = createTokenVerifier({ store, digester, clock, cacheMs: 1000, usage: tracker });
    await verifier.verify('gldt-bound-a', { ip: '10.0.0.1' });
    await tracker.idle();
    clock.advance(5000);
    // Held back by the throttle (written 5 s ago): a's new IP waits in its entry.
    await verifier.verify('gldt-bound-a', { ip: '192.0.2.9' });
    await verifier.verify('gldt-bound-b', { ip: '10.0.0.2' });
    await tracker.idle();
    expect(tracker.tracked()).toBe(2);
    expect((await stored(a.id)).lastUsedIps).toEqual(['10.0.0.1']);
    // A third token: a, the oldest, goes, and what it held is written without waiting for a tick.
    await verifier.verify('gldt-bound-c', { ip: '10.0.0.3' });
    await tracker.idle();
    expect(tracker.tracked()).toBe(2);
    expect((await stored(a.id)).lastUsedIps).toEqual(['192.0.2.9', '10.0.0.1']);
    expect((await stored(b.id)).lastUsedIps).toEqual(['10.0.0.2']);
    expect((await stored(c.id)).lastUsedIps).toEqual(['10.0.0.3']);
  });

  it('an idle tracked token costs under 800 bytes of heap, not its token row (1.7 KB before): 100,000 (the bound) stay under 80 MB', async () => {
    // A process of its own, with --expose-gc: the heap after a full collection, before and after 10,000
    // tokens were used once and written, their rows held by nothing else (the verify cache let them go).
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', HEAP_CHILD, fileURLToPath(new URL('./token-usage-tracker.ts', import.meta.url)), '10000'], {
      timeout: 120_000,
    });
    const { tracked, bytesEach } = JSON.parse(stdout) as { tracked: number; bytesEach: number };
    expect(tracked).toBe(10_000);
    expect(bytesEach).toBeLessThan(800);
  }, 120_000);

  it('a new IP reaches the store by the next tick even when the token is not used again', async () => {
    const t = await token('gldt-newip');
    const { tracker, verifier } = node();
    await verifier.verify('gldt-newip', { ip: '10.0.0.1', userAgent: 'curl/8' });
    await tracker.idle();
    clock.advance(5000);
    await verifier.verify('gldt-newip', { ip: '192.0.2.7', userAgent: 'curl/8' });
    await tracker.flushDue();
    expect((await stored(t.id)).lastUsedIps).toEqual(['10.0.0.1']);
    clock.advance(55_000);
    await tracker.flushDue();
    const after = await stored(t.id);
    expect(after.lastUsedIps).toEqual(['192.0.2.7', '10.0.0.1']);
    // last_used_at is when it was used, not when the tick wrote it.
    expect(after.lastUsedAt).toBe('2026-11-23T10:00:05.000Z');
  });

  it('keeps only the five most recent distinct IPs', async () => {
    const t = await token('gldt-five');
    const { tracker, verifier } = node({ ...POLICY, maxIps: 0 });
    for (let i = 1; i <= 7; i++) {
      await verifier.verify('gldt-five', { ip: `10.0.0.${i}`, userAgent: 'x' });
      clock.advance(60_000);
      await tracker.flushDue();
    }
    expect((await stored(t.id)).lastUsedIps).toEqual(['10.0.0.7', '10.0.0.6', '10.0.0.5', '10.0.0.4', '10.0.0.3']);
  });

  it('flags a token seen from more than 3 user agents within the window at once, and publishes token.reuse_flagged once', async () => {
    const t = await token('gldt-shared');
    const { tracker, verifier } = node();
    for (const ua of ['gitlab-runner 17', 'skopeo/1.14', 'containerd/1.7']) {
      await verifier.verify('gldt-shared', { ip: '10.0.0.1', userAgent: ua });
      clock.advance(1000);
    }
    await tracker.idle();
    expect((await stored(t.id)).reuseFlaggedAt).toBeNull();
    await verifier.verify('gldt-shared', { ip: '10.0.0.1', userAgent: 'python-requests/2.31' });
    await tracker.idle(); // no need to wait for the throttle: crossing the limit writes at once
    expect((await stored(t.id)).reuseFlaggedAt).toBe('2026-11-23T10:00:03.000Z');
    const [flagged, ...others] = await published();
    expect(others).toEqual([]);
    expect(flagged).toMatchObject({ name: 'token.reuse_flagged', tokenId: t.id, at: '2026-11-23T10:00:03.000Z', data: { kind: 'deploy', name: 'ci' } });
    expect((flagged!.data.user_agents as string[]).sort()).toEqual(['containerd/1.7', 'gitlab-runner 17', 'python-requests/2.31', 'skopeo/1.14']);

    await verifier.verify('gldt-shared', { ip: '10.0.0.9', userAgent: 'yet-another/1' });
    clock.advance(120_000);
    await tracker.flushDue();
    expect(await published()).toHaveLength(1);
    const page = await createTokenUsageStore(store.db).listFlagged({ activeAt: clock.now() }, { page: 1, perPage: 20 });
    expect(page.items.map((f) => f.token.id)).toEqual([t.id]);
    expect(page.items[0]!.evidence?.ips).toEqual(['10.0.0.1']);
  });

  it('does not flag distinct user agents spread over more than the window', async () => {
    const t = await token('gldt-spread');
    const { tracker, verifier } = node();
    for (const ua of ['a/1', 'b/1', 'c/1', 'd/1', 'e/1']) {
      await verifier.verify('gldt-spread', { ip: '10.0.0.1', userAgent: ua });
      clock.advance(25 * 60_000);
      await tracker.flushDue();
    }
    expect((await stored(t.id)).reuseFlaggedAt).toBeNull();
    expect(await published()).toEqual([]);
  });

  it('counts what two nodes saw together, and only one of them publishes the flag', async () => {
    const t = await token('gldt-two-nodes');
    const a = node();
    const b = node();
    await a.verifier.verify('gldt-two-nodes', { ip: '10.0.0.1', userAgent: 'a/1' });
    await a.verifier.verify('gldt-two-nodes', { ip: '10.0.0.2', userAgent: 'a/2' });
    await b.verifier.verify('gldt-two-nodes', { ip: '10.0.0.3', userAgent: 'b/1' });
    await b.verifier.verify('gldt-two-nodes', { ip: '10.0.0.4', userAgent: 'b/2' });
    await Promise.all([a.tracker.idle(), b.tracker.idle()]);
    // Each node alone saw two of each; their first writes landed, the rest waits for the tick.
    clock.advance(60_000);
    await Promise.all([a.tracker.flushDue(), b.tracker.flushDue()]);
    const after = await stored(t.id);
    expect(after.reuseFlaggedAt).not.toBeNull();
    expect([...after.lastUsedIps].sort()).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4']);
    expect((await published()).filter((e) => e.name === 'token.reuse_flagged')).toHaveLength(1);
  });

  it('the flag survives a restart: a new node does not flag or publish again', async () => {
    const t = await token('gldt-restart');
    const first = node();
    for (const ua of ['a', 'b', 'c', 'd']) await first.verifier.verify('gldt-restart', { ip: '10.0.0.1', userAgent: ua });
    await first.tracker.idle();
    expect(await published()).toHaveLength(1);
    const second = node();
    for (const ua of ['e', 'f', 'g', 'h']) await second.verifier.verify('gldt-restart', { ip: '10.0.0.1', userAgent: ua });
    clock.advance(60_000);
    await second.tracker.flushDue();
    expect(await published()).toHaveLength(1);
    expect((await stored(t.id)).reuseFlaggedAt).toBe('2026-11-23T10:00:00.000Z');
  });

  it('the flag commits with its token.reuse_flagged event: a fault writing the event keeps neither, and the retry writes both once', async () => {
    const t = await token('gldt-fault');
    let failOutbox = true;
    const faulty = store.db.withPlugin({
      transformQuery(args) {
        const node = args.node;
        if (failOutbox && node.kind === 'InsertQueryNode' && node.into?.table.identifier.name === 'event_outbox') throw new Error('injected fault');
        return node;
      },
      transformResult: async (args) => args.result,
    });
    const errors: unknown[] = [];
    const tracker = createTokenUsageTracker({ store: createTokenUsageStore(faulty), clock, policy: POLICY, onError: (e) => errors.push(e) });
    const verifier = createTokenVerifier({ store, digester, clock, cacheMs: 1000, usage: tracker });
    for (const ua of ['a/1', 'b/1', 'c/1', 'd/1']) await verifier.verify('gldt-fault', { ip: '10.0.0.1', userAgent: ua });
    await tracker.idle();
    expect(errors.map((e) => (e as Error).message)).toContain('injected fault');
    expect((await stored(t.id)).reuseFlaggedAt).toBeNull();
    expect(await published()).toEqual([]);

    failOutbox = false;
    clock.advance(60_000);
    await tracker.flushDue();
    await tracker.idle();
    expect((await stored(t.id)).reuseFlaggedAt).not.toBeNull();
    expect((await published()).map((e) => [e.name, e.tokenId])).toEqual([['token.reuse_flagged', t.id]]);
  });

  it('a failed write keeps the sightings and retries on the next tick', async () => {
    const t = await token('gldt-retry');
    const usage = createTokenUsageStore(store.db);
    let failNext = true;
    const errors: unknown[] = [];
    const flaky = { ...usage, saveUsages: async (...args: Parameters<typeof usage.saveUsages>) => {
      if (failNext) { failNext = false; throw new Error('database unavailable'); }
      return usage.saveUsages(...args);
    } };
    const tracker = createTokenUsageTracker({ store: flaky, clock, policy: POLICY, onError: (e) => errors.push(e) });
    const verifier = createTokenVerifier({ store, digester, clock, cacheMs: 1000, usage: tracker });
    await verifier.verify('gldt-retry', { ip: '10.0.0.1', userAgent: 'x' });
    await tracker.idle();
    expect(errors).toHaveLength(1);
    expect((await stored(t.id)).lastUsedAt).toBeNull();
    await tracker.flushDue();
    expect(await stored(t.id)).toMatchObject({ lastUsedAt: '2026-11-23T10:00:00.000Z', lastUsedIps: ['10.0.0.1'] });
  });
});

/** The child of the heap test: argv = the tracker's module and how many tokens. Token rows shaped as the store makes them. */
const HEAP_CHILD = `
const { createTokenUsageTracker } = await import(process.argv[1]);
const n = Number(process.argv[2]);
const store = { findUsages: async (ids) => new Map(ids.map((id) => [id, { lastUsedAt: null, lastUsedIps: [], windowIps: {}, windowUserAgents: {}, reuseFlaggedAt: null, revision: 0 }])), saveUsages: async (writes) => new Set(writes.map((w) => w.tokenId)), saveUsage: async () => true };
const clock = { now: () => new Date('2026-11-23T10:00:00Z') };
const tracker = createTokenUsageTracker({ store, clock, policy: { windowMs: 3_600_000, maxIps: 3, maxUserAgents: 3 } });
const row = (i) => ({
  id: i + 1, kind: 'personal', name: 'ci-' + i, description: 'pipeline access ' + i, userId: i, projectId: null, groupId: null, username: null,
  scopes: JSON.parse('["api","read_repository"]'), accessLevel: null, expiresAt: '2027-11-' + String(10 + (i % 20)), createdBy: null,
  createdAt: '2026-11-23T10:00:' + String(10 + (i % 50)) + '.000Z', revokedAt: null, lastUsedAt: null, rotatedFromId: null, supersededAt: null, graceUntil: null,
  revokeReason: null, reuseDetectedAt: null, lastUsedIps: [], reuseFlaggedAt: null, impersonation: false, validUntil: null, digest: (i + 'f').padStart(64, '0'),
});
const use = async (from, to) => {
  for (let i = from; i < to; i++) tracker.note(row(i), { ip: '10.0.' + (i % 250) + '.1', userAgent: 'gitlab-runner 17.' + (i % 9) }, clock.now());
  await tracker.idle();
};
// The write path warm (JIT) before the measure, with tokens of its own.
await use(n, n + 2000);
const collect = () => { for (let i = 0; i < 4; i++) globalThis.gc(); };
collect();
const before = process.memoryUsage().heapUsed;
await use(0, n);
collect();
const bytesEach = (process.memoryUsage().heapUsed - before) / n;
console.log(JSON.stringify({ tracked: tracker.tracked() - 2000, bytesEach }));
`;
