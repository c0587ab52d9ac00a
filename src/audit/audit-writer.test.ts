import { describe, expect, it, vi } from 'vitest';
import type { UnchainedRow } from './audit-entry.js';
import type { AuditStore } from './audit-store.js';
import { createAuditWriter, type AuditRecord } from './audit-writer.js';

/** A store that records appends; `fail` makes appends throw (the database refusing writes). */
function fakeStore() {
  const appended: UnchainedRow[][] = [];
  const state = { fail: false, gate: null as Promise<void> | null };
  const store = {
    async append(rows: UnchainedRow[]) {
      if (state.gate) await state.gate;
      if (state.fail) throw new Error('database down');
      appended.push(rows);
      return [];
    },
    tokenInfo: async (ids: readonly number[]) => new Map(ids.map((id) => [id, { digest: 'ab'.repeat(32), projectId: 5, groupId: null, ownerGroupId: null }])),
    projectGroups: async (ids: readonly number[]) => new Map(ids.map((id) => [id, 2])),
    groupPaths: async (ids: readonly number[]) => new Map(ids.map((id) => [id, `/1/${id}/`])),
    usersByName: async (names: readonly string[]) => new Map(names.map((n) => [n, { id: 42, botKind: n.startsWith('project_') ? 'project_bot' : null }])),
  } as unknown as AuditStore;
  return { store, appended, state, rows: () => appended.flat() };
}

const rec = (i: number, extra: Partial<AuditRecord> = {}): AuditRecord => ({ at: `t${i}`, event: 'http.request', method: 'GET', path: `/p/${i}`, status: 200, ...extra });

describe('audit writer', () => {
  it('queues without writing, then writes in order on flush, enriched off the request path', async () => {
    const f = fakeStore();
    const w = createAuditWriter({ store: f.store, maxQueue: 100, flushMs: 0 });
    expect(w.record(rec(1, { tokenId: 9 }))).toBeUndefined();
    w.record({ at: 't2', event: 'token.revoked', tokenId: 9, actorUsername: 'project_5_bot_x', data: { by: 'project_5_bot_x' } });
    expect(f.appended).toHaveLength(0);
    expect(w.pending).toBe(2);
    await w.flush();
    expect(w.pending).toBe(0);
    expect(f.rows()).toMatchObject([
      { created_at: 't1', path: '/p/1', token_id: 9, token_hash: expect.stringMatching(/^sha256:[0-9a-f]{64}$/), project_id: 5, group_path: '/1/2/', actor_type: null },
      { created_at: 't2', event: 'token.revoked', actor_type: 'bot', actor_id: 42, actor_name: 'project_5_bot_x', data: '{"by":"project_5_bot_x"}' },
    ]);
  });

  it('a full queue makes the caller wait for a flush instead of growing or dropping', async () => {
    const f = fakeStore();
    const written: number[] = [];
    const w = createAuditWriter({ store: f.store, maxQueue: 3, flushMs: 0, onWritten: (n) => written.push(n) });
    for (let i = 0; i < 3; i++) expect(w.record(rec(i))).toBeUndefined();
    const waiting = w.record(rec(3));
    expect(waiting).toBeInstanceOf(Promise);
    await waiting;
    expect(f.rows().map((r) => r.path)).toEqual(['/p/0', '/p/1', '/p/2']);
    expect(w.pending).toBe(1);
    await w.close();
    expect(f.rows().map((r) => r.path)).toEqual(['/p/0', '/p/1', '/p/2', '/p/3']);
    expect(written).toEqual([3, 1]);
  });

  it('a failed write keeps the batch for the next flush; only a full queue on a refusing database drops, counted and reported', async () => {
    const f = fakeStore();
    const dropped: number[] = [];
    const errors: string[] = [];
    const w = createAuditWriter({ store: f.store, maxQueue: 2, flushMs: 0, onDropped: (n) => dropped.push(n), onError: (e) => errors.push((e as Error).message) });
    f.state.fail = true;
    w.record(rec(1));
    await expect(w.flush()).rejects.toThrow('database down');
    expect(w.pending).toBe(1);
    w.record(rec(2));
    await w.record(rec(3));
    expect(dropped).toEqual([1]);
    expect(errors).toEqual(['database down', expect.stringContaining('audit queue full (2)')]);
    f.state.fail = false;
    await w.close();
    expect(f.rows().map((r) => r.path)).toEqual(['/p/1', '/p/2']);
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
    expect(f.appended).toHaveLength(2);
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
});
