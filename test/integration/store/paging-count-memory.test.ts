/**
 * A list's count past its limit is remembered for PAST_LIMIT_MS (src/store/paging.ts): the next pages of
 * the same filter do not count again, a list under the limit is counted on every page, and the memory
 * lapses. Both stores, through pageRows on the users table with a small limit.
 */
import { CompiledQuery, type Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PageRequest } from '../../../src/kernel/page.js';
import type { Database } from '../../../src/store/database.js';
import { openStore, type Store } from '../../../src/store/open-store.js';
import { PAST_LIMIT_MS, pageRows } from '../../../src/store/paging.js';
import { createTestDatabase, DIALECTS } from '../../support/dialects.js';

const LIMIT = 3;
const page = (n: number): PageRequest => ({ page: n, perPage: 2, countLimit: LIMIT });

describe.each(DIALECTS)('list counts past their limit on %s', (dialect) => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let store: Store;
  let clock = 0;
  const now = () => clock;
  beforeEach(async () => {
    db = await createTestDatabase(dialect);
    store = await openStore(db.location);
    await store.migrate();
    clock = Date.parse('2026-12-06T04:00:00Z');
  });
  afterEach(async () => {
    await store?.close();
    await db?.drop();
  });

  const addUsers = async (from: number, n: number) => {
    for (let i = from; i < from + n; i++) await store.namespaces.insertUser({ username: `u${i}`, name: `U${i}`, email: `u${i}@example.com`, isAdmin: false, botKind: null, passwordHash: null, createdAt: '2026-12-06T00:00:00.000Z' });
  };
  const users = (k: Kysely<Database>, n: number) => pageRows<{ id: number; username: string }>(k, 'users', k.selectFrom('users'), (q) => q.orderBy('id'), page(n), { now });

  it('under the limit every page is counted; past it the next pages within PAST_LIMIT_MS are not, then it counts again', async () => {
    await addUsers(0, 2);
    expect(await users(store.db, 1)).toMatchObject({ total: 2, exact: true, hasNext: false });
    // Under the limit nothing is remembered: a new row shows in the very next count.
    await addUsers(2, 1);
    expect(await users(store.db, 1)).toMatchObject({ total: 3, exact: true, hasNext: true });

    await addUsers(3, 2); // 5 rows: past the limit of 3
    const past = await users(store.db, 1);
    expect(past).toMatchObject({ total: LIMIT + 1, exact: false, hasNext: true });
    expect(past.items.map((u) => u.username)).toEqual(['u0', 'u1']);

    // Rows removed behind its back: within the time the list is still taken as past its limit (no count),
    // while the page itself is read afresh.
    await store.db.executeQuery(CompiledQuery.raw(`delete from users where username in ('u0', 'u1', 'u2')`));
    clock += PAST_LIMIT_MS - 1;
    const remembered = await users(store.db, 1);
    expect(remembered).toMatchObject({ total: LIMIT + 1, exact: false, hasNext: false });
    expect(remembered.items.map((u) => u.username)).toEqual(['u3', 'u4']);

    // Then it lapses and the list is counted: exact again.
    clock += 1;
    expect(await users(store.db, 1)).toMatchObject({ total: 2, exact: true, hasNext: false });
    // And, under the limit, nothing is remembered any more.
    await addUsers(5, 1);
    expect(await users(store.db, 2)).toMatchObject({ total: 3, exact: true, hasNext: false });
  });

  it('each filter is remembered on its own', async () => {
    await addUsers(0, 5);
    expect(await users(store.db, 1)).toMatchObject({ exact: false });
    const some = (q: string) => pageRows<{ id: number }>(store.db, 'users', store.db.selectFrom('users').where('username', 'like', q), (b) => b.orderBy('id'), page(1), { now });
    expect(await some('u1%')).toMatchObject({ total: 1, exact: true });
    await addUsers(10, 3); // u10, u11, u12: 4 rows match u1%
    expect(await some('u1%')).toMatchObject({ total: LIMIT + 1, exact: false });
    expect(await some('u2%')).toMatchObject({ total: 1, exact: true });
  });
});
