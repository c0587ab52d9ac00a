/**
 * The outbox relay writes the request entries the audit writer has queued in its own transaction, ahead
 * of its token events (AuditWriter.claim): one commit for both instead of a flush and then the relay's.
 * On both stores: the writer's own appender is not used for them; a relay transaction that fails, or
 * that finds its events taken by another node, leaves them queued, and the writer writes them once; a
 * sink whose look-ups fail releases them. The chain stays valid throughout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditSink } from '../../../src/audit/audit-sink.js';
import { createAuditStore } from '../../../src/audit/audit-store.js';
import { createAuditWriter, inThreadAppender, type AuditAppender, type AuditRecord } from '../../../src/audit/audit-writer.js';
import { createEventRelay, type RelaySink } from '../../../src/events/event-relay.js';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';

describe.each(DIALECTS)('queued request entries written by the outbox relay on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let tokenId: number;
  let run = 0;

  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
    const created = await t.request('POST', `/api/v4/users/${w.users.developer.user.id}/personal_access_tokens`, { token: w.adminToken, body: { name: 'claimed', scopes: ['read_api'], expires_at: '2027-01-01' } });
    expect(created.status).toBe(201);
    tokenId = created.body.id;
    await t.app.services.auditWriter.flush();
  });
  afterAll(() => t?.close());

  /** A writer of its own (nothing written on a timer) whose appender counts what it is given. */
  function setUp(extraSinks: RelaySink[] = []) {
    const store = createAuditStore(t.app.store.db);
    const inThread = inThreadAppender(store);
    const appended: string[][] = [];
    const appender: AuditAppender = {
      async append(batch) {
        appended.push(batch.map((r) => r.path ?? ''));
        await inThread.append(batch);
      },
      close: () => inThread.close(),
    };
    const writer = createAuditWriter({ store, appender, maxQueue: 1000, flushMs: 0 });
    const relay = createEventRelay({ db: t.app.store.db, sinks: [createAuditSink(store, writer), ...extraSinks] });
    const tag = `run${++run}`;
    const request = (i: number): AuditRecord => ({ at: new Date().toISOString(), event: 'http.request', method: 'GET', path: `/${tag}/${i}`, status: 200, tokenId });
    const publish = async (n: number) => {
      for (let i = 0; i < n; i++) await t.app.store.db.insertInto('event_outbox').values({ name: 'token.reuse_attempt', token_id: tokenId, at: new Date().toISOString(), data: JSON.stringify({ tag, i }) }).execute();
    };
    /** This run's entries in chain order: request paths and event numbers. */
    const written = async () => {
      const rows = await t.app.store.db.selectFrom('audit_events').select(['event', 'path', 'data']).where('token_id', '=', tokenId).orderBy('id').execute();
      return rows.flatMap((r) => {
        if (r.event === 'http.request') return r.path?.startsWith(`/${tag}/`) ? [r.path] : [];
        const data = JSON.parse(r.data) as { tag?: string; i?: number };
        return data.tag === tag ? [`event ${data.i}`] : [];
      });
    };
    return { writer, relay, appended, request, publish, written, tag };
  }

  const outbox = () => t.app.store.db.selectFrom('event_outbox').select(['id']).execute();

  it('the relay writes them ahead of its events; the writer does not write them again', async () => {
    const s = setUp();
    for (let i = 0; i < 3; i++) s.writer.record(s.request(i));
    await s.publish(2);
    await s.relay.drain();
    expect(s.appended).toEqual([]);
    expect(s.writer.pending).toBe(0);
    expect(await s.written()).toEqual([`/${s.tag}/0`, `/${s.tag}/1`, `/${s.tag}/2`, 'event 0', 'event 1']);
    expect(await outbox()).toEqual([]);
    // Their rows are enriched as the writer's are: the token's hash and project.
    const [row] = await t.app.store.db.selectFrom('audit_events').select(['token_hash', 'actor_name']).where('path', '=', `/${s.tag}/0`).execute();
    expect(row!.token_hash).toMatch(/^sha256:/);
    await s.writer.flush();
    expect(s.appended).toEqual([]);
    expect((await t.app.services.audit.verify()).ok).toBe(true);
  });

  it('a relay transaction that fails leaves them queued; the writer writes them once, and the events follow', async () => {
    const failing: RelaySink = {
      prepare: async () => async () => {
        throw new Error('webhook table unwritable');
      },
    };
    const s = setUp([failing]);
    for (let i = 0; i < 2; i++) s.writer.record(s.request(i));
    await s.publish(1);
    await expect(s.relay.drain()).rejects.toThrow('webhook table unwritable');
    expect(s.writer.pending).toBe(2);
    expect(await s.written()).toEqual([]);
    expect(await outbox()).toHaveLength(1);
    await s.writer.flush();
    expect(s.appended).toEqual([[`/${s.tag}/0`, `/${s.tag}/1`]]);
    await createEventRelay({ db: t.app.store.db, sinks: [createAuditSink(createAuditStore(t.app.store.db))] }).drain();
    expect(await s.written()).toEqual([`/${s.tag}/0`, `/${s.tag}/1`, 'event 0']);
    expect((await t.app.services.audit.verify()).ok).toBe(true);
  });

  it('when another node took the events first, nothing is written with them: they stay queued for the writer', async () => {
    // Its look-ups run before the relay's transaction; meanwhile "another node" relays the events.
    const otherNode: RelaySink = {
      prepare: async () => {
        await createEventRelay({ db: t.app.store.db, sinks: [createAuditSink(createAuditStore(t.app.store.db))] }).drain();
        return async () => {};
      },
    };
    const s = setUp([otherNode]);
    s.writer.record(s.request(0));
    await s.publish(1);
    await s.relay.drain();
    expect(s.writer.pending).toBe(1);
    expect(await s.written()).toEqual(['event 0']);
    await s.writer.flush();
    expect(s.appended).toEqual([[`/${s.tag}/0`]]);
    expect(await s.written()).toEqual(['event 0', `/${s.tag}/0`]);
    expect((await t.app.services.audit.verify()).ok).toBe(true);
  });

  it("a sink whose look-ups fail releases them: the writer is not held", async () => {
    const broken: RelaySink = {
      prepare: async () => {
        throw new Error('look-up failed');
      },
    };
    const s = setUp([broken]);
    s.writer.record(s.request(0));
    await s.publish(1);
    await expect(s.relay.drain()).rejects.toThrow('look-up failed');
    expect(s.writer.pending).toBe(1);
    await s.writer.flush();
    expect(s.appended).toEqual([[`/${s.tag}/0`]]);
    await createEventRelay({ db: t.app.store.db, sinks: [createAuditSink(createAuditStore(t.app.store.db))] }).drain();
    expect(await outbox()).toEqual([]);
    expect((await t.app.services.audit.verify()).ok).toBe(true);
  });
});
