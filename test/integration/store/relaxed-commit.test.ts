/**
 * src/store/relaxed-commit.ts on both stores. PostgreSQL: inside, the commit does not wait for the WAL
 * flush (`synchronous_commit = off`); after it — committed or rolled back — the connection is as it was,
 * so the next transaction (a token change) waits for the flush. SQLite: every connection of the store
 * commits with `synchronous = normal` (WAL), stated when it opens, a new file included. And the audit
 * writer asks for relaxed commits exactly when LATCHKEY_AUDIT_REQUIRED is off.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inThreadAppender } from '../../../src/audit/audit-writer.js';
import { openStore, type Store } from '../../../src/store/open-store.js';
import { inRelaxedTransaction } from '../../../src/store/relaxed-commit.js';
import { createTestDatabase, DIALECTS } from '../../support/dialects.js';

describe.each(DIALECTS)('relaxed commits on %s', (dialect) => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let store: Store;
  let dir: string | null = null;
  beforeAll(async () => {
    db = await createTestDatabase(dialect);
    // A file, not :memory:, so that SQLite has a disk to flush to and WAL is on.
    if (dialect === 'sqlite') dir = mkdtempSync(join(tmpdir(), 'lk-relaxed-'));
    store = await openStore(dialect === 'sqlite' ? { kind: 'sqlite', file: join(dir!, 'db.sqlite') } : db.location);
    await store.migrate();
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const setting = async (q: any): Promise<string> =>
    dialect === 'sqlite' ? String((await sql<{ synchronous: number }>`pragma synchronous`.execute(q)).rows[0]!.synchronous) : (await sql<{ synchronous_commit: string }>`show synchronous_commit`.execute(q)).rows[0]!.synchronous_commit;

  it('inside: the commit does not wait for the disk; after: as before, and the work is committed', async () => {
    const before = await setting(store.db);
    expect(before).toBe(dialect === 'sqlite' ? '1' : 'on');
    const inside = await inRelaxedTransaction(store.db, async (trx) => {
      await trx.insertInto('audit_token_hashes').values({ token_hash: 'sha256:relaxed', token_id: 1 }).execute();
      return setting(trx);
    });
    expect(inside).toBe(dialect === 'sqlite' ? '1' : 'off');
    expect(await setting(store.db)).toBe(before);
    expect(await store.db.selectFrom('audit_token_hashes').selectAll().where('token_hash', '=', 'sha256:relaxed').execute()).toHaveLength(1);
  });

  it('a failing transaction is rolled back whole and leaves the setting as it was', async () => {
    const before = await setting(store.db);
    await expect(
      inRelaxedTransaction(store.db, async (trx) => {
        await trx.insertInto('audit_token_hashes').values({ token_hash: 'sha256:rolled-back', token_id: 1 }).execute();
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await setting(store.db)).toBe(before);
    expect(await store.db.selectFrom('audit_token_hashes').selectAll().where('token_hash', '=', 'sha256:rolled-back').execute()).toEqual([]);
  });
});

describe('the audit writer relaxes its commits unless the log is required', () => {
  it.each([
    [{}, true],
    [{ durable: false }, true],
    [{ durable: true }, false],
  ])('inThreadAppender(%o) appends with relaxed = %s', async (options, relaxed) => {
    const calls: unknown[] = [];
    const store = {
      tokenInfo: async () => new Map(), projectGroups: async () => new Map(), groupPaths: async () => new Map(), usersByName: async () => new Map(),
      append: async (_rows: unknown, opts: unknown) => {
        calls.push(opts);
        return [];
      },
    };
    await inThreadAppender(store as any, options).append([{ at: '2026-12-04T00:00:00.000Z', event: 'http.request' }]);
    expect(calls).toEqual([{ relaxed }]);
  });
});
