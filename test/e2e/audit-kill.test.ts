/**
 * kill -9 loses no token event (issue 12 item 3): a real `latchkey serve` (audit flush every minute, so
 * nothing is written by the timer) creates tokens in a burst of parallel requests and is killed with
 * SIGKILL in the middle of it. After a restart on the same store every token in the table — those whose
 * 201 arrived and those committed while the answer was lost — has its token.created entry, nothing is
 * left in the outbox, and `latchkey audit verify` (which also looks for token changes without an entry)
 * says ok. Both stores.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { locateDatabase, openStore } from '../../src/store/open-store.js';
import { DIALECTS } from '../support/dialects.js';
import { runLatchkey, startServer } from '../support/server-process.js';

describe.each(DIALECTS)('kill -9 during a burst of token creations on %s', (dialect) => {
  it('every created token has its token.created entry after a restart, and audit verify is ok', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'latchkey-kill-'));
    const first = await startServer({ dialect, dataDir, env: { LATCHKEY_AUDIT_FLUSH_MS: '60000', LATCHKEY_RATE_LIMIT_PER_MINUTE: '0' } });
    let second: Awaited<ReturnType<typeof startServer>> | null = null;
    try {
      const headers = { 'private-token': first.adminToken, 'content-type': 'application/json' };
      const me = (await (await fetch(`${first.apiUrl}/user`, { headers })).json()) as { id: number };
      const created: number[] = [];
      const refused: string[] = [];
      const expiresAt = new Date(Date.now() + 90 * 86_400_000).toISOString().slice(0, 10);
      let failed = 0;
      let stop = false;
      const worker = async (n: number) => {
        for (let i = 0; !stop; i++) {
          try {
            const res = await fetch(`${first.apiUrl}/users/${me.id}/personal_access_tokens`, {
              method: 'POST', headers, body: JSON.stringify({ name: `burst-${n}-${i}`, scopes: ['read_api'], expires_at: expiresAt }),
            });
            if (res.status === 201) created.push(((await res.json()) as { id: number }).id);
            else refused.push(`${res.status} ${await res.text()}`);
          } catch {
            failed++; // the connection died with the server
          }
        }
      };
      const workers = Array.from({ length: 12 }, (_, n) => worker(n));
      const deadline = Date.now() + 60_000;
      while (created.length < 80 && refused.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await first.kill(); // mid-burst: requests are in flight
      stop = true;
      await Promise.all(workers);
      expect(refused).toEqual([]);
      expect(created.length).toBeGreaterThanOrEqual(80);
      expect(first.exited()?.signal).toBe('SIGKILL');

      // The same store again (its data dir holds the server secret; PostgreSQL: the same database).
      second = await startServer({ dataDir, bootstrap: false, env: first.dialect === 'postgres' ? { DATABASE_URL: String(first.env.DATABASE_URL) } : {} });
      const store = await openStore(locateDatabase((first.env.DATABASE_URL as string | undefined) ?? null, dataDir));
      try {
        // serve relays what the killed node left in the outbox when it starts.
        for (let i = 0; i < 100 && Number((await store.db.selectFrom('event_outbox').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n) > 0; i++) {
          await new Promise((r) => setTimeout(r, 100));
        }
        const tokens = await store.db.selectFrom('tokens').select('id').where('name', 'like', 'burst-%').execute();
        const recorded = new Set(
          (await store.db.selectFrom('audit_events').select('token_id').where('event', '=', 'token.created').execute()).map((r) => Number(r.token_id)),
        );
        const ids = tokens.map((r) => Number(r.id));
        expect(ids.length).toBeGreaterThanOrEqual(created.length);
        for (const id of created) expect(ids).toContain(id);
        expect(ids.filter((id) => !recorded.has(id))).toEqual([]);
        expect(Number((await store.db.selectFrom('event_outbox').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)).toBe(0);
      } finally {
        await store.close();
      }
      const verify = await runLatchkey(['audit', 'verify', '--json'], second.env, 60_000);
      expect(verify.code, verify.stdout + verify.stderr).toBe(0);
      expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, unrecorded: [], missing: [] });
    } finally {
      await second?.stop();
      await first.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 240_000);
});
