/**
 * Rate limits on every HTTP answer, as GitLab's Rack::Attack throttles do: a request with a verified
 * token counts against that token (`throttle_authenticated_api`), any other — anonymous, or whose
 * credential failed — against the client IP (`throttle_unauthenticated_api`), so guessing costs quota.
 * Every counted answer carries GitLab's `RateLimit-*` headers; over the limit it is a 429 with
 * `Retry-After` and `{"message": "Retry later"}`.
 *
 * Where a request is counted: in a root `preParsing` hook, after every `onRequest` hook (the API's
 * authentication sets `request.authToken` there; a credential checked in a later hook is not seen) and
 * before the body is read, so an over-limit request costs no parsing and never reaches its handler.
 * Requests answered before that (401/403 from authentication, 404) are counted in `onSend`, where their
 * answer becomes the 429 when over the limit — nothing has run for them, not even body parsing.
 * Routes opt out (`config.rateLimit: 'exempt'`: probes, metrics) or defer counting until their handler
 * has verified a credential itself (`'after-handler'`: side-effect-free protocol endpoints). Their
 * credential may be in the body (POST /jwt/auth), so the body must be read first; but a client address
 * this node has already throttled is counted — and refused — before its body is read.
 *
 * When the counter store (Redis) cannot answer, requests pass unlimited and without headers (fail
 * open): a warning is logged when it starts and a note when it is back; `onDecision` counts each one.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { decideWindow, type RateLimiter, type WindowCount, type WindowDecision } from '../../rate-limit/index.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * `'exempt'`: never counted, no headers. `'after-handler'`: the handler verifies the credential and
     * sets `request.authToken`, so the request is counted when the answer is sent, and that answer is
     * replaced by the 429 when over the limit; only for routes without side effects.
     */
    rateLimit?: 'exempt' | 'after-handler';
  }
}

export type ThrottleName = 'throttle_authenticated_api' | 'throttle_unauthenticated_api';

export interface Decision extends WindowDecision {
  readonly name: ThrottleName;
}

export interface RateLimitOptions {
  limiter: RateLimiter;
  /** Requests per token and minute; 0 = not limited (and no headers). */
  authenticatedPerMinute: number;
  /** Requests per client IP and minute without a valid token; 0 = not limited. */
  unauthenticatedPerMinute: number;
  /** Called once per counted request: `allowed`, `throttled`, or `unavailable` (store down, let through). */
  onDecision?(throttle: ThrottleName, outcome: 'allowed' | 'throttled' | 'unavailable'): void;
}

/** GitLab configures a period per throttle; ours are per minute, so `RateLimit-Limit` is the limit itself. */
export const PERIOD_SECONDS = 60;

/** What a throttle decides for the `count` it took, under `limit` a period (the hook below and the fast lane). */
export const decisionOf = (name: ThrottleName, count: WindowCount, limit: number): Decision => ({ name, ...decideWindow(count, limit, PERIOD_SECONDS) });

/** The limiter's key for a verified token: its id, never its secret. */
export const tokenThrottleKey = (tokenId: number) => `throttle_authenticated_api:token:${tokenId}`;

/**
 * GitLab's `RateLimit-*` headers of a decision (`Retry-After` too when refused), names in lower case as
 * Fastify sends them; the reset time is formatted once per window (every answer of a window shares it).
 * Shared by the hook below and the fast lane (http/fast-lane.ts).
 */
export function rateLimitHeaders(): (d: Decision) => Record<string, string> {
  let formattedResetAt = Number.NaN;
  let resetTime = '';
  return (d) => {
    if (d.resetAt !== formattedResetAt) {
      resetTime = new Date(d.resetAt * 1000).toUTCString();
      formattedResetAt = d.resetAt;
    }
    const headers: Record<string, string> = {
      'ratelimit-name': d.name,
      'ratelimit-limit': String(d.limit),
      'ratelimit-observed': String(d.observed),
      'ratelimit-remaining': String(d.remaining),
      'ratelimit-reset': String(d.resetAt),
      'ratelimit-resettime': resetTime,
    };
    if (!d.allowed) headers['retry-after'] = String(d.retryAfterSeconds);
    return headers;
  };
}
const RETRY_LATER = { message: 'Retry later' };

export function registerRateLimit(app: FastifyInstance, options: RateLimitOptions): void {
  // undefined = not counted yet; null = counted as unlimited (disabled, or the store is down).
  const decisions = new WeakMap<FastifyRequest, Decision | null>();
  // Anonymous keys this node saw throttled (until a later decision allows them again): the gate before
  // body parsing on 'after-handler' routes. Bounded: the oldest entries go first.
  const throttledKeys = new Set<string>();
  const MAX_THROTTLED_KEYS = 100_000;
  let storeFailing = false;

  const ipKey = (request: FastifyRequest) => `throttle_unauthenticated_api:ip:${request.clientIp ?? request.ip}`;

  async function decide(request: FastifyRequest): Promise<Decision | null> {
    const token = request.authToken;
    const name: ThrottleName = token ? 'throttle_authenticated_api' : 'throttle_unauthenticated_api';
    const limit = token ? options.authenticatedPerMinute : options.unauthenticatedPerMinute;
    if (limit === 0) return null;
    // The token's id, never its secret; the IP as the socket reports it (trustProxy is off), or as a
    // protocol endpoint's trusted proxy reported it (request.clientIp).
    const key = token ? tokenThrottleKey(token.id) : ipKey(request);
    try {
      const count = await options.limiter.hit(key, PERIOD_SECONDS);
      if (storeFailing) {
        storeFailing = false;
        request.log.info('rate limit: the counter store answers again; limits apply');
      }
      const decision = decisionOf(name, count, limit);
      if (!token) {
        if (decision.allowed) throttledKeys.delete(key);
        else if (!throttledKeys.has(key)) {
          if (throttledKeys.size >= MAX_THROTTLED_KEYS) throttledKeys.delete(throttledKeys.values().next().value!);
          throttledKeys.add(key);
        }
      }
      options.onDecision?.(name, decision.allowed ? 'allowed' : 'throttled');
      return decision;
    } catch (e) {
      if (!storeFailing) {
        storeFailing = true;
        request.log.warn({ err: (e as Error).message }, 'rate limit: the counter store does not answer; requests pass unlimited until it does');
      }
      options.onDecision?.(name, 'unavailable');
      return null;
    }
  }

  app.addHook('onReady', async () => {
    try {
      await options.limiter.ready();
    } catch (e) {
      storeFailing = true;
      app.log.warn({ err: (e as Error).message }, 'rate limit: the counter store does not answer; requests pass unlimited until it does');
    }
  });
  app.addHook('onClose', async () => options.limiter.close());
  // Both limits off: nothing is counted and no answer carries headers, so no request pays for the hooks.
  if (options.authenticatedPerMinute === 0 && options.unauthenticatedPerMinute === 0) return;

  // Callback style: a refused request sends its 429 and never calls `done`, so the body is not read.
  app.addHook('preParsing', (request: FastifyRequest, reply: FastifyReply, payload, done) => {
    const mode = request.routeOptions.config?.rateLimit;
    if (mode === 'exempt') return done(null, payload);
    // An 'after-handler' route is counted after its handler, unless its address is known to be over.
    if (mode === 'after-handler' && (request.authToken || !throttledKeys.has(ipKey(request)))) return done(null, payload);
    decide(request).then((decision) => {
      decisions.set(request, decision);
      if (decision && !decision.allowed) reply.status(429).send(RETRY_LATER);
      else done(null, payload);
    }, (e: Error) => done(e));
  });

  // A callback hook: a request counted before its body was read has its decision already, and passes
  // without a promise; only one answered before that waits for its count.
  app.addHook('onSend', (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (error: Error | null, payload?: unknown) => void) => {
    if (request.routeOptions.config?.rateLimit === 'exempt') return done(null, payload);
    const decision = decisions.get(request);
    if (decision !== undefined) {
      if (decision) setHeaders(reply, decision);
      return done(null, payload);
    }
    decide(request).then((counted) => {
      decisions.set(request, counted);
      let answer = payload;
      try {
        if (counted && !counted.allowed) {
          // Answered before the preParsing hook (nothing ran) or by an 'after-handler' route (no side
          // effects): the answer it had is replaced, so a throttled caller learns nothing from it.
          (payload as { destroy?: () => void } | null)?.destroy?.();
          reply.removeHeader('content-length');
          reply.status(429).header('content-type', 'application/json; charset=utf-8');
          answer = JSON.stringify(RETRY_LATER);
        }
        if (counted) setHeaders(reply, counted);
      } catch (e) {
        return done(e as Error);
      }
      done(null, answer);
    }, (e: Error) => done(e));
  });

  const headersOf = rateLimitHeaders();
  function setHeaders(reply: FastifyReply, d: Decision): void {
    reply.headers(headersOf(d));
  }
}
