/**
 * Token events go through a transactional outbox (issue 12 item 3), on both stores: an event commits
 * with its change or not at all; when the audit log cannot be written the change still commits and its
 * event waits in the outbox, relayed — into the chain and the webhook deliveries, once — when it can;
 * two relays racing never write an event twice; and `audit verify` reports a token change the log has
 * no entry for (the state a crash left before the outbox), and a deleted entry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventRelay } from '../../../src/events/event-relay.js';
import { createAuditSink } from '../../../src/audit/audit-sink.js';
import { createAuditStore } from '../../../src/audit/audit-store.js';
import { breakAuditTable } from '../../support/audit-table.js';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';

describe.each(DIALECTS)('the token event outbox on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let hookId: number;
  const entriesOf = (tokenId: number) =>
    t.app.store.db.selectFrom('audit_events').select(['event']).where('token_id', '=', tokenId).where('event', 'like', 'token.%').orderBy('id').execute().then((r) => r.map((e) => e.event));
  const deliveriesOf = (tokenId: number) => t.app.store.db.selectFrom('webhook_deliveries').select(['event']).where('token_id', '=', tokenId).orderBy('id').execute().then((r) => r.map((e) => e.event));
  const outbox = () => t.app.store.db.selectFrom('event_outbox').selectAll().orderBy('id').execute();
  const createPat = (name: string) =>
    t.request('POST', `/api/v4/users/${w.users.developer.user.id}/personal_access_tokens`, { token: w.adminToken, body: { name, scopes: ['read_api'], expires_at: '2027-01-01' } });

  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
    const hook = await t.request('POST', '/api/v4/latchkey/webhooks', { token: w.adminToken, body: { url: 'http://127.0.0.1:9/unused', events: ['token.created', 'token.revoked', 'token.rotated'] } });
    hookId = hook.body.id;
    expect(hookId).toBeGreaterThan(0);
  });
  afterAll(() => t?.close());

  it('relays each event into the chain and the deliveries before the change is answered, and empties the outbox', async () => {
    const created = await createPat('relayed');
    expect(created.status).toBe(201);
    expect(await entriesOf(created.body.id)).toEqual(['token.created']);
    expect(await deliveriesOf(created.body.id)).toEqual(['token.created']);
    expect(await outbox()).toEqual([]);
  });

  it('a change whose transaction rolls back leaves no event', async () => {
    const before = (await t.app.store.db.selectFrom('tokens').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n;
    await expect(
      t.app.store.transaction(async (ports) => {
        await ports.events.publish({ name: 'token.revoked', tokenId: w.users.guest.user.id, at: '2026-11-23T10:00:00.000Z', data: {} });
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(await outbox()).toEqual([]);
    expect(Number((await t.app.store.db.selectFrom('tokens').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)).toBe(Number(before));
  });

  it('when the audit log cannot be written the change commits and its event waits; once it can, the event is written exactly once', async () => {
    const repair = await breakAuditTable(t);
    let id: number;
    try {
      const created = await createPat('while-broken');
      expect(created.status).toBe(201);
      id = created.body.id;
      const revoked = await t.request('DELETE', `/api/v4/personal_access_tokens/${id}`, { token: w.adminToken });
      expect(revoked.status).toBe(204);
      expect((await outbox()).map((e) => [e.name, Number(e.token_id)])).toEqual([
        ['token.created', id],
        ['token.revoked', id],
      ]);
      expect(await entriesOf(id)).toEqual([]);
      // Neither half of the relay happened: no delivery without its audit entry.
      expect(await deliveriesOf(id)).toEqual([]);
      // verify does not call a waiting event a gap.
      expect((await t.app.services.audit.verify()).unrecorded).toEqual([]);
      await expect(t.app.services.eventRelay.drain()).rejects.toThrow(/audit table unwritable/);
    } finally {
      await repair();
    }
    await t.app.services.eventRelay.drain();
    await t.app.services.eventRelay.drain();
    expect(await entriesOf(id)).toEqual(['token.created', 'token.revoked']);
    expect(await deliveriesOf(id)).toEqual(['token.created', 'token.revoked']);
    expect(await outbox()).toEqual([]);
    await t.app.services.auditWriter.flush();
    expect(await t.app.services.audit.verify()).toMatchObject({ ok: true, unrecorded: [] });
  });

  it('two relays (two nodes) racing over the same events write each once', async () => {
    const n = 40;
    // Committed straight into the outbox, as a node that crashed after its commits would leave them.
    const token = await createPat('raced');
    for (let i = 0; i < n; i++) await t.app.store.db.insertInto('event_outbox').values({ name: 'token.reuse_attempt', token_id: token.body.id, at: '2026-11-23T10:00:00.000Z', data: JSON.stringify({ i }) }).execute();
    const other = createEventRelay({ db: t.app.store.db, sinks: [createAuditSink(createAuditStore(t.app.store.db))], batch: 7 });
    const mine = createEventRelay({ db: t.app.store.db, sinks: [createAuditSink(createAuditStore(t.app.store.db))], batch: 5 });
    await Promise.all([other.drain(), mine.drain(), other.drain()]);
    const rows = await t.app.store.db.selectFrom('audit_events').select(['data']).where('token_id', '=', token.body.id).where('event', '=', 'token.reuse_attempt').orderBy('id').execute();
    expect(rows.map((r) => (JSON.parse(r.data) as { i: number }).i)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(await outbox()).toEqual([]);
    expect((await t.app.services.audit.verify()).ok).toBe(true);
  });

  it('verify reports a token without its token.created entry (what a crash left before the outbox), and a deleted entry', async () => {
    await t.app.services.auditWriter.flush();
    expect((await t.app.services.audit.verify()).ok).toBe(true);
    // A token committed without its event, as the old publish-after-commit lost them on kill -9.
    const orphan = await t.app.store.tokens.insert({
      kind: 'personal', name: 'orphan', description: '', digest: 'f'.repeat(64), userId: w.users.guest.user.id, projectId: null, groupId: null, username: null,
      scopes: ['read_api'], accessLevel: null, expiresAt: '2027-01-01', createdBy: null, createdAt: '2026-11-23T10:00:00.000Z',
    });
    let report = await t.app.services.audit.verify();
    expect(report).toMatchObject({ ok: false, altered: [], missing: [], brokenLinks: [], unrecorded: [{ event: 'token.created', count: 1, tokenIds: [orphan.id] }] });

    // Deleting a token's entry: the chain has a hole and the token lost its event.
    const victim = await createPat('victim');
    const [entry] = await t.app.store.db.selectFrom('audit_events').select(['id']).where('token_id', '=', victim.body.id).where('event', '=', 'token.created').execute();
    await t.app.store.db.deleteFrom('audit_events').where('id', '=', entry!.id).execute();
    report = await t.app.services.audit.verify();
    expect(report.ok).toBe(false);
    expect(report.missing).toEqual([{ from: Number(entry!.id), to: Number(entry!.id) }]);
    expect(report.unrecorded).toEqual([{ event: 'token.created', count: 2, tokenIds: [orphan.id, victim.body.id] }]);

    // A revocation and a rotation without their entries are gaps too.
    const rotated = await createPat('rotated');
    expect((await t.request('POST', `/api/v4/personal_access_tokens/${rotated.body.id}/rotate`, { token: w.adminToken })).status).toBe(200);
    const revoked = await createPat('revoked');
    expect((await t.request('DELETE', `/api/v4/personal_access_tokens/${revoked.body.id}`, { token: w.adminToken })).status).toBe(204);
    await t.app.store.db.deleteFrom('audit_events').where('event', 'in', ['token.rotated', 'token.revoked']).where('token_id', 'in', [rotated.body.id, revoked.body.id]).execute();
    report = await t.app.services.audit.verify();
    expect(report.unrecorded.map((u) => [u.event, u.tokenIds])).toEqual([
      ['token.created', [orphan.id, victim.body.id]],
      ['token.rotated', [rotated.body.id]],
      ['token.revoked', [revoked.body.id]],
    ]);
  });

  it('verify reports a reuse flag and a published expiry notice without their events', async () => {
    await t.app.services.auditWriter.flush();
    const before = new Set((await t.app.services.audit.verify()).unrecorded.map((u) => u.event));
    const flagged = await createPat('flagged');
    const expiring = await createPat('expiring');
    const expired = await createPat('expired');
    // Each state as a crash before the outbox would have left it: the change committed, its event lost.
    await t.app.store.db.updateTable('tokens').set({ reuse_flagged_at: '2026-11-23T10:00:00.000Z' }).where('id', '=', flagged.body.id).execute();
    for (const [id, interval] of [[expiring.body.id, '7'], [expired.body.id, 'expired']] as const) {
      await t.app.store.db.insertInto('expiry_notices').values({ token_id: id, interval, expires_at: '2027-01-01', days_left: interval === 'expired' ? 0 : 7, decided_at: '2026-11-23T10:00:00.000Z', event_published_at: '2026-11-23T10:00:00.000Z' }).execute();
    }
    // A notice not yet published is no gap: its event is still to come.
    await t.app.store.db.insertInto('expiry_notices').values({ token_id: flagged.body.id, interval: '30', expires_at: '2027-01-01', days_left: 30, decided_at: '2026-11-23T10:00:00.000Z', event_published_at: null }).execute();
    const report = await t.app.services.audit.verify();
    expect(report.ok).toBe(false);
    const found = Object.fromEntries(report.unrecorded.filter((u) => !before.has(u.event)).map((u) => [u.event, u.tokenIds]));
    expect(found).toEqual({ 'token.reuse_flagged': [flagged.body.id], 'token.expiring': [expiring.body.id], 'token.expired': [expired.body.id] });
    // With their events written, the gaps close.
    for (const [id, event] of [[flagged.body.id, 'token.reuse_flagged'], [expiring.body.id, 'token.expiring'], [expired.body.id, 'token.expired']] as const) {
      await t.app.store.transaction((ports) => ports.events.publish({ name: event, tokenId: id, at: '2026-11-23T10:00:00.000Z', data: {} }));
    }
    await t.app.services.eventRelay.drain();
    const after = await t.app.services.audit.verify();
    expect(after.unrecorded.filter((u) => !before.has(u.event))).toEqual([]);
  });
});
