/**
 * The stores every integration suite runs on. SQLite always; PostgreSQL when the server at
 * LATCHKEY_TEST_POSTGRES_URL (default the machine's 127.0.0.1:5432) answers. Each test app gets its own
 * PostgreSQL database, dropped when the app closes. Narrow with LATCHKEY_TEST_DIALECTS=sqlite|postgres.
 * Under CI=true a missing PostgreSQL is a failure, never a skip.
 */
import pg from 'pg';
import { randomUUID } from 'node:crypto';
import type { DatabaseLocation } from '../../src/store/open-store.js';

export type DialectName = 'sqlite' | 'postgres';

export const POSTGRES_ADMIN_URL = process.env.LATCHKEY_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function postgresReachable(): Promise<string | null> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
    return null;
  } catch (e) {
    return (e as Error).message;
  } finally {
    await client.end().catch(() => {});
  }
}

const wanted = (process.env.LATCHKEY_TEST_DIALECTS ?? 'sqlite,postgres').split(',').map((s) => s.trim()) as DialectName[];
const postgresProblem = wanted.includes('postgres') ? await postgresReachable() : null;
if (postgresProblem !== null) {
  const message = `PostgreSQL tests cannot run: ${POSTGRES_ADMIN_URL} did not answer (${postgresProblem})`;
  if (process.env.CI === 'true') throw new Error(`${message}; under CI=true this is a failure`);
  console.warn(`SKIP postgres: ${message}`);
}

export const DIALECTS: DialectName[] = wanted.filter((d) => d === 'sqlite' || (d === 'postgres' && postgresProblem === null));

/** A fresh, empty database for one test app, and how to drop it. */
export async function createTestDatabase(dialect: DialectName): Promise<{ location: DatabaseLocation; url: string; drop(): Promise<void> }> {
  if (dialect === 'sqlite') return { location: { kind: 'sqlite', file: ':memory:' }, url: 'sqlite::memory:', drop: async () => {} };
  const name = `lk_test_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    location: { kind: 'postgres', url: url.toString() },
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}
