/**
 * GitLab's CI/CD variables API (doc/api/project_level_variables.md, group_level_variables.md) on
 * Latchkey's projects and groups: the entity's fields, GitLab's model rules and error bodies (key format,
 * masked values, scopes, uniqueness, hidden variables), `filter[environment_scope]` in the query and the
 * body, Grape's query/body merge, Maintainer+ only (404 before 403 before 400), values sealed at rest, and
 * an audit entry per change that never holds the value.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSecretBox } from '../../../src/kernel/secret-box.js';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, TEST_SECRET, type TestApp, type World } from '../../support/test-app.js';

const FIELDS = ['description', 'environment_scope', 'hidden', 'key', 'masked', 'protected', 'raw', 'value', 'variable_type'];
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

describe.each(DIALECTS)('CI/CD variables API on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let maintainer: string;

  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
    maintainer = w.users.maintainer.token;
  });
  afterAll(() => t?.close());

  const projectUrl = (suffix = '') => `/api/v4/projects/${w.project.id}/variables${suffix}`;
  const groupUrl = (suffix = '') => `/api/v4/groups/${encodeURIComponent('acme/platform')}/variables${suffix}`;

  describe('project variables: create, list, show, update, delete', () => {
    it('POST answers 201 with GitLab\'s entity and its defaults', async () => {
      const res = await t.request('POST', projectUrl(), { token: maintainer, body: { key: 'NEW_VARIABLE', value: 'new value' } });
      expect(res.status).toBe(201);
      expect(Object.keys(res.body).sort()).toEqual(FIELDS);
      expect(res.body).toEqual({ variable_type: 'env_var', key: 'NEW_VARIABLE', value: 'new value', hidden: false, protected: false, masked: false, raw: false, environment_scope: '*', description: null });
    });

    it('takes every field, as JSON and as a form body', async () => {
      const json = await t.request('POST', projectUrl(), {
        token: maintainer,
        body: { key: 'DEPLOY_KEY', value: 'c2VjcmV0LXZhbHVl', variable_type: 'file', protected: true, masked: true, raw: true, environment_scope: 'production', description: 'the deploy key' },
      });
      expect(json.status).toBe(201);
      expect(json.body).toMatchObject({ variable_type: 'file', key: 'DEPLOY_KEY', value: 'c2VjcmV0LXZhbHVl', protected: true, masked: true, raw: true, environment_scope: 'production', description: 'the deploy key' });
      const form = await t.request('POST', projectUrl(), { token: maintainer, headers: FORM, rawBody: 'key=FORM_VAR&value=a%20b&protected=true&environment_scope=review%2F*' });
      expect(form.status).toBe(201);
      expect(form.body).toMatchObject({ key: 'FORM_VAR', value: 'a b', protected: true, environment_scope: 'review/*' });
    });

    it('lists the project\'s variables in creation order with GitLab\'s pagination headers', async () => {
      const res = await t.request('GET', projectUrl('?per_page=2'), { token: maintainer });
      expect(res.status).toBe(200);
      expect(res.body.map((v: { key: string }) => v.key)).toEqual(['NEW_VARIABLE', 'DEPLOY_KEY']);
      expect(res.headers['x-total']).toBe('3');
      expect(res.headers['x-next-page']).toBe('2');
      const page2 = await t.request('GET', projectUrl('?per_page=2&page=2'), { token: maintainer });
      expect(page2.body.map((v: { key: string }) => v.key)).toEqual(['FORM_VAR']);
    });

    it('shows, updates and deletes by key; a missing key is GitLab\'s 404', async () => {
      expect((await t.request('GET', projectUrl('/NEW_VARIABLE'), { token: maintainer })).body).toMatchObject({ key: 'NEW_VARIABLE', value: 'new value' });
      const put = await t.request('PUT', projectUrl('/NEW_VARIABLE'), { token: maintainer, body: { value: 'updated value', protected: true, description: 'now described' } });
      expect(put.status).toBe(200);
      expect(put.body).toEqual({ variable_type: 'env_var', key: 'NEW_VARIABLE', value: 'updated value', hidden: false, protected: true, masked: false, raw: false, environment_scope: '*', description: 'now described' });
      expect((await t.request('DELETE', projectUrl('/NEW_VARIABLE'), { token: maintainer })).status).toBe(204);
      for (const method of ['GET', 'PUT', 'DELETE']) {
        const res = await t.request(method, projectUrl('/NEW_VARIABLE'), { token: maintainer, body: method === 'PUT' ? { value: 'x' } : undefined });
        expect(res.status).toBe(404);
        expect(res.body).toEqual({ message: '404 Variable Not Found' });
      }
    });

    it('PUT takes its parameters from the query string, as the GitLab docs show with curl', async () => {
      await t.request('POST', projectUrl(), { token: maintainer, body: { key: 'QUERY_VAR', value: 'one' } });
      const res = await t.request('PUT', projectUrl('/QUERY_VAR?value=two&protected=true'), { token: maintainer });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ key: 'QUERY_VAR', value: 'two', protected: true });
    });

    it('a group variable and a project variable with the same key do not collide', async () => {
      expect((await t.request('POST', groupUrl(), { token: maintainer, body: { key: 'QUERY_VAR', value: 'group value' } })).status).toBe(201);
      expect((await t.request('GET', projectUrl('/QUERY_VAR'), { token: maintainer })).body.value).toBe('two');
      expect((await t.request('GET', groupUrl('/QUERY_VAR'), { token: maintainer })).body.value).toBe('group value');
    });
  });

  describe('GitLab\'s validation and error bodies', () => {
    const post = (body: unknown, token = maintainer) => t.request('POST', projectUrl(), { token, body });

    it('key: letters, digits and _ only, at most 255, not blank; surrounding blanks are stripped', async () => {
      expect(await post({ key: 'BAD-KEY', value: 'x' })).toMatchObject({ status: 400, body: { message: { key: ["can contain only letters, digits and '_'."] } } });
      expect(await post({ key: 'K'.repeat(256), value: 'x' })).toMatchObject({ status: 400, body: { message: { key: ['is too long (maximum is 255 characters)'] } } });
      expect(await post({ key: '   ', value: 'x' })).toMatchObject({ status: 400, body: { message: { key: ["can't be blank"] } } });
      expect(await post({ key: '  PADDED  ', value: 'x' })).toMatchObject({ status: 201, body: { key: 'PADDED' } });
    });

    it('masked values follow GitLab\'s rules: 8+ characters of the Base64 alphabet plus @:.~, or 8+ non-blank ones when raw', async () => {
      const invalid = { status: 400, body: { message: { value: ['is invalid'] } } };
      expect(await post({ key: 'M_SHORT', value: 'short', masked: true })).toMatchObject(invalid);
      expect(await post({ key: 'M_SPACE', value: 'hello world', masked: true })).toMatchObject(invalid);
      expect(await post({ key: 'M_FUN', value: 'HelloWorld%#^', masked: true })).toMatchObject(invalid);
      expect(await post({ key: 'M_LINES', value: 'abcdefgh\nijklmnop', masked: true, raw: true })).toMatchObject(invalid);
      expect(await post({ key: 'M_UNICODE_SPACE', value: 'abcd\u00a0efgh', masked: true })).toMatchObject(invalid);
      expect(await post({ key: 'M_OK', value: 'Hello+World_123/@:-~.', masked: true })).toMatchObject({ status: 201, body: { masked: true } });
      expect(await post({ key: 'M_RAW_FUN', value: 'HelloWorld%#^', masked: true, raw: true })).toMatchObject({ status: 201, body: { masked: true, raw: true } });
      // Masking an existing variable checks its current value.
      await post({ key: 'M_LATER', value: 'tiny' });
      expect(await t.request('PUT', projectUrl('/M_LATER'), { token: maintainer, body: { masked: true } })).toMatchObject(invalid);
    });

    it('environment_scope: GitLab\'s characters, not blank', async () => {
      expect(await post({ key: 'SCOPED', value: 'x', environment_scope: 'prod#1' })).toMatchObject({
        status: 400,
        body: { message: { environment_scope: ["can contain only letters, digits, '-', '_', '/', '$', '{', '}', '.', '*' and spaces"] } },
      });
      expect(await post({ key: 'SCOPED', value: 'x', environment_scope: ' ' })).toMatchObject({ status: 400, body: { message: { environment_scope: ["can't be blank"] } } });
    });

    it('description: at most 255 characters', async () => {
      expect(await post({ key: 'DESCRIBED', value: 'x', description: 'd'.repeat(256) })).toMatchObject({ status: 400, body: { message: { description: ['is too long (maximum is 255 characters)'] } } });
    });

    it('text no store can keep is refused, never a 500: NUL in a description, half a surrogate pair anywhere', async () => {
      expect(await post({ key: 'NUL_DESC', value: 'x', description: 'a\u0000b' })).toMatchObject({ status: 400, body: { message: { description: ['is not valid text'] } } });
      expect(await post({ key: 'LONE', value: 'a\ud800b' })).toMatchObject({ status: 400, body: { message: { value: ['is not valid Unicode text'] } } });
      expect(await post({ key: 'NUL_VALUE', value: 'a\u0000b' })).toMatchObject({ status: 201, body: { value: 'a\u0000b' } });
    });

    it('every field error in one answer, as Rails collects them', async () => {
      const res = await post({ key: 'BAD KEY', value: 'short', masked: true, environment_scope: 'a#b' });
      expect(res.status).toBe(400);
      expect(Object.keys(res.body.message).sort()).toEqual(['environment_scope', 'key', 'value']);
    });

    it('a key already used in the same scope is GitLab\'s "(KEY) has already been taken"; another scope is fine', async () => {
      await post({ key: 'DUP', value: 'a' });
      expect(await post({ key: 'DUP', value: 'b' })).toMatchObject({ status: 400, body: { message: { key: ['(DUP) has already been taken'] } } });
      expect(await post({ key: 'DUP', value: 'b', environment_scope: 'staging' })).toMatchObject({ status: 201 });
      // Moving a variable into a scope where its key exists is refused the same way.
      expect(await t.request('PUT', projectUrl('/DUP?filter[environment_scope]=staging'), { token: maintainer, body: { environment_scope: '*' } })).toMatchObject({
        status: 400,
        body: { message: { key: ['(DUP) has already been taken'] } },
      });
    });

    it('Grape\'s parameter errors: missing, not a valid value, invalid', async () => {
      expect(await post({ value: 'x' })).toMatchObject({ status: 400, body: { error: 'key is missing' } });
      expect(await post({ key: 'NO_VALUE' })).toMatchObject({ status: 400, body: { error: 'value is missing' } });
      expect(await post({ key: 'T', value: 'x', variable_type: 'secret' })).toMatchObject({ status: 400, body: { error: 'variable_type does not have a valid value' } });
      expect(await post({ key: 'T', value: 'x', protected: 'perhaps' })).toMatchObject({ status: 400, body: { error: 'protected is invalid' } });
      expect(await post({ key: 'T', value: { nested: true } })).toMatchObject({ status: 400, body: { error: 'value is invalid' } });
    });

    it('a refused write changes nothing', async () => {
      const before = await t.request('GET', projectUrl('?per_page=100'), { token: maintainer });
      await post({ key: 'BAD-KEY', value: 'x' });
      await t.request('PUT', projectUrl('/M_LATER'), { token: maintainer, body: { masked: true, value: 'tiny2' } });
      const after = await t.request('GET', projectUrl('?per_page=100'), { token: maintainer });
      expect(after.body).toEqual(before.body);
    });
  });

  describe('filter[environment_scope]', () => {
    beforeAll(async () => {
      for (const scope of ['*', 'production', 'review/*']) await t.request('POST', projectUrl(), { token: maintainer, body: { key: 'SCOPED_VARIABLE', value: `value for ${scope}`, environment_scope: scope } });
    });

    it('GET, PUT and DELETE of an ambiguous key are GitLab\'s 409, naming the filter', async () => {
      for (const method of ['GET', 'PUT', 'DELETE']) {
        const res = await t.request(method, projectUrl('/SCOPED_VARIABLE'), { token: maintainer, body: method === 'PUT' ? { value: 'x' } : undefined });
        expect(res.status).toBe(409);
        expect(res.body).toEqual({ message: "There are multiple variables with provided parameters. Please use 'filter[environment_scope]'" });
      }
    });

    it('the filter selects one, from the query string or the body', async () => {
      const q = encodeURIComponent('filter[environment_scope]');
      expect((await t.request('GET', projectUrl(`/SCOPED_VARIABLE?${q}=production`), { token: maintainer })).body).toMatchObject({ value: 'value for production', environment_scope: 'production' });
      const put = await t.request('PUT', projectUrl('/SCOPED_VARIABLE'), { token: maintainer, body: { value: 'new production value', filter: { environment_scope: 'production' } } });
      expect(put).toMatchObject({ status: 200, body: { value: 'new production value', environment_scope: 'production' } });
      const formPut = await t.request('PUT', projectUrl('/SCOPED_VARIABLE'), { token: maintainer, headers: FORM, rawBody: `value=reviewed&${q}=${encodeURIComponent('review/*')}` });
      expect(formPut).toMatchObject({ status: 200, body: { value: 'reviewed', environment_scope: 'review/*' } });
      expect((await t.request('DELETE', projectUrl('/SCOPED_VARIABLE'), { token: maintainer, body: { filter: { environment_scope: 'review/*' } } })).status).toBe(204);
      const left = (await t.request('GET', projectUrl('?per_page=100'), { token: maintainer })).body.filter((v: { key: string }) => v.key === 'SCOPED_VARIABLE');
      expect(left.map((v: { environment_scope: string; value: string }) => [v.environment_scope, v.value])).toEqual([['*', 'value for *'], ['production', 'new production value']]);
    });

    it('the group endpoint without a filter updates the first variable of the key (GitLab keeps that for compatibility)', async () => {
      await t.request('POST', groupUrl(), { token: maintainer, body: { key: 'G_SCOPED', value: 'first', environment_scope: 'a' } });
      await t.request('POST', groupUrl(), { token: maintainer, body: { key: 'G_SCOPED', value: 'second', environment_scope: 'b' } });
      expect(await t.request('PUT', groupUrl('/G_SCOPED'), { token: maintainer, body: { value: 'changed' } })).toMatchObject({ status: 200, body: { environment_scope: 'a', value: 'changed' } });
      expect((await t.request('GET', groupUrl('/G_SCOPED'), { token: maintainer })).status).toBe(409);
      expect((await t.request('GET', groupUrl('/MISSING'), { token: maintainer })).body).toEqual({ message: '404 GroupVariable Not Found' });
    });
  });

  describe('hidden variables', () => {
    it('masked_and_hidden makes it masked and hidden; its value is never returned again', async () => {
      const created = await t.request('POST', projectUrl(), { token: maintainer, body: { key: 'HIDDEN_TOKEN', value: 'glpat-abcdefghijklmnop', masked_and_hidden: true } });
      expect(created).toMatchObject({ status: 201, body: { key: 'HIDDEN_TOKEN', value: null, hidden: true, masked: true } });
      expect((await t.request('GET', projectUrl('/HIDDEN_TOKEN'), { token: w.adminToken })).body.value).toBeNull();
      const listed = (await t.request('GET', projectUrl('?per_page=100'), { token: maintainer })).body.find((v: { key: string }) => v.key === 'HIDDEN_TOKEN');
      expect(listed.value).toBeNull();
      const updated = await t.request('PUT', projectUrl('/HIDDEN_TOKEN'), { token: maintainer, body: { value: 'glpat-zyxwvutsrqponmlk' } });
      expect(updated).toMatchObject({ status: 200, body: { value: null, hidden: true } });
      // The system itself can still read it (placement checks, rotation): never through HTTP.
      const read = await t.app.services.cicdVariables.readValue({ type: 'project', id: w.project.id }, 'HIDDEN_TOKEN', '*');
      expect(read?.value).toBe('glpat-zyxwvutsrqponmlk');
    });

    it('masked cannot be turned off on a hidden variable; `hidden` alone is not a parameter', async () => {
      expect(await t.request('PUT', projectUrl('/HIDDEN_TOKEN'), { token: maintainer, body: { masked: false } })).toMatchObject({
        status: 400,
        body: { message: { base: ['Updating masked attribute is not allowed on updates for hidden variables.'] } },
      });
      const notHidden = await t.request('POST', projectUrl(), { token: maintainer, body: { key: 'NOT_HIDDEN', value: 'visible', hidden: true } });
      expect(notHidden.body).toMatchObject({ hidden: false, value: 'visible' });
    });

    it('a hidden value must still be maskable', async () => {
      expect(await t.request('POST', projectUrl(), { token: maintainer, body: { key: 'HIDDEN_SHORT', value: 'short', masked_and_hidden: true } })).toMatchObject({
        status: 400,
        body: { message: { value: ['is invalid'] } },
      });
    });
  });

  describe('who may', () => {
    it('Maintainers, Owners and admins manage project and group variables', async () => {
      for (const token of [w.users.owner.token, w.adminToken, maintainer]) {
        expect((await t.request('GET', projectUrl(), { token })).status).toBe(200);
        expect((await t.request('GET', groupUrl(), { token })).status).toBe(200);
      }
    });

    it('Developers and below who can see it get 403, even with a bad body; outsiders 404', async () => {
      for (const role of ['guest', 'reporter', 'developer'] as const) {
        const token = w.users[role].token;
        expect(await t.request('GET', projectUrl(), { token })).toMatchObject({ status: 403, body: { message: '403 Forbidden' } });
        expect(await t.request('POST', projectUrl(), { token, body: { key: 'BAD-KEY' } })).toMatchObject({ status: 403 });
        expect(await t.request('GET', groupUrl('/QUERY_VAR'), { token })).toMatchObject({ status: 403 });
      }
      const outsider = w.users.outsider.token;
      expect(await t.request('GET', projectUrl(), { token: outsider })).toMatchObject({ status: 404, body: { message: '404 Project Not Found' } });
      expect(await t.request('POST', groupUrl(), { token: outsider, body: {} })).toMatchObject({ status: 404, body: { message: '404 Group Not Found' } });
      expect((await t.request('GET', projectUrl())).status).toBe(401);
    });

    it('a read_api token reads but does not write', async () => {
      const { secret } = await t.app.services.personalTokens.createFor(w.users.maintainer.user, { name: 'ro', scopes: ['read_api'], expiresAt: '2027-06-01' }, null);
      expect((await t.request('GET', projectUrl(), { token: secret })).status).toBe(200);
      expect(await t.request('POST', projectUrl(), { token: secret, body: { key: 'RO', value: 'x' } })).toMatchObject({ status: 403, body: { error: 'insufficient_scope', scope: 'api' } });
    });

    it('a maintainer of another project cannot reach this one\'s variables', async () => {
      const res = await t.request('GET', `/api/v4/projects/${w.otherProject.id}/variables`, { token: maintainer });
      expect(res.status).toBe(404);
    });
  });

  describe('at rest and in the audit log', () => {
    it('values are sealed under the server secret: the row never holds the value, and the key is derived from the secret', async () => {
      await t.request('POST', projectUrl(), { token: maintainer, body: { key: 'AT_REST', value: 'plain-text-never-stored' } });
      const row = await t.app.store.db.withTables<{ ci_variables: { key: string; value_encrypted: string } }>().selectFrom('ci_variables').select(['value_encrypted']).where('key', '=', 'AT_REST').executeTakeFirstOrThrow();
      expect(row.value_encrypted).not.toContain('plain-text-never-stored');
      expect(row.value_encrypted).toMatch(/^v1:/);
      expect(createSecretBox(TEST_SECRET, 'ci-variable-value v1').open(row.value_encrypted)).toBe('plain-text-never-stored');
      expect(() => createSecretBox('another-secret-0123456789abcdef0123456789', 'ci-variable-value v1').open(row.value_encrypted)).toThrow();
    });

    it('each change is an audit entry with key and scope, never the value', async () => {
      await t.request('POST', projectUrl(), { token: maintainer, body: { key: 'AUDITED', value: 'audited-secret-value' } });
      await t.request('PUT', projectUrl('/AUDITED'), { token: maintainer, body: { value: 'audited-secret-value-2' } });
      await t.request('DELETE', projectUrl('/AUDITED'), { token: maintainer });
      await t.app.services.auditWriter.flush();
      const rows = await t.app.store.db.selectFrom('audit_events').select(['event', 'actor_name', 'data']).where('event', 'like', 'ci_variable.%').orderBy('id').execute();
      const mine = rows.filter((r) => JSON.parse(r.data).key === 'AUDITED');
      expect(mine.map((r) => r.event)).toEqual(['ci_variable.created', 'ci_variable.updated', 'ci_variable.deleted']);
      expect(mine.every((r) => r.actor_name === 'maintainer-user')).toBe(true);
      expect(JSON.parse(mine[0]!.data)).toMatchObject({ project: 'acme/platform/web', key: 'AUDITED', environment_scope: '*' });
      expect(JSON.parse(mine[1]!.data).changed).toEqual(['value']);
      const all = await t.app.store.db.selectFrom('audit_events').select('data').execute();
      expect(all.some((r) => r.data.includes('audited-secret-value'))).toBe(false);
    });
  });
});
