/**
 * Re-keying the server secret without downtime, on both stores. Node 1 runs under OLD and issues a
 * token, a webhook, a gitlab-deploy-token, a CI/CD variable and the registry signing key. Node 2 runs
 * under NEW with OLD in LATCHKEY_SECRET_PREVIOUS: everything keeps working, new digests use NEW, a used
 * token moves to NEW, and `secret reseal` moves every sealed value to NEW. Node 3 runs under NEW alone.
 */
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../../src/app.js';
import { loadConfig } from '../../../src/config.js';
import { FakeClock } from '../../../src/kernel/clock.js';
import { createSecretBox } from '../../../src/kernel/secret-box.js';
import { CI_DEPLOY_TOKEN_PURPOSE } from '../../../src/protocols/protocol-services.js';
import { REGISTRY_KEY_PURPOSE } from '../../../src/protocols/registry/index.js';
import { openStore, type DatabaseLocation, type Store } from '../../../src/store/open-store.js';
import { createTokenDigester } from '../../../src/tokens/token-digest.js';
import { WEBHOOK_SECRET_PURPOSE } from '../../../src/webhooks/secret-box.js';
import { createTestDatabase, DIALECTS, type DialectName } from '../../support/dialects.js';
import { seededTokenGenerator } from '../../support/seeded-token-generator.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const OLD = 'old-secret-0123456789abcdef0123456789abcdef';
const NEW = 'new-secret-fedcba9876543210fedcba9876543210';
const CI_VARIABLE_PURPOSE = 'ci-variable-value v1';

describe.each(DIALECTS)('re-keying the server secret on %s', (dialect: DialectName) => {
  let location: DatabaseLocation;
  let cleanup: () => Promise<void>;
  const open: { app: App; store: Store }[] = [];
  // What node 1 made under OLD.
  let usedToken: string;
  let idleToken: string;
  let deployTokenSecret: string;
  let webhookSecret: string;
  let kid: string;
  let projectId: number;

  async function node(env: Record<string, string>): Promise<App> {
    const store = await openStore(location);
    const app = await buildApp(loadConfig({ LATCHKEY_LOG_LEVEL: 'silent', LATCHKEY_DATA_DIR: '/nonexistent-latchkey-test', ...env }), {
      store, clock: new FakeClock('2026-11-23T10:00:00.000Z'), random: seededTokenGenerator(`${dialect}-${Math.random()}`),
    });
    await app.http.ready();
    open.push({ app, store });
    return app;
  }
  const user = (app: App, token: string) => app.http.inject({ method: 'GET', url: '/api/v4/user', headers: { 'private-token': token } });
  const digestOf = async (app: App, name: string) => (await app.store.db.selectFrom('tokens').select('digest').where('name', '=', name).executeTakeFirstOrThrow()).digest;
  const sealed = async (app: App) => ({
    webhook: (await app.store.db.selectFrom('webhooks').select('secret_encrypted').executeTakeFirstOrThrow()).secret_encrypted,
    deploy: (await app.store.db.selectFrom('deploy_token_secrets').select('secret_encrypted').executeTakeFirstOrThrow()).secret_encrypted,
    variable: (await (app.store.db as unknown as Kysely<any>).selectFrom('ci_variables').select('value_encrypted').executeTakeFirstOrThrow()).value_encrypted as string,
    registry: (await app.store.db.selectFrom('registry_signing_keys').select('private_key_encrypted').executeTakeFirstOrThrow()).private_key_encrypted,
  });

  beforeAll(async () => {
    if (dialect === 'postgres') {
      const db = await createTestDatabase('postgres');
      location = db.location;
      cleanup = db.drop;
    } else {
      const dir = mkdtempSync(join(tmpdir(), 'latchkey-rekey-'));
      location = { kind: 'sqlite', file: join(dir, 'latchkey.sqlite') };
      cleanup = async () => rmSync(dir, { recursive: true, force: true });
    }
    const one = await node({ LATCHKEY_SECRET: OLD });
    const { namespaces, personalTokens, deployTokens } = one.services;
    const { admin } = await namespaces.ensureFirstAdmin('root', 'root@example.com');
    const group = await namespaces.createGroup(admin, { name: 'Acme', path: 'acme' });
    const project = await namespaces.createProject(admin, { name: 'Web', path: 'web', namespaceId: group.id });
    projectId = project.id;
    usedToken = (await personalTokens.createFor(admin, { name: 'used', scopes: ['api'], expiresAt: '2027-06-01' }, null)).secret;
    idleToken = (await personalTokens.createFor(admin, { name: 'idle', scopes: ['api'], expiresAt: '2027-06-01' }, null)).secret;
    deployTokenSecret = (await deployTokens.create(admin, { type: 'project', project }, { name: 'gitlab-deploy-token', scopes: ['read_registry'] })).secret;
    const hook = await one.http.inject({ method: 'POST', url: '/api/v4/latchkey/webhooks', headers: { 'private-token': usedToken }, payload: { url: 'http://127.0.0.1:9/hook', events: ['token.revoked'] } });
    expect(hook.statusCode).toBe(201);
    webhookSecret = hook.json().secret;
    const variable = await one.http.inject({ method: 'POST', url: `/api/v4/projects/${project.id}/variables`, headers: { 'private-token': usedToken }, payload: { key: 'DEPLOY_KEY', value: 'the value' } });
    expect(variable.statusCode).toBe(201);
    kid = (await one.services.registry.keys.current()).kid;
    expect(await digestOf(one, 'used')).toBe(createTokenDigester(OLD).digest(usedToken));
  }, 60_000);

  afterAll(async () => {
    for (const { app, store } of open) {
      await app.close();
      await store.close();
    }
    await cleanup?.();
  });

  it('under a new secret with the old one as previous, everything made before keeps working, and new digests use the new secret', async () => {
    const two = await node({ LATCHKEY_SECRET: NEW, LATCHKEY_SECRET_PREVIOUS: OLD });
    // A token issued under OLD authenticates, and is moved to NEW on that first use.
    expect((await user(two, usedToken)).statusCode).toBe(200);
    expect(await digestOf(two, 'used')).toBe(createTokenDigester(NEW).digest(usedToken));
    expect((await user(two, usedToken)).statusCode).toBe(200);
    // A token issued now is digested under NEW.
    const fresh = await two.http.inject({ method: 'POST', url: '/api/v4/users/1/personal_access_tokens', headers: { 'private-token': usedToken }, payload: { name: 'fresh', scopes: ['api'], expires_at: '2027-01-01' } });
    expect(fresh.statusCode).toBe(201);
    expect(await digestOf(two, 'fresh')).toBe(createTokenDigester(NEW).digest(fresh.json().token));
    // Sealed values still open: the CI variable through the API, the registry key (same kid), the rest by reseal below.
    const variable = await two.http.inject({ method: 'GET', url: `/api/v4/projects/${projectId}/variables/DEPLOY_KEY`, headers: { 'private-token': usedToken } });
    expect(variable.statusCode, variable.body).toBe(200);
    expect(variable.json().value).toBe('the value');
    expect((await two.services.registry.keys.current()).kid).toBe(kid);

    // Before the reseal every value is still sealed under OLD only.
    const before = await sealed(two);
    expect(() => createSecretBox(NEW, CI_VARIABLE_PURPOSE).open(before.variable)).toThrow();
    const report = await two.services.secretResealer.resealAll();
    expect(report).toMatchObject({
      webhook_secrets: { resealed: 1, current: 0, unreadable: 0 },
      deploy_token_secrets: { resealed: 1, current: 0, unreadable: 0 },
      ci_variables: { resealed: 1, current: 0, unreadable: 0 },
      registry_keys: { resealed: 1, current: 0, unreadable: 0 },
    });
    // Now each opens under NEW alone, to the same plain value.
    const after = await sealed(two);
    expect(createSecretBox(NEW, WEBHOOK_SECRET_PURPOSE).open(after.webhook)).toBe(webhookSecret);
    expect(createSecretBox(NEW, CI_DEPLOY_TOKEN_PURPOSE).open(after.deploy)).toBe(deployTokenSecret);
    expect(createSecretBox(NEW, CI_VARIABLE_PURPOSE).open(after.variable)).toBe('the value');
    expect(createSecretBox(NEW, REGISTRY_KEY_PURPOSE).open(after.registry)).toBe(createSecretBox(OLD, REGISTRY_KEY_PURPOSE).open(before.registry));
    // A second run has nothing left to do.
    expect(await two.services.secretResealer.resealAll()).toMatchObject({ ci_variables: { resealed: 0, current: 1 }, registry_keys: { resealed: 0, current: 1 } });
  });

  it('once OLD is dropped: resealed values and used tokens work; a token never used since the re-key does not', async () => {
    const three = await node({ LATCHKEY_SECRET: NEW });
    expect((await user(three, usedToken)).statusCode).toBe(200);
    expect((await three.services.registry.keys.current()).kid).toBe(kid);
    const variable = await three.http.inject({ method: 'GET', url: `/api/v4/projects/${projectId}/variables/DEPLOY_KEY`, headers: { 'private-token': usedToken } });
    expect(variable.json().value).toBe('the value');
    expect(await three.services.secretResealer.resealAll()).toMatchObject({ webhook_secrets: { current: 1, unreadable: 0 }, deploy_token_secrets: { current: 1, unreadable: 0 } });
    // Its digest is still under OLD (a digest cannot be re-keyed without the token): keep OLD until such tokens expire.
    expect((await user(three, idleToken)).statusCode).toBe(401);
  });

  it('refuses a previous secret shorter than 32 characters', () => {
    expect(() => loadConfig({ LATCHKEY_SECRET: NEW, LATCHKEY_SECRET_PREVIOUS: `${OLD} short` })).toThrow(/LATCHKEY_SECRET_PREVIOUS: secret 2 must be at least 32 characters/);
  });
});
