/**
 * The web UI, served by `latchkey serve` itself: server-rendered pages (Preact components rendered to
 * strings) at GitLab's URLs, calling the same services as the API, so it has no rules of its own.
 *
 * Registered as one encapsulated Fastify scope, so its plugins touch only its routes: cookies
 * (@fastify/cookie), CSRF tokens on every form post (@fastify/csrf-protection: a secret in an
 * HttpOnly cookie, tokens bound to the session), security headers with a Content-Security-Policy
 * without 'unsafe-inline' or 'unsafe-eval' (@fastify/helmet), the local assets (@fastify/static), and
 * the web session (web-session.ts). Every route is marked `config.ui`, which the request counter uses
 * to tell UI from API requests. Errors become HTML pages here; the API's JSON errors are untouched.
 */
import { validHost } from '../http/strict-input.js';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import cookie from '@fastify/cookie';
import csrfProtection from '@fastify/csrf-protection';
import helmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import { DomainError } from '../kernel/errors.js';
import type { WebContext } from './web-context.js';
import { registerWebSession } from './web-session.js';
import { errorPage, notFoundPage } from './pages/error-pages.js';
import { errorText, type WebPageTools } from './web-tools.js';
import { registerSignInPages } from './pages/sign-in.js';
import { registerPersonalTokenPages } from './pages/personal-tokens.js';
import { registerNamespacePages } from './pages/namespace-pages.js';
import { registerHomePage } from './pages/home.js';
import { registerExpiringPage } from './pages/expiring.js';
import { registerAuditPage } from './pages/audit.js';
import { registerAdminPages } from './pages/admin.js';
import { registerInventoryPages } from './pages/inventory.js';
import { registerAuthorizePages } from '../oauth/authorize-page.js';
import { registerOAuthApplicationPages } from './pages/oauth-applications.js';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Set by the catch-all page route: the page pattern it served (`/:project/-/settings/repository`),
     * for the request counter and the audit log, where the route would otherwise read `/*`; a path it
     * served no page for is `(unmatched)`, and under /api/ counts as an API request.
     */
    webRoute?: { route: string; surface: 'ui' | 'api' };
  }
  interface FastifyContextConfig {
    /** A web UI route (counted as `surface="ui"` in latchkey_http_requests_total). */
    ui?: boolean;
    /** false: not recorded in the audit log (static assets). */
    audit?: boolean;
  }
}

export const ASSETS_DIR = fileURLToPath(new URL('./assets/', import.meta.url));

export async function registerWebUi(app: FastifyInstance, ctx: WebContext): Promise<void> {
  await app.register(async (web) => {
    web.addHook('onRoute', (route) => {
      const isAsset = route.url.startsWith('/assets/');
      route.config = { ...(route.config ?? {}), ui: true, ...(isAsset ? { audit: false, rateLimit: 'exempt' as const } : {}) };
    });
    await web.register(cookie);
    await web.register(csrfProtection, {
      cookieKey: 'latchkey_csrf',
      cookieOpts: { path: '/', sameSite: 'strict', httpOnly: true },
      // Tokens are bound to the session, so a token made for one session (or for a signed-out page) is refused in another.
      getUserInfo: (request: FastifyRequest) => (request.webSession ? `session:${request.webSession.session.id}` : 'signed-out'),
      csrfOpts: { hmacKey: ctx.services.webCsrfKey },
    });
    await web.register(helmet, {
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'none'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          connectSrc: ["'self'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
          baseUri: ["'none'"],
          objectSrc: ["'none'"],
        },
      },
      crossOriginEmbedderPolicy: false,
    });
    await web.register(fastifyStatic, { root: ASSETS_DIR, prefix: '/assets/', decorateReply: false, maxAge: 3_600_000, index: false, list: false });
    registerWebSession(web, { sessions: ctx.services.sessions, secureCookies: ctx.secureCookies, skip: (path) => path.startsWith('/assets/') });

    const tools: WebPageTools = {
      chrome(request, reply, nav = null) {
        const secure = ctx.secureCookies(request);
        const userInfo = request.webSession ? `session:${request.webSession.session.id}` : 'signed-out';
        return { user: request.webSession?.user ?? null, csrf: reply.generateCsrf({ userInfo, secure } as never), nav };
      },
      csrf: (request, reply, done) => web.csrfProtection(request, reply, done),
    };

    web.setErrorHandler((error, request, reply) => {
      // An API path that fell through to the pages, or a Host no link can be built from (a page's chrome needs one):
      // the root handler answers with GitLab's JSON instead.
      const host = request.headers.host;
      if (request.url.startsWith('/api/') || (host !== undefined && !validHost(host))) throw error;
      const code = (error as { code?: string }).code ?? '';
      if (code.startsWith('FST_CSRF_')) {
        return errorPage(reply, tools.chrome(request, reply), 403, 'This form was refused', 'It expired, or it was sent from another site. Go back, reload the page and try again.');
      }
      if (error instanceof DomainError) {
        // Pages one may not see look like pages that do not exist (no existence leak), as GitLab's 404s.
        if (error.kind === 'not_found' || error.kind === 'forbidden' || error.kind === 'unauthenticated') return notFoundPage(reply, tools.chrome(request, reply));
        return errorPage(reply, tools.chrome(request, reply), 400, 'This request was refused', errorText(error));
      }
      const status = (error as { statusCode?: number }).statusCode;
      if (typeof status === 'number' && status >= 400 && status < 500) return errorPage(reply, tools.chrome(request, reply), status, 'This request was refused', 'The request could not be read.');
      request.log.error({ err: { message: (error as Error).message, stack: (error as Error).stack } }, 'web page failed');
      return errorPage(reply, tools.chrome(request, reply), 500, 'Something went wrong', 'The page could not be shown. Try again; if it keeps failing, the server log has the reason.');
    });

    registerSignInPages(web, ctx, tools);
    registerHomePage(web, ctx, tools);
    registerPersonalTokenPages(web, ctx, tools);
    registerExpiringPage(web, ctx, tools);
    registerAuditPage(web, ctx, tools);
    registerInventoryPages(web, ctx, tools);
    registerAdminPages(web, ctx, tools);
    // The OAuth2 consent page (src/oauth), behind the same sign-in and CSRF.
    registerAuthorizePages(web, ctx, tools);
    registerOAuthApplicationPages(web, ctx, tools);
    // Last: the catch-all for /<project path>/-/… and /groups/<group path>/-/… pages.
    registerNamespacePages(web, ctx, tools);
  });
}
