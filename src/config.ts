/**
 * Configuration: environment variables parsed and validated once, then frozen. No other file reads
 * process.env. Every secret may also be given as `<NAME>_FILE` (Docker/Kubernetes secrets).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Cron } from 'croner';
import { parseDurationSeconds } from './kernel/duration.js';
import { DEFAULT_HEAP_GROWTH_PERCENT } from './kernel/heap-growth.js';
import { parseUpstreamInput } from './upstreams/upstream.js';

export interface Config {
  /** Directory for the SQLite file and the generated server secret. `LATCHKEY_DATA_DIR`, default `./data`. */
  readonly dataDir: string;
  /** `DATABASE_URL`: `postgres://…` selects PostgreSQL; empty means SQLite in `dataDir`; `sqlite::memory:` or `sqlite:<file>` for an explicit file. */
  readonly databaseUrl: string | null;
  /** `LATCHKEY_HOST`, default 127.0.0.1. */
  readonly host: string;
  /** `LATCHKEY_PORT` (or `PORT`), default 8080. */
  readonly port: number;
  /** `LATCHKEY_SECRET` / `LATCHKEY_SECRET_FILE`: HMAC key for token digests; generated into the data dir when absent. */
  readonly secret: string | null;
  /**
   * `LATCHKEY_SECRET_PREVIOUS` / `_FILE`: earlier server secrets, newest first, separated by blanks or
   * newlines. Tokens, sealed values and the registry key made under them keep working (key ring).
   */
  readonly previousSecrets: readonly string[];
  /** `LATCHKEY_PUBLIC_URL`: base URL used in `web_url` fields; default derived from each request's Host. */
  readonly publicUrl: string | null;
  /** Token prefixes by kind; `LATCHKEY_DEPLOY_TOKEN_PREFIX`, `LATCHKEY_PERSONAL_TOKEN_PREFIX`. */
  readonly prefixes: { readonly deploy: string; readonly personal: string };
  /** `LATCHKEY_VERIFY_CACHE_MS`: how long a verified token stays in the in-process cache (default 1000). */
  readonly verifyCacheMs: number;
  /** `LATCHKEY_VERIFY_CACHE_BYTES`: the verify cache's bound in (estimated heap) bytes (default 32 MiB). */
  readonly verifyCacheBytes: number;
  /** `LATCHKEY_HEAP_GROWTH_PERCENT`: `serve`'s cap on V8's old-generation growth between full collections, in % of live (default 50; 0 = V8's own). */
  readonly heapGrowthPercent: number;
  /** `LATCHKEY_LOG_LEVEL`: pino level, default `info`; `silent` turns logs off. */
  readonly logLevel: string;
  /** `LATCHKEY_BODY_LIMIT`: maximum request body in bytes (default 1 MiB). */
  readonly bodyLimit: number;
  /** `LATCHKEY_METRICS_TOKEN` (`_FILE`): when set, `/metrics` requires `Authorization: Bearer <it>`; null = open. */
  readonly metricsToken: string | null;
  /** `LATCHKEY_METRICS_TOKEN_SERIES`: most `latchkey_token_expiry_days` series per token kind (default 100). */
  readonly metricsTokenSeries: number;
  /** `LATCHKEY_REQUIRE_TOKEN_EXPIRY` (default true): personal and resource tokens must have an expiry date. */
  readonly requireTokenExpiry: boolean;
  /** `LATCHKEY_MAX_TOKEN_LIFETIME_DAYS` (default 365): the longest a personal or resource token may live. */
  readonly maxTokenLifetimeDays: number;
  /** `LATCHKEY_OAUTH_REFRESH_TOKEN_LIFETIME_DAYS` (unset: never, GitLab's default): an OAuth grant's refresh stops working this many days after it was issued. */
  readonly oauthRefreshTokenLifetimeDays: number | null;
  /** `LATCHKEY_WEBHOOK_TIMEOUT_MS` (default 10000): how long a webhook receiver has to answer one delivery. */
  readonly webhookTimeoutMs: number;
  /**
   * `LATCHKEY_WEBHOOK_ALLOW_LOCAL_NETWORK` (default false): group webhooks may target loopback, private
   * and link-local addresses. Instance hooks (admins) always may.
   */
  readonly webhookAllowLocalNetwork: boolean;
  /** `LATCHKEY_WEBHOOK_RETENTION_DAYS` (default 30): finished webhook deliveries and their attempts are kept this long. */
  readonly webhookRetentionDays: number;
  /** `LATCHKEY_WEBHOOK_INTERVAL_MS` (default 5000): how often `serve` sends due webhook deliveries. */
  readonly webhookIntervalMs: number;
  /** `LATCHKEY_SMTP_URL` (`_FILE`): `smtp://host:port` (or `smtps://user:pass@host`); null = mail disabled. */
  readonly smtpUrl: string | null;
  /** `LATCHKEY_MAIL_FROM`: sender of notification e-mails, default `Latchkey <latchkey@localhost>`. */
  readonly mailFrom: string;
  /** `LATCHKEY_EXPIRY_CRON`: when `serve` runs the expiry check (UTC), default `0 1 * * *`; null (`off`) = never. */
  readonly expiryCron: string | null;
  /**
   * Reuse flagging: a token seen from more than `maxUserAgents` distinct user agents
   * (`LATCHKEY_REUSE_MAX_USER_AGENTS`, default 3) or `maxIps` distinct client IPs
   * (`LATCHKEY_REUSE_MAX_IPS`, default 3) within `windowMs` (`LATCHKEY_REUSE_WINDOW`: seconds or 30m,
   * 1h, 1d; default 1h) is flagged. A limit of 0 turns that check off.
   */
  readonly reuse: { readonly maxUserAgents: number; readonly maxIps: number; readonly windowMs: number };
  /** `LATCHKEY_AUDIT_QUEUE_MAX` (default 10000): audit entries held in memory before writers wait for a flush. */
  readonly auditQueueMax: number;
  /** `LATCHKEY_AUDIT_FLUSH_MS` (default 1000): how often queued audit entries are written. */
  readonly auditFlushMs: number;
  /** `LATCHKEY_AUDIT_REQUIRED` (default false): refuse requests (503) while audit entries cannot be written. */
  readonly auditRequired: boolean;
  /** `LATCHKEY_AUDIT_WORKER` (default off: measured, it costs ~150 MB of RSS and gains no throughput on 2 cores): write audit batches in a worker thread (never for `sqlite::memory:`). */
  readonly auditWorker: boolean;
  /** `LATCHKEY_FAST_LANE` (default on): cached successes of the hot paths answered in front of Fastify (http/fast-lane.ts). */
  readonly fastLane: boolean;
  /** `LATCHKEY_PACKAGES_DIR`: where generic package files are stored, default `<dataDir>/packages`. */
  readonly packagesDir: string;
  /** `LATCHKEY_PACKAGE_MAX_BYTES`: the largest generic package file accepted (default 5 GiB, GitLab's default). */
  readonly packageMaxBytes: number;
  /** Docker registry token service: `LATCHKEY_REGISTRY_SERVICE` (JWT audience, default `container_registry`), `LATCHKEY_REGISTRY_ISSUER` (default `latchkey`), `LATCHKEY_REGISTRY_TOKEN_LIFETIME` seconds (default 300). */
  readonly registry: { readonly service: string; readonly issuer: string; readonly tokenLifetimeSeconds: number };
  /** Rate limits per minute and where their counters live (README "Rate limits"). */
  readonly rateLimit: RateLimitConfig;
  /**
   * Web UI sessions: a session unused for `idleTimeoutMs` (`LATCHKEY_SESSION_IDLE_TIMEOUT`, default 1h)
   * or older than `absoluteTimeoutMs` (`LATCHKEY_SESSION_MAX_LIFETIME`, default 12h) ends.
   */
  readonly session: { readonly idleTimeoutMs: number; readonly absoluteTimeoutMs: number };
  /** Upstream GitLab instances whose token metadata is synced into the inventory (README "Upstreams"). */
  readonly upstreams: UpstreamsConfig;
  /** Rotation jobs (README "Rotation"). */
  readonly rotation: RotationConfig;
}

export interface RotationConfig {
  /** `LATCHKEY_ROTATION_LEASE` (seconds or 30s/5m/1h, default 60): a stopped node's job is resumed by another after it. */
  readonly leaseMs: number;
  /**
   * `LATCHKEY_FAULT_POINT=rotation:<step>` — a test hook: the process kills itself (SIGKILL) right after
   * that step of a rotation job is persisted. Unset (always, outside tests): nothing happens.
   */
  readonly faultPoint: string | null;
}

/** The steps a fault point may name (`start`: right after the job was stored). */
const FAULT_POINT = /^rotation:(start|renew|write|verify|tasks|retire|finish)$/;

export interface UpstreamsConfig {
  /** `LATCHKEY_UPSTREAMS` (`_FILE`): a JSON list of `{"name", "url", "token", "owner"}`, applied at start. */
  readonly configured: readonly { readonly name: string; readonly url: string; readonly token: string; readonly owner: string }[];
  /** `LATCHKEY_UPSTREAM_SYNC_CRON` (UTC, default hourly `0 * * * *`); null (`off`) = only on demand. */
  readonly syncCron: string | null;
  /** `LATCHKEY_UPSTREAM_TIMEOUT_MS` (default 30000): how long one request to an upstream may take. */
  readonly timeoutMs: number;
  /** `LATCHKEY_UPSTREAM_MAX_RETRY_WAIT` (seconds or 5m; default 5m): the longest 429 Retry-After a sync waits for. */
  readonly maxRetryWaitMs: number;
}

export interface RateLimitConfig {
  /** `LATCHKEY_RATE_LIMIT_PER_MINUTE` (default 600): requests per token and minute; 0 = no limit. */
  readonly authenticatedPerMinute: number;
  /** `LATCHKEY_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE` (default 600): requests without a valid token, per client IP; 0 = no limit. */
  readonly unauthenticatedPerMinute: number;
  /** `REDIS_URL` (`_FILE`): `redis://…` shares the counters between nodes; null = in-process counters. */
  readonly redisUrl: string | null;
  /** `LATCHKEY_REDIS_KEY_PREFIX` (default `latchkey:ratelimit:`): prefix of every Redis key. */
  readonly redisKeyPrefix: string;
}

type Env = Record<string, string | undefined>;

export class ConfigError extends Error {}

/** Reads `NAME`, or the contents of the file named by `NAME_FILE` (trailing newline trimmed). */
export function readSecretVariable(env: Env, name: string): string | null {
  const file = env[`${name}_FILE`];
  const direct = env[name];
  if (file && direct) throw new ConfigError(`set either ${name} or ${name}_FILE, not both`);
  if (file) {
    try {
      return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (e) {
      throw new ConfigError(`${name}_FILE: cannot read ${file}: ${(e as Error).message}`);
    }
  }
  return direct && direct.length > 0 ? direct : null;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  return n;
}

function faultPoint(env: Env): string | null {
  const raw = env.LATCHKEY_FAULT_POINT;
  if (raw === undefined || raw === '') return null;
  if (!FAULT_POINT.test(raw)) throw new ConfigError(`LATCHKEY_FAULT_POINT must be rotation:<start|renew|write|verify|tasks|retire|finish>, got ${JSON.stringify(raw)}`);
  return raw;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (/^(true|1|yes)$/i.test(raw)) return true;
  if (/^(false|0|no)$/i.test(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got ${JSON.stringify(raw)}`);
}

/** A switch: `on` / `off`, or what `boolean` takes. */
function onOff(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw !== undefined && /^(on|off)$/i.test(raw)) return raw.toLowerCase() === 'on';
  try {
    return boolean(env, name, fallback);
  } catch {
    throw new ConfigError(`${name} must be on or off, got ${JSON.stringify(raw)}`);
  }
}

const PREFIX_RE = /^[a-z][a-z0-9]{0,15}-$/;
function prefix(env: Env, name: string, fallback: string): string {
  const value = env[name] ?? fallback;
  if (!PREFIX_RE.test(value)) throw new ConfigError(`${name} must look like "abc-" (lower-case letters/digits ending in "-"), got ${JSON.stringify(value)}`);
  return value;
}

function redisUrl(env: Env): string | null {
  const url = readSecretVariable(env, 'REDIS_URL');
  // Never echo the value: it may carry a password.
  if (url !== null && !/^rediss?:\/\/./.test(url)) throw new ConfigError('REDIS_URL must start with redis:// or rediss://');
  return url;
}

function duration(env: Env, name: string, fallbackSeconds: number, minSeconds: number, maxSeconds: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallbackSeconds;
  const seconds = parseDurationSeconds(raw);
  if (seconds === null || seconds < minSeconds || seconds > maxSeconds) {
    throw new ConfigError(`${name} must be a duration from ${minSeconds}s to ${maxSeconds / 86_400}d (seconds, or a number with s, m, h or d such as 1h), got ${JSON.stringify(raw)}`);
  }
  return seconds;
}

/** LATCHKEY_UPSTREAMS(_FILE): every entry checked as an API registration would be. */
function upstreamList(env: Env): UpstreamsConfig['configured'] {
  const raw = readSecretVariable(env, 'LATCHKEY_UPSTREAMS');
  if (raw === null || raw.trim() === '') return [];
  let list: unknown;
  try {
    list = JSON.parse(raw);
  } catch {
    // Not the parser's message: it quotes the input, and the input holds tokens.
    throw new ConfigError('LATCHKEY_UPSTREAMS must be a JSON list of {"name", "url", "token", "owner"} (it is not valid JSON)');
  }
  if (!Array.isArray(list)) throw new ConfigError('LATCHKEY_UPSTREAMS must be a JSON list of {"name", "url", "token", "owner"}');
  const names = new Set<string>();
  return list.map((item, i) => {
    try {
      const u = parseUpstreamInput(item, { partial: false });
      if (names.has(u.name!)) throw new ConfigError(`LATCHKEY_UPSTREAMS[${i}]: name ${u.name} appears twice`);
      names.add(u.name!);
      return Object.freeze({ name: u.name!, url: u.url!, token: u.token!, owner: u.owner! });
    } catch (e) {
      if (e instanceof ConfigError) throw e;
      const fields = (e as { fields?: Record<string, string[]> }).fields;
      throw new ConfigError(`LATCHKEY_UPSTREAMS[${i}]: ${fields ? Object.entries(fields).map(([k, v]) => `${k} ${v.join(', ')}`).join('; ') : (e as Error).message}`);
    }
  });
}

function cronPattern(env: Env, name: string, fallback: string): string | null {
  const raw = (env[name] ?? '').trim() || fallback;
  if (/^(off|false|disabled)$/i.test(raw)) return null;
  try {
    new Cron(raw, { paused: true, timezone: 'UTC' }).stop();
  } catch (e) {
    throw new ConfigError(`${name} must be a cron expression such as "0 1 * * *" (or "off"), got ${JSON.stringify(raw)}: ${(e as Error).message}`);
  }
  return raw;
}

/** A registry name (service, issuer): printable ASCII without blanks or quotes, as it goes into headers and config files. */
function registryName(env: Env, variable: string, fallback: string): string {
  const value = env[variable] || fallback;
  if (!/^[\x21-\x7e]{1,200}$/.test(value) || /["\\]/.test(value)) throw new ConfigError(`${variable} must be 1-200 printable characters without blanks, quotes or backslashes, got ${JSON.stringify(value)}`);
  return value;
}

export function loadConfig(env: Env = process.env): Config {
  const secret = readSecretVariable(env, 'LATCHKEY_SECRET');
  if (secret !== null && secret.length < 32) throw new ConfigError('LATCHKEY_SECRET must be at least 32 characters');
  const previousSecrets = (readSecretVariable(env, 'LATCHKEY_SECRET_PREVIOUS') ?? '').split(/\s+/).filter((p) => p.length > 0);
  for (const [i, p] of previousSecrets.entries()) {
    if (p.length < 32) throw new ConfigError(`LATCHKEY_SECRET_PREVIOUS: secret ${i + 1} must be at least 32 characters`);
  }
  const databaseUrl = readSecretVariable(env, 'DATABASE_URL');
  const dataDir = resolve(env.LATCHKEY_DATA_DIR || 'data');
  return Object.freeze({
    dataDir,
    databaseUrl,
    host: env.LATCHKEY_HOST || '127.0.0.1',
    port: integer(env, env.LATCHKEY_PORT ? 'LATCHKEY_PORT' : 'PORT', 8080, 0, 65535),
    secret,
    previousSecrets: Object.freeze(previousSecrets),
    publicUrl: env.LATCHKEY_PUBLIC_URL ? env.LATCHKEY_PUBLIC_URL.replace(/\/+$/, '') : null,
    prefixes: Object.freeze({
      deploy: prefix(env, 'LATCHKEY_DEPLOY_TOKEN_PREFIX', 'gldt-'),
      personal: prefix(env, 'LATCHKEY_PERSONAL_TOKEN_PREFIX', 'glpat-'),
    }),
    verifyCacheMs: integer(env, 'LATCHKEY_VERIFY_CACHE_MS', 1000, 0, 60_000),
    verifyCacheBytes: integer(env, 'LATCHKEY_VERIFY_CACHE_BYTES', 32 * 1024 * 1024, 0, 1024 * 1024 * 1024),
    heapGrowthPercent: integer(env, 'LATCHKEY_HEAP_GROWTH_PERCENT', DEFAULT_HEAP_GROWTH_PERCENT, 0, 1000),
    logLevel: env.LATCHKEY_LOG_LEVEL || 'info',
    bodyLimit: integer(env, 'LATCHKEY_BODY_LIMIT', 1024 * 1024, 1024, 100 * 1024 * 1024),
    metricsToken: readSecretVariable(env, 'LATCHKEY_METRICS_TOKEN'),
    metricsTokenSeries: integer(env, 'LATCHKEY_METRICS_TOKEN_SERIES', 100, 0, 100_000),
    requireTokenExpiry: boolean(env, 'LATCHKEY_REQUIRE_TOKEN_EXPIRY', true),
    maxTokenLifetimeDays: integer(env, 'LATCHKEY_MAX_TOKEN_LIFETIME_DAYS', 365, 1, 36_500),
    oauthRefreshTokenLifetimeDays: env.LATCHKEY_OAUTH_REFRESH_TOKEN_LIFETIME_DAYS ? integer(env, 'LATCHKEY_OAUTH_REFRESH_TOKEN_LIFETIME_DAYS', 0, 1, 36_500) : null,
    webhookTimeoutMs: integer(env, 'LATCHKEY_WEBHOOK_TIMEOUT_MS', 10_000, 100, 120_000),
    webhookIntervalMs: integer(env, 'LATCHKEY_WEBHOOK_INTERVAL_MS', 5000, 100, 3_600_000),
    webhookAllowLocalNetwork: boolean(env, 'LATCHKEY_WEBHOOK_ALLOW_LOCAL_NETWORK', false),
    webhookRetentionDays: integer(env, 'LATCHKEY_WEBHOOK_RETENTION_DAYS', 30, 1, 3650),
    smtpUrl: readSecretVariable(env, 'LATCHKEY_SMTP_URL'),
    mailFrom: env.LATCHKEY_MAIL_FROM || 'Latchkey <latchkey@localhost>',
    expiryCron: cronPattern(env, 'LATCHKEY_EXPIRY_CRON', '0 1 * * *'),
    registry: Object.freeze({
      service: registryName(env, 'LATCHKEY_REGISTRY_SERVICE', 'container_registry'),
      issuer: registryName(env, 'LATCHKEY_REGISTRY_ISSUER', 'latchkey'),
      // Clients treat less than 60 s as 60 (token spec); GitLab's default is 5 minutes.
      tokenLifetimeSeconds: integer(env, 'LATCHKEY_REGISTRY_TOKEN_LIFETIME', 300, 60, 86_400),
    }),
    rateLimit: Object.freeze({
      authenticatedPerMinute: integer(env, 'LATCHKEY_RATE_LIMIT_PER_MINUTE', 600, 0, 1_000_000_000),
      unauthenticatedPerMinute: integer(env, 'LATCHKEY_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE', 600, 0, 1_000_000_000),
      redisUrl: redisUrl(env),
      redisKeyPrefix: env.LATCHKEY_REDIS_KEY_PREFIX || 'latchkey:ratelimit:',
    }),
    packagesDir: env.LATCHKEY_PACKAGES_DIR ? resolve(env.LATCHKEY_PACKAGES_DIR) : resolve(dataDir, 'packages'),
    packageMaxBytes: integer(env, 'LATCHKEY_PACKAGE_MAX_BYTES', 5 * 1024 ** 3, 1, Number.MAX_SAFE_INTEGER),
    auditQueueMax: integer(env, 'LATCHKEY_AUDIT_QUEUE_MAX', 10_000, 100, 1_000_000),
    auditFlushMs: integer(env, 'LATCHKEY_AUDIT_FLUSH_MS', 1000, 10, 60_000),
    auditRequired: boolean(env, 'LATCHKEY_AUDIT_REQUIRED', false),
    auditWorker: onOff(env, 'LATCHKEY_AUDIT_WORKER', false),
    fastLane: onOff(env, 'LATCHKEY_FAST_LANE', true),
    session: Object.freeze({
      idleTimeoutMs: duration(env, 'LATCHKEY_SESSION_IDLE_TIMEOUT', 3600, 60, 30 * 86_400) * 1000,
      absoluteTimeoutMs: duration(env, 'LATCHKEY_SESSION_MAX_LIFETIME', 12 * 3600, 60, 90 * 86_400) * 1000,
    }),
    upstreams: Object.freeze({
      configured: Object.freeze(upstreamList(env)),
      syncCron: cronPattern(env, 'LATCHKEY_UPSTREAM_SYNC_CRON', '0 * * * *'),
      timeoutMs: integer(env, 'LATCHKEY_UPSTREAM_TIMEOUT_MS', 30_000, 100, 600_000),
      maxRetryWaitMs: duration(env, 'LATCHKEY_UPSTREAM_MAX_RETRY_WAIT', 300, 0, 3600) * 1000,
    }),
    rotation: Object.freeze({
      leaseMs: duration(env, 'LATCHKEY_ROTATION_LEASE', 60, 5, 3600) * 1000,
      faultPoint: faultPoint(env),
    }),
    reuse: Object.freeze({
      maxUserAgents: integer(env, 'LATCHKEY_REUSE_MAX_USER_AGENTS', 3, 0, 50),
      maxIps: integer(env, 'LATCHKEY_REUSE_MAX_IPS', 3, 0, 50),
      windowMs: duration(env, 'LATCHKEY_REUSE_WINDOW', 3600, 60, 30 * 86_400) * 1000,
    }),
  });
}
