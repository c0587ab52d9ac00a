/**
 * The OAuth2 endpoints for clients at GitLab's paths (doc/api/oauth2.md): POST /oauth/token,
 * POST /oauth/revoke (RFC 7009), GET /oauth/token/info; and OpenID Connect's: the discovery document
 * (/.well-known/openid-configuration), the JWKS (/oauth/discovery/keys), GET|POST /oauth/userinfo. Form or JSON bodies; RFC 6749 error bodies
 * (`{"error", "error_description"}`), rendered here and nowhere else; answers are never cached.
 * The consent page (/oauth/authorize) is a web page: src/oauth/authorize-page.tsx.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { OAuthError } from '../../oauth/oauth-error.js';
import type { Services } from '../../services.js';

type Params = Record<string, unknown>;

/** RFC 6749 5.2's body; a failed Basic client authentication also gets WWW-Authenticate (RFC 6749 5.2). */
export function sendOAuthError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (!(error instanceof OAuthError)) throw error;
  if (error.code === 'invalid_client' && /^basic /i.test(request.headers.authorization ?? '')) reply.header('www-authenticate', 'Basic realm="Doorkeeper"');
  if (error.code === 'invalid_token' || error.code === 'insufficient_scope') reply.header('www-authenticate', `Bearer realm="Doorkeeper", error="${error.code}", error_description="${error.description}"`);
  return reply.status(error.status).header('cache-control', 'no-store').header('pragma', 'no-cache').send({ error: error.code, error_description: error.description });
}

const bodyOf = (request: FastifyRequest): Params => {
  const body = request.body;
  return body && typeof body === 'object' && !Array.isArray(body) ? (body as Params) : {};
};

/** The access token of a token-info request: Bearer header or `access_token` parameter. */
function bearerOf(request: FastifyRequest): string | null {
  const h = request.headers.authorization;
  if (h && /^bearer /i.test(h)) return h.slice(7).trim() || null;
  const q = (request.query as Params | undefined)?.access_token;
  return typeof q === 'string' && q.length > 0 ? q : null;
}

export function registerOAuthRoutes(app: FastifyInstance, services: Services, baseUrl: (request: FastifyRequest) => string): void {
  const { oauth, oidc } = services;
  const hide = { hide: true };

  app.post('/oauth/token', { schema: hide }, async (request, reply) => {
    try {
      const body = await oauth.token(bodyOf(request), request.headers.authorization, baseUrl(request));
      return reply.header('cache-control', 'no-store').header('pragma', 'no-cache').send(body);
    } catch (e) {
      return sendOAuthError(e, request, reply);
    }
  });

  // RFC 8628's device authorization endpoint, at GitLab's path.
  app.post('/oauth/authorize_device', { schema: hide }, async (request, reply) => {
    try {
      const body = await oauth.authorizeDevice(bodyOf(request), request.headers.authorization, baseUrl(request));
      return reply.header('cache-control', 'no-store').send(body);
    } catch (e) {
      return sendOAuthError(e, request, reply);
    }
  });

  app.post('/oauth/revoke', { schema: hide }, async (request, reply) => {
    try {
      await oauth.revoke(bodyOf(request), request.headers.authorization);
      return reply.header('cache-control', 'no-store').send({});
    } catch (e) {
      return sendOAuthError(e, request, reply);
    }
  });

  app.get('/oauth/token/info', { schema: hide }, async (request, reply) => {
    try {
      return reply.header('cache-control', 'no-store').send(await oauth.tokenInfo(bearerOf(request)));
    } catch (e) {
      return sendOAuthError(e, request, reply);
    }
  });

  // Public metadata: any client may read it, and browsers' JavaScript clients too.
  app.get('/.well-known/openid-configuration', { schema: hide }, async (request, reply) =>
    reply.header('access-control-allow-origin', '*').send(oidc.discovery(baseUrl(request), { deviceFlow: true })),
  );
  app.get('/oauth/discovery/keys', { schema: hide }, async (_request, reply) => reply.header('access-control-allow-origin', '*').header('cache-control', 'max-age=300').send(await oidc.jwks()));

  const userinfo = async (request: FastifyRequest, reply: FastifyReply) => {
    try {
      const { user, scopes } = await oauth.userOfOpenIdToken(bearerOf(request));
      return reply.header('cache-control', 'no-store').send(await oidc.userinfo(user, scopes, baseUrl(request)));
    } catch (e) {
      return sendOAuthError(e, request, reply);
    }
  };
  app.get('/oauth/userinfo', { schema: hide }, userinfo);
  app.post('/oauth/userinfo', { schema: hide }, userinfo);
}
