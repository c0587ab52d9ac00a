/**
 * Input rules of the deploy token API: the seven deploy-token scopes, expires_at forms, and bad input
 * of every kind (missing or wrong-typed params, malformed or huge bodies, bad :token_id, path tricks in
 * :id). Each is a 4xx with GitLab's shape — `{"error": "<param> is missing|is invalid|does not have a
 * valid value"}` from param validation, `{"message": "<Sentence>"}` from the model — never a 500, and a
 * refused create writes nothing.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';

const DEPLOY_SCOPES = ['read_repository', 'read_registry', 'write_registry', 'read_virtual_registry', 'write_virtual_registry', 'read_package_registry', 'write_package_registry'];
const JSON_TYPE = { 'content-type': 'application/json' };
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

type Rejection = [label: string, body: unknown, expected: Record<string, unknown>];

describe.each(DIALECTS)('deploy token input on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let projectUrl: string;
  let groupUrl: string;

  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
    projectUrl = `/api/v4/projects/${w.project.id}/deploy_tokens`;
    groupUrl = `/api/v4/groups/${w.sub.id}/deploy_tokens`;
  });
  afterAll(() => t?.close());

  const admin = () => w.adminToken;
  const post = (url: string, body: unknown) => t.request('POST', url, { token: admin(), body });

  /** Every deploy token of the instance, as the admin sees them: what a write would have changed. */
  async function snapshot(): Promise<{ total: string; ids: number[] }> {
    const res = await t.request('GET', '/api/v4/deploy_tokens?per_page=100', { token: admin() });
    expect(res.status).toBe(200);
    return { total: String(res.headers['x-total']), ids: res.body.map((x: any) => x.id) };
  }

  describe('scopes', () => {
    it.each(DEPLOY_SCOPES)('accepts %s alone', async (scope) => {
      const res = await post(projectUrl, { name: `only ${scope}`, scopes: [scope] });
      expect(res.status).toBe(201);
      expect(res.body.scopes).toEqual([scope]);
    });

    it('accepts all seven together and presents them in GitLab order', async () => {
      const res = await post(groupUrl, { name: 'all scopes', scopes: [...DEPLOY_SCOPES].reverse() });
      expect(res.status).toBe(201);
      expect(res.body.scopes).toEqual(['read_repository', 'read_registry', 'write_registry', 'read_package_registry', 'write_package_registry', 'read_virtual_registry', 'write_virtual_registry']);
      const verified = await t.app.services.verifier.verify(res.body.token);
      expect(verified.ok && [...verified.token.scopes].sort()).toEqual([...DEPLOY_SCOPES].sort());
    });

    describe('refusals (and nothing is written)', () => {
      let before: { total: string; ids: number[] };
      beforeEach(async () => {
        before = await snapshot();
      });
      afterEach(async () => {
        expect(await snapshot()).toEqual(before);
      });

      it.each<Rejection>([
        ['an unknown scope among valid ones', { name: 'x', scopes: ['read_repository', 'all_access'] }, { error: 'scopes does not have a valid value' }],
        ['a personal-token scope (api)', { name: 'x', scopes: ['api'] }, { error: 'scopes does not have a valid value' }],
        ['a personal-token scope (write_repository)', { name: 'x', scopes: ['write_repository'] }, { error: 'scopes does not have a valid value' }],
        ['a scope in the wrong case', { name: 'x', scopes: ['READ_REPOSITORY'] }, { error: 'scopes does not have a valid value' }],
        ['a non-string scope', { name: 'x', scopes: [42] }, { error: 'scopes does not have a valid value' }],
        ['an unknown scope as a string', { name: 'x', scopes: 'everything' }, { error: 'scopes does not have a valid value' }],
        ['empty scopes', { name: 'x', scopes: [] }, { message: "Scopes can't be blank" }],
        ['scopes of empty strings only', { name: 'x', scopes: ['', ' '] }, { message: "Scopes can't be blank" }],
        ['missing scopes', { name: 'x' }, { error: 'scopes is missing' }],
        ['scopes as an object', { name: 'x', scopes: { read_repository: true } }, { error: 'scopes is invalid' }],
      ])('%s → 400', async (_label, body, expected) => {
        const res = await post(projectUrl, body);
        expect(res.status).toBe(400);
        expect(res.body).toEqual(expected);
      });

      it('form-encoded: an empty scopes[] is blank, an unknown one is not a valid value', async () => {
        const blank = await t.request('POST', projectUrl, { token: admin(), rawBody: 'name=x&scopes[]=', headers: FORM });
        expect(blank.status).toBe(400);
        expect(blank.body).toEqual({ message: "Scopes can't be blank" });
        const unknown = await t.request('POST', projectUrl, { token: admin(), rawBody: 'name=x&scopes[]=read_repository&scopes[]=sudo', headers: FORM });
        expect(unknown.status).toBe(400);
        expect(unknown.body).toEqual({ error: 'scopes does not have a valid value' });
        const missing = await t.request('POST', groupUrl, { token: admin(), rawBody: 'name=x', headers: FORM });
        expect(missing.status).toBe(400);
        expect(missing.body).toEqual({ error: 'scopes is missing' });
      });
    });
  });

  describe('expires_at', () => {
    it.each([
      ['a date', '2027-01-01', '2027-01-01T00:00:00.000Z'],
      ['tomorrow', '2026-11-24', '2026-11-24T00:00:00.000Z'],
      ['a UTC date-time (kept to its date: the token stops at 00:00 UTC of it)', '2027-03-15T08:00:00Z', '2027-03-15T00:00:00.000Z'],
      ['a date-time with milliseconds', '2027-03-15T00:00:00.000Z', '2027-03-15T00:00:00.000Z'],
      ['a date-time with an offset, taken on its UTC date', '2027-03-15T23:30:00-05:00', '2027-03-16T00:00:00.000Z'],
    ])('accepts %s', async (_label, input, presented) => {
      const res = await post(projectUrl, { name: `expiry ${input}`, scopes: ['read_repository'], expires_at: input });
      expect(res.status).toBe(201);
      expect(res.body.expires_at).toBe(presented);
      expect(res.body.expired).toBe(false);
      const shown = await t.request('GET', `${projectUrl}/${res.body.id}`, { token: admin() });
      expect(shown.body.expires_at).toBe(presented);
    });

    it.each([
      ['omitted', {}],
      ['null', { expires_at: null }],
      ['empty', { expires_at: '' }],
    ])('%s means no expiry (null)', async (_label, extra) => {
      const res = await post(projectUrl, { name: 'no expiry', scopes: ['read_repository'], ...extra });
      expect(res.status).toBe(201);
      expect(res.body.expires_at).toBeNull();
    });

    describe('refusals (and nothing is written)', () => {
      let before: { total: string; ids: number[] };
      beforeEach(async () => {
        before = await snapshot();
      });
      afterEach(async () => {
        expect(await snapshot()).toEqual(before);
      });

      it.each([
        ['today', '2026-11-23'],
        ['later today as a date-time', '2026-11-23T23:59:59Z'],
        ['yesterday', '2026-11-22'],
        ['years ago', '2001-01-01'],
      ])('%s → 400 "must be a date in the future"', async (_label, input) => {
        const res = await post(projectUrl, { name: 'past', scopes: ['read_repository'], expires_at: input });
        expect(res.status).toBe(400);
        expect(res.body).toEqual({ message: 'Expires at must be a date in the future' });
      });

      it.each<[string, unknown]>([
        ['a word', 'soon'],
        ['an impossible date', '2027-02-30'],
        ['month 13', '2027-13-01'],
        ['a local date format', '01/02/2027'],
        ['a number', 20270101],
        ['a boolean', true],
        ['an object', { date: '2027-01-01' }],
        ['an array', ['2027-01-01']],
        ['an hour 25', '2027-01-01T25:00:00Z'],
      ])('%s → 400 {"error":"expires_at is invalid"}', async (_label, input) => {
        const res = await post(projectUrl, { name: 'garbage', scopes: ['read_repository'], expires_at: input });
        expect(res.status).toBe(400);
        expect(res.body).toEqual({ error: 'expires_at is invalid' });
      });
    });
  });

  describe('name and username', () => {
    it('a name of 255 characters and one of odd Unicode are kept as given', async () => {
      const long = await post(projectUrl, { name: 'n'.repeat(255), scopes: ['read_repository'] });
      expect(long.status).toBe(201);
      expect(long.body.name).toBe('n'.repeat(255));
      const odd = '🚀 déploiement 部署 \u202eevil';
      const unicode = await post(projectUrl, { name: odd, scopes: ['read_repository'] });
      expect(unicode.status).toBe(201);
      const shown = await t.request('GET', `${projectUrl}/${unicode.body.id}`, { token: admin() });
      expect(shown.body.name).toBe(odd);
    });

    it('a numeric name is taken as its string, as Grape coerces String params', async () => {
      const res = await post(projectUrl, { name: 2027, scopes: ['read_repository'] });
      expect(res.status).toBe(201);
      expect(res.body.name).toBe('2027');
    });

    describe('refusals (and nothing is written)', () => {
      let before: { total: string; ids: number[] };
      beforeEach(async () => {
        before = await snapshot();
      });
      afterEach(async () => {
        expect(await snapshot()).toEqual(before);
      });

      it.each<Rejection>([
        ['missing name', { scopes: ['read_repository'] }, { error: 'name is missing' }],
        ['no body at all', undefined, { error: 'name is missing' }],
        ['an empty JSON object', {}, { error: 'name is missing' }],
        ['a name of 10,000 characters', { name: 'x'.repeat(10_000), scopes: ['read_repository'] }, { message: 'Name is too long (maximum is 255 characters)' }],
        ['a blank name', { name: '   ', scopes: ['read_repository'] }, { message: "Name can't be blank" }],
        ['a name with a NUL byte', { name: 'a\u0000b', scopes: ['read_repository'] }, { message: 'Name cannot contain control characters' }],
        ['a name with a newline', { name: 'line\nbreak', scopes: ['read_repository'] }, { message: 'Name cannot contain control characters' }],
        ['a name that is an object', { name: { first: 'x' }, scopes: ['read_repository'] }, { error: 'name is invalid' }],
        ['a name that is an array', { name: ['x'], scopes: ['read_repository'] }, { error: 'name is invalid' }],
        ['a username with a space', { name: 'x', username: 'deploy bot', scopes: ['read_repository'] }, { message: "Username can contain only letters, digits, '_', '-', '+', and '.'" }],
        ['a username with a slash', { name: 'x', username: '../admin', scopes: ['read_repository'] }, { message: "Username can contain only letters, digits, '_', '-', '+', and '.'" }],
        ['a username of 256 characters', { name: 'x', username: 'u'.repeat(256), scopes: ['read_repository'] }, { message: 'Username is too long (maximum is 255 characters)' }],
        ['a username that is an object', { name: 'x', username: { u: 1 }, scopes: ['read_repository'] }, { error: 'username is invalid' }],
      ])('%s → 400', async (_label, body, expected) => {
        const res = body === undefined ? await t.request('POST', projectUrl, { token: admin() }) : await post(projectUrl, body);
        expect(res.status).toBe(400);
        expect(res.body).toEqual(expected);
      });
    });
  });

  describe('malformed and oversized bodies (nothing is written)', () => {
    let before: { total: string; ids: number[] };
    beforeEach(async () => {
      before = await snapshot();
    });
    afterEach(async () => {
      expect(await snapshot()).toEqual(before);
    });

    it.each([
      ['truncated JSON', '{"name": "x", "scopes": ['],
      ['a trailing comma', '{"name": "x", "scopes": ["read_repository"],}'],
      ['single quotes', "{'name': 'x'}"],
      ['not JSON at all', 'name=x&scopes[]=read_repository'],
    ])('%s → 400 {"error":"The request body is not valid JSON"}', async (_label, raw) => {
      const res = await t.request('POST', projectUrl, { token: admin(), rawBody: raw, headers: JSON_TYPE });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'The request body is not valid JSON' });
    });

    it.each([
      ['a JSON array', '[{"name":"x","scopes":["read_repository"]}]'],
      ['a JSON string', '"x"'],
      ['a JSON number', '42'],
    ])('%s as the body → 400 {"error":"body is invalid"}', async (_label, raw) => {
      const res = await t.request('POST', groupUrl, { token: admin(), rawBody: raw, headers: JSON_TYPE });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'body is invalid' });
    });

    it('a 10 MB body → 413 {"message":"413 Request Entity Too Large"}', async () => {
      const raw = JSON.stringify({ name: 'x'.repeat(10 * 1024 * 1024), scopes: ['read_repository'] });
      const res = await t.request('POST', projectUrl, { token: admin(), rawBody: raw, headers: JSON_TYPE });
      expect(res.status).toBe(413);
      expect(res.body).toEqual({ message: '413 Request Entity Too Large' });
    });

    it('prototype-pollution keys are ignored, not applied', async () => {
      const res = await t.request('POST', projectUrl, { token: admin(), rawBody: '{"name":"x","__proto__":{"scopes":["read_repository"]}}', headers: JSON_TYPE });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'scopes is missing' });
      expect(({} as Record<string, unknown>).scopes).toBeUndefined();
    });
  });

  describe(':token_id', () => {
    it.each(['abc', '1.5', '12abc', '1_000'])('non-numeric %s → 400 {"error":"token_id is invalid"} on GET and DELETE', async (tokenId) => {
      for (const base of [projectUrl, groupUrl]) {
        for (const method of ['GET', 'DELETE']) {
          const res = await t.request(method, `${base}/${tokenId}`, { token: admin() });
          expect({ method, base, status: res.status, body: res.body }).toEqual({ method, base, status: 400, body: { error: 'token_id is invalid' } });
        }
      }
    });

    it('an unknown numeric id → 404 {"message":"404 Not found"} on GET and DELETE', async () => {
      for (const base of [projectUrl, groupUrl]) {
        for (const method of ['GET', 'DELETE']) {
          const res = await t.request(method, `${base}/2147483647`, { token: admin() });
          expect(res.status).toBe(404);
          expect(res.body).toEqual({ message: '404 Not found' });
        }
      }
    });

    it.each(['0', '-1', '99999999999'])('an out-of-range id %s → 400, never 500', async (tokenId) => {
      const res = await t.request('GET', `${projectUrl}/${tokenId}`, { token: admin() });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'token_id does not have a valid value' });
    });
  });

  describe('path tricks in :id', () => {
    const PROJECT_IDS: Array<[string, string]> = [
      ['parent traversal', '..%2F..'],
      ['traversal into a sibling project', 'acme%2F..%2Fother%2Fsite'],
      ['deep traversal', 'acme%2Fplatform%2F..%2F..%2Fother%2Fsite'],
      ['a dot segment', 'acme%2F.%2Fplatform%2Fweb'],
      ['a double-encoded path', 'acme%252Fplatform%252Fweb'],
      ['a trailing slash in the path', 'acme%2Fplatform%2Fweb%2F'],
      ['a leading slash', '%2Facme%2Fplatform%2Fweb'],
      ['a backslash path', 'acme%5Cplatform%5Cweb'],
      ['a negative id', '-1'],
      ['zero', '0'],
      ['a huge number', '99999999999999999999'],
      ['an exponent', '1e3'],
      ['whitespace', '%20'],
      ['SQL', "1%27%20OR%20%271%27%3D%271"],
      ['a 2048-character path', 'a'.repeat(2048)],
    ];

    it.each(PROJECT_IDS)('project %s → 404 "404 Project Not Found" for the admin, on every endpoint', async (_label, id) => {
      const base = `/api/v4/projects/${id}/deploy_tokens`;
      const before = await snapshot();
      for (const [method, url] of [['GET', base], ['POST', base], ['GET', `${base}/1`], ['DELETE', `${base}/1`]] as const) {
        const res = await t.request(method, url, { token: admin(), body: method === 'POST' ? { name: 'trick', scopes: ['read_repository'] } : undefined });
        expect({ method, status: res.status, body: res.body }).toEqual({ method, status: 404, body: { message: '404 Project Not Found' } });
      }
      expect(await snapshot()).toEqual(before);
    });

    it.each<[string, string]>([
      ['parent traversal', '..%2F..'],
      ['traversal into a sibling group', 'acme%2Fplatform%2F..%2Fother'],
      ['a negative id', '-1'],
      ['a 2048-character path', 'g'.repeat(2048)],
    ])('group %s → 404 "404 Group Not Found" for the admin', async (_label, id) => {
      const base = `/api/v4/groups/${id}/deploy_tokens`;
      for (const [method, url] of [['GET', base], ['POST', base], ['DELETE', `${base}/1`]] as const) {
        const res = await t.request(method, url, { token: admin(), body: method === 'POST' ? { name: 'trick', scopes: ['read_repository'] } : undefined });
        expect({ method, status: res.status, body: res.body }).toEqual({ method, status: 404, body: { message: '404 Group Not Found' } });
      }
    });

    // No column can hold a NUL: the root input guard refuses it before any look-up (issue 12 item 5).
    it.each([
      ['project', '%00'],
      ['project', 'acme%2Fplatform%2Fweb%00'],
      ['group', 'acme%00'],
    ])('a NUL byte in a %s id (%s) → 400 {"error": "id is invalid"} on every endpoint, and writes nothing', async (resource, id) => {
      const base = `/api/v4/${resource}s/${id}/deploy_tokens`;
      const before = await snapshot();
      for (const [method, url] of [['GET', base], ['POST', base], ['DELETE', `${base}/1`]] as const) {
        const res = await t.request(method, url, { token: admin(), body: method === 'POST' ? { name: 'trick', scopes: ['read_repository'] } : undefined });
        expect({ method, status: res.status, body: res.body }).toEqual({ method, status: 400, body: { error: 'id is invalid' } });
      }
      expect(await snapshot()).toEqual(before);
    });

    // These two fail in the router, before any route; the server maps them (404 and 400 today).
    it('an id longer than any id or path can be is a 4xx with a JSON body, not a 500, and writes nothing', async () => {
      const before = await snapshot();
      for (const method of ['GET', 'POST', 'DELETE']) {
        const url = `/api/v4/projects/${'a'.repeat(5000)}/deploy_tokens${method === 'DELETE' ? '/1' : ''}`;
        const res = await t.request(method, url, { token: admin(), body: method === 'POST' ? { name: 'x', scopes: ['read_repository'] } : undefined });
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        expect(res.body).toEqual(expect.any(Object));
      }
      expect(await snapshot()).toEqual(before);
    });

    it('a broken percent-encoding is a 400 with a JSON body, not a 500', async () => {
      const res = await t.request('GET', '/api/v4/projects/%E0%A4%A/deploy_tokens', { token: admin() });
      expect(res.status).toBe(400);
      expect(res.body).toEqual(expect.any(Object));
    });
  });
});
