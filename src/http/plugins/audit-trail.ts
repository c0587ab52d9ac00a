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
 * The entry is queued, never written on the request path (src/audit/audit-writer.ts).
 */
import type { FastifyInstance } from 'fastify';
import type { AuditWriter } from '../../audit/audit-writer.js';
import type { Clock } from '../../kernel/clock.js';
import type { Token } from '../../tokens/token.js';
import { redactPath, redactTokens } from '../../tokens/token-redaction.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** A token the verifier recognised but refused (or accepted): set by every auth path for the audit log. */
    presentedToken: Token;
  }
}

const MAX_TEXT = 1024;
/**
 * Any token value in it (by format and checksum) replaced — before clipping, which could cut one in half
 * and hide it from the check — then clipped: a pasted token is never recorded.
 */
function clip(text: string | undefined, redact: (text: string) => string): string | null {
  if (text === undefined) return null;
  const redacted = redact(text);
  return redacted.length > MAX_TEXT ? redacted.slice(0, MAX_TEXT) : redacted;
}

export function registerAuditTrail(app: FastifyInstance, { writer, clock }: { writer: Pick<AuditWriter, 'record'>; clock: Clock }): void {
  app.decorateRequest('presentedToken', null as unknown as Token);
  app.addHook('onResponse', (request, reply, done) => {
    const path = request.url.split('?', 1)[0]!;
    // Health probes (`/-/health`, …) and static assets are not recorded; web pages under `/-/` are.
    if ((path.startsWith('/-/') && !request.routeOptions.config?.ui) || request.routeOptions.config?.audit === false) return done();
    const user = request.actor;
    const token = request.authToken ?? request.presentedToken;
    const actor = user
      ? { type: user.botKind ? ('bot' as const) : ('user' as const), id: user.id, name: user.username }
      : request.authToken?.kind === 'deploy'
        ? { type: 'deploy_token' as const, id: null, name: request.authToken.username ?? `deploy-token-${request.authToken.id}` }
        : null;
    const pending = writer.record({
      at: clock.now().toISOString(),
      event: 'http.request',
      actor,
      tokenId: token?.id ?? null,
      method: request.method,
      route: request.webRoute?.route ?? request.routeOptions.url ?? null,
      path: clip(path, redactPath),
      status: reply.statusCode,
      userAgent: clip(request.headers['user-agent'], redactTokens),
      // A protocol endpoint behind a trusted proxy (git auth_request) puts the client's address in
      // request.clientIp (rate-limit branch); otherwise the socket's.
      ip: (request as { clientIp?: string | null }).clientIp ?? request.ip,
      // A request with an impersonation token acts as its user; the entry says which admin issued it.
      ...(token?.impersonation ? { data: { impersonation: true, impersonated_by_id: token.createdBy } } : {}),
    });
    if (pending) pending.then(() => done(), () => done());
    else done();
  });
}
