/**
 * The Fastify application: body parsers, OpenAPI, error mapping, health, then the /api/v4 scope with
 * authentication and the explicit list of resource routes. Building is separate from listening so
 * tests use `inject` without a socket.
 */
import { createServer } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Services } from '../services.js';
import type { Clock } from '../kernel/clock.js';
import type { Store } from '../store/open-store.js';
import { registerBodyParsers } from './body-parsers.js';
import { registerPlainJsonContentType } from './json-content-type.js';
import { sendError } from './error-mapping.js';
import { registerStrictInput } from './strict-input.js';
import { registerOpenApi, registerRouteMethods } from './openapi.js';
import { decorateCredentials, registerAuthentication } from './plugins/authenticate.js';
import { registerRateLimit, type RateLimitOptions } from './plugins/rate-limit.js';
import type { RouteContext } from './route-context.js';
import { registerAccessTokenRoutes } from './routes/access-tokens.js';
import { registerAdminTokenRoutes } from './routes/admin-token.js';
import { registerDeployTokenRoutes } from './routes/deploy-tokens.js';
import { registerExpiringRoutes } from './routes/expiring.js';
import { registerGitAuthRoute } from './routes/git-auth.js';
import { registerGroupRoutes } from './routes/groups.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerMemberRoutes } from './routes/members.js';
import { registerMetricsRoute } from './routes/metrics.js';
import { registerPersonalAccessTokenRoutes } from './routes/personal-access-tokens.js';
import { registerImpersonationTokenRoutes } from './routes/impersonation-tokens.js';
import { registerProjectRoutes } from './routes/projects.js';
import { registerRegistryAuthRoutes } from './routes/registry-auth.js';
import { registerServiceAccountRoutes } from './routes/service-accounts.js';
import { registerTokenPolicyRoutes } from './routes/token-policy.js';
import { registerUserRoutes } from './routes/users.js';
import { registerHookRoutes } from './routes/hooks.js';
import { registerWebhookRoutes } from './routes/webhooks.js';
import { registerGenericPackageRoutes } from './routes/generic-packages.js';
import { registerCiVariablesRoutes } from './routes/ci-variables.js';
import { registerVariableRoutes } from './routes/variables.js';
import { registerAuditEventRoutes } from './routes/audit-events.js';
import { registerApplicationRoutes } from './routes/applications.js';
import { registerOAuthRoutes } from './routes/oauth.js';
import { registerCredentialRoutes } from './routes/credentials.js';
import { registerRotationTaskRoutes } from './routes/rotation-tasks.js';
import { registerUpstreamRoutes } from './routes/upstreams.js';
import { registerRotationPolicyRoutes } from './routes/rotation-policies.js';
import { registerRotationRoutes } from './routes/rotations.js';
import { registerCalendarRoutes } from './routes/calendar.js';
import { registerAuthorizedApplicationRoutes } from './routes/authorized-applications.js';
import { registerAuditTrail } from './plugins/audit-trail.js';
import { createFastLane, type FastLane } from './fast-lane.js';
import { registerWebUi } from '../web/web-ui.js';
import { redactPath, redactTokens } from '../tokens/token-redaction.js';

export interface HttpOptions {
  services: Services;
  store: Store;
  clock: Clock;
  publicUrl: string | null;
  bodyLimit: number;
  /** LATCHKEY_METRICS_TOKEN: the bearer token /metrics requires; null or absent = open. */
  metricsToken?: string | null;
  logLevel: string;
  /** Where log lines go; stdout when absent. Tests pass a capturing stream to check what is logged. */
  logStream?: { write(line: string): void };
  /** Requests per minute per token and per client IP without one (0 = no limit). */
  rateLimit: { authenticatedPerMinute: number; unauthenticatedPerMinute: number };
  /** LATCHKEY_FAST_LANE (default on): cached successes of the hot protocol paths answered in front of Fastify (fast-lane.ts). */
  fastLane?: boolean;
}

/** Log levels at which Fastify writes a line per request ("incoming request", "request completed"). */
const REQUEST_LOG_LEVELS = new Set(['trace', 'debug', 'info']);
/** Levels below `info`, where more than those two lines may be written: the fast lane steps aside. */
const TROUBLESHOOTING_LOG_LEVELS = new Set(['trace', 'debug']);

/**
 * Fastify's default request ids (`req-1`, `req-2`, … in base 36, wrapping at 2^31 − 1), from one counter
 * that the fast lane shares, so the ids of its log lines and Fastify's never repeat each other.
 */
function requestIds(): () => string {
  let next = 0;
  return () => {
    next = (next + 1) & 0x7fffffff;
    return `req-${next.toString(36)}`;
  };
}

// Never log credentials: these headers are dropped from request logs.
const REDACT = ['req.headers.authorization', 'req.headers["private-token"]', 'req.headers["deploy-token"]', 'req.headers["job-token"]', 'req.headers.cookie'];

/**
 * How a request appears in the log: its path only. The query string is never logged — a credential may
 * hide there under any spelling of its name (`private%5Ftoken`, `%70rivate_token` authenticate as well),
 * so redacting by name cannot be complete. A token pasted into the path is redacted by its format.
 */
export function loggedPath(url: string): string {
  return redactPath(url.split('?', 1)[0]!);
}

/** Every log line passes through this: any value with a token's format and checksum becomes [REDACTED]. */
function redactingStream(destination: { write(line: string): void }): { write(line: string): void } {
  return { write: (line) => destination.write(redactTokens(line)) };
}

export async function buildHttp(options: HttpOptions): Promise<FastifyInstance> {
  // Set once the routes exist; until then (and when it declines) every request goes to Fastify.
  let lane: FastLane = () => false;
  const genReqId = requestIds();
  const app = Fastify({
    genReqId,
    // Fastify's own HTTP/1 server, as it would make it, with the fast lane in front of its handler.
    serverFactory: (handler, opts) => {
      const server = createServer(opts.http ?? {}, (req, res) => {
        const taken = lane(req, res);
        if (taken === true) return;
        if (taken === false) handler(req, res);
        // The lane read the token first; it answered, or hands the request over as it came.
        else taken.then((answered) => void (answered || handler(req, res)), () => void (res.headersSent || handler(req, res)));
      });
      // Fastify has filled in its defaults by now (72 s keep-alive, no request or connection timeout).
      server.keepAliveTimeout = Number(opts.keepAliveTimeout);
      server.requestTimeout = Number(opts.requestTimeout);
      server.setTimeout(Number(opts.connectionTimeout));
      return server;
    },
    logger:
      options.logLevel === 'silent'
        ? false
        : {
            level: options.logLevel,
            redact: REDACT,
            stream: redactingStream(options.logStream ?? process.stdout),
            serializers: {
              // The default serializer logs the URL with its query string, where a token may be.
              req: (req: { method: string; url: string; ip?: string }) => ({ method: req.method, url: loggedPath(req.url), remoteAddress: req.ip }),
            },
          },
    bodyLimit: options.bodyLimit,
    trustProxy: false,
    // Bad percent-encoding and over-long params fail in the router, before the error handler.
    frameworkErrors: (error, request, reply) => sendError(error, request, reply),
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 2048 },
  });

  registerBodyParsers(app);
  decorateCredentials(app);
  // Each rate-limit decision, counted (latchkey_rate_limit_requests_total): by the hook and by the fast lane.
  const onRateLimitDecision: NonNullable<RateLimitOptions['onDecision']> = (throttle, outcome) => options.services.metrics.rateLimit.inc({ throttle, outcome });
  registerRateLimit(app, { limiter: options.services.rateLimiter, ...options.rateLimit, onDecision: onRateLimitDecision });
  registerAuditTrail(app, { writer: options.services.auditWriter, clock: options.clock });
  registerPlainJsonContentType(app);
  registerStrictInput(app);
  app.setErrorHandler((error, request, reply) => sendError(error as Error, request, reply));
  // GitLab's catch-all route answers `error!('404 Not Found', 404)`, which Grape renders as {"error": …};
  // a known path with a method it does not serve answers 405 with Allow.
  registerRouteMethods(app);
  // Requests by route pattern (`/api/v4/projects/:id/deploy_tokens`), never the raw URL: bounded label
  // cardinality. Requests no route matched share one `route` value.
  const { httpRequests } = options.services.metrics;
  // The series of each route (its config object, one per route), method and status, found once: the
  // labels depend on nothing else unless the web UI's catch-all named a page (request.webRoute).
  const seriesByRoute = new WeakMap<object, Map<string, Map<number, { inc(): void }>>>();
  app.addHook('onResponse', (request, reply, done) => {
    // surface: the web UI's pages and assets, or everything else (API and protocol endpoints).
    const web = request.webRoute;
    const { config, url } = request.routeOptions;
    const status = reply.statusCode;
    if (web || !config) {
      httpRequests.inc({ method: request.method, route: web?.route ?? url ?? '(unmatched)', status: String(status), surface: web?.surface ?? (config?.ui ? 'ui' : 'api') });
      return done();
    }
    let byMethod = seriesByRoute.get(config);
    if (byMethod === undefined) seriesByRoute.set(config, (byMethod = new Map()));
    let byStatus = byMethod.get(request.method);
    if (byStatus === undefined) byMethod.set(request.method, (byStatus = new Map()));
    let series = byStatus.get(status);
    if (series === undefined) {
      series = httpRequests.series({ method: request.method, route: url ?? '(unmatched)', status: String(status), surface: config?.ui ? 'ui' : 'api' });
      byStatus.set(status, series);
    }
    series.inc();
    done();
  });

  await registerOpenApi(app);

  registerHealthRoutes(app, options.store);
  registerMetricsRoute(app, { scraper: options.services.metricsScraper, token: options.metricsToken ?? null });
  // Docker registry token service at the root, as GitLab serves it (its own Basic auth, not the API's).
  registerRegistryAuthRoutes(app, options.services.registry.tokens);

  const ctx: RouteContext = {
    services: options.services,
    clock: options.clock,
    baseUrl: (request: FastifyRequest) => options.publicUrl ?? `${request.protocol}://${request.host}`,
    async resolve(request, kind, id) {
      const { namespaces } = options.services;
      if (kind === 'projects') return { type: 'project', project: (await namespaces.findProject(request.actor, id)).project };
      return { type: 'group', group: (await namespaces.findGroup(request.actor, id)).group };
    },
  };

  // OAuth2 / OpenID Connect endpoints at GitLab's paths (their own client authentication, not the API's).
  registerOAuthRoutes(app, options.services, ctx.baseUrl);

  await app.register(
    async (api) => {
      registerAuthentication(api, options.services.verifier);
      registerUserRoutes(api, ctx);
      registerGroupRoutes(api, ctx);
      registerProjectRoutes(api, ctx);
      registerMemberRoutes(api, ctx, 'groups');
      registerMemberRoutes(api, ctx, 'projects');
      registerDeployTokenRoutes(api, ctx);
      registerPersonalAccessTokenRoutes(api, ctx);
      registerImpersonationTokenRoutes(api, ctx);
      registerAdminTokenRoutes(api, ctx);
      registerAccessTokenRoutes(api, ctx);
      registerServiceAccountRoutes(api, ctx);
      registerTokenPolicyRoutes(api, ctx);
      registerWebhookRoutes(api, ctx);
      registerHookRoutes(api, ctx);
      registerExpiringRoutes(api, ctx);
      registerGitAuthRoute(api, options.services.gitAccess);
      registerGenericPackageRoutes(api, ctx);
      registerCiVariablesRoutes(api, ctx);
      registerVariableRoutes(api, ctx);
      registerAuditEventRoutes(api, ctx);
      registerApplicationRoutes(api, ctx);
      registerCredentialRoutes(api, ctx);
      registerRotationTaskRoutes(api, ctx);
      registerUpstreamRoutes(api, ctx);
      registerRotationPolicyRoutes(api, ctx);
      registerRotationRoutes(api, ctx);
      registerCalendarRoutes(api, ctx);
      registerAuthorizedApplicationRoutes(api, ctx);
    },
    { prefix: '/api/v4' },
  );
  lane = createFastLane({
    verifier: options.services.verifier,
    gitAccess: options.services.gitAccess,
    registry: options.services.registry.tokens,
    genericPackages: options.services.genericPackages,
    writer: options.services.auditWriter,
    clock: options.clock,
    httpRequests,
    publicUrl: options.publicUrl,
    // Off where a rate limit's count is a round trip (Redis) and at troubleshooting log levels.
    active: options.fastLane !== false && !TROUBLESHOOTING_LOG_LEVELS.has(options.logLevel) && (options.rateLimit.authenticatedPerMinute === 0 || options.services.rateLimiter.local !== undefined),
    rateLimit:
      options.services.rateLimiter.local === undefined
        ? undefined
        : { perMinute: options.rateLimit.authenticatedPerMinute, local: options.services.rateLimiter.local, onDecision: onRateLimitDecision },
    requestLog: REQUEST_LOG_LEVELS.has(options.logLevel) ? { logger: app.log, genReqId } : undefined,
  });
  // Closing: Fastify answers what still arrives with a 503 and `Connection: close`; so does the lane then.
  app.addHook('preClose', (done) => {
    lane = () => false;
    done();
  });
  // The web UI for people (src/web): pages at GitLab's URLs, calling the same services.
  await registerWebUi(app, {
    services: options.services,
    clock: options.clock,
    baseUrl: ctx.baseUrl,
    secureCookies: (request) => (options.publicUrl ?? `${request.protocol}:`).startsWith('https:'),
  });
  return app;
}
