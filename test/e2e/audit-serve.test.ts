/**
 * A clean stop loses no audit entry: a real `latchkey serve` with a one-minute flush interval answers a
 * few requests and gets SIGTERM before any timed flush; afterwards `latchkey audit` (another process,
 * same SQLite file) finds every one of them, and the chain verifies.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLatchkey, startServer, type ServerProcess } from '../support/server-process.js';

describe('audit entries on a clean stop of latchkey serve', () => {
  let server: ServerProcess;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'latchkey-serve-audit-'));
    server = await startServer({ dataDir, env: { LATCHKEY_AUDIT_FLUSH_MS: '60000' } });
  });
  afterAll(async () => {
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('writes the queue on SIGTERM', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${server.apiUrl}/user`, { headers: { 'private-token': server.adminToken, 'user-agent': `e2e-${i}` } });
      expect(res.status).toBe(200);
    }
    expect((await fetch(`${server.apiUrl}/user`, { headers: { 'private-token': 'glpat-wrong' } })).status).toBe(401);
    const stopped = await server.stop();
    expect(stopped.killed).toBe(false);

    const run = await runLatchkey(['audit', '--event', 'http.request', '--json'], server.env);
    expect(run.code, run.stderr).toBe(0);
    const entries = JSON.parse(run.stdout) as { path: string; status: number; user_agent: string; actor_username: string | null }[];
    expect(entries.map((e) => `${e.status} ${e.user_agent}`)).toEqual(['401 node', '200 e2e-2', '200 e2e-1', '200 e2e-0']);
    expect(entries.every((e) => e.path === '/api/v4/user')).toBe(true);
    expect(run.stdout).not.toContain(server.adminToken);
    const verify = await runLatchkey(['audit', 'verify'], server.env);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(server.output()).not.toContain(server.adminToken);
  }, 60_000);
});
