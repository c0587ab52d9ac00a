/**
 * The fast lane: the requests automation repeats all day, answered in front of Fastify when everything
 * the answer needs is already in memory — the token in the verify cache and, for git, the decision in the
 * decision cache; for the registry, the JWT in the issued-JWT cache; for a package download, the decision,
 * the file record and its bytes. It makes exactly the answer, audit entry and metrics sample the Fastify
 * route would have made (test/integration/http/fast-lane.test.ts compares the two request for request),
 * without the router, the hook chain, the request and reply objects and the serializer, which cost more
 * than the verification itself (README "Benchmarks").
 *
 * It is a lane, not a second implementation: it answers only the success it can prove from the caches and
 * hands everything else to Fastify untouched — a cache miss (except on `/user`, below), any refusal, an
 * unusual credential (Basic or
 * `Deploy-Token:` on `/user`, none on the registry or a download), a query string it does not read as
 * Fastify would (any on the API), a percent-escape in an API path, a HEAD, a malformed `Host` (or none
 * where the answer names it). Before it hands a request over it has had no side effect
 * (verifyCached/checkCached/issueCached note usage only on success), so Fastify does everything once.
 *
 * Served here:
 * - `GET /api/v4/user` with `PRIVATE-TOKEN:` or `Authorization: Bearer` (routes/users.ts); on a verify
 *   cache miss the lane reads the token itself (verifyCachedOrLoad, the coalesced store read verify uses)
 *   and answers a success; a token the store does not hold goes to Fastify with its digest marked absent
 *   (absentDigestOf), so the store is read once per request, not twice;
 * - `GET /api/v4/latchkey/git/auth`, nginx's `auth_request`, allowed (routes/git-auth.ts);
 * - `GET /jwt/auth?service=…&scope=…` with HTTP Basic, the registry token service, when the issued-JWT
 *   cache already holds the JWT it would hand back (routes/registry-auth.ts);
 * - a generic package download with any credential the API takes there, when the read decision, the file
 *   record and the file's bytes are all held in memory (routes/generic-packages.ts; small files only:
 *   the blob store keeps those up to 64 KiB).
 *
 * What the hook chain adds, the lane adds the same way:
 * - the rate limit on tokens (LATCHKEY_RATE_LIMIT_PER_MINUTE), when its counters are in this process: the
 *   request is counted against its token as plugins/rate-limit.ts counts it, and the answer carries the
 *   same `RateLimit-*` headers; a request that would be over the limit is not counted here but left to
 *   Fastify, which counts it and answers the 429 (the lane asks before any side effect);
 * - Fastify's two log lines per request at level `info` ("incoming request", "request completed"), through
 *   the same logger, with a request id from the same counter (server.ts gives Fastify `genReqId`).
 *
 * Off (`active: false`, every request to Fastify) at log level `debug` or `trace`, and with a rate limit
 * whose counters are shared (Redis: a count there is a round trip, which the lane does not wait for).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { performance } from 'node:perf_hooks';
import type { FastifyBaseLogger } from 'fastify';
import type { AuditRecord, AuditWriter } from '../audit/audit-writer.js';
import { readApiCredential, readBasic } from '../auth/credentials.js';
import { decideApiScope, GENERIC_PACKAGE_FILE_ROUTE } from '../auth/api-scopes.js';
import type { Clock } from '../kernel/clock.js';
import type { User } from '../namespaces/namespace.js';
import type { GitAccess } from '../protocols/git/git-access.js';
import type { GenericPackageService } from '../protocols/generic-packages/package-service.js';
import type { PackageFile } from '../protocols/generic-packages/package-store.js';
import { readCoordinates, type PackageCoordinates } from '../protocols/generic-packages/package-names.js';
import type { IssuedToken, RegistryTokenService } from '../protocols/registry/registry-token-service.js';
import type { Token } from '../tokens/token.js';
import type { TokenVerifier } from '../tokens/verify-token.js';
import type { RateLimiter } from '../rate-limit/index.js';
import { auditActor, isoTimes, withImpersonation } from './plugins/audit-trail.js';
import { decisionOf, PERIOD_SECONDS, rateLimitHeaders, tokenThrottleKey, type ThrottleName } from './plugins/rate-limit.js';
import { presentUser } from './presenters.js';
import { gitAllowedBody, gitClientIp, GIT_AUTH_PATH } from './routes/git-auth.js';
import { registryGetBody, REGISTRY_NO_STORE } from './routes/registry-auth.js';
import { validHost } from './strict-input.js';
import { packageFileHeaders } from './routes/generic-packages.js';

export interface FastLaneDeps {
  verifier: Pick<TokenVerifier, 'verifyCached' | 'verifyCachedOrLoad'>;
  gitAccess: Pick<GitAccess, 'checkCached'>;
  registry: Pick<RegistryTokenService, 'issueCached'>;
  genericPackages: Pick<GenericPackageService, 'downloadCached'>;
  writer: Pick<AuditWriter, 'record' | 'admitsNow' | 'refusing'>;
  clock: Clock;
  /** `latchkey_http_requests_total`, as the onResponse hook counts (http/server.ts). */
  httpRequests: { series(labels: Record<'method' | 'route' | 'status' | 'surface', string>): { inc(): void } };
  /** LATCHKEY_PUBLIC_URL; null = the request's own scheme and Host, as RouteContext.baseUrl. */
  publicUrl: string | null;
  /** False: every request goes to Fastify. */
  active: boolean;
  /**
   * The rate limit on tokens, as plugins/rate-limit.ts applies it: requests per token and minute (0 = none),
   * the limiter's in-process counters, and the decision metric.
   */
  rateLimit?: { perMinute: number; local: NonNullable<RateLimiter['local']>; onDecision(throttle: ThrottleName, outcome: 'allowed'): void };
  /** Fastify's per-request log lines (level `info`): its logger and its request ids. Absent: not logged. */
  requestLog?: { logger: FastifyBaseLogger; genReqId: () => string };
}

/**
 * Answers the request and returns true, or returns false having done nothing (Fastify answers). A promise
 * when it reads a token the cache lacks (`GET /api/v4/user`): true once it has answered, false to hand the
 * request to Fastify; rejected only when it took no side effect either (Fastify answers).
 */
export type FastLane = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

/** The digest the lane read for a request and found nowhere (plugins/authenticate.ts passes it to `verify`). */
const ABSENT_DIGEST = Symbol('latchkey.absentDigest');
type LaneRequest = IncomingMessage & { [ABSENT_DIGEST]?: string };
export const absentDigestOf = (req: IncomingMessage): string | undefined => (req as LaneRequest)[ABSENT_DIGEST];

const USER_ROUTE = '/api/v4/user';
const GIT_ROUTE = `/api/v4${GIT_AUTH_PATH}`;
const REGISTRY_ROUTE = '/jwt/auth';
const REGISTRY_QUERY = `${REGISTRY_ROUTE}?`;
/** A query key fast-querystring takes as written (no `%` to decode, no `+` to turn into a space). */
const PLAIN_KEY = /^[A-Za-z0-9_.-]+$/;
const PACKAGE_FILE_PREFIX = '/api/v4/projects/';
/**
 * A generic package download whose path Fastify's router takes as written: no percent-escape to decode
 * (so the project is an id or a path without `/`), no query string, no trailing slash. The coordinates'
 * own rules are the route's (readCoordinates).
 */
const PACKAGE_FILE_PATH = /^\/api\/v4\/projects\/([A-Za-z0-9._-]{1,255})\/packages\/generic\/([A-Za-z0-9._+-]+)\/([A-Za-z0-9._+-]+)\/([A-Za-z0-9._+-]+)$/;
/** Host headers found valid (strict-input.ts refuses the others with a 400 before any route). */
const KNOWN_HOSTS_MAX = 64;

const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

/**
 * `service` and the `scope`s of a `/jwt/auth` query string as Fastify's parser (fast-querystring, in
 * find-my-way) reads them, for the shapes where that reading is plain: `key=value` pairs with plain keys,
 * values without `+` (a space to it) or a second `=`, percent-escapes that decode as UTF-8, and no NUL
 * (strict-input.ts refuses a query value with one). Null for anything else, which Fastify reads itself.
 */
export function readRegistryQuery(query: string): { service: string | null; scopes: string[] } | null {
  let service: string | null = null;
  const scopes: string[] = [];
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) return null;
    const key = pair.slice(0, eq);
    let value = pair.slice(eq + 1);
    if (!PLAIN_KEY.test(key) || value.includes('+') || value.includes('=')) return null;
    if (value.includes('%')) {
      try {
        value = decodeURIComponent(value);
      } catch {
        return null;
      }
    }
    if (value.includes('\u0000')) return null;
    // The route takes the first `service` and every `scope`, in order.
    if (key === 'service') service ??= value;
    else if (key === 'scope') scopes.push(value);
  }
  return { service, scopes };
}

export function createFastLane(deps: FastLaneDeps): FastLane {
  if (!deps.active) return () => false;
  const { verifier, gitAccess, registry, genericPackages, writer, httpRequests, publicUrl, requestLog } = deps;
  const limit = deps.rateLimit !== undefined && deps.rateLimit.perMinute > 0 ? deps.rateLimit : null;
  const limitHeaders = rateLimitHeaders();
  /** Whether counting this token's request keeps it within its limit (asked before any side effect; counts nothing). */
  const admits = (token: Token): boolean => limit === null || limit.local.peek(tokenThrottleKey(token.id), PERIOD_SECONDS).observed <= limit.perMinute;
  const isoNow = isoTimes(deps.clock);
  // The metrics series of each route's 200, found once.
  const ok = new Map<string, { inc(): void }>();
  const countOk = (route: string) => {
    let series = ok.get(route);
    if (series === undefined) ok.set(route, (series = httpRequests.series({ method: 'GET', route, status: '200', surface: 'api' })));
    series.inc();
  };
  // GET /user's body, made once per user object (a verify-cache entry holds one until its next read) and base URL.
  const userBodies = new WeakMap<User, { base: string; body: string }>();
  // GET /jwt/auth's body, made once per issued JWT (the issued-JWT cache hands back the same object).
  const registryBodies = new WeakMap<IssuedToken, string>();
  const knownHosts = new Set<string>();
  const hostAccepted = (host: string | undefined) => {
    if (host === undefined || knownHosts.has(host)) return true;
    if (!validHost(host)) return false;
    if (knownHosts.size >= KNOWN_HOSTS_MAX) knownHosts.clear();
    knownHosts.add(host);
    return true;
  };

  /** Sends a 200 JSON answer, then counts and records it as the onResponse hooks would. */
  function send(req: IncomingMessage, res: ServerResponse, route: string, path: string, body: string, extra: Readonly<Record<string, string>> | null, principal: { token: Token; user: User | null }, ip: string): void {
    const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    if (extra) Object.assign(headers, extra);
    answer(req, res, route, path, headers, body, principal, ip);
  }

  /**
   * Sends a 200 with these headers and body, then counts and records it as the onResponse hooks would:
   * the rate limit's count and headers (admitted before: `admits`), the log lines, the metrics sample and
   * the audit entry.
   */
  function answer(req: IncomingMessage, res: ServerResponse, route: string, path: string, headers: Record<string, string | number>, body: string | Buffer, principal: { token: Token; user: User | null }, ip: string): void {
    if (limit !== null) {
      const decision = decisionOf('throttle_authenticated_api', limit.local.hit(tokenThrottleKey(principal.token.id), PERIOD_SECONDS), limit.perMinute);
      Object.assign(headers, limitHeaders(decision));
      limit.onDecision(decision.name, 'allowed');
    }
    let log: FastifyBaseLogger | undefined;
    let start = 0;
    if (requestLog !== undefined) {
      start = performance.now();
      log = requestLog.logger.child({ reqId: requestLog.genReqId() });
      // The request as server.ts's `req` serializer reads Fastify's (method, URL, the socket's address).
      log.info({ req: { method: req.method, url: req.url, ip: req.socket.remoteAddress } }, 'incoming request');
    }
    res.writeHead(200, headers);
    res.end(body);
    log?.info({ res: { statusCode: 200 }, responseTime: performance.now() - start }, 'request completed');
    countOk(route);
    const entry: AuditRecord = {
      at: isoNow(),
      event: 'http.request',
      actor: auditActor(principal.user, principal.token),
      tokenId: principal.token.id,
      method: 'GET',
      route,
      path,
      status: 200,
      userAgent: first(req.headers['user-agent']) ?? null,
      ip,
    };
    writer.record(withImpersonation(entry, principal.token));
  }

  /**
   * `GET /api/v4/user`, the one path that also answers a token the cache lacks: it reads it as `verify`
   * would (the same shared query) and answers when it works; an unknown token goes to Fastify with the
   * digest found absent, so the request reads the store once.
   */
  function user(req: IncomingMessage, res: ServerResponse): boolean | Promise<boolean> {
    const host = req.headers.host;
    if (publicUrl === null && !host) return false;
    const credential = readApiCredential(req.headers, {});
    if (credential === null || credential.kind !== 'token' || credential.deployTokenHeader) return false;
    const ip = req.socket.remoteAddress ?? '';
    const context = { ip, userAgent: first(req.headers['user-agent']) ?? null, endpoint: `GET ${USER_ROUTE}` };
    // After a look-up the audit writer is asked again: it may have started refusing meanwhile.
    const accepts = (token: Token, u: User | null) => u !== null && decideApiScope(token, 'GET', USER_ROUTE) === 'allowed' && admits(token) && !writer.refusing && writer.admitsNow;
    const verified = verifier.verifyCachedOrLoad(credential.secret, context, accepts);
    if (verified === null) return false;
    if (!(verified instanceof Promise)) return userAnswer(req, res, verified, host, ip);
    return verified.then((found) => {
      if (found === null) return false;
      if ('absent' in found) {
        (req as LaneRequest)[ABSENT_DIGEST] = found.absent;
        return false;
      }
      return userAnswer(req, res, found, host, ip);
    });
  }

  function userAnswer(req: IncomingMessage, res: ServerResponse, verified: { token: Token; user: User | null }, host: string | undefined, ip: string): true {
    const u = verified.user!;
    const base = publicUrl ?? `${(req.socket as TLSSocket).encrypted ? 'https' : 'http'}://${host}`;
    let made = userBodies.get(u);
    if (made === undefined || made.base !== base) userBodies.set(u, (made = { base, body: JSON.stringify(presentUser(u, base)) }));
    send(req, res, USER_ROUTE, USER_ROUTE, made.body, null, verified, ip);
    return true;
  }

  function git(req: IncomingMessage, res: ServerResponse): boolean {
    const originalUri = first(req.headers['x-original-uri']);
    const originalMethod = first(req.headers['x-original-method']);
    if (!originalUri || !originalMethod) return false;
    const ip = gitClientIp(req.headers['x-real-ip'], req.socket.remoteAddress ?? '');
    const result = gitAccess.checkCached({
      authorization: first(req.headers.authorization),
      originalUri,
      originalMethod,
      context: { ip, userAgent: first(req.headers['user-agent']) ?? null, endpoint: `${originalMethod} ${originalUri.split('?', 1)[0]}` },
    }, admits);
    if (result === null || result.token === null) return false;
    send(req, res, GIT_ROUTE, GIT_ROUTE, JSON.stringify(gitAllowedBody(result)), { 'x-latchkey-user': result.remoteUser }, { token: result.token, user: result.user }, ip);
    return true;
  }

  function registryToken(req: IncomingMessage, res: ServerResponse, query: string): boolean {
    const basic = readBasic(first(req.headers.authorization));
    const params = basic && readRegistryQuery(query);
    if (!basic || !params) return false;
    const ip = req.socket.remoteAddress ?? '';
    const result = registry.issueCached(basic, params, { ip, userAgent: first(req.headers['user-agent']) ?? null, endpoint: `GET ${REGISTRY_ROUTE}` }, admits);
    if (result === null) return false;
    let body = registryBodies.get(result.issued);
    if (body === undefined) registryBodies.set(result.issued, (body = JSON.stringify(registryGetBody(result.issued))));
    // The audit entry's path is the route's: the query string is never recorded.
    send(req, res, REGISTRY_ROUTE, REGISTRY_ROUTE, body, REGISTRY_NO_STORE, result, ip);
    return true;
  }

  function packageFile(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    const m = PACKAGE_FILE_PATH.exec(path);
    const credential = m && readApiCredential(req.headers, {});
    if (!m || !credential) return false;
    const id = m[1]!;
    let coordinates: PackageCoordinates;
    try {
      coordinates = readCoordinates({ package_name: m[2], package_version: m[3], file_name: m[4] });
    } catch {
      return false; // the route's 400
    }
    const ip = req.socket.remoteAddress ?? '';
    const found: { download?: { file: PackageFile; content: Buffer } | null } = {};
    // The API authentication's checks (plugins/authenticate.ts; on this route Basic takes any username), then the download's.
    const verified = verifier.verifyCached(credential.secret, { ip, userAgent: first(req.headers['user-agent']) ?? null, endpoint: `GET ${path}` }, (token, u) => {
      if (credential.kind === 'token' && credential.deployTokenHeader && token.kind !== 'deploy') return false;
      if (u === null && token.kind !== 'deploy') return false;
      if (decideApiScope(token, 'GET', GENERIC_PACKAGE_FILE_ROUTE) !== 'allowed') return false;
      found.download = genericPackages.downloadCached({ token, user: u }, id, coordinates);
      return found.download !== null && admits(token);
    });
    if (verified === null || !found.download) return false;
    const { file, content } = found.download;
    answer(req, res, GENERIC_PACKAGE_FILE_ROUTE, path, packageFileHeaders(file), content, verified, ip);
    return true;
  }

  return (req, res) => {
    if (req.method !== 'GET' || writer.refusing || !writer.admitsNow || !hostAccepted(req.headers.host)) return false;
    const url = req.url ?? '';
    try {
      if (url === USER_ROUTE) return user(req, res);
      if (url === GIT_ROUTE) return git(req, res);
      if (url.startsWith(REGISTRY_QUERY)) return registryToken(req, res, url.slice(REGISTRY_QUERY.length));
      if (url.startsWith(PACKAGE_FILE_PREFIX)) return packageFile(req, res, url);
    } catch {
      // Before the answer (its last step) nothing was sent: Fastify answers, and maps any error it meets.
      return res.headersSent;
    }
    return false;
  };
}
