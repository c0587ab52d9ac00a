/**
 * The scope matrix: each personal-token scope against each kind of API request (read the current
 * user, read another resource, write, self-rotate), with each credential carrier; deploy tokens are
 * refused on the general API whatever their scopes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';
import { PERSONAL_TOKEN_SCOPES } from '../../../src/tokens/scopes.js';

type Kind = 'read_user' | 'read_other' | 'write' | 'self_rotate';
const ALLOWED: Record<string, Kind[]> = {
  api: ['read_user', 'read_other', 'write', 'self_rotate'],
  read_api: ['read_user', 'read_other'],
  read_user: ['read_user'],
  self_rotate: ['self_rotate'],
};

describe.each(DIALECTS)('API scope matrix on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
  });
  afterAll(() => t?.close());

  const tokenWith = async (scope: string) =>
    (await t.app.services.personalTokens.createFor(w.users.maintainer.user, { name: `m-${scope}`, scopes: [scope], expiresAt: '2027-01-01' }, null)).secret;

  const requestOf = (kind: Kind): [string, string, unknown?] => {
    switch (kind) {
      case 'read_user':
        return ['GET', '/api/v4/user'];
      case 'read_other':
        return ['GET', `/api/v4/projects/${w.project.id}`];
      case 'write':
        return ['POST', `/api/v4/projects/${w.project.id}/deploy_tokens`, { name: 'm', scopes: ['read_registry'] }];
      case 'self_rotate':
        return ['POST', '/api/v4/personal_access_tokens/self/rotate', {}];
    }
  };

  for (const scope of PERSONAL_TOKEN_SCOPES) {
    for (const kind of ['read_user', 'read_other', 'write', 'self_rotate'] as Kind[]) {
      const allowed = (ALLOWED[scope] ?? []).includes(kind);
      it(`${scope} × ${kind}: ${allowed ? 'allowed' : '403 insufficient_scope'}`, async () => {
        const secret = await tokenWith(scope);
        const [method, url, body] = requestOf(kind);
        const res = await t.request(method, url, { token: secret, body });
        if (allowed) expect(res.status).toBeLessThan(300);
        else {
          expect(res.status).toBe(403);
          expect(res.body.error).toBe('insufficient_scope');
        }
      });
    }
  }

  it.each(['private-token', 'bearer', 'query'])('every carrier works for a personal token: %s', async (carrier) => {
    const secret = await tokenWith('read_api');
    const res =
      carrier === 'private-token'
        ? await t.request('GET', '/api/v4/user', { token: secret })
        : carrier === 'bearer'
          ? await t.request('GET', '/api/v4/user', { headers: { authorization: `Bearer ${secret}` } })
          : await t.request('GET', `/api/v4/user?private_token=${secret}`);
    expect(res.status).toBe(200);
  });

  it('deploy tokens are refused on the general API (401), whatever their scopes', async () => {
    const dt = await t.request('POST', `/api/v4/projects/${w.project.id}/deploy_tokens`, { token: w.adminToken, body: { name: 'all', scopes: ['read_repository', 'read_registry', 'write_registry', 'read_package_registry', 'write_package_registry'] } });
    for (const [method, url] of [['GET', '/api/v4/user'], ['GET', '/api/v4/personal_access_tokens/self'], ['POST', '/api/v4/personal_access_tokens/self/rotate']]) {
      expect((await t.request(method!, url!, { token: dt.body.token, body: method === 'POST' ? {} : undefined })).status).toBe(401);
    }
  });
});
