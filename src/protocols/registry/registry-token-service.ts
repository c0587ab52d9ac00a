/**
 * The Docker registry token service (distribution's token authentication spec): authenticates HTTP
 * Basic credentials with the shared verifier, intersects the requested scopes with what the
 * credential may do, and signs a short-lived ES256 JWT the registry trusts through its
 * `rootcertbundle`. Returns outcomes; the HTTP route maps them to the wire.
 */
import type { Token } from '../../tokens/token.js';
import type { User } from '../../namespaces/namespace.js';
import type { Clock } from '../../kernel/clock.js';
import type { TokenGenerator } from '../../kernel/random.js';
import type { TokenVerifier, VerifyContext } from '../../tokens/verify-token.js';
import type { Principal, RegistryAccess } from './registry-access.js';
import { parseScopes, ScopeError, type ResourceAccess } from './registry-scope.js';
import type { SigningKeyProvider } from './signing-key.js';
import type { DecisionCache } from '../decision-cache.js';

export interface RegistrySettings {
  /** The registry's `auth.token.service`: the `service` clients send and the JWT audience. */
  readonly service: string;
  /** The registry's `auth.token.issuer`: the JWT `iss`. */
  readonly issuer: string;
  /** Lifetime of an issued JWT in seconds (GitLab: 5 minutes). */
  readonly tokenLifetimeSeconds: number;
}

export interface RegistryTokenServiceDeps {
  verifier: TokenVerifier;
  access: RegistryAccess;
  keys: SigningKeyProvider;
  clock: Clock;
  random: TokenGenerator;
  settings: RegistrySettings;
  /**
   * JWTs issued per (token, subject, service, scopes) for a short time (protocols/decision-cache.ts): the
   * same request within it gets the same still-valid JWT, with the `issued_at` and `expires_in` it was
   * signed with (the client's cache of it would hold the same), instead of a new grant and signature.
   */
  issued?: DecisionCache<IssuedToken>;
}

/** On failure, `token` is the presented token when it is known but does not work (for the audit log). */
export type AuthenticationResult = { ok: true; principal: Principal } | { ok: false; token?: Token };

export interface IssuedToken {
  readonly token: string;
  readonly access: readonly ResourceAccess[];
  readonly expiresIn: number;
  /** RFC 3339, whole seconds (clients parse it as Go's time.Time). */
  readonly issuedAt: string;
}

export type IssueResult =
  | { ok: true; issued: IssuedToken }
  | { ok: false; error: 'unknown_service' | 'denied' | 'invalid_scope'; message: string };

export type RegistryTokenService = ReturnType<typeof createRegistryTokenService>;

/** GitLab's not-before slack: a registry whose clock is a little behind still accepts a fresh token. */
const NOT_BEFORE_SLACK_SECONDS = 5;

/** A deploy token answers to its own username only; any other token must belong to a user (any username). */
const credentialFits = (basic: { username: string }, token: Token, user: User | null) => (token.kind === 'deploy' ? token.username === basic.username : user !== null);
/** The JWT's `sub`: the deploy token's username, else the user's. */
const subjectOf = (token: Token, user: User | null) => (token.kind === 'deploy' ? token.username! : user!.username);
/** The issued-JWT cache's request key: the subject and the scopes as sent. */
const issuedKey = (subject: string, scopes: readonly string[]) => `${subject}\n${scopes.join('\n')}`;

export function createRegistryTokenService({ verifier, access, keys, clock, random, settings, issued }: RegistryTokenServiceDeps) {
  return {
    settings,

    /**
     * The fast lane's issue (http/fast-lane.ts): for Basic credentials whose token the verify cache holds
     * and that already have a still-valid JWT for this service and these scopes in the issued-JWT cache,
     * that JWT — what `authenticate` then `issue` would answer, with the same side effect (the token's
     * usage). Null, with no side effect, on anything else (anonymous, not cached, refused, another
     * service, nothing issued yet, or `admits` — the caller's last word, the lane's rate limit — says
     * no): then `authenticate` and `issue` decide, from the start.
     */
    issueCached(basic: { username: string; secret: string }, request: { service: string | null; scopes: readonly string[] }, context: VerifyContext, admits: (token: Token) => boolean = () => true): { token: Token; user: User | null; issued: IssuedToken } | null {
      if (!issued || request.service !== settings.service) return null;
      let hit: IssuedToken | undefined;
      const verified = verifier.verifyCached(basic.secret, context, (token, user) => {
        if (!credentialFits(basic, token, user)) return false;
        hit = issued.get(token.id, issuedKey(subjectOf(token, user), request.scopes));
        return hit !== undefined && admits(token);
      });
      return verified && hit ? { token: verified.token, user: verified.user, issued: hit } : null;
    },

    /**
     * Basic credentials → a principal. A deploy token must come with its own username; personal,
     * project, group and service-account tokens with any username (`oauth2`, the user's, …), as
     * GitLab's `find_for_git_client` and git over HTTP. No credentials → anonymous. Anything else fails
     * as one answer.
     */
    async authenticate(basic: { username: string; secret: string } | null, context: VerifyContext): Promise<AuthenticationResult> {
      if (basic === null) return { ok: true, principal: { kind: 'anonymous' } };
      const result = await verifier.verify(basic.secret, context);
      if (!result.ok) return result.token ? { ok: false, token: result.token } : { ok: false };
      if (!credentialFits(basic, result.token, result.user)) return { ok: false, token: result.token };
      return { ok: true, principal: { kind: 'token', token: result.token, user: result.user } };
    },

    async issue(principal: Principal, request: { service: string | null; scopes: readonly string[] }): Promise<IssueResult> {
      if (request.service !== settings.service) {
        return { ok: false, error: 'unknown_service', message: `unknown service ${JSON.stringify((request.service ?? '').slice(0, 200))}; this token service serves ${JSON.stringify(settings.service)}` };
      }
      const subject = principal.kind === 'anonymous' ? '' : subjectOf(principal.token, principal.user);
      const tokenId = principal.kind === 'anonymous' ? null : principal.token.id;
      // Keyed by the scopes as sent: an entry exists only for scope values that parsed, so a hit skips parsing.
      const cacheKey = issuedKey(subject, request.scopes);
      const reused = tokenId === null ? undefined : issued?.get(tokenId, cacheKey);
      if (reused !== undefined) return { ok: true, issued: reused };
      let requested: ResourceAccess[];
      try {
        requested = parseScopes(request.scopes);
      } catch (e) {
        if (e instanceof ScopeError) return { ok: false, error: 'invalid_scope', message: e.message };
        throw e;
      }
      // GitLab: an anonymous request must at least ask for something.
      if (principal.kind === 'anonymous' && requested.length === 0) return { ok: false, error: 'denied', message: 'access forbidden' };
      const granted = await access.grant(principal, requested);
      const key = await keys.current();
      const now = Math.floor(clock.now().getTime() / 1000);
      // `aud` a single string and the times whole seconds: registry 2.x refuses an array or a fraction.
      const token = key.signer.sign({
        iss: settings.issuer,
        sub: subject,
        aud: settings.service,
        exp: now + settings.tokenLifetimeSeconds,
        nbf: now - NOT_BEFORE_SLACK_SECONDS,
        iat: now,
        jti: Buffer.from(random.randomBytes(16)).toString('base64url'),
        access: granted,
      });
      const result: IssuedToken = { token, access: granted, expiresIn: settings.tokenLifetimeSeconds, issuedAt: new Date(now * 1000).toISOString().replace('.000Z', 'Z') };
      if (tokenId !== null) issued?.set(tokenId, principal.kind === 'anonymous' ? null : (principal.user?.id ?? null), cacheKey, result);
      return { ok: true, issued: result };
    },
  };
}
