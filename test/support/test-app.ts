/**
 * Builds the whole system for a test on a given store, with an injected clock and generator, and
 * offers a small request helper over `inject` (no socket). `world()` seeds the usual fixture: a group
 * tree, a project, and one user per access level with a personal token each.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, type App, type Overrides } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { FakeClock } from '../../src/kernel/clock.js';
import { openStore } from '../../src/store/open-store.js';
import type { Group, Project, User } from '../../src/namespaces/namespace.js';
import { createTestDatabase, type DialectName } from './dialects.js';
import { seededTokenGenerator } from './seeded-token-generator.js';

export const TEST_SECRET = 'test-secret-0123456789abcdef0123456789abcdef';

export interface Response {
  status: number;
  body: any;
  headers: Record<string, string | string[] | number | undefined>;
  text: string;
}

export interface TestApp {
  app: App;
  clock: FakeClock;
  dialect: DialectName;
  request(method: string, url: string, options?: { token?: string | null; body?: unknown; headers?: Record<string, string>; rawBody?: string }): Promise<Response>;
  close(): Promise<void>;
}

export async function startTestApp(
  dialect: DialectName,
  options: {
    now?: string;
    env?: Record<string, string>;
    logStream?: { write(line: string): void };
    overrides?: Pick<Overrides, 'rotations' | 'rotation'>;
    /** SQLite in a temporary file rather than in memory (what a worker thread can open too). */
    sqliteFile?: boolean;
  } = {},
): Promise<TestApp> {
  const db = options.sqliteFile && dialect === 'sqlite' ? sqliteFileDatabase() : await createTestDatabase(dialect);
  const clock = new FakeClock(options.now ?? '2026-11-23T10:00:00.000Z');
  const store = await openStore(db.location);
  const config = loadConfig({ LATCHKEY_SECRET: TEST_SECRET, LATCHKEY_LOG_LEVEL: 'silent', LATCHKEY_DATA_DIR: '/nonexistent-latchkey-test', ...options.env });
  const app = await buildApp(config, { ...options.overrides, clock, store, random: seededTokenGenerator(`${dialect}-${Math.random()}`), logStream: options.logStream });
  await app.http.ready();
  return {
    app,
    clock,
    dialect,
    async request(method, url, opts = {}) {
      const headers: Record<string, string> = { ...opts.headers };
      if (opts.token) headers['private-token'] = opts.token;
      let payload: string | undefined = opts.rawBody;
      if (opts.body !== undefined) {
        payload = JSON.stringify(opts.body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await app.http.inject({ method: method as 'GET', url, headers, payload });
      let body: unknown = undefined;
      try {
        body = res.body ? JSON.parse(res.body) : undefined;
      } catch {
        body = res.body;
      }
      return { status: res.statusCode, body, headers: res.headers, text: res.body };
    },
    async close() {
      await app.close();
      await store.close();
      await db.drop();
    },
  };
}

function sqliteFileDatabase(): { location: { kind: 'sqlite'; file: string }; drop(): Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-test-'));
  return { location: { kind: 'sqlite', file: join(dir, 'latchkey.sqlite') }, drop: async () => rmSync(dir, { recursive: true, force: true }) };
}

export const ROLES = ['guest', 'planner', 'reporter', 'developer', 'maintainer', 'owner'] as const;
export type Role = (typeof ROLES)[number];
export const LEVEL: Record<Role, number> = { guest: 10, planner: 15, reporter: 20, developer: 30, maintainer: 40, owner: 50 };

export interface World {
  admin: User;
  adminToken: string;
  /** acme (top) → acme/platform (sub) → project acme/platform/web; plus acme/other for isolation. */
  top: Group;
  sub: Group;
  project: Project;
  otherProject: Project;
  /** Members of acme/platform (the sub-group) at each level, and an outsider. */
  users: Record<Role | 'outsider', { user: User; token: string }>;
}

/** Seeds the standard fixture through the services (fast), not the API under test. */
export async function seedWorld(t: TestApp): Promise<World> {
  const { namespaces, personalTokens } = t.app.services;
  const { admin } = await namespaces.ensureFirstAdmin('root', 'root@example.com');
  const tokenFor = async (user: User) => (await personalTokens.createFor(user, { name: 'test', scopes: ['api'], expiresAt: '2027-06-01' }, null)).secret;
  const top = await namespaces.createGroup(admin, { name: 'Acme', path: 'acme' });
  const sub = await namespaces.createGroup(admin, { name: 'Platform', path: 'platform', parentId: top.id });
  const other = await namespaces.createGroup(admin, { name: 'Other', path: 'other', parentId: top.id });
  const project = await namespaces.createProject(admin, { name: 'Web', path: 'web', namespaceId: sub.id });
  const otherProject = await namespaces.createProject(admin, { name: 'Site', path: 'site', namespaceId: other.id });
  const users = {} as World['users'];
  for (const role of [...ROLES, 'outsider'] as const) {
    const user = await namespaces.createUser(admin, { username: `${role}-user`, name: `${role} user`, email: `${role}@example.com` });
    if (role !== 'outsider') await namespaces.addMember(admin, { type: 'group', group: sub }, { userId: user.id, accessLevel: LEVEL[role], expiresAt: null });
    users[role] = { user, token: await tokenFor(user) };
  }
  return { admin, adminToken: await tokenFor(admin), top, sub, project, otherProject, users };
}

/** Row counts of every table a write touches: a refused write must leave them exactly as they were. */
export const TABLES = ['users', 'groups', 'projects', 'members', 'tokens'] as const;
export async function tableCounts(t: TestApp): Promise<Record<(typeof TABLES)[number], number>> {
  const out = {} as Record<(typeof TABLES)[number], number>;
  for (const table of TABLES) {
    const r = await t.app.store.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    out[table] = Number(r.n);
  }
  return out;
}
