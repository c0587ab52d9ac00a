/**
 * What the audit store keeps between batches (issue 13: thousands of distinct busy tokens), on both stores:
 * - a token's digest, hash and namespace, read to enrich entries, are used again for TOKEN_INFO_TTL_MS
 *   without a query, then read anew (a digest moved to a new server secret shows from then on);
 * - a (token id, hash) pair seen committed is not inserted again by later batches, while a pair written in
 *   a transaction that rolled back is written again by the next batch that carries it.
 */
import { sql, type KyselyPlugin, type RootOperationNode } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tokenHashOfDigest, type UnchainedRow } from '../../../src/audit/audit-entry.js';
import { createAuditStore, TOKEN_INFO_TTL_MS } from '../../../src/audit/audit-store.js';
import { openStore, type Store } from '../../../src/store/open-store.js';
import { createTestDatabase, DIALECTS } from '../../support/dialects.js';

const at = '2026-12-04T05:00:00.000Z';

function entry(tokenId: number, tokenHash: string): UnchainedRow {
  return {
    created_at: at, event: 'http.request', actor_type: 'user', actor_id: 1, actor_name: 'u', token_id: tokenId, token_hash: tokenHash,
    method: 'GET', route: '/api/v4/user', path: '/api/v4/user', status: 200, user_agent: 'ua', ip: '127.0.0.1', project_id: null, group_id: null, group_path: null, data: '{}',
  };
}

/** Counts the statements that read `tokens` and those that insert into `audit_token_hashes`. */
function counting() {
  const counts = { tokenReads: 0, pairInserts: 0 };
  const plugin: KyselyPlugin = {
    transformQuery: ({ node }) => {
      const n = node as unknown as { kind: RootOperationNode['kind']; from?: { froms: { table?: { identifier: { name: string } } }[] }; into?: { table: { identifier: { name: string } } } };
      if (n.kind === 'SelectQueryNode' && n.from?.froms.some((f) => f.table?.identifier.name === 'tokens')) counts.tokenReads++;
      if (n.kind === 'InsertQueryNode' && n.into?.table.identifier.name === 'audit_token_hashes') counts.pairInserts++;
      return node;
    },
    transformResult: async ({ result }) => result,
  };
  return { counts, plugin };
}

describe.each(DIALECTS)('audit enrichment reuse on %s', (dialect) => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let store: Store;
  let tokenIds: number[];

  beforeEach(async () => {
    db = await createTestDatabase(dialect);
    store = await openStore(db.location);
    await store.migrate();
    tokenIds = [];
    for (let i = 1; i <= 3; i++) {
      const r = await store.db
        .insertInto('tokens')
        .values({ kind: 'deploy', name: `t${i}`, description: '', digest: `digest-${i}`, scopes: '["read_registry"]', created_at: at, username: `gitlab+deploy-token-${i}` })
        .returning('id')
        .executeTakeFirstOrThrow();
      tokenIds.push(Number(r.id));
    }
  });
  afterEach(async () => {
    await store?.close();
    await db?.drop();
  });

  it('reads a token once per TOKEN_INFO_TTL_MS, then anew (a moved digest shows after it)', async () => {
    let now = Date.parse(at);
    const { counts, plugin } = counting();
    const audit = createAuditStore(store.db.withPlugin(plugin), { now: () => now });
    const [a, b] = tokenIds as [number, number];

    const first = await audit.tokenInfo([a, b]);
    expect(first.get(a)).toEqual({ digest: 'digest-1', tokenHash: tokenHashOfDigest('digest-1'), projectId: null, groupId: null, ownerGroupId: null });
    expect(counts.tokenReads).toBe(1);

    await store.tokens.replaceDigest(a, 'digest-1', 'digest-1-moved');
    now += TOKEN_INFO_TTL_MS - 1;
    const again = await audit.tokenInfo([a, b]);
    expect(counts.tokenReads).toBe(1);
    expect(again.get(a)?.tokenHash).toBe(tokenHashOfDigest('digest-1'));

    // Only the tokens not kept are read: a new one alone.
    const third = tokenIds[2]!;
    expect((await audit.tokenInfo([a, third])).get(third)?.digest).toBe('digest-3');
    expect(counts.tokenReads).toBe(2);

    now += 1;
    const later = await audit.tokenInfo([a]);
    expect(counts.tokenReads).toBe(3);
    expect(later.get(a)).toMatchObject({ digest: 'digest-1-moved', tokenHash: tokenHashOfDigest('digest-1-moved') });
    // A token that no longer exists is simply absent.
    expect((await audit.tokenInfo([999_999])).size).toBe(0);
  });

  it('inserts a committed pair once across batches, and again after a rolled-back batch', async () => {
    const { counts, plugin } = counting();
    const audit = createAuditStore(store.db.withPlugin(plugin));
    const [a, b] = tokenIds as [number, number];
    const pairs = async () => (await store.db.selectFrom('audit_token_hashes').select(['token_id', 'token_hash']).execute()).map((r) => `${r.token_id} ${r.token_hash}`).sort();

    // A batch appended in the caller's transaction, which then rolls back: its pair is not remembered.
    await expect(
      store.db.transaction().execute(async (trx) => {
        await audit.appendIn(trx.withPlugin(plugin), [entry(a, 'sha256:a')]);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(await pairs()).toEqual([]);

    await audit.append([entry(a, 'sha256:a'), entry(a, 'sha256:a')]);
    expect(await pairs()).toEqual([`${a} sha256:a`]);
    const afterFirst = counts.pairInserts;
    expect(afterFirst).toBeGreaterThanOrEqual(1);

    // The same busy token in later batches: no pair statement at all; a new pair still goes in.
    await audit.append([entry(a, 'sha256:a')]);
    await audit.append([entry(a, 'sha256:a'), entry(a, 'sha256:a')]);
    expect(counts.pairInserts).toBe(afterFirst);
    await audit.append([entry(a, 'sha256:a'), entry(b, 'sha256:b'), entry(a, 'sha256:a2')]);
    expect(counts.pairInserts).toBe(afterFirst + 1);
    expect(await pairs()).toEqual([`${a} sha256:a`, `${a} sha256:a2`, `${b} sha256:b`].sort());

    // Another store (another node) knows nothing of these and inserts them as no-ops: still one row each.
    await createAuditStore(store.db).append([entry(a, 'sha256:a'), entry(b, 'sha256:b')]);
    expect(await pairs()).toHaveLength(3);
    const { n } = await store.db.selectFrom('audit_events').select(sql<number>`count(*)`.as('n')).executeTakeFirstOrThrow();
    expect(Number(n)).toBe(10); // every entry but the rolled-back one
  });
});
