/**
 * Records every HTTP request in the audit log (root-level onResponse hook, so the API and every
 * protocol route are covered): time, actor, token id (the writer adds its `sha256:` hash), method,
 * route pattern, path without the query string (where a private_token may be) and with any token value in
 * it redacted (as in the user agent), status, user agent and
 * client IP (request.clientIp when a protocol route set it from its trusted proxy). Health probes (`/-/…`) are not recorded.
 *
 * Which token: `request.authToken` once a credential verified; otherwise `request.presentedToken`,
 * which auth code sets whenever the verifier recognised the token but refused it (expired, revoked,
 * blocked user, wrong scope), so failed authentications with a known token are attributed too.
 * The entry is queued, never written on the request path (src/audit/audit-writer.ts): an array push.
 */
import type { FastifyContextConfig, FastifyInstance, FastifyRequest } from 'fastify';
import type { AuditRecord, AuditWriter } from '../../audit/audit-writer.js';
import type { Clock } from '../../kernel/clock.js';
import type { User } from '../../namespaces/namespace.js';
import type { Token } from '../../tokens/token.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** A token the verifier recognised but refused (or accepted): set by every auth path for the audit log. */
    presentedToken: Token;
  }
}

/** Health probes (`/-/health`, …) and static assets are not recorded (nor held back); web pages under `/-/` are. */
const unrecorded = (request: FastifyRequest, config: FastifyContextConfig | undefined) => (config?.audit === false || (request.url.startsWith('/-/') && !config?.ui));

/**
 * `clock.now().toISOString()` for every entry, formatted once per millisecond: under load several
 * requests end in the same one, and formatting is most of what the hook spent.
 */
export function isoTimes(clock: Clock): () => string {
  let lastMs = Number.NaN;
  let lastIso = '';
  return () => {
    const now = clock.now();
    const ms = now.getTime();
    if (ms !== lastMs) {
      lastIso = now.toISOString();
      lastMs = ms;
    }
    return lastIso;
  };
}

/** Who acted: the authenticated user (or bot), else a deploy token by its username; null when nobody authenticated. */
export function auditActor(user: User | null, authToken: Token | null): AuditRecord['actor'] {
  if (user) return { type: user.botKind ? 'bot' : 'user', id: user.id, name: user.username };
  if (authToken?.kind === 'deploy') return { type: 'deploy_token', id: null, name: authToken.username ?? `deploy-token-${authToken.id}` };
  return null;
}

/** A request with an impersonation token acts as its user; the entry says which admin issued it. */
export function withImpersonation(entry: AuditRecord, token: Token | null): AuditRecord {
  return token?.impersonation ? { ...entry, data: { impersonation: true, impersonated_by_id: token.createdBy } } : entry;
}

export function registerAuditTrail(app: FastifyInstance, { writer, clock }: { writer: Pick<AuditWriter, 'record' | 'admit' | 'refusing'>; clock: Clock }): void {
  app.decorateRequest('presentedToken', null as unknown as Token);
  const isoNow = isoTimes(clock);
  // Before anything else is done for a request: its turn (fair backpressure when the writer is behind),
  // and with LATCHKEY_AUDIT_REQUIRED a refusal while the log cannot be written.
  app.addHook('onRequest', (request, reply, done) => {
    if (unrecorded(request, request.routeOptions.config)) return done();
    const refuse = () => reply.code(503).header('retry-after', '5').send({ message: '503 Service Unavailable' });
    if (writer.refusing) return refuse();
    const turn = writer.admit();
    if (!turn) return done();
    turn.then(() => (writer.refusing ? refuse() : done()), done);
  });
  app.addHook('onResponse', (request, reply, done) => {
    const { config, url: routeUrl } = request.routeOptions;
    if (unrecorded(request, config)) return done();
    const authToken = request.authToken;
    const token = authToken ?? request.presentedToken;
    const actor = auditActor(request.actor, authToken);
    const url = request.url;
    const query = url.indexOf('?');
    // A push: the path and user agent are redacted by the writer (src/audit/audit-writer.ts).
    const entry: AuditRecord = {
      at: isoNow(),
      event: 'http.request',
      actor,
      tokenId: token?.id ?? null,
      method: request.method,
      route: request.webRoute?.route ?? routeUrl ?? null,
      path: query < 0 ? url : url.slice(0, query),
      status: reply.statusCode,
      userAgent: request.headers['user-agent'] ?? null,
      // A protocol endpoint behind a trusted proxy (git auth_request) puts the client's address in
      // request.clientIp (rate-limit branch); otherwise the socket's.
      ip: request.clientIp ?? request.ip,
    };
    writer.record(withImpersonation(entry, token));
    done();
  });
}
