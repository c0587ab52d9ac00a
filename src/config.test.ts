import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const SECRET = 'x'.repeat(40);

describe('configuration', () => {
  it('needs nothing: SQLite under ./data on 127.0.0.1:8080', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ dataDir: resolve('data'), databaseUrl: null, host: '127.0.0.1', port: 8080, secret: null, verifyCacheMs: 1000, heapGrowthPercent: 50 });
    expect(c.prefixes).toEqual({ deploy: 'gldt-', personal: 'glpat-' });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reads secrets from *_FILE variants, trimming one trailing newline', () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-config-'));
    writeFileSync(join(dir, 'secret'), `${SECRET}\n`);
    writeFileSync(join(dir, 'db'), 'postgres://u@127.0.0.1:5432/x\n');
    const c = loadConfig({ LATCHKEY_SECRET_FILE: join(dir, 'secret'), DATABASE_URL_FILE: join(dir, 'db') });
    expect(c.secret).toBe(SECRET);
    expect(c.databaseUrl).toBe('postgres://u@127.0.0.1:5432/x');
  });

  it.each([
    [{ LATCHKEY_SECRET: SECRET, LATCHKEY_SECRET_FILE: '/x' }, /either LATCHKEY_SECRET or LATCHKEY_SECRET_FILE/],
    [{ LATCHKEY_SECRET_FILE: '/nonexistent/latchkey-secret' }, /cannot read/],
    [{ LATCHKEY_SECRET: 'short' }, /at least 32 characters/],
    [{ LATCHKEY_PORT: 'eighty' }, /LATCHKEY_PORT must be an integer/],
    [{ LATCHKEY_PORT: '70000' }, /LATCHKEY_PORT must be an integer/],
    [{ LATCHKEY_DEPLOY_TOKEN_PREFIX: 'NoDash' }, /LATCHKEY_DEPLOY_TOKEN_PREFIX/],
    [{ LATCHKEY_VERIFY_CACHE_MS: '-1' }, /LATCHKEY_VERIFY_CACHE_MS/],
    [{ LATCHKEY_HEAP_GROWTH_PERCENT: '-1' }, /LATCHKEY_HEAP_GROWTH_PERCENT must be an integer from 0 to 1000/],
  ])('refuses %j with a clear message', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('accepts PORT when LATCHKEY_PORT is absent, and custom prefixes', () => {
    expect(loadConfig({ PORT: '9000' }).port).toBe(9000);
    expect(loadConfig({ PORT: '9000', LATCHKEY_PORT: '9001' }).port).toBe(9001);
    expect(loadConfig({ LATCHKEY_DEPLOY_TOKEN_PREFIX: 'acmedt-' }).prefixes.deploy).toBe('acmedt-');
  });
});

describe('token expiry policy configuration', () => {
  it('requires expiry within 365 days by default', () => {
    const c = loadConfig({});
    expect(c.requireTokenExpiry).toBe(true);
    expect(c.maxTokenLifetimeDays).toBe(365);
  });
  it('reads LATCHKEY_REQUIRE_TOKEN_EXPIRY and LATCHKEY_MAX_TOKEN_LIFETIME_DAYS', () => {
    const c = loadConfig({ LATCHKEY_REQUIRE_TOKEN_EXPIRY: 'false', LATCHKEY_MAX_TOKEN_LIFETIME_DAYS: '30' });
    expect(c.requireTokenExpiry).toBe(false);
    expect(c.maxTokenLifetimeDays).toBe(30);
  });
  it('refuses bad values', () => {
    expect(() => loadConfig({ LATCHKEY_REQUIRE_TOKEN_EXPIRY: 'maybe' })).toThrow(/LATCHKEY_REQUIRE_TOKEN_EXPIRY must be true or false/);
    expect(() => loadConfig({ LATCHKEY_MAX_TOKEN_LIFETIME_DAYS: '0' })).toThrow(/LATCHKEY_MAX_TOKEN_LIFETIME_DAYS must be an integer/);
  });
});

describe('expiry notification configuration', () => {
  it('runs the expiry check at 01:00 UTC with mail disabled by default', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ smtpUrl: null, mailFrom: 'Latchkey <latchkey@localhost>', expiryCron: '0 1 * * *' });
  });
  it('reads LATCHKEY_SMTP_URL (or _FILE), LATCHKEY_MAIL_FROM and LATCHKEY_EXPIRY_CRON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-config-'));
    writeFileSync(join(dir, 'smtp'), 'smtp://u:p@127.0.0.1:2525\n');
    expect(loadConfig({ LATCHKEY_SMTP_URL_FILE: join(dir, 'smtp') }).smtpUrl).toBe('smtp://u:p@127.0.0.1:2525');
    const c = loadConfig({ LATCHKEY_SMTP_URL: 'smtp://127.0.0.1:2525', LATCHKEY_MAIL_FROM: 'tokens@example.com', LATCHKEY_EXPIRY_CRON: '30 6 * * 1-5' });
    expect(c).toMatchObject({ smtpUrl: 'smtp://127.0.0.1:2525', mailFrom: 'tokens@example.com', expiryCron: '30 6 * * 1-5' });
    expect(loadConfig({ LATCHKEY_EXPIRY_CRON: 'off' }).expiryCron).toBeNull();
  });
  it('refuses a bad cron expression and SMTP URL given twice', () => {
    expect(() => loadConfig({ LATCHKEY_EXPIRY_CRON: 'every day' })).toThrow(/LATCHKEY_EXPIRY_CRON must be a cron expression/);
    expect(() => loadConfig({ LATCHKEY_EXPIRY_CRON: '61 1 * * *' })).toThrow(ConfigError);
    expect(() => loadConfig({ LATCHKEY_SMTP_URL: 'smtp://a', LATCHKEY_SMTP_URL_FILE: '/x' })).toThrow(/either LATCHKEY_SMTP_URL or LATCHKEY_SMTP_URL_FILE/);
  });
});

describe('reuse flagging configuration', () => {
  it('flags more than 3 distinct user agents or IPs within 1 hour by default', () => {
    expect(loadConfig({}).reuse).toEqual({ maxUserAgents: 3, maxIps: 3, windowMs: 3_600_000 });
  });
  it('reads LATCHKEY_REUSE_MAX_USER_AGENTS, LATCHKEY_REUSE_MAX_IPS and LATCHKEY_REUSE_WINDOW (0 turns a check off)', () => {
    const c = loadConfig({ LATCHKEY_REUSE_MAX_USER_AGENTS: '0', LATCHKEY_REUSE_MAX_IPS: '10', LATCHKEY_REUSE_WINDOW: '1d' });
    expect(c.reuse).toEqual({ maxUserAgents: 0, maxIps: 10, windowMs: 86_400_000 });
    expect(loadConfig({ LATCHKEY_REUSE_WINDOW: '900' }).reuse.windowMs).toBe(900_000);
  });
  it('refuses bad values', () => {
    expect(() => loadConfig({ LATCHKEY_REUSE_MAX_IPS: '-1' })).toThrow(/LATCHKEY_REUSE_MAX_IPS must be an integer/);
    expect(() => loadConfig({ LATCHKEY_REUSE_MAX_USER_AGENTS: 'many' })).toThrow(/LATCHKEY_REUSE_MAX_USER_AGENTS must be an integer/);
    expect(() => loadConfig({ LATCHKEY_REUSE_WINDOW: 'an hour' })).toThrow(/LATCHKEY_REUSE_WINDOW must be a duration/);
    expect(() => loadConfig({ LATCHKEY_REUSE_WINDOW: '10s' })).toThrow(/LATCHKEY_REUSE_WINDOW must be a duration/);
  });
});

describe('audit log configuration', () => {
  it('queues up to 10000 entries and writes them every second by default', () => {
    expect(loadConfig({})).toMatchObject({ auditQueueMax: 10_000, auditFlushMs: 1000 });
  });
  it('reads LATCHKEY_AUDIT_WORKER: off by default, on/off (or true/false), refuses anything else', () => {
    expect(loadConfig({}).auditWorker).toBe(false);
    expect(loadConfig({ LATCHKEY_AUDIT_WORKER: 'off' }).auditWorker).toBe(false);
    expect(loadConfig({ LATCHKEY_AUDIT_WORKER: 'OFF' }).auditWorker).toBe(false);
    expect(loadConfig({ LATCHKEY_AUDIT_WORKER: 'false' }).auditWorker).toBe(false);
    expect(loadConfig({ LATCHKEY_AUDIT_WORKER: 'on' }).auditWorker).toBe(true);
    expect(() => loadConfig({ LATCHKEY_AUDIT_WORKER: 'sometimes' })).toThrow(/LATCHKEY_AUDIT_WORKER must be on or off, got "sometimes"/);
  });

  it('reads LATCHKEY_AUDIT_QUEUE_MAX and LATCHKEY_AUDIT_FLUSH_MS and refuses bad values', () => {
    expect(loadConfig({ LATCHKEY_AUDIT_QUEUE_MAX: '500', LATCHKEY_AUDIT_FLUSH_MS: '250' })).toMatchObject({ auditQueueMax: 500, auditFlushMs: 250 });
    expect(() => loadConfig({ LATCHKEY_AUDIT_QUEUE_MAX: '10' })).toThrow(/LATCHKEY_AUDIT_QUEUE_MAX must be an integer from 100/);
    expect(() => loadConfig({ LATCHKEY_AUDIT_FLUSH_MS: 'soon' })).toThrow(/LATCHKEY_AUDIT_FLUSH_MS must be an integer/);
  });
});

describe('generic package registry configuration', () => {
  it('stores packages under <data dir>/packages, at most 5 GiB per file, by default', () => {
    expect(loadConfig({ LATCHKEY_DATA_DIR: '/srv/lk' })).toMatchObject({ packagesDir: '/srv/lk/packages', packageMaxBytes: 5 * 1024 ** 3 });
  });
  it('reads LATCHKEY_PACKAGES_DIR and LATCHKEY_PACKAGE_MAX_BYTES, refusing bad sizes', () => {
    expect(loadConfig({ LATCHKEY_PACKAGES_DIR: '/mnt/pkgs', LATCHKEY_PACKAGE_MAX_BYTES: '1024' })).toMatchObject({ packagesDir: '/mnt/pkgs', packageMaxBytes: 1024 });
    expect(() => loadConfig({ LATCHKEY_PACKAGE_MAX_BYTES: '0' })).toThrow(/LATCHKEY_PACKAGE_MAX_BYTES must be an integer/);
    expect(() => loadConfig({ LATCHKEY_PACKAGE_MAX_BYTES: '1.5' })).toThrow(ConfigError);
  });
});

describe('registry token service configuration', () => {
  it('defaults to GitLab\'s service name, issuer "latchkey" and 5-minute tokens', () => {
    expect(loadConfig({}).registry).toEqual({ service: 'container_registry', issuer: 'latchkey', tokenLifetimeSeconds: 300 });
  });
  it('reads LATCHKEY_REGISTRY_SERVICE, LATCHKEY_REGISTRY_ISSUER and LATCHKEY_REGISTRY_TOKEN_LIFETIME', () => {
    const c = loadConfig({ LATCHKEY_REGISTRY_SERVICE: 'registry.example.com', LATCHKEY_REGISTRY_ISSUER: 'latchkey-issuer', LATCHKEY_REGISTRY_TOKEN_LIFETIME: '900' });
    expect(c.registry).toEqual({ service: 'registry.example.com', issuer: 'latchkey-issuer', tokenLifetimeSeconds: 900 });
  });
  it('refuses names with blanks or quotes and lifetimes under the 60 s clients assume', () => {
    expect(() => loadConfig({ LATCHKEY_REGISTRY_SERVICE: 'my registry' })).toThrow(/LATCHKEY_REGISTRY_SERVICE must be/);
    expect(() => loadConfig({ LATCHKEY_REGISTRY_ISSUER: 'a"b' })).toThrow(/LATCHKEY_REGISTRY_ISSUER must be/);
    expect(() => loadConfig({ LATCHKEY_REGISTRY_TOKEN_LIFETIME: '30' })).toThrow(/LATCHKEY_REGISTRY_TOKEN_LIFETIME must be an integer from 60 to 86400/);
  });
});

describe('rate limit configuration', () => {
  it('limits 600 requests per minute per token and per IP, in-process, by default', () => {
    expect(loadConfig({}).rateLimit).toEqual({ authenticatedPerMinute: 600, unauthenticatedPerMinute: 600, redisUrl: null, redisKeyPrefix: 'latchkey:ratelimit:' });
  });
  it('reads the limits (0 = off), REDIS_URL (or _FILE) and the key prefix', () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-config-'));
    writeFileSync(join(dir, 'redis'), 'redis://:pw@127.0.0.1:6379/2\n');
    const c = loadConfig({ LATCHKEY_RATE_LIMIT_PER_MINUTE: '0', LATCHKEY_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: '30', REDIS_URL_FILE: join(dir, 'redis'), LATCHKEY_REDIS_KEY_PREFIX: 'lk:' });
    expect(c.rateLimit).toEqual({ authenticatedPerMinute: 0, unauthenticatedPerMinute: 30, redisUrl: 'redis://:pw@127.0.0.1:6379/2', redisKeyPrefix: 'lk:' });
  });
  it('refuses bad limits and a REDIS_URL that is not redis:// without echoing it', () => {
    expect(() => loadConfig({ LATCHKEY_RATE_LIMIT_PER_MINUTE: '-1' })).toThrow(/LATCHKEY_RATE_LIMIT_PER_MINUTE must be an integer/);
    expect(() => loadConfig({ LATCHKEY_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: 'lots' })).toThrow(/LATCHKEY_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE/);
    expect(() => loadConfig({ REDIS_URL: 'http://user:hunter2@cache' })).toThrow(/^REDIS_URL must start with redis:\/\/ or rediss:\/\/$/);
  });
});
