import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../audit/audit-writer.js';
import { FakeClock } from '../../kernel/clock.js';
import { decorateCredentials } from './authenticate.js';
import { registerAuditTrail } from './audit-trail.js';

describe('the audit trail hook', () => {
  it("records each request at the clock's time, to the millisecond, whichever times came before", async () => {
    const clock = new FakeClock('2026-11-23T10:00:00.000Z');
    const records: AuditRecord[] = [];
    const app = Fastify();
    decorateCredentials(app);
    registerAuditTrail(app, { writer: { record: (r) => records.push(r), admit: () => undefined, refusing: false }, clock });
    app.get('/things/:id', async () => ({ ok: true }));
    // The same millisecond twice, the next one, back again, and a later day.
    const times = ['2026-11-23T10:00:00.000Z', '2026-11-23T10:00:00.000Z', '2026-11-23T10:00:00.001Z', '2026-11-23T10:00:00.000Z', '2026-11-24T09:59:59.999Z'];
    for (const [i, at] of times.entries()) {
      clock.set(at);
      await app.inject({ method: 'GET', url: `/things/${i}?private_token=secret&x=1`, headers: { 'user-agent': 'ua/1' } });
    }
    await app.inject({ method: 'GET', url: '/-/health' });
    await app.close();
    expect(records).toEqual(
      times.map((at, i) => ({ at, event: 'http.request', actor: null, tokenId: null, method: 'GET', route: '/things/:id', path: `/things/${i}`, status: 200, userAgent: 'ua/1', ip: '127.0.0.1' })),
    );
  });
});
