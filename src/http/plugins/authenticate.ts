/**
 * REST API authentication: reads the credential, verifies it with the shared verifier, enforces the
 * token's scopes, and puts the acting user on the request. GitLab's 401/403 bodies.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { decideApiScope, isPackageRegistryRoute, isTokenRotationRoute, requiredScopeFor } from '../../auth/api-scopes.js';
import { readApiCredential, type Credential } from '../../auth/credentials.js';
import type { User } from '../../namespaces/namespace.js';
import type { Token } from '../../tokens/token.js';
import type { TokenVerifier, VerifyResult } from '../../tokens/verify-token.js';
import { absentDigestOf } from '../fast-lane.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated user (null until a credential is verified; protocol routes set it too). */
    actor: User;
    /** The verified token (null until a credential is verified; protocol routes set it too). */
    authToken: Token;
    /**
     * The client's address when a trusted proxy reported it (protocol endpoints nginx calls, e.g. git's
     * auth_request with X-Real-IP); null = the socket's `request.ip`. Rate limits and audit use it.
     */
    clientIp: string | null;
  }
  interface FastifyContextConfig {
    /** Routes that answer without a credential (health, OpenAPI). */
    public?: boolean;
    /**
     * Routes that also answer a request without any credential, as GitLab's do for public resources
     * (GET /projects, a public project's package download): `request.actor` stays null and the service
     * decides by visibility. A credential that is there but does not verify is still a 401.
     */
    anonymous?: boolean;
  }
}

const UNAUTHORIZED = { message: '401 Unauthorized' };

/** The user a request acts as; null on an `anonymous` route called without a credential (or with a deploy token). */
export function viewerOf(request: FastifyRequest): User | null {
  return (request.actor as User | null) ?? null;
}

/** Declares `request.actor` / `request.authToken` once, at the root, for the API and protocol routes. */
export function decorateCredentials(app: FastifyInstance): void {
  app.decorateRequest('actor', null as unknown as User);
  app.decorateRequest('authToken', null as unknown as Token);
  app.decorateRequest('clientIp', null);
}

export function registerAuthentication(app: FastifyInstance, verifier: TokenVerifier): void {

  // On the request, before its body is read (and before schema validation, as GitLab authenticates
  // before Grape validates params): a caller without a valid credential costs no body parsing and
  // learns nothing about the body rules. The credential is in the headers or the query string.
  // A public route (git's auth_request, health, OpenAPI) passes at once, without a promise; a request
  // with a credential waits for the verifier's promise only (no promise of its own). A refusal is sent
  // and `done` is not called: the request goes no further (an answer may still be on its way through
  // an asynchronous onSend hook, e.g. the rate limit's count).
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => {
    const { config, url } = request.routeOptions;
    if (config.public) return done();
    const credential = readApiCredential(request.headers, (request.query ?? {}) as Record<string, unknown>);
    if (!credential) {
      if (config.anonymous) return done();
      reply.status(401).send(UNAUTHORIZED);
      return;
    }
    const route = url ?? '';
    verifier
      .verify(credential.secret, {
        ip: request.ip,
        userAgent: request.headers['user-agent'] ?? null,
        endpoint: `${request.method} ${pathOf(request.url)}`,
        rotation: request.method === 'POST' && isTokenRotationRoute(route),
        absentDigest: absentDigestOf(request.raw),
      })
      .then((result) => {
        let refused: boolean;
        try {
          refused = refuses(request, reply, credential, route, result);
        } catch (e) {
          return done(e as Error);
        }
        if (!refused) done();
      }, done);
  });

  /** Sends the refusal and answers true, or puts the actor and token on the request and answers false. */
  function refuses(request: FastifyRequest, reply: FastifyReply, credential: Credential, route: string, result: VerifyResult): boolean {
    // For the audit log (plugins/audit-trail.ts): a known token is attributed even when refused below.
    if (result.token) request.presentedToken = result.token;
    if (!result.ok) {
      // The texts of GitLab's API guard (lib/api/api_guard.rb) and UserAccessDeniedReason.
      if (result.reason === 'revoked') reply.status(401).send({ error: 'invalid_token', error_description: 'Token was revoked. You have to re-authorize from the user.' });
      else if (result.reason === 'expired') reply.status(401).send({ error: 'invalid_token', error_description: 'Token is expired. You can either do re-authorization or token refresh.' });
      else if (result.reason === 'user_blocked') reply.status(403).send({ message: '403 Forbidden - Your account has been blocked.' });
      else reply.status(401).send(UNAUTHORIZED);
      return true;
    }
    // Basic credentials must name the token's user (or the deploy token's username) — except on the
    // package registry, where GitLab does not check the user name.
    if (credential.kind === 'basic' && !isPackageRegistryRoute(route) && credential.username !== (result.user?.username ?? result.token.username)) {
      reply.status(401).send(UNAUTHORIZED);
      return true;
    }
    // `Deploy-Token:` carries deploy tokens only.
    if (credential.kind === 'token' && credential.deployTokenHeader && result.token.kind !== 'deploy') {
      reply.status(401).send(UNAUTHORIZED);
      return true;
    }
    const decision = decideApiScope(result.token, request.method, route);
    // Only deploy tokens have no user, and decideApiScope lets them through on package routes only.
    if (decision === 'not_for_api' || (!result.user && result.token.kind !== 'deploy')) {
      reply.status(401).send(UNAUTHORIZED);
      return true;
    }
    if (decision === 'insufficient_scope') {
      reply.status(403).send({
        error: 'insufficient_scope',
        error_description: 'The request requires higher privileges than provided by the access token.',
        scope: requiredScopeFor(request.method, result.token),
      });
      return true;
    }
    // null for a deploy token (package routes read request.authToken).
    request.actor = result.user as User;
    request.authToken = result.token;
    return false;
  }
}

/** The path of a request URL, without its query string. */
function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
}
