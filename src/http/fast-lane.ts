/**
 * The fast lane: the requests automation repeats all day, answered in front of Fastify when everything
 * the answer needs is already in memory — the token in the verify cache and, for git, the decision in the
 * decision cache. It makes exactly the answer, audit entry and metrics sample the Fastify route would have
 * made (test/integration/http/fast-lane.test.ts compares the two request for request), without the
 * router, the hook chain, the request and reply objects and the serializer, which cost more than the
 * verification itself (README "Benchmarks").
 *
 * It is a lane, not a second implementation: it answers only the success it can prove from the caches and
 * hands everything else to Fastify untouched — a cache miss, any refusal, an unusual credential (Basic on
 * the API, `Deploy-Token:`), a query string, a HEAD, a missing `Host`. Before it hands a request over it
 * has had no side effect (verifyCached/checkCached note usage only on success), so Fastify does
 * everything once.
 *
 * Served here:
 * - `GET /api/v4/user` with `PRIVATE-TOKEN:` or `Authorization: Bearer` (routes/users.ts);
 * - `GET /api/v4/latchkey/git/auth`, nginx's `auth_request`, allowed (routes/git-auth.ts).
 *
 * Off (`active: false`, every request to Fastify) when Fastify's per-request log lines are on (level
 * `info` or below) or a rate limit is set: those answers carry what only the hook chain makes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { AuditRecord, AuditWriter } from '../audit/audit-writer.js';
import { readApiCredential } from '../auth/credentials.js';
import { decideApiScope } from '../auth/api-scopes.js';
import type { Clock } from '../kernel/clock.js';
import type { User } from '../namespaces/namespace.js';
import type { GitAccess } from '../protocols/git/git-access.js';
import type { Token } from '../tokens/token.js';
import type { TokenVerifier } from '../tokens/verify-token.js';
import { auditActor, isoTimes, withImpersonation } from './plugins/audit-trail.js';
import { presentUser } from './presenters.js';
import { gitAllowedBody, gitClientIp, GIT_AUTH_PATH } from './routes/git-auth.js';

export interface FastLaneDeps {
  verifier: Pick<TokenVerifier, 'verifyCached'>;
  gitAccess: Pick<GitAccess, 'checkCached'>;
  writer: Pick<AuditWriter, 'record' | 'admitsNow' | 'refusing'>;
  clock: Clock;
  /** `latchkey_http_requests_total`, as the onResponse hook counts (http/server.ts). */
  httpRequests: { series(labels: Record<'method' | 'route' | 'status' | 'surface', string>): { inc(): void } };
  /** LATCHKEY_PUBLIC_URL; null = the request's own scheme and Host, as RouteContext.baseUrl. */
  publicUrl: string | null;
  /** False: every request goes to Fastify. */
  active: boolean;
}

/** Answers the request and returns true, or returns false having done nothing (Fastify answers). */
export type FastLane = (req: IncomingMessage, res: ServerResponse) => boolean;

const USER_ROUTE = '/api/v4/user';
const GIT_ROUTE = `/api/v4${GIT_AUTH_PATH}`;

const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

export function createFastLane(deps: FastLaneDeps): FastLane {
  if (!deps.active) return () => false;
  const { verifier, gitAccess, writer, httpRequests, publicUrl } = deps;
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

  /** Sends a 200 JSON answer, then counts and records it as the onResponse hooks would. */
  function send(req: IncomingMessage, res: ServerResponse, route: string, path: string, body: string, extra: Record<string, string> | null, principal: { token: Token; user: User | null }, ip: string): void {
    const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    if (extra) Object.assign(headers, extra);
    res.writeHead(200, headers);
    res.end(body);
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

  function user(req: IncomingMessage, res: ServerResponse): boolean {
    const host = req.headers.host;
    if (publicUrl === null && !host) return false;
    const credential = readApiCredential(req.headers, {});
    if (credential === null || credential.kind !== 'token' || credential.deployTokenHeader) return false;
    const ip = req.socket.remoteAddress ?? '';
    const context = { ip, userAgent: first(req.headers['user-agent']) ?? null, endpoint: `GET ${USER_ROUTE}` };
    const verified = verifier.verifyCached(credential.secret, context, (token, u) => u !== null && decideApiScope(token, 'GET', USER_ROUTE) === 'allowed');
    if (verified === null) return false;
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
    });
    if (result === null || result.token === null) return false;
    send(req, res, GIT_ROUTE, GIT_ROUTE, JSON.stringify(gitAllowedBody(result)), { 'x-latchkey-user': result.remoteUser }, { token: result.token, user: result.user }, ip);
    return true;
  }

  return (req, res) => {
    if (req.method !== 'GET' || writer.refusing || !writer.admitsNow) return false;
    try {
      if (req.url === USER_ROUTE) return user(req, res);
      if (req.url === GIT_ROUTE) return git(req, res);
    } catch {
      // Before the answer (its last step) nothing was sent: Fastify answers, and maps any error it meets.
      return res.headersSent;
    }
    return false;
  };
}
