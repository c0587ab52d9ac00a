import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const SECRET = 'x'.repeat(40);

describe('configuration', () => {
  it('needs nothing: SQLite under ./data on 127.0.0.1:8080', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ dataDir: resolve('data'), databaseUrl: null, host: '127.0.0.1', port: 8080, secret: null, verifyCacheMs: 1000 });
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
