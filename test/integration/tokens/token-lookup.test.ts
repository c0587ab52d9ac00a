/**
 * The verifier's look-up by digest (store.findByDigestsWithUser, every cache miss) on both stores: each
 * token and its user read as the other look-ups read them (findByDigest, findUserById), for one digest
 * and for many in one query, whatever the token's state: revoked, deleted, rotated, used, expiring,
 * an impersonation token, a deploy token without a user, a blocked user's or a bot's.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DIALECTS, createTestDatabase } from '../../support/dialects.js';
import { FakeClock } from '../../../src/kernel/clock.js';
import { openStore, type Store } from '../../../src/store/open-store.js';
import { createTokenUsageStore } from '../../../src/store/token-usage.js';
import { createTokenDigester } from '../../../src/tokens/token-digest.js';
import type { NewToken } from '../../../src/tokens/token-store.js';
import { usageRecordOf } from '../../../src/tokens/token-usage.js';

const digester = createTokenDigester('l'.repeat(40));

describe.each(DIALECTS)('the look-up by digest on %s', (dialect) => {
  let store: Store;
  let drop: () => Promise<void>;
  let clock: FakeClock;

  beforeEach(async () => {
    const db = await createTestDatabase(dialect);
    drop = db.drop;
    store = await openStore(db.location);
    await store.migrate();
    clock = new FakeClock('2026-12-03T10:00:00Z');
  });
  afterEach(async () => {
    await store.close();
    await drop();
  });

  async function tokens(): Promise<string[]> {
    const at = clock.now().toISOString();
    const alice = await store.namespaces.insertUser({ username: 'alice', name: 'Alice A.', email: 'alice@example.com', isAdmin: true, botKind: null, passwordHash: null, createdAt: at });
    const bob = await store.namespaces.insertUser({ username: 'bob', name: 'Bob', email: null, isAdmin: false, botKind: null, passwordHash: null, createdAt: at });
    await store.namespaces.setUserState(bob.id, 'blocked');
    const bot = await store.namespaces.insertUser({ username: 'project_1_bot_x', name: 'CI bot', email: null, isAdmin: false, botKind: 'project_bot', passwordHash: null, createdAt: at });
    const base = { description: '', projectId: null, groupId: null, username: null, accessLevel: null, expiresAt: null, createdBy: null, createdAt: at };
    const made: [string, Omit<NewToken, 'digest'>][] = [
      ['glpat-alice', { ...base, kind: 'personal', name: 'laptop', description: 'my laptop', userId: alice.id, scopes: ['api', 'read_user'], expiresAt: '2027-01-01' }],
      ['glpat-alice-imp', { ...base, kind: 'personal', name: 'support', userId: alice.id, scopes: ['read_api'], impersonation: true }],
      ['glpat-bob', { ...base, kind: 'personal', name: 'blocked', userId: bob.id, scopes: ['api'] }],
      ['glpat-bot', { ...base, kind: 'project', name: 'bot', userId: bot.id, scopes: ['read_repository'], accessLevel: 30 }],
      ['gldt-deploy', { ...base, kind: 'deploy', name: 'deploy', userId: null, username: 'gitlab+deploy-token-9', scopes: ['read_registry', 'read_repository'] }],
      ['gldt-deleted', { ...base, kind: 'deploy', name: 'gone', userId: null, username: 'gone', scopes: ['read_repository'] }],
      ['glpat-revoked', { ...base, kind: 'personal', name: 'revoked', userId: alice.id, scopes: ['api'] }],
      ['glpat-rotated', { ...base, kind: 'personal', name: 'rotated', userId: alice.id, scopes: ['api'] }],
    ];
    const ids = new Map<string, number>();
    for (const [secret, t] of made) ids.set(secret, (await store.tokens.insert({ ...t, digest: digester.digest(secret) })).id);
    await store.tokens.markDeleted(ids.get('gldt-deleted')!, at);
    await store.tokens.markRevoked(ids.get('glpat-revoked')!, at, 'leaked');
    await store.tokens.markSuperseded(ids.get('glpat-rotated')!, { at, graceUntil: '2026-12-04T10:00:00.000Z' });
    await store.tokens.markReuseDetected(ids.get('glpat-rotated')!, at);
    // A used token: last_used_at and last_used_ips as the usage writer stores them.
    const usage = createTokenUsageStore(store.db);
    const record = (await usage.findUsages([ids.get('glpat-alice')!])).get(ids.get('glpat-alice')!)!;
    const saved = await usage.saveUsages([{ tokenId: ids.get('glpat-alice')!, revision: record.revision, merged: { lastUsedAt: at, lastUsedIps: ['10.0.0.1', '2001:db8::1'], windowIps: { '10.0.0.1': at }, windowUserAgents: {}, reuseFlaggedAt: null, flagged: null } }]);
    expect(saved.size).toBe(1);
    return made.map(([secret]) => secret);
  }

  /** As the other look-ups read it, and the row's usage columns as the usage store reads them. */
  async function expected(secret: string) {
    const token = await store.tokens.findByDigest(digester.digest(secret));
    expect(token).not.toBeNull();
    const record = (await createTokenUsageStore(store.db).findUsage(token!.id))!;
    const { usage_window_ips, usage_window_user_agents } = await store.db.selectFrom('tokens').select(['usage_window_ips', 'usage_window_user_agents']).where('id', '=', token!.id).executeTakeFirstOrThrow();
    const usage = { revision: record.revision, windowIps: usage_window_ips, windowUserAgents: usage_window_user_agents };
    return { token, user: token!.userId === null ? null : await store.namespaces.findUserById(token!.userId), usage, record };
  }

  it('reads each token and its user as findByDigest and findUserById do, one digest at a time', async () => {
    for (const secret of await tokens()) {
      const digest = digester.digest(secret);
      const found = await store.tokens.findByDigestsWithUser([digest]);
      expect([...found.keys()]).toEqual([digest]);
      const { record, ...rest } = await expected(secret);
      expect(found.get(digest)).toEqual(rest);
      // The usage tracker's first write merges into this record instead of reading it (findUsage).
      expect(usageRecordOf(found.get(digest)!.token, found.get(digest)!.usage!)).toEqual(record);
    }
    expect((await store.tokens.findByDigestsWithUser([digester.digest('glpat-nobody')])).size).toBe(0);
  });

  it('reads many digests in one query, the unknown ones absent', async () => {
    const secrets = await tokens();
    const digests = [...secrets, 'glpat-nobody'].map((s) => digester.digest(s));
    const found = await store.tokens.findByDigestsWithUser(digests);
    expect(found.size).toBe(secrets.length);
    for (const secret of secrets) {
      const { record, ...rest } = await expected(secret);
      expect(found.get(digester.digest(secret))).toEqual(rest);
      expect(usageRecordOf(found.get(digester.digest(secret))!.token, found.get(digester.digest(secret))!.usage!)).toEqual(record);
    }
    const alice = found.get(digester.digest('glpat-alice'))!;
    // The fields that matter to the verifier, spelled out (not only equal to the other look-ups).
    expect(alice.token).toMatchObject({ kind: 'personal', scopes: ['api', 'read_user'], expiresAt: '2027-01-01', lastUsedIps: ['10.0.0.1', '2001:db8::1'], impersonation: false, deleted: false });
    expect(alice.user).toMatchObject({ username: 'alice', isAdmin: true, state: 'active', botKind: null, email: 'alice@example.com' });
    expect(found.get(digester.digest('glpat-bob'))!.user!.state).toBe('blocked');
    expect(found.get(digester.digest('glpat-bot'))!.user!.botKind).toBe('project_bot');
    expect(found.get(digester.digest('glpat-alice-imp'))!.token.impersonation).toBe(true);
    expect(found.get(digester.digest('gldt-deploy'))!.user).toBeNull();
    expect(found.get(digester.digest('gldt-deleted'))!.token.deleted).toBe(true);
    expect(found.get(digester.digest('glpat-revoked'))!.token).toMatchObject({ revokedAt: '2026-12-03T10:00:00.000Z', revokeReason: 'leaked' });
    expect(found.get(digester.digest('glpat-rotated'))!.token).toMatchObject({ graceUntil: '2026-12-04T10:00:00.000Z', reuseDetectedAt: '2026-12-03T10:00:00.000Z' });
  });
  it('a look-up while a transaction writes the token sees committed rows only', async () => {
    const at = clock.now().toISOString();
    const digest = digester.digest('glpat-in-flight');
    const token = { kind: 'deploy', name: 'in flight', description: '', digest, userId: null, projectId: null, groupId: null, username: 'in-flight', scopes: ['read_repository'], accessLevel: null, expiresAt: null, createdBy: null, createdAt: at } as const;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let written!: () => void;
    const insertWritten = new Promise<void>((resolve) => (written = resolve));
    const rolledBack = store
      .transaction(async (ports) => {
        await ports.tokens.insert(token);
        written();
        await gate;
        throw new Error('rolled back');
      })
      .catch((e: Error) => e.message);
    await insertWritten;
    // Asked while the transaction holds the uncommitted row (on SQLite, the one connection).
    const during = store.tokens.findByDigestsWithUser([digest]);
    release();
    expect(await rolledBack).toBe('rolled back');
    expect((await during).size).toBe(0);
    expect((await store.tokens.findByDigestsWithUser([digest])).size).toBe(0);
    await store.transaction((ports) => ports.tokens.insert(token));
    expect((await store.tokens.findByDigestsWithUser([digest])).get(digest)!.token).toMatchObject({ name: 'in flight', deleted: false });
  });
});
