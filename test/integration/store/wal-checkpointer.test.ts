/**
 * src/store/wal-checkpointer.ts: with the worker running, the serving connection no longer checkpoints
 * at 1,000 pages (its backstop is BACKSTOP_PAGES) and the worker's PASSIVE checkpoints carry the WAL into
 * the database; stop() ends the thread and restores SQLite's default. A worker that cannot open the
 * database is reported, and stop() still restores the default.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditStore } from '../../../src/audit/audit-store.js';
import { openStore, type Store } from '../../../src/store/open-store.js';
import { BACKSTOP_PAGES, startWalCheckpointer, type CheckpointReport } from '../../../src/store/wal-checkpointer.js';

const autocheckpoint = async (store: Store) => Number((await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(store.db)).rows[0]!.wal_autocheckpoint);

describe('WAL checkpoints in a worker thread (file SQLite)', () => {
  let dir: string;
  let store: Store;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lk-ckpt-'));
    store = await openStore({ kind: 'sqlite', file: join(dir, 'db.sqlite') });
    await store.migrate();
  });
  afterAll(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('moves checkpoints off the serving connection and carries the WAL into the database', async () => {
    expect(await autocheckpoint(store)).toBe(1000);
    const reports: CheckpointReport[] = [];
    const errors: Error[] = [];
    const checkpointer = await startWalCheckpointer({ db: store.db, file: join(dir, 'db.sqlite'), intervalMs: 20, onReport: (r) => reports.push(r), onError: (e) => errors.push(e) });
    try {
      expect(await autocheckpoint(store)).toBe(BACKSTOP_PAGES);
      const audit = createAuditStore(store.db);
      const row = (i: number) => ({
        created_at: '2026-12-04T06:00:00.000Z', event: 'http.request', actor_type: 'user', actor_id: 1, actor_name: `u${i % 50}`, token_id: i % 300, token_hash: `sha256:${String(i % 300).padStart(64, '0')}`,
        method: 'GET', route: '/api/v4/user', path: `/api/v4/user/${i}`, status: 200, user_agent: 'x'.repeat(200), ip: '127.0.0.1', project_id: null, group_id: null, group_path: null, data: '{}',
      });
      // Well over 1,000 pages of WAL: the serving connection alone would have checkpointed.
      for (let b = 0; b < 12; b++) await audit.append(Array.from({ length: 500 }, (_, i) => row(b * 500 + i)));
      const deadline = Date.now() + 10_000;
      while (!reports.some((r) => r.log > 1000 && r.checkpointed === r.log) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(reports.some((r) => r.log > 1000 && r.checkpointed === r.log), JSON.stringify(reports.slice(-3))).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await checkpointer.stop();
    }
    expect(await autocheckpoint(store)).toBe(1000);
    const seen = reports.length;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(reports.length).toBe(seen);
  });

  it('reports a worker that cannot open the database, and stop() still restores the default', async () => {
    const errors: Error[] = [];
    const checkpointer = await startWalCheckpointer({ db: store.db, file: join(dir, 'missing', 'nope.sqlite'), intervalMs: 20, onError: (e) => errors.push(e) });
    const deadline = Date.now() + 5_000;
    while (errors.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(errors[0]?.message).toMatch(/WAL checkpointer stopped/);
    await checkpointer.stop();
    expect(await autocheckpoint(store)).toBe(1000);
  });
});
