import { sql, type Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from './open-store.js';
import { preparedQuery } from './prepared-query.js';

describe('preparedQuery', () => {
  let store: Store;
  beforeEach(async () => {
    store = await openStore({ kind: 'sqlite', file: ':memory:' });
    await store.migrate();
  });
  afterEach(() => store.close());

  it('builds once, runs with each call’s arguments in their places and keeps the query’s own constants', async () => {
    await sql`create table pq (name text, path text)`.execute(store.db);
    for (const name of ['alpha', 'beta', 'gamma']) await sql`insert into pq (name, path) values (${name}, ${name})`.execute(store.db);
    const db = store.db as unknown as Kysely<{ pq: { name: string; path: string } }>;
    let builds = 0;
    const query = preparedQuery(db, (path: string, notName: string) => (builds++, db.selectFrom('pq').select(['name']).where('name', '<>', notName).where('path', '=', path).where('name', '<>', 'never').limit(5)), ['\u0000path', '\u0000not']);
    expect(await query('beta', 'x')).toEqual([{ name: 'beta' }]);
    expect(await query('gamma', 'x')).toEqual([{ name: 'gamma' }]);
    expect(await query('gamma', 'gamma')).toEqual([]);
    expect(builds).toBe(1);
  });
});
