/**
 * `GET /jwt/auth` (token spec, HTTP Basic) and `POST /jwt/auth` (OAuth2 `grant_type=password` form),
 * the realm a Docker registry sends clients to. Wire answers as GitLab's JwtController gives them:
 * bad credentials 401 `{"errors":[{"code":"UNAUTHORIZED",…}]}`, an unknown service 404, an anonymous
 * request without scope 403 DENIED; too little access is not an error (the JWT carries less).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { readBasic } from '../../auth/credentials.js';
import type { Principal } from '../../protocols/registry/registry-access.js';
import type { IssueResult, RegistryTokenService } from '../../protocols/registry/registry-token-service.js';
import { formatScopes } from '../../protocols/registry/registry-scope.js';

const unauthorized = { errors: [{ code: 'UNAUTHORIZED', message: 'HTTP Basic: Access denied' }] };

const ISSUE_FAILURE: Record<Exclude<IssueResult, { ok: true }>['error'], { status: number; code: string }> = {
  unknown_service: { status: 404, code: 'NOT_FOUND' },
  denied: { status: 403, code: 'DENIED' },
  invalid_scope: { status: 400, code: 'INVALID_SCOPE' },
};

type Issued = Extract<IssueResult, { ok: true }>['issued'];

/**
 * The JSON body of an issued token, made once per issued token: the issued-JWT cache hands the same
 * object to every repeat of a request for its lifetime, so the repeats send the same text.
 */
function bodyOnce(shape: (issued: Issued) => Record<string, unknown>): (issued: Issued) => string {
  const bodies = new WeakMap<Issued, string>();
  return (issued) => {
    let body = bodies.get(issued);
    if (body === undefined) bodies.set(issued, (body = JSON.stringify(shape(issued))));
    return body;
  };
}

/** A parameter that may be absent, given once, or repeated. */
function values(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}
const single = (v: unknown): string | null => values(v)[0] ?? null;

/** The body of `GET /jwt/auth`'s 200 (the fast lane answers a cached one with the same text). */
export const registryGetBody = (issued: Issued) => ({
  token: issued.token,
  access_token: issued.token,
  expires_in: issued.expiresIn,
  issued_at: issued.issuedAt,
});

/** Headers of every `/jwt/auth` answer: a credential is never cached on the way. */
export const REGISTRY_NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' } as const;

export function registerRegistryAuthRoutes(app: FastifyInstance, tokens: RegistryTokenService): void {
  const getBody = bodyOnce(registryGetBody);
  const postBody = bodyOnce((issued) => ({
    access_token: issued.token,
    token: issued.token,
    scope: formatScopes(issued.access),
    expires_in: issued.expiresIn,
    issued_at: issued.issuedAt,
  }));
  const noStore = (reply: FastifyReply) => reply.headers(REGISTRY_NO_STORE);

  /** Authenticates, then issues; on success the request carries the actor and token (audit log). */
  async function answer(
    request: FastifyRequest,
    reply: FastifyReply,
    basic: { username: string; secret: string } | null,
    params: { service: string | null; scopes: string[] },
    body: (issued: Issued) => string,
  ) {
    noStore(reply);
    const auth = await tokens.authenticate(basic, { ip: request.ip, userAgent: request.headers['user-agent'] ?? null, endpoint: `${request.method} /jwt/auth` });
    if (!auth.ok) {
      if (auth.token) request.presentedToken = auth.token; // known but not working: the audit log names it
      return reply.status(401).send(unauthorized);
    }
    setPrincipal(request, auth.principal);
    const result = await tokens.issue(auth.principal, params);
    if (!result.ok) {
      const { status, code } = ISSUE_FAILURE[result.error];
      return reply.status(status).send({ errors: [{ code, message: result.message }] });
    }
    // Text, typed as Fastify types a serialised object (the JSON content-type hook then drops the charset).
    return reply.status(200).type('application/json; charset=utf-8').send(body(result.issued));
  }

  app.get('/jwt/auth', { config: { rateLimit: 'after-handler' }, schema: { hide: true } }, async (request, reply) => {
    const query = (request.query ?? {}) as Record<string, unknown>;
    const authorization = request.headers.authorization;
    const basic = readBasic(authorization);
    // A credential the token service cannot read is refused, not silently treated as anonymous.
    if (authorization !== undefined && basic === null) return noStore(reply).status(401).send(unauthorized);
    return answer(request, reply, basic, { service: single(query.service), scopes: values(query.scope) }, getBody);
  });

  app.post('/jwt/auth', { config: { rateLimit: 'after-handler' }, schema: { hide: true } }, async (request, reply) => {
    const body = (request.body && typeof request.body === 'object' ? request.body : {}) as Record<string, unknown>;
    const grantType = single(body.grant_type);
    if (grantType !== 'password') {
      // No refresh tokens are issued, so there is nothing a refresh_token grant could present.
      return noStore(reply).status(400).send({ error: 'unsupported_grant_type', error_description: 'grant_type must be "password" (username and token)' });
    }
    const username = single(body.username);
    const password = single(body.password);
    if (!username || !password) return noStore(reply).status(400).send({ error: 'invalid_request', error_description: 'username and password are required' });
    return answer(request, reply, { username, secret: password }, { service: single(body.service), scopes: values(body.scope) }, postBody);
  });
}

function setPrincipal(request: FastifyRequest, principal: Principal): void {
  if (principal.kind === 'anonymous') return;
  request.authToken = principal.token;
  if (principal.user) request.actor = principal.user;
}
