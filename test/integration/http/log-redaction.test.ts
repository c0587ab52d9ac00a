/**
 * No token reaches the logs or the audit log, however it is sent: in the query string under a
 * percent-encoded parameter name (`private%5Ftoken`, `access%5Ftoken`, `%70rivate_token` — each of which
 * authenticates), pasted into the URL path (plain or percent-encoded), in the user agent, or in a
 * route's error. Checked on every captured log line (at debug level, the most verbose) and every row of
 * every table. @see issue 12 item 4
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { dumpDatabase } from '../../support/dump-database.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';

describe.each(DIALECTS)('token redaction in logs and the audit log on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  const logLines: string[] = [];
  let secret: string;
  let dump: Record<string, string>;

  beforeAll(async () => {
    t = await startTestApp(dialect, { env: { LATCHKEY_LOG_LEVEL: 'debug', LATCHKEY_AUDIT_FLUSH_MS: '60000' }, logStream: { write: (line) => void logLines.push(line) } });
    w = await seedWorld(t);
    secret = w.users.developer.token;
  });
  afterAll(() => t?.close());

  const encodeFirst = (s: string) => `%${s.charCodeAt(0).toString(16)}${s.slice(1)}`;

  it('authenticates with percent-encoded query parameter names, and logs none of their values', async () => {
    for (const name of ['private_token', 'private%5Ftoken', 'access%5Ftoken', '%70rivate_token', 'PRIVATE_TOKEN', 'private_token%00']) {
      const res = await t.request('GET', `/api/v4/user?${name}=${secret}&other=1`);
      // Names that decode to private_token/access_token authenticate (Rack decodes names too).
      if (['PRIVATE_TOKEN', 'private_token%00'].includes(name)) expect(res.status).toBe(401);
      else expect(res.status, name).toBe(200);
    }
  });

  it('redacts a token pasted into the URL path, plain or percent-encoded, and one in the user agent', async () => {
    for (const path of [`/api/v4/projects/${secret}`, `/api/v4/projects/${encodeFirst(secret)}/deploy_tokens`, `/api/v4/${secret}`, `/jwt/${secret}`]) {
      const res = await t.request('GET', path, { token: w.adminToken, headers: { 'user-agent': `bot/1.0 (${secret})` } });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }
  });

  it('logs no query string of a URL the router refuses or does not know', async () => {
    for (const url of [`/api/v4/user%zz?private_token=${encodeFirst(secret)}`, `/api/v4/nope?access%5Ftoken=${encodeFirst(secret)}`, `/api/v4/user?private_token=${secret}%`]) {
      const res = await t.request('GET', url);
      expect([400, 401, 404]).toContain(res.status);
    }
  });

  it('logs no body: the admin look-up of a token by its value, and a refused write naming it', async () => {
    expect((await t.request('POST', '/api/v4/admin/token', { token: w.adminToken, body: { token: secret } })).status).toBe(200);
    expect((await t.request('POST', '/api/v4/projects', { token: w.adminToken, body: { name: secret, namespace_id: 999999 } })).status).toBe(404);
  });

  it('leaves the secret in no log line and no table, and keeps the rest of the path', async () => {
    await t.app.services.auditWriter.flush();
    dump = await dumpDatabase(t.app.store);
    const log = logLines.join('\n');
    expect(logLines.length).toBeGreaterThan(10);
    // Neither the token nor its random body (which a percent-encoded prefix would leave) appears.
    const body = secret.slice('glpat-'.length);
    expect(log.includes(body), 'a log line holds the token').toBe(false);
    for (const [table, text] of Object.entries(dump)) expect(text.includes(body), `${table} holds the token`).toBe(false);
    // The query string is never logged at all: not its names, not its values.
    expect(log).not.toMatch(/other=1|private%5Ftoken|access%5Ftoken|%70rivate_token/);
    expect(log).toContain('/api/v4/projects/[REDACTED]');
    // The audit log keeps the path, with the token replaced, and the user agent likewise.
    const paths = (await t.app.store.db.selectFrom('audit_events').select(['path', 'user_agent']).execute()).map((r) => `${r.path} ${r.user_agent}`);
    expect(paths).toContain('/api/v4/projects/[REDACTED] bot/1.0 ([REDACTED])');
    expect(paths).toContain('/api/v4/projects/[REDACTED]/deploy_tokens bot/1.0 ([REDACTED])');
    expect(paths.some((p) => p.startsWith('/api/v4/user '))).toBe(true);
  });
});
