/**
 * kill -9 between each pair of a rotation job's steps (issue 16 item 5): a real `latchkey serve` with
 * LATCHKEY_FAULT_POINT=rotation:<step> kills itself (SIGKILL) right after that step is stored, in the
 * middle of the POST …/rotate that runs the job; `serve` started again on the same store resumes the job
 * once its lease (5 s here) has passed. For every step the final state equals a run without a kill:
 * exactly one new token, the old one revoked, the job succeeded with the same steps, its pending secret
 * wiped, and the CI variable placement (a variable on this Latchkey) verified with the new secret.
 * Both stores.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { locateDatabase, openStore } from '../../src/store/open-store.js';
import { DIALECTS } from '../support/dialects.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

const STEPS = ['start', 'renew', 'write', 'verify', 'tasks', 'retire', 'finish'] as const;
const PUBLIC_URL = 'http://latchkey.test';

describe.each(DIALECTS)('kill -9 during a rotation job on %s', (dialect) => {
  it('resumes after a kill at every step and ends as a run without one', { timeout: 600_000 }, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'latchkey-rotation-kill-'));
    const env = { LATCHKEY_PUBLIC_URL: PUBLIC_URL, LATCHKEY_ROTATION_LEASE: '5s', LATCHKEY_RATE_LIMIT_PER_MINUTE: '0' };
    // The first server creates the store (and, for PostgreSQL, the database it drops at the end).
    const origin = await startServer({ dialect, dataDir, env });
    const database: Record<string, string> = origin.env.DATABASE_URL === undefined ? {} : { DATABASE_URL: String(origin.env.DATABASE_URL) };
    const adminToken = origin.adminToken;
    let current: ServerProcess | null = origin;
    const restart = async (extra: Record<string, string> = {}) => {
      if (current !== null && current !== origin) await current.stop();
      if (current === origin && origin.exited() === null) await origin.kill();
      current = await startServer({ dataDir, bootstrap: false, env: { ...env, ...database, ...extra } });
      return current;
    };
    const call = async (server: ServerProcess, method: string, path: string, body?: unknown) => {
      const res = await fetch(`${server.apiUrl}${path}`, { method, headers: { 'private-token': adminToken, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    };

    try {
      const group = await call(origin, 'POST', '/groups', { name: 'ops', path: 'ops' });
      const project = await call(origin, 'POST', '/projects', { name: 'app', path: 'app', namespace_id: group.body.id });
      expect(project.status).toBe(201);

      /** A deploy token with a CI variable placement on this Latchkey, rotated by POST …/rotate on `server`. */
      const rotateOn = async (server: ServerProcess, name: string) => {
        const token = await call(server, 'POST', `/projects/${project.body.id}/deploy_tokens`, { name, scopes: ['read_registry'], expires_at: '2027-06-01' });
        expect(token.status).toBe(201);
        const entry = await call(server, 'PUT', `/latchkey/credentials/token-${token.body.id}`, { placements: [{ kind: 'ci_variable', instance: 'latchkey.test', project: 'ops/app', key: `DEPLOY_${name.toUpperCase()}` }] });
        expect(entry.status).toBe(200);
        const answer = await call(server, 'POST', `/latchkey/credentials/token-${token.body.id}/rotate`, { grace_period: 0, quiet_period: 0 }).catch((e: Error) => ({ status: 0, body: e.message }));
        return { tokenId: token.body.id as number, answer };
      };
      const finished = async (server: ServerProcess, tokenId: number) => {
        for (let i = 0; i < 300; i++) {
          const jobs = await call(server, 'GET', `/latchkey/credentials/token-${tokenId}/rotations`);
          if (jobs.body.length > 0 && jobs.body[0].finished_at !== null) return jobs.body;
          await new Promise((r) => setTimeout(r, 100));
        }
        throw new Error(`the rotation of token ${tokenId} did not finish`);
      };
      const finalState = async (tokenId: number) => {
        const store = await openStore(locateDatabase(database.DATABASE_URL ?? null, dataDir));
        try {
          const old = await store.db.selectFrom('tokens').select(['revoked_at', 'revoke_reason']).where('id', '=', tokenId).executeTakeFirstOrThrow();
          const successors = await store.db.selectFrom('tokens').select(['id', 'revoked_at']).where('rotated_from_id', '=', tokenId).execute();
          const jobs = (await store.db
            .selectFrom('rotation_jobs' as any)
            .select(['id', 'state', 'new_token_id', 'secret_sealed', 'finished_at', 'lease_holder'] as any)
            .where('old_token_id' as any, '=', tokenId)
            .execute()) as unknown as { id: number; state: string; new_token_id: number; secret_sealed: string | null; finished_at: string | null; lease_holder: string | null }[];
          const steps = (await store.db
            .selectFrom('rotation_job_steps' as any)
            .select(['kind', 'state'] as any)
            .where('job_id' as any, 'in', jobs.map((j) => j.id))
            .orderBy('position' as any)
            .execute()) as unknown as { kind: string; state: string }[];
          return {
            oldRevoked: old.revoked_at !== null,
            successors: successors.length,
            successorActive: successors.every((s) => s.revoked_at === null),
            jobs: jobs.map((j) => ({ state: j.state, newTokenIsSuccessor: j.new_token_id === successors[0]?.id, secretWiped: j.secret_sealed === null, finished: j.finished_at !== null, leased: j.lease_holder !== null })),
            steps: steps.map((s) => `${s.kind}:${s.state}`),
          };
        } finally {
          await store.close();
        }
      };

      // The run without a kill.
      const baseline = await rotateOn(origin, 'baseline');
      expect(baseline.answer.status).toBe(201);
      expect(baseline.answer.body.state).toBe('succeeded');
      const expected = await finalState(baseline.tokenId);
      expect(expected).toEqual({
        oldRevoked: true,
        successors: 1,
        successorActive: true,
        jobs: [{ state: 'succeeded', newTokenIsSuccessor: true, secretWiped: true, finished: true, leased: false }],
        steps: ['renew:done', 'write:done', 'verify:done', 'tasks:skipped', 'retire:done', 'finish:done'],
      });

      for (const step of STEPS) {
        const faulty = await restart({ LATCHKEY_FAULT_POINT: `rotation:${step}` });
        const { tokenId, answer } = await rotateOn(faulty, step);
        // The process died inside the request: no answer.
        expect(answer.status, `${step}: ${JSON.stringify(answer.body)}`).toBe(0);
        for (let i = 0; i < 50 && faulty.exited() === null; i++) await new Promise((r) => setTimeout(r, 100));
        expect(faulty.exited()?.signal, step).toBe('SIGKILL');
        const resumed = await restart();
        const jobs = await finished(resumed, tokenId);
        expect(jobs.map((j: { state: string; failure: string | null }) => [j.state, j.failure]), step).toEqual([['succeeded', null]]);
        expect(await finalState(tokenId), step).toEqual(expected);
      }
    } finally {
      if (current !== null && current !== origin) await current.stop();
      await origin.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
