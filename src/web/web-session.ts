/**
 * The web session on each request: the `latchkey_session` cookie resolved through the session service
 * (src/sessions), the signed-in person on `request.webSession` (and `request.actor`, so the audit log
 * names them), and `requireSignIn` for pages that need one. Any Fastify scope can register it — the web
 * UI does, and the OAuth2 consent page can — and get the same cookie, timeouts and sign-in redirect.
 *
 * The cookie: HttpOnly, SameSite=Lax (a link from an expiry e-mail arrives signed in; cross-site posts
 * carry no cookie and need a CSRF token anyway), Secure when the public URL is https, Path=/.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type {} from '@fastify/cookie';
import type { ResolvedSession, SessionService } from '../sessions/session-service.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in person's live session, or null. */
    webSession: ResolvedSession | null;
    /** A session cookie came with the request but no longer opens a session (expired, signed out). */
    webSessionEnded: boolean;
  }
}

export const SESSION_COOKIE = 'latchkey_session';

export interface WebSessionOptions {
  sessions: SessionService;
  secureCookies(request: FastifyRequest): boolean;
  /** Paths that need no session look-up (static assets). */
  skip?(path: string): boolean;
}

export function registerWebSession(app: FastifyInstance, options: WebSessionOptions): void {
  app.decorateRequest('webSession', null);
  app.decorateRequest('webSessionEnded', false);
  app.addHook('onRequest', async (request) => {
    if (options.skip?.(request.url)) return;
    const secret = request.cookies[SESSION_COOKIE];
    if (secret === undefined) return;
    const resolved = await options.sessions.resolve(secret);
    request.webSession = resolved;
    request.webSessionEnded = resolved === null;
    if (resolved) request.actor = resolved.user;
  });
}

export function setSessionCookie(request: FastifyRequest, reply: FastifyReply, secret: string, maxAgeMs: number, secure: boolean): void {
  reply.setCookie(SESSION_COOKIE, secret, { path: '/', httpOnly: true, sameSite: 'lax', secure, maxAge: Math.floor(maxAgeMs / 1000) });
}

export function clearSessionCookie(reply: FastifyReply, secure: boolean): void {
  reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'lax', secure });
}

/** Only same-site paths (`/x`, never `//host` or `/\host`): the target after sign-in. */
export function safeRedirectTarget(target: unknown): string | null {
  if (typeof target !== 'string' || target.length > 2048) return null;
  return /^\/(?![/\\])[^\s]*$/.test(target) ? target : null;
}

/** preHandler: the signed-out (or expired) are sent to the sign-in page, and come back afterwards. */
export async function requireSignIn(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (request.webSession) return;
  const back = request.method === 'GET' ? request.url : (request.headers.referer ? new URL(request.headers.referer, 'http://x').pathname : '/');
  const query = new URLSearchParams({ redirect_to: safeRedirectTarget(back) ?? '/' });
  if (request.webSessionEnded) query.set('expired', '1');
  await reply.redirect(`/users/sign_in?${query.toString()}`, 303);
}
