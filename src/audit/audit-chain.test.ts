import { describe, expect, it } from 'vitest';
import { AUDIT_GENESIS_HASH } from '../store/migrations/2026-11-23T0006-audit-log.js';
import { verifyChain } from './audit-chain.js';
import { createHash } from 'node:crypto';
import { canonicalValues, chain, entryHash, tokenHashOfDigest, type AuditRow, type UnchainedRow } from './audit-entry.js';

const entry = (i: number): UnchainedRow => ({
  created_at: `2026-11-23T10:00:0${i % 10}.000Z`, event: 'http.request', actor_type: 'user', actor_id: 1, actor_name: 'root', token_id: 7,
  token_hash: tokenHashOfDigest('ab'.repeat(32)), method: 'GET', route: '/api/v4/user', path: '/api/v4/user', status: 200, user_agent: 'ua', ip: '127.0.0.1',
  project_id: null, group_id: null, group_path: null, data: '{}',
});

async function* rowsOf(rows: AuditRow[]) {
  yield* rows;
}

const fresh = (n: number) => chain(Array.from({ length: n }, (_, i) => entry(i)), { lastId: 0, lastHash: AUDIT_GENESIS_HASH });
const headOf = (rows: AuditRow[]) => ({ lastId: rows.at(-1)?.id ?? 0, lastHash: rows.at(-1)?.hash ?? AUDIT_GENESIS_HASH });

describe('audit chain', () => {
  it('links entries: dense ids after the head, each prev_hash the hash before, hashes over every field', () => {
    const rows = fresh(3);
    expect(rows.map((r) => r.id)).toEqual([1, 2, 3]);
    expect(rows[0]!.prev_hash).toBe(AUDIT_GENESIS_HASH);
    expect(rows[1]!.prev_hash).toBe(rows[0]!.hash);
    expect(rows[2]!.hash).toBe(entryHash(rows[2]!));
    // any field change changes the hash, including a null becoming a value
    for (const change of [{ status: 201 }, { ip: '10.0.0.1' }, { project_id: 3 }, { data: '{"a":1}' }, { id: 9 }]) expect(entryHash({ ...rows[1]!, ...change })).not.toBe(rows[1]!.hash);
    // numbers read back as strings (a driver's int8) still verify
    expect(entryHash({ ...rows[1]!, id: '2' as unknown as number, status: '200' as unknown as number })).toBe(rows[1]!.hash);
    // continuing after a head
    const more = chain([entry(9)], headOf(rows));
    expect(more[0]).toMatchObject({ id: 4, prev_hash: rows[2]!.hash });
  });

  it('hashes exactly as entries written before were hashed: the canonical serialisation of every field, golden values', () => {
    const rows = chain(
      [
        { created_at: '2026-11-23T10:00:00.000Z', event: 'http.request', actor_type: 'user', actor_id: 1, actor_name: 'root', token_id: 7, token_hash: `sha256:${'ab'.repeat(32)}`, method: 'GET', route: '/api/v4/user', path: '/api/v4/user', status: 200, user_agent: 'ua "quoted" é', ip: '127.0.0.1', project_id: null, group_id: null, group_path: null, data: '{}' },
        { created_at: '2026-11-23T10:00:01.000Z', event: 'token.created', actor_type: null, actor_id: null, actor_name: null, token_id: 9, token_hash: null, method: null, route: null, path: null, status: null, user_agent: null, ip: null, project_id: 3, group_id: 2, group_path: '/1/2/', data: '{"by":"root"}' },
      ],
      { lastId: 41, lastHash: AUDIT_GENESIS_HASH },
    );
    // Computed by the appender as released (a map over the field list): old entries must still verify.
    expect(rows.map((r) => r.hash)).toEqual(['40e6ac00136911467b7d146732dd43a706266795a01897697eb25506f231f2fd', '31988b54a352cb69b02ce6951a062c1c01753106673b4f9b9dd3cb809dd35d9a']);
    for (const r of rows) {
      expect(r.hash).toBe(createHash('sha256').update(`${r.prev_hash}\n${JSON.stringify(canonicalValues(r))}`, 'utf8').digest('hex'));
      expect(entryHash(r)).toBe(r.hash);
    }
  });

  it('shows a token as sha256 of its HMAC digest', () => {
    expect(tokenHashOfDigest('00')).toBe('sha256:f1534392279bddbf9d43dde8701cb5be14b82f76ec6607bf8d6ad557f60f304e');
  });

  it('an intact chain verifies, the empty one too', async () => {
    const rows = fresh(5);
    expect(await verifyChain(rowsOf(rows), headOf(rows))).toEqual({ ok: true, entries: 5, lastId: 5, altered: [], missing: [], brokenLinks: [] });
    expect(await verifyChain(rowsOf([]), headOf([]))).toMatchObject({ ok: true, entries: 0 });
  });

  it('reports an altered entry, a deleted one, a deleted tail and a rewritten (rehashed) entry', async () => {
    const rows = fresh(8);
    const head = headOf(rows);
    const altered = rows.map((r) => (r.id === 3 ? { ...r, status: 500 } : r));
    expect(await verifyChain(rowsOf(altered), head)).toMatchObject({ ok: false, altered: [3], missing: [], brokenLinks: [] });

    const deleted = rows.filter((r) => r.id !== 4 && r.id !== 5);
    expect(await verifyChain(rowsOf(deleted), head)).toMatchObject({ ok: false, altered: [], missing: [{ from: 4, to: 5 }] });

    const tail = rows.filter((r) => r.id < 7);
    expect(await verifyChain(rowsOf(tail), head)).toMatchObject({ ok: false, missing: [{ from: 7, to: 8 }] });

    const first = rows.filter((r) => r.id !== 1);
    expect(await verifyChain(rowsOf(first), head)).toMatchObject({ ok: false, missing: [{ from: 1, to: 1 }] });

    // Rewritten together with its own hash: the next entry's link gives it away.
    const forged = rows.map((r) => (r.id === 2 ? { ...r, actor_name: 'mallory', hash: entryHash({ ...r, actor_name: 'mallory' }) } : r));
    expect(await verifyChain(rowsOf(forged), head)).toMatchObject({ ok: false, altered: [], brokenLinks: [3] });

    // The last one rewritten with its hash: the head gives it away.
    const last = rows.map((r) => (r.id === 8 ? { ...r, status: 204, hash: entryHash({ ...r, status: 204 }) } : r));
    expect(await verifyChain(rowsOf(last), head)).toMatchObject({ ok: false, altered: [8] });
  });
});
