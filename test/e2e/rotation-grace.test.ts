/**
 * A rotation of one of Latchkey's own deploy tokens with a grace period and a quiet time (issue 16 item 5),
 * on a real `latchkey serve` on each store: POST …/credentials/token-<id>/rotate with grace 1 h and quiet
 * 3 s writes the new secret to the entry's CI variable on this Latchkey; the new secret gets a registry JWT
 * from /jwt/auth and so does the old one during the grace. A forgotten consumer (user agent stale-cron/1.0)
 * keeps the job `waiting`, its retire step saying where the old secret is still used from; once that consumer
 * stops, the old secret is revoked for being unused for the quiet time (plus the usage writer's minute), not
 * because the grace ended, and the job's pending secret is wiped.
 */
import { describe, expect, it } from 'vitest';
import { locateDatabase, openStore } from '../../src/store/open-store.js';
import { DIALECTS } from '../support/dialects.js';
import { serverApi as api, startServer, type ServerProcess } from '../support/server-process.js';

const SERVICE = 'container_registry';
const STALE_AGENT = 'stale-cron/1.0';

const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

/** Polls `read` every 500 ms until `done` holds of its result or `ms` passed; the last result either way. */
async function pollUntil<T>(ms: number, read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + ms;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    value = await read();
  }
  return value;
}

/** Every key of a JSON value, nested ones included. */
const keysOf = (value: unknown): string[] =>
  value === null || typeof value !== 'object' ? [] : Object.entries(value).flatMap(([k, v]) => [...(Array.isArray(value) ? [] : [k]), ...keysOf(v)]);

describe.each(DIALECTS)('rotation of a deploy token with a grace period and a quiet time (`latchkey serve`) on %s', (dialect) => {
  it('keeps the old secret while it is used, then revokes it once quiet', { timeout: 260_000 }, async () => {
    // The lease sets how often serve advances waiting jobs (every half lease: 2.5 s here).
    const server: ServerProcess = await startServer({
      dialect,
      env: { LATCHKEY_PUBLIC_URL: 'http://latchkey.test', LATCHKEY_ROTATION_LEASE: '5s', LATCHKEY_RATE_LIMIT_PER_MINUTE: '0', LATCHKEY_REGISTRY_SERVICE: SERVICE },
    });
    const jwtAuth = (user: string, secret: string, agent = 'docker/27.0') =>
      fetch(`${server.url}/jwt/auth?service=${SERVICE}&scope=${encodeURIComponent('repository:ops/app:pull')}`, { headers: { authorization: basic(user, secret), 'user-agent': agent } });
    try {
      const group = await api(server, 'POST', '/groups', { name: 'ops', path: 'ops' });
      const project = await api(server, 'POST', '/projects', { name: 'app', path: 'app', namespace_id: group.body.id });
      expect(project.status).toBe(201);
      const deploy = await api(server, 'POST', `/projects/${project.body.id}/deploy_tokens`, { name: 'k8s-pull', scopes: ['read_registry'], expires_at: '2027-06-01' });
      expect(deploy.status).toBe(201);
      const { id: tokenId, username, token: oldSecret } = deploy.body as { id: number; username: string; token: string };
      // The project's CI already holds the token (masked, readable: one the rotation creates on this Latchkey is hidden).
      expect((await api(server, 'POST', `/projects/${project.body.id}/variables`, { key: 'REGISTRY_PASSWORD', value: oldSecret, masked: true })).status).toBe(201);
      const entry = await api(server, 'PUT', `/latchkey/credentials/token-${tokenId}`, {
        placements: [{ kind: 'ci_variable', instance: 'latchkey.test', project: 'ops/app', key: 'REGISTRY_PASSWORD', format: 'raw' }],
      });
      expect(entry.status, JSON.stringify(entry.body)).toBe(200);

      const rotated = await api(server, 'POST', `/latchkey/credentials/token-${tokenId}/rotate`, { grace_period: 3600, quiet_period: 3 });
      expect(rotated.status, JSON.stringify(rotated.body)).toBe(201);
      const newSecret = rotated.body.token as string;
      const jobId = rotated.body.id as number;
      expect(newSecret).toMatch(/\S{20,}/);
      expect(newSecret).not.toBe(oldSecret);

      // 1. The placement holds the new secret, and the new secret works.
      const variable = await api(server, 'GET', `/projects/${project.body.id}/variables/REGISTRY_PASSWORD`);
      expect(variable.status).toBe(200);
      expect(variable.body.value).toBe(newSecret);
      expect((await jwtAuth(username, newSecret)).status).toBe(200);

      // 2. The old secret still works during the grace, used by a forgotten consumer.
      const staleUseAt = Date.now();
      expect((await jwtAuth(username, oldSecret, STALE_AGENT)).status).toBe(200);

      // 3. The job waits, and its retire step names that consumer (usage is written in batches by serve).
      const getJob = async () => (await api(server, 'GET', `/latchkey/rotations/${jobId}`)).body;
      const retireDetail = (job: { steps: { kind: string; detail: string | null }[] }) => job.steps.find((s) => s.kind === 'retire')?.detail ?? '';
      const waiting = await pollUntil(20_000, getJob, (job) => retireDetail(job).startsWith(`still used from 127.0.0.1 (${STALE_AGENT}) at `));
      expect(waiting.state).toBe('waiting');
      expect(retireDetail(waiting)).toMatch(new RegExp(`^still used from 127\\.0\\.0\\.1 \\(stale-cron/1\\.0\\) at \\S+; revoked once unused for 3 s \\(at \\S+ unless used again\\), at the latest at `));
      // Still usable while the job waits.
      expect((await jwtAuth(username, oldSecret, STALE_AGENT)).status).toBe(200);

      // 4. The consumer stops: after the quiet time and the usage writer's minute the old secret is revoked as quiet.
      const done = await pollUntil(140_000, getJob, (job) => job.finished_at !== null);
      expect(done.state, JSON.stringify(done)).toBe('succeeded');
      expect(retireDetail(done)).toMatch(new RegExp(`^token ${tokenId} revoked: unused since \\S+ for the quiet time \\(3 s\\)$`));
      expect(retireDetail(done)).not.toContain('grace');
      // Counted from the consumer's recorded use, not the rotation: revoked no earlier than that use + 3 s + the usage minute.
      const quietFrom = Date.parse(/unused since (\S+) for/.exec(retireDetail(done))![1]!);
      expect(quietFrom).toBeGreaterThanOrEqual(staleUseAt - 1_000);
      const revokedAt = Date.parse(done.steps.find((s: { kind: string }) => s.kind === 'retire').finished_at);
      expect(revokedAt - quietFrom).toBeGreaterThanOrEqual(63_000);
      expect((await jwtAuth(username, oldSecret, STALE_AGENT)).status).toBe(401);
      expect((await jwtAuth(username, newSecret)).status).toBe(200);
      expect((await api(server, 'GET', `/projects/${project.body.id}/variables/REGISTRY_PASSWORD`)).body.value).toBe(newSecret);

      // The pending secret is gone: never in the job's JSON, and wiped from the store.
      const shown = JSON.stringify(done);
      expect(shown).not.toContain(newSecret);
      expect(shown).not.toContain(oldSecret);
      expect(keysOf(done).filter((k) => /secret|^token$/.test(k))).toEqual([]);
      const store = await openStore(locateDatabase(server.env.DATABASE_URL ?? null, server.dataDir));
      try {
        const row = (await store.db.selectFrom('rotation_jobs' as any).select(['secret_sealed'] as any).where('id' as any, '=', jobId).executeTakeFirstOrThrow()) as unknown as { secret_sealed: string | null };
        expect(row.secret_sealed).toBeNull();
      } finally {
        await store.close();
      }
    } finally {
      await server.stop();
    }
  });
});
