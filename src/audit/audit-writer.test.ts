import { describe, expect, it, vi } from 'vitest';
import { tokenHashOfDigest, type UnchainedRow } from './audit-entry.js';
import type { AuditStore } from './audit-store.js';
import { createAuditWriter, type AuditRecord } from './audit-writer.js';
import { cryptoTokenGenerator } from '../kernel/random.js';
import { generateToken } from '../tokens/token-format.js';

/** A store that records appends; `fail` makes appends throw (the database refusing writes); `gate` holds them. */
function fakeStore() {
  const appended: UnchainedRow[][] = [];
  const state = { fail: false, gate: null as Promise<void> | null, delayMs: 0 };
  const store = {
    async append(rows: UnchainedRow[]) {
      if (state.gate) await state.gate;
      if (state.delayMs) await new Promise((r) => setTimeout(r, state.delayMs));
      if (state.fail) throw new Error('database down');
      appended.push(rows);
      return [];
    },
    tokenInfo: async (ids: readonly number[]) => new Map(ids.map((id) => [id, { digest: 'ab'.repeat(32), tokenHash: tokenHashOfDigest('ab'.repeat(32)), projectId: 5, groupId: null, ownerGroupId: null }])),
    projectGroups: async (ids: readonly number[]) => new Map(ids.map((id) => [id, 2])),
    groupPaths: async (ids: readonly number[]) => new Map(ids.map((id) => [id, `/1/${id}/`])),
    usersByName: async (names: readonly string[]) => new Map(names.map((n) => [n, { id: 42, botKind: n.startsWith('project_') ? 'project_bot' : null }])),
  } as unknown as AuditStore;
  return { store, appended, state, rows: () => appended.flat() };
}

const rec = (i: number, extra: Partial<AuditRecord> = {}): AuditRecord => ({ at: `t${i}`, event: 'http.request', method: 'GET', path: `/p/${i}`, status: 200, ...extra });

describe('audit writer', () => {
  it('queues without writing, then writes in order on flush; redaction and enrichment happen there, not on the request path', async () => {
    const f = fakeStore();
    const w = createAuditWriter({ store: f.store, maxQueue: 100, flushMs: 0 });
    const token = generateToken('glpat-', cryptoTokenGenerator);
    expect(w.record(rec(1, { tokenId: 9, path: `/api/v4/x/${token}`, userAgent: `curl ${token}` }))).toBeUndefined();
    w.record({ at: 't2', event: 'token.revoked', tokenId: 9, actorUsername: 'project_5_bot_x', data: { by: 'project_5_bot_x' } });
    expect(f.appended).toHaveLength(0);
    expect(w.pending).toBe(2);
    await w.flush();
    expect(w.pending).toBe(0);
    expect(f.rows()).toMatchObject([
      { created_at: 't1', path: '/api/v4/x/[REDACTED]', user_agent: 'curl [REDACTED]', token_id: 9, token_hash: tokenHashOfDigest('ab'.repeat(32)), project_id: 5, group_path: '/1/2/', actor_type: null },
      { created_at: 't2', event: 'token.revoked', actor_type: 'bot', actor_id: 42, actor_name: 'project_5_bot_x', data: '{"by":"project_5_bot_x"}' },
    ]);
    expect(JSON.stringify(f.rows())).not.toContain(token);
  });

  it('fair backpressure: once full, requests wait in line and are let in first come first served; a newcomer never overtakes them', async () => {
    const f = fakeStore();
    let open!: () => void;
    f.state.gate = new Promise((r) => (open = r));
    const w = createAuditWriter({ store: f.store, maxQueue: 3, flushMs: 0 });
    for (let i = 0; i < 3; i++) {
      expect(w.admit()).toBeUndefined();
      w.record(rec(i));
    }
    const order: string[] = [];
    const a = w.admit();
    const b = w.admit();
    expect(a).toBeInstanceOf(Promise);
    expect(w.waiting).toBe(2);
    void a!.then(() => order.push('a'));
    void b!.then(() => order.push('b'));
    // The write is held: nobody gets in; a newcomer queues behind a and b.
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([]);
    const c = w.admit();
    expect(c).toBeInstanceOf(Promise);
    void c!.then(() => order.push('c'));
    open();
    f.state.gate = null;
    await Promise.all([a, b, c]);
    expect(order).toEqual(['a', 'b', 'c']);
    expect(w.waiting).toBe(0);
    expect(f.rows().map((r) => r.path)).toEqual(['/p/0', '/p/1', '/p/2']);
  });

  it('a burst far beyond the queue on a slow but healthy database loses nothing', async () => {
    const f = fakeStore();
    f.state.delayMs = 2;
    const dropped: number[] = [];
    const errors: unknown[] = [];
    const w = createAuditWriter({ store: f.store, maxQueue: 100, flushMs: 0, onDropped: (n) => dropped.push(n), onError: (e) => errors.push(e) });
    const request = async (i: number) => {
      await w.admit();
      await new Promise((r) => setImmediate(r)); // the handler runs
      w.record(rec(i));
    };
    await Promise.all(Array.from({ length: 3000 }, (_, i) => request(i)));
    await w.close();
    expect(dropped).toEqual([]);
    expect(errors).toEqual([]);
    const paths = f.rows().map((r) => r.path);
    expect(paths).toHaveLength(3000);
    expect(new Set(paths).size).toBe(3000);
    // Never more in memory than the queue plus the requests let in: the backpressure held.
    expect(Math.max(...f.appended.map((b) => b.length))).toBeLessThanOrEqual(500);
  });

  it('a refusing database: the batch stays queued, requests are not held, a full queue drops — counted, and one summary line, not one per entry', async () => {
    const f = fakeStore();
    const dropped: number[] = [];
    const errors: string[] = [];
    const w = createAuditWriter({ store: f.store, maxQueue: 5, flushMs: 0, onDropped: (n) => dropped.push(n), onError: (e) => errors.push((e as Error).message) });
    f.state.fail = true;
    w.record(rec(1));
    await expect(w.flush()).rejects.toThrow('database down');
    expect(w.pending).toBe(1);
    expect(errors).toEqual([expect.stringContaining('audit log cannot be written (database down): 1 entries waiting')]);
    for (let i = 2; i <= 1000; i++) {
      expect(w.admit()).toBeUndefined(); // not held by an outage
      w.record(rec(i));
    }
    expect(w.pending).toBe(5);
    expect(dropped.reduce((a, b) => a + b, 0)).toBe(995);
    expect(errors).toHaveLength(1); // within reportMs: summarised later, not per drop
    f.state.fail = false;
    await w.flush();
    expect(f.rows().map((r) => r.path)).toEqual(['/p/1', '/p/2', '/p/3', '/p/4', '/p/5']);
    expect(errors.at(-1)).toBe('audit log written again; 995 entries were dropped while it could not be');
    expect(errors).toHaveLength(2);
  });

  it('a continuing failure is summarised once per reportMs with the drops since the last line', async () => {
    vi.useFakeTimers();
    try {
      const f = fakeStore();
      const errors: string[] = [];
      const w = createAuditWriter({ store: f.store, maxQueue: 1, flushMs: 1000, reportMs: 10_000, onError: (e) => errors.push((e as Error).message) });
      f.state.fail = true;
      w.record(rec(0));
      for (let s = 0; s < 25; s++) {
        w.record(rec(s + 1));
        await vi.advanceTimersByTimeAsync(1000);
      }
      // First failure, then at 10 s and 20 s: three lines for 25 failed writes and 25 drops.
      expect(errors).toHaveLength(3);
      expect(errors[1]).toMatch(/dropped since the last report/);
      f.state.fail = false;
      await w.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('LATCHKEY_AUDIT_REQUIRED: refusing from a failed write until one succeeds; entries are written at once, not on the timer', async () => {
    const f = fakeStore();
    const w = createAuditWriter({ store: f.store, maxQueue: 100, flushMs: 0, required: true });
    w.record(rec(1));
    await vi.waitFor(() => expect(f.rows()).toHaveLength(1));
    expect(w.refusing).toBe(false);
    f.state.fail = true;
    w.record(rec(2));
    await vi.waitFor(() => expect(w.refusing).toBe(true));
    f.state.fail = false;
    await w.flush();
    expect(w.refusing).toBe(false);
    expect(f.rows().map((r) => r.path)).toEqual(['/p/1', '/p/2']);
    // Without the option the writer never refuses.
    const g = fakeStore();
    g.state.fail = true;
    const lax = createAuditWriter({ store: g.store, maxQueue: 100, flushMs: 0 });
    lax.record(rec(1));
    await expect(lax.flush()).rejects.toThrow();
    expect(lax.refusing).toBe(false);
  });

  it('a flush writes what was queued when it was called and ends, whatever keeps arriving', async () => {
    const f = fakeStore();
    f.state.delayMs = 1;
    const w = createAuditWriter({ store: f.store, maxQueue: 100_000, flushMs: 0 });
    for (let i = 0; i < 600; i++) w.record(rec(i));
    let streaming = true;
    const stream = (async () => {
      for (let i = 600; streaming; i++) {
        w.record(rec(i));
        await new Promise((r) => setImmediate(r));
      }
    })();
    await w.flush();
    streaming = false;
    await stream;
    expect(f.rows().slice(0, 600).map((r) => r.path)).toEqual(Array.from({ length: 600 }, (_, i) => `/p/${i}`));
    await w.close();
  });

  it('close waits for a flush already running and writes what came in meanwhile', async () => {
    const f = fakeStore();
    let open!: () => void;
    f.state.gate = new Promise((r) => (open = r));
    const w = createAuditWriter({ store: f.store, maxQueue: 100, flushMs: 0 });
    w.record(rec(1));
    const first = w.flush();
    w.record(rec(2));
    const closing = w.close();
    open();
    f.state.gate = null;
    await Promise.all([first, closing]);
    expect(f.rows().map((r) => r.path)).toEqual(['/p/1', '/p/2']);
  });

  it('flushes on its own every flushMs', async () => {
    vi.useFakeTimers();
    try {
      const f = fakeStore();
      const w = createAuditWriter({ store: f.store, maxQueue: 100, flushMs: 1000 });
      w.record(rec(1));
      await vi.advanceTimersByTimeAsync(999);
      expect(f.rows()).toHaveLength(0);
      await vi.advanceTimersByTimeAsync(1);
      expect(f.rows()).toHaveLength(1);
      await w.close();
    } finally {
      vi.useRealTimers();
    }
  });

  describe('claim (the outbox relay writes the queued entries in its own transaction)', () => {
    it('waits for a write in flight, then hands over what is queued; the writer writes nothing itself until settled', async () => {
      const f = fakeStore();
      let open!: () => void;
      f.state.gate = new Promise((r) => (open = r));
      const w = createAuditWriter({ store: f.store, maxQueue: 100, flushMs: 0 });
      w.record(rec(1));
      const writing = w.flush();
      w.record(rec(2));
      w.record(rec(3));
      let claimed = false;
      const claiming = w.claim().then((c) => ((claimed = true), c));
      await new Promise((r) => setImmediate(r));
      expect(claimed).toBe(false); // /p/1 is still being written
      open();
      f.state.gate = null;
      await writing;
      const claim = (await claiming)!;
      expect(claim.records.map((r) => r.path)).toEqual(['/p/2', '/p/3']);
      // A flush while claimed waits for the claim: the entries are not written twice.
      let flushed = false;
      const flushing = w.flush().then(() => (flushed = true));
      await new Promise((r) => setImmediate(r));
      expect(flushed).toBe(false);
      claim.settle(true);
      claim.settle(false); // once only
      await flushing;
      expect(w.pending).toBe(0);
      expect(f.rows().map((r) => r.path)).toEqual(['/p/1']);
      expect(await w.claim()).toBeNull();
    });

    it('settle(false) leaves them queued, in order, for the next write; onWritten counts only what was written', async () => {
      const f = fakeStore();
      const written: number[] = [];
      const w = createAuditWriter({ store: f.store, maxQueue: 100, flushMs: 0, onWritten: (n) => written.push(n) });
      w.record(rec(1));
      w.record(rec(2));
      const claim = (await w.claim())!;
      w.record(rec(3));
      claim.settle(false);
      expect(w.pending).toBe(3);
      await w.flush();
      expect(f.rows().map((r) => r.path)).toEqual(['/p/1', '/p/2', '/p/3']);
      expect(written).toEqual([3]);
      const next = (await (w.record(rec(4)), w.claim()))!;
      next.settle(true);
      expect(written).toEqual([3, 1]);
    });
  });
});
