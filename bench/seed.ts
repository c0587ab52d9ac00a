/**
 * Seeds a bench database with an instance of a million tokens (issue 13), reproducibly: every secret is
 * derived from its index, so the bench can present any seeded token again without storing plaintext.
 *
 *   npx tsx bench/seed.ts --store sqlite|postgres [--tokens 1000000] [--fresh]
 *
 * The instance: root (admin) and 1,000 users; 100 groups of 100 projects each (10,000 projects); user k a
 * Maintainer of group k mod 100, root the Owner of every group. Tokens by index (see `layoutOf`):
 *   0            root's personal token (api)                      — list pages, the 10k creates
 *   1 … 10,000   personal tokens (api) of the 1,000 users, active   — the API auth path, one and 10k distinct
 *   10,001 … 10,010 deploy tokens of g0/p1 (registry, repository, packages), active — /jwt/auth, git, packages
 *   20,000 … 119,999  deploy tokens of g0/p0: a project with 100,000 tokens — the project list pages
 *   the rest     personal and deploy tokens over every user and project
 * Apart from the reserved ranges: 15 % expired within the last year, 10 % without expiry (deploy tokens),
 * the others expiring within a year; one in 37 revoked. Rows are written in multi-row inserts straight
 * into the tables (the services would take hours for a million); namespaces go through the store ports.
 *
 * A seeded store is reused by later runs (its description is in <data dir>/seed-<store>.json) unless
 * `--fresh`. PostgreSQL: the database `latchkey_bench` on LATCHKEY_BENCH_POSTGRES_URL's server (default
 * postgres://postgres@127.0.0.1:5432/postgres), created and dropped by this script only.
 */
import { createHmac } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import pg from 'pg';
import { buildServices } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { addDays, utcDateOf } from '../src/kernel/dates.js';
import type { TokenGenerator } from '../src/kernel/random.js';
import { createTokenDigester } from '../src/tokens/token-digest.js';
import { generateToken } from '../src/tokens/token-format.js';

export type StoreKind = 'sqlite' | 'postgres';

export const BENCH_SECRET = 'latchkey-bench-secret-0123456789abcdef0123456789';
export const DATA_DIR = join(dirname(fileURLToPath(import.meta.url)), '.data');
const ADMIN_URL = process.env.LATCHKEY_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const PG_DATABASE = 'latchkey_bench';

export const USERS = 1000;
export const GROUPS = 100;
export const PROJECTS_PER_GROUP = 100;
export const API_TOKENS = { first: 1, count: 10_000 };
export const PROTOCOL_TOKENS = { first: 10_001, count: 10 };
export const BIG_PROJECT_TOKENS = { first: 20_000, count: 100_000 };

export interface SeedInfo {
  store: StoreKind;
  /** DATABASE_URL for `latchkey serve` and the CLI. */
  databaseUrl: string;
  tokens: number;
  /** The day the expiry dates were laid out from (UTC). */
  seededOn: string;
  seconds: number;
  /** Ids the bench needs: g0/p0 (100k tokens), g0/p1 (the protocol tokens' project). */
  bigProjectId: number;
  protocolProjectId: number;
  protocolProjectPath: string;
  /** Token ids are the index + this offset (the tokens table was empty when seeded). */
  tokenIdOffset: number;
}

export function databaseUrlOf(store: StoreKind): string {
  if (store === 'sqlite') return `sqlite:${join(DATA_DIR, 'bench.sqlite')}`;
  const url = new URL(ADMIN_URL);
  url.pathname = `/${PG_DATABASE}`;
  return url.toString();
}

const infoFile = (store: StoreKind) => join(DATA_DIR, `seed-${store}.json`);

export function readSeedInfo(store: StoreKind): SeedInfo | null {
  return existsSync(infoFile(store)) ? (JSON.parse(readFileSync(infoFile(store), 'utf8')) as SeedInfo) : null;
}

/** SHA-256 in counter mode over the index: the same token value for the same index, every time. */
function generatorFor(index: number): TokenGenerator {
  let counter = 0;
  return {
    randomBytes(length) {
      const out = Buffer.alloc(length);
      let filled = 0;
      while (filled < length) filled += createHmac('sha256', 'latchkey-bench').update(`${index}:${counter++}`).digest().copy(out, filled);
      return out;
    },
  };
}

export interface TokenLayout {
  kind: 'personal' | 'deploy';
  /** Personal: the user's number (0 … 999), or -1 for root. Deploy: the project number (0 … 9,999). */
  owner: number;
  scopes: string[];
  /** Days from the seed day; null = no expiry. */
  expiresInDays: number | null;
  revoked: boolean;
}

/** What token `i` is. Pure, so the bench knows which tokens are active without asking the store. */
export function layoutOf(i: number): TokenLayout {
  if (i === 0) return { kind: 'personal', owner: -1, scopes: ['api'], expiresInDays: 300, revoked: false };
  if (i >= API_TOKENS.first && i < API_TOKENS.first + API_TOKENS.count) return { kind: 'personal', owner: i % USERS, scopes: ['api'], expiresInDays: 200 + (i % 150), revoked: false };
  if (i >= PROTOCOL_TOKENS.first && i < PROTOCOL_TOKENS.first + PROTOCOL_TOKENS.count) {
    return { kind: 'deploy', owner: 1, scopes: ['read_registry', 'read_repository', 'read_package_registry'], expiresInDays: null, revoked: false };
  }
  const h = Math.imul(i, 2654435761) >>> 0;
  const bucket = h % 1000;
  const big = i >= BIG_PROJECT_TOKENS.first && i < BIG_PROJECT_TOKENS.first + BIG_PROJECT_TOKENS.count;
  const kind = big || i % 2 === 1 ? 'deploy' : 'personal';
  const days = 1 + ((h >>> 10) % 365);
  const expiresInDays = bucket < 150 ? -days : bucket < 250 && kind === 'deploy' ? null : days;
  return {
    kind,
    owner: kind === 'deploy' ? (big ? 0 : i % (GROUPS * PROJECTS_PER_GROUP)) : i % USERS,
    scopes: kind === 'deploy' ? ['read_registry'] : ['read_api'],
    expiresInDays,
    revoked: i % 37 === 0,
  };
}

/** The secret of token `i`. */
export function secretOf(i: number): string {
  return generateToken(layoutOf(i).kind === 'deploy' ? 'gldt-' : 'glpat-', generatorFor(i));
}

export function deployUsernameOf(i: number): string {
  return `bench-deploy-${i}`;
}

async function resetDatabase(store: StoreKind): Promise<void> {
  if (store === 'sqlite') {
    for (const suffix of ['', '-wal', '-shm']) rmSync(join(DATA_DIR, `bench.sqlite${suffix}`), { force: true });
    return;
  }
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${PG_DATABASE} with (force)`);
    await admin.query(`create database ${PG_DATABASE}`);
  } finally {
    await admin.end();
  }
}

export async function seed(store: StoreKind, tokens: number, log: (line: string) => void = console.log): Promise<SeedInfo> {
  const started = performance.now();
  mkdirSync(DATA_DIR, { recursive: true });
  rmSync(infoFile(store), { force: true });
  await resetDatabase(store);
  const databaseUrl = databaseUrlOf(store);
  const built = await buildServices(loadConfig({ LATCHKEY_SECRET: BENCH_SECRET, LATCHKEY_LOG_LEVEL: 'silent', LATCHKEY_DATA_DIR: DATA_DIR, DATABASE_URL: databaseUrl }));
  try {
    const { store: st, services } = built;
    const db = st.db;
    // SQLite: a large page cache and no fsync while seeding (a crash means seeding again); the unique
    // digest index takes random inserts a million times.
    if (store === 'sqlite') await sql`pragma cache_size = -262144`.execute(db), await sql`pragma synchronous = off`.execute(db);
    const now = new Date();
    const today = utcDateOf(now);
    const createdAt = now.toISOString();
    const { admin } = await services.namespaces.ensureFirstAdmin('root', 'root@example.com');

    log(`seed ${store}: ${USERS} users, ${GROUPS * PROJECTS_PER_GROUP} projects`);
    const userIds: number[] = [];
    for (let k = 0; k < USERS; k++) {
      const u = await st.namespaces.insertUser({ username: `user${k}`, name: `User ${k}`, email: `user${k}@example.com`, isAdmin: false, botKind: null, passwordHash: null, createdAt });
      userIds.push(u.id);
    }
    const projectIds: number[] = [];
    let protocolProjectPath = '';
    for (let g = 0; g < GROUPS; g++) {
      const group = await services.namespaces.createGroup(admin, { name: `Group ${g}`, path: `g${g}` });
      for (let p = 0; p < PROJECTS_PER_GROUP; p++) {
        const project = await st.namespaces.insertProject({ name: `Project ${p}`, path: `p${p}`, group, description: '', visibility: 'private', createdAt });
        projectIds.push(project.id);
        if (g === 0 && p === 1) protocolProjectPath = project.pathWithNamespace;
      }
    }
    for (let k = 0; k < USERS; k++) {
      const groupId = (await st.namespaces.findGroupByPath(`g${k % GROUPS}`))!.id;
      await st.namespaces.insertMember({ type: 'group', id: groupId }, userIds[k]!, 40, null, admin.id, createdAt);
    }

    const digester = createTokenDigester(BENCH_SECRET);
    const before = await db.selectFrom('tokens').select((eb) => eb.fn.max('id').as('max')).executeTakeFirst();
    if (before?.max != null) throw new Error('bench seed: the tokens table must be empty');
    const ROWS = 500;
    const PER_TRANSACTION = 20_000;
    for (let start = 0; start < tokens; start += PER_TRANSACTION) {
      await db.transaction().execute(async (trx) => {
        for (let chunk = start; chunk < Math.min(start + PER_TRANSACTION, tokens); chunk += ROWS) {
          const rows = [];
          for (let i = chunk; i < Math.min(chunk + ROWS, tokens); i++) {
            const t = layoutOf(i);
            const personal = t.kind === 'personal';
            rows.push({
              kind: t.kind,
              name: personal ? `token-${i}` : `deploy-${i}`,
              description: '',
              digest: digester.digest(secretOf(i)),
              user_id: personal ? (t.owner < 0 ? admin.id : userIds[t.owner]!) : null,
              project_id: personal ? null : projectIds[t.owner]!,
              group_id: null,
              username: personal ? null : deployUsernameOf(i),
              scopes: JSON.stringify(t.scopes),
              access_level: null,
              expires_at: t.expiresInDays === null ? null : addDays(today, t.expiresInDays),
              created_by: admin.id,
              created_at: createdAt,
              revoked_at: t.revoked ? createdAt : null,
              revoke_reason: t.revoked ? 'revoked' : null,
              deleted_at: null,
              last_used_at: null,
            });
          }
          await trx.insertInto('tokens').values(rows).execute();
        }
      });
      if ((start / PER_TRANSACTION) % 10 === 9) log(`seed ${store}: ${start + PER_TRANSACTION} tokens (${((performance.now() - started) / 1000).toFixed(0)} s)`);
    }
    const first = await db.selectFrom('tokens').select((eb) => eb.fn.min('id').as('min')).executeTakeFirstOrThrow();
    // Planner statistics and (PostgreSQL) the visibility map, as a long-running instance's autovacuum
    // leaves them: without it PostgreSQL prices index-only scans out and the list pages read the heap.
    await sql.raw(store === 'postgres' ? 'vacuum analyze' : 'analyze').execute(db);
    const info: SeedInfo = {
      store,
      databaseUrl,
      tokens,
      seededOn: today,
      seconds: Math.round((performance.now() - started) / 1000),
      bigProjectId: projectIds[0]!,
      protocolProjectId: projectIds[1]!,
      protocolProjectPath,
      tokenIdOffset: Number(first.min),
    };
    writeFileSync(infoFile(store), `${JSON.stringify(info, null, 2)}\n`);
    log(`seed ${store}: ${tokens} tokens in ${info.seconds} s`);
    return info;
  } finally {
    await built.close();
  }
}

/** The seeded store, reused when it holds `tokens` tokens. */
export async function ensureSeeded(store: StoreKind, tokens: number, fresh: boolean, log?: (line: string) => void): Promise<SeedInfo> {
  const info = readSeedInfo(store);
  if (!fresh && info && info.tokens === tokens) return info;
  return seed(store, tokens, log);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i < 0 ? undefined : process.argv[i + 1];
  };
  const store = (arg('store') ?? 'sqlite') as StoreKind;
  if (store !== 'sqlite' && store !== 'postgres') throw new Error('--store sqlite|postgres');
  await ensureSeeded(store, Number(arg('tokens') ?? 1_000_000), process.argv.includes('--fresh'));
}
