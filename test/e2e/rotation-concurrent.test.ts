/**
 * Concurrent rotate requests for one entry against real `latchkey serve` processes (issue 16 item 5): eight
 * POST …/rotate at once over HTTP give one job and one new token — one 201 with the secret, the others
 * 200 with that job and no secret. On PostgreSQL the requests are split between two nodes sharing the
 * database, so the database (one unfinished job per entry), not one process's memory, decides — and the
 * token's entry, which has no stored row before its first rotation, gets exactly one (the requests race to
 * make it).
 */
import { describe, expect, it } from 'vitest';
import { createTestDatabase, DIALECTS } from '../support/dialects.js';
import { serverApi, startServer, type ServerProcess } from '../support/server-process.js';

describe.each(DIALECTS)('concurrent rotate requests on %s', (dialect) => {
  it('start one job and one new token, whichever node they reach', { timeout: 180_000 }, async () => {
    const db = dialect === 'postgres' ? await createTestDatabase('postgres') : null;
    const env: Record<string, string> = { LATCHKEY_RATE_LIMIT_PER_MINUTE: '0', LATCHKEY_SECRET: 'rotation-concurrency-secret-0123456789abcdef', ...(db ? { DATABASE_URL: db.url } : {}) };
    const nodes: ServerProcess[] = [];
    try {
      nodes.push(await startServer({ env }));
      // The second node shares the database (and the first node's admin); SQLite is one node's store.
      if (db) nodes.push(await startServer({ env, bootstrap: false }));
      const [a] = nodes as [ServerProcess];
      const api = (node: ServerProcess, method: string, path: string, body?: unknown) => serverApi({ apiUrl: node.apiUrl, adminToken: a.adminToken }, method, path, body);

      const group = await api(a, 'POST', '/groups', { name: 'ops', path: 'ops' });
      const project = await api(a, 'POST', '/projects', { name: 'app', path: 'app', namespace_id: group.body.id });
      const token = await api(a, 'POST', `/projects/${project.body.id}/deploy_tokens`, { name: 'pull', scopes: ['read_registry'], expires_at: '2027-06-01' });
      expect(token.status).toBe(201);

      const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => api(nodes[i % nodes.length]!, 'POST', `/latchkey/credentials/token-${token.body.id}/rotate`, { grace_period: 3600 })));
      const statuses = answers.map((r) => r.status).sort();
      expect(statuses, JSON.stringify(answers.map((r) => [r.status, r.body.message ?? r.body.state]))).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
      const created = answers.find((r) => r.status === 201)!;
      expect(created.body.token).toMatch(/^gldt-/);
      // Every answer names the same job; only the one that created it carries the secret.
      expect(new Set(answers.map((r) => r.body.id))).toEqual(new Set([created.body.id]));
      for (const r of answers.filter((x) => x.status === 200)) expect(r.body.token ?? null).toBeNull();

      // One new token: the old one's only successor, and the list of the project's deploy tokens grew by one.
      const jobs = await api(a, 'GET', `/latchkey/credentials/token-${token.body.id}/rotations`);
      expect(jobs.body).toHaveLength(1);
      const list = await api(a, 'GET', `/projects/${project.body.id}/deploy_tokens`);
      expect(list.body.map((t: { id: number }) => t.id).sort((x: number, y: number) => x - y)).toEqual([token.body.id, created.body.new_token_id]);
      // The new secret works on every node.
      for (const node of nodes) {
        const jwt = await fetch(`${node.url}/jwt/auth?service=container_registry&scope=repository:ops/app:pull`, { headers: { authorization: `Basic ${Buffer.from(`${token.body.username}:${created.body.token}`).toString('base64')}` } });
        expect(jwt.status).toBe(200);
      }
    } finally {
      for (const node of nodes.reverse()) await node.stop();
      await db?.drop();
    }
  });
});
