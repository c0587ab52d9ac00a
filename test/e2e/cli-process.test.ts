/**
 * The `latchkey` executable as an operator runs it: `--help`, and `serve` on a fresh data dir (the
 * first-admin hint, bootstrap, a clean SIGTERM stop, a restart that keeps the tokens), and `serve` on a
 * port that is taken.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DIALECTS, createTestDatabase } from '../support/dialects.js';
import { childEnv, runLatchkey, startServer } from '../support/server-process.js';

const HINT = 'Get a personal access token for it, shown once, with:  npx latchkey admin bootstrap';

describe('latchkey executable', () => {
  it('--help lists the commands and exits 0', async () => {
    const run = await runLatchkey(['--help'], childEnv({}));
    expect(run.code).toBe(0);
    for (const command of ['serve', 'migrate', 'admin', 'deploy-token']) expect(run.stdout).toMatch(new RegExp(`^\\s+${command}\\b`, 'm'));
  });

  it('deploy-token --help lists create, list and revoke', async () => {
    const run = await runLatchkey(['deploy-token', '--help'], childEnv({}));
    expect(run.code).toBe(0);
    for (const command of ['create', 'list', 'revoke']) expect(run.stdout).toMatch(new RegExp(`^\\s+${command}\\b`, 'm'));
  });

  it('an unknown command exits non-zero with one line and no stack trace', async () => {
    const run = await runLatchkey(['frobnicate'], childEnv({}));
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/unknown command 'frobnicate'/);
    expect(run.stderr).not.toMatch(/^\s+at\s/m);
  });
});

describe('latchkey serve on a fresh data dir', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('prints the first-admin hint once, stops cleanly on SIGTERM, and keeps its tokens across a restart', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'latchkey-serve-'));
    dirs.push(dataDir);

    const first = await startServer({ dataDir });
    expect(first.output()).toContain('Created the first admin user "root".');
    expect(first.output()).toContain(HINT);
    expect(first.output()).toContain(`Generated a server secret in ${dataDir}/server-secret`);
    expect(first.output()).toMatch(/Latchkey listening on http:\/\/127\.0\.0\.1:\d+ \(API: http:\/\/127\.0\.0\.1:\d+\/api\/v4/);
    const me = await fetch(`${first.apiUrl}/user`, { headers: { 'private-token': first.adminToken } });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ username: 'root', is_admin: true });
    expect(await first.stop()).toEqual({ code: 0, signal: null, killed: false });

    const second = await startServer({ dataDir, bootstrap: false });
    try {
      expect(second.output()).not.toContain(HINT);
      expect(second.output()).not.toContain('Generated a server secret');
      const again = await fetch(`${second.apiUrl}/user`, { headers: { 'private-token': first.adminToken } });
      expect(again.status).toBe(200);
    } finally {
      expect(await second.stop()).toEqual({ code: 0, signal: null, killed: false });
    }
  }, 90_000);
});

describe.each(DIALECTS)('latchkey serve on a taken port (%s)', (dialect) => {
  it('exits promptly with a clear message, and the next start still shows the first-admin hint', async () => {
    const occupant = await startServer({ dialect: 'sqlite', bootstrap: false });
    const dataDir = await mkdtemp(join(tmpdir(), 'latchkey-busy-'));
    const db = dialect === 'postgres' ? await createTestDatabase('postgres') : null;
    try {
      const port = new URL(occupant.url).port;
      const env = childEnv({ LATCHKEY_DATA_DIR: dataDir, LATCHKEY_PORT: port, LATCHKEY_LOG_LEVEL: 'warn', ...(db ? { DATABASE_URL: db.url } : {}) });
      const run = await runLatchkey(['serve'], env, 40_000);
      expect(run.code).toBe(2);
      // Once it has said why, it exits: no open database pool keeps it around.
      expect(run.lingeredAfterStderrMs).toBeLessThan(3_000);
      // On a loaded machine PostgreSQL may take longer than the revocation listener's 5 s connect timeout while
      // serve starts: that line is the listener's own (it reconnects), not part of this answer.
      const said = run.stderr.trim().split('\n').filter((line) => !line.startsWith('latchkey: revocation broadcast (verify caches fall back to their TTL): timeout expired'));
      expect(said).toEqual([`latchkey: cannot listen on 127.0.0.1:${port}: the address is already in use (set LATCHKEY_HOST / LATCHKEY_PORT)`]);
      expect(run.stdout).not.toContain(HINT);

      const next = await startServer({ dataDir, bootstrap: false, env: db ? { DATABASE_URL: db.url } : {} });
      expect(next.output()).toContain(HINT);
      await next.stop();
    } finally {
      await occupant.stop();
      await db?.drop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
