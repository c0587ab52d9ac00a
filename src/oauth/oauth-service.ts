/**
 * The OAuth2 protocol (issue 17): the authorization request (RFC 6749 4.1 with PKCE, RFC 7636),
 * the token endpoint (authorization_code, refresh_token with rotation), revocation (RFC 7009) and
 * token info. Access tokens are `tokens` rows of kind `oauth`, so the one verifier accepts them wherever
 * a personal token works; codes and refresh tokens are kept only as digests. Every failure is an
 * OAuthError with RFC 6749's code.
 *
 * Replay rules: a code redeemed twice revokes the grant its first redemption created; a refresh token
 * presented after it was exchanged revokes its grant (every token of it). Both are single-use by a
 * compare-and-set in the store, so two concurrent redemptions cannot both succeed.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../kernel/clock.js';
import { notFound } from '../kernel/errors.js';
import type { TokenGenerator } from '../kernel/random.js';
import type { NamespaceStore } from '../namespaces/namespace-store.js';
import type { User } from '../namespaces/namespace.js';
import type { TokenDigester } from '../tokens/token-digest.js';
import { generateToken } from '../tokens/token-format.js';
import type { Token } from '../tokens/token.js';
import type { TokenVerifier } from '../tokens/verify-token.js';
import type { OAuthApplication } from './application.js';
import type { OAuthEvent, OAuthEventSink, OAuthRevokeReason } from './oauth-events.js';
import { OAuthError } from './oauth-error.js';
import { isOAuthScope, parseScopeParam } from './oauth-scopes.js';
import type { OAuthGrant, OAuthStore } from './oauth-store.js';

/** Prefixes of what the provider issues. GitLab gives OAuth tokens none; ours have one so scanners and log redaction recognise them. */
export const OAUTH_ACCESS_TOKEN_PREFIX = 'lkoat-';
export const OAUTH_REFRESH_TOKEN_PREFIX = 'lkort-';
const CODE_PREFIX = 'lkoac-';
const DEVICE_CODE_PREFIX = 'lkodc-';
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** RFC 8628 6.1: no vowels (no words), no look-alikes; 8 characters of 20 ≈ 34.6 bits, and the code lives minutes. */
const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';

/** A user code as typed: case, spaces and dashes do not matter. */
export function normalizeUserCode(typed: string): string {
  return typed.toUpperCase().replace(/[^A-Z]/g, '');
}

export interface OAuthSettings {
  /** Access token lifetime (GitLab's default: 2 hours). */
  readonly accessTokenTtlSeconds: number;
  /** Authorization code lifetime (Doorkeeper's default: 10 minutes). */
  readonly codeTtlSeconds: number;
  /** Device code lifetime (RFC 8628) and the polling interval devices are told. */
  readonly deviceCodeTtlSeconds: number;
  readonly devicePollIntervalSeconds: number;
  /** Refresh grant lifetime in days, counted from issue (refreshes do not extend it); null: never expires (GitLab's default). */
  readonly refreshTokenLifetimeDays: number | null;
}

/** Expired codes and device codes are kept a day (a replayed code still revokes its grant), then deleted. */
const CODE_RETENTION_MS = 24 * 3600 * 1000;
/** Rotated-away refresh tokens, and those of revoked grants, are kept 30 days (reuse detection, leak look-ups), then deleted. */
const REFRESH_RETENTION_MS = 30 * 24 * 3600 * 1000;

export const DEFAULT_OAUTH_SETTINGS: OAuthSettings = { accessTokenTtlSeconds: 7200, codeTtlSeconds: 600, deviceCodeTtlSeconds: 600, devicePollIntervalSeconds: 5, refreshTokenLifetimeDays: null };

export interface OAuthServiceDeps {
  store: OAuthStore;
  users: Pick<NamespaceStore, 'findUserById'>;
  clock: Clock;
  random: TokenGenerator;
  digester: TokenDigester;
  verifier: Pick<TokenVerifier, 'verify'>;
  settings: OAuthSettings;
  /** Token ids that stopped working (the revocation feed). */
  onRevoked: (tokenId: number) => void;
  /** Grants issued, refreshed and revoked, codes replayed: the audit log and metrics. */
  onEvent?: OAuthEventSink;
  /** The ID token of an `openid` grant (oidc.ts); absent until OpenID Connect is built. */
  idToken?: (input: { application: OAuthApplication; user: User; grant: OAuthGrant; now: Date; issuer: string }) => Promise<string>;
}

/** The parameters of /oauth/authorize once checked. */
export interface AuthorizationRequest {
  readonly application: OAuthApplication;
  readonly redirectUri: string;
  readonly scopes: readonly string[];
  readonly state: string | null;
  readonly codeChallenge: string | null;
  readonly codeChallengeMethod: 'S256' | null;
  readonly nonce: string | null;
}

/**
 * What checking an authorization request decided: go on to consent, send the error back to the
 * client's redirect URI, or show it here (unknown client or redirect URI: never redirect there).
 */
export type AuthorizationCheck = { kind: 'ok'; request: AuthorizationRequest } | { kind: 'redirect'; location: string } | { kind: 'page'; error: OAuthError };

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token: string;
  scope: string;
  created_at: number;
  id_token?: string;
}

export interface TokenInfo {
  resource_owner_id: number;
  scope: string[];
  expires_in: number;
  application: { uid: string };
  created_at: number;
  scopes: string[];
  expires_in_seconds: number;
}

type Params = Record<string, unknown>;

const text = (params: Params, name: string): string | null => {
  const v = params[name];
  if (Array.isArray(v)) return typeof v[0] === 'string' ? v[0] : null;
  return typeof v === 'string' && v.length > 0 ? v : null;
};

/** Appends parameters to a redirect URI, keeping its own query (RFC 6749 3.1.2). */
export function withParams(uri: string, params: Record<string, string | null>): string {
  const url = new URL(uri);
  for (const [k, v] of Object.entries(params)) if (v !== null) url.searchParams.set(k, v);
  return url.toString();
}

/** Thrown inside a transaction to roll it back when a concurrent request consumed the same code. */
class RaceLost extends Error {}

const S256 = (verifier: string) => createHash('sha256').update(verifier, 'ascii').digest('base64url');
/** RFC 7636 4.1: 43 to 128 unreserved characters. */
const PKCE_VALUE = /^[A-Za-z0-9._~-]{43,128}$/;

export function createOAuthService(deps: OAuthServiceDeps) {
  const { store, users, clock, random, digester, settings, onRevoked } = deps;
  const epoch = (iso: string) => Math.floor(Date.parse(iso) / 1000);

  /** RFC 6749 2.3.1: HTTP Basic (form-urlencoded id and secret) or client_id/client_secret in the body. */
  async function authenticateClient(params: Params, authorization: string | undefined): Promise<OAuthApplication> {
    let clientId = text(params, 'client_id');
    let clientSecret = text(params, 'client_secret');
    if (authorization && /^basic /i.test(authorization)) {
      const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw new OAuthError('invalid_client');
      try {
        clientId = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
        clientSecret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '));
      } catch {
        throw new OAuthError('invalid_client');
      }
    }
    if (!clientId || clientId.length > 256) throw new OAuthError('invalid_client');
    const app = await store.findApplicationByUid(clientId);
    if (!app) throw new OAuthError('invalid_client');
    if (clientSecret !== null) {
      // Any key of the server-secret ring (a secret issued before a re-key still authenticates).
      if (clientSecret.length > 256 || !digester.verifies(clientSecret, app.secretDigest)) throw new OAuthError('invalid_client');
    } else if (app.confidential) {
      throw new OAuthError('invalid_client');
    }
    return app;
  }

  function publish(ids: readonly number[]) {
    for (const id of ids) onRevoked(id);
  }

  type AppRef = OAuthEvent['application'];
  const report = (name: OAuthEvent['name'], grant: OAuthGrant, application: AppRef, more: Partial<Pick<OAuthEvent, 'tokenId' | 'by' | 'reason'>> = {}) =>
    deps.onEvent?.({ name, at: clock.now().toISOString(), grant, application, tokenId: null, by: null, ...more });

  /** Ends a grant and every token of it; reported once, by whichever call ended it. `by`: who, null for the client. */
  async function revokeGrant(grantId: number, reason: OAuthRevokeReason, by: string | null, app?: AppRef): Promise<void> {
    const { ended, tokenIds } = await store.transaction((tx) => tx.revokeGrant(grantId, clock.now().toISOString(), reason));
    publish(tokenIds);
    if (!ended || !deps.onEvent) return;
    const grant = await store.findGrant(grantId);
    const application = app ?? (grant ? await store.findApplication(grant.applicationId) : null);
    if (grant && application) report('oauth.grant_revoked', grant, application, { reason, by });
  }

  /** A code presented again: reported, and the grant its first redemption created ends. */
  async function codeReplayed(grantId: number, app: OAuthApplication): Promise<void> {
    const grant = await store.findGrant(grantId);
    if (grant) report('oauth.code_reuse', grant, app);
    await revokeGrant(grantId, 'code_reuse', null, app);
  }

  /** A new access token (a `tokens` row of kind oauth) and refresh token under `grant`, in `tx`. */
  async function issue(tx: Parameters<Parameters<OAuthStore['transaction']>[0]>[0], app: OAuthApplication, grant: OAuthGrant, scopes: readonly string[], now: Date) {
    const access = generateToken(OAUTH_ACCESS_TOKEN_PREFIX, random);
    const refresh = generateToken(OAUTH_REFRESH_TOKEN_PREFIX, random);
    const createdAt = now.toISOString();
    const token = await tx.tokens.insert({
      kind: 'oauth', name: app.name, description: '', digest: digester.digest(access), userId: grant.userId, projectId: null, groupId: null, username: null,
      scopes, accessLevel: null, expiresAt: null, createdBy: grant.userId, createdAt, validUntil: new Date(now.getTime() + settings.accessTokenTtlSeconds * 1000).toISOString(),
    });
    await tx.linkAccessToken(token.id, grant.id);
    await tx.insertRefreshToken({ grantId: grant.id, digest: digester.digest(refresh), createdAt });
    return { access, refresh, token };
  }

  async function respond(app: OAuthApplication, grant: OAuthGrant, issued: { access: string; refresh: string; token: Token }, now: Date, issuer: string): Promise<TokenResponse> {
    const body: TokenResponse = {
      access_token: issued.access,
      token_type: 'Bearer',
      expires_in: settings.accessTokenTtlSeconds,
      refresh_token: issued.refresh,
      scope: issued.token.scopes.join(' '),
      created_at: epoch(issued.token.createdAt),
    };
    if (deps.idToken && issued.token.scopes.includes('openid')) {
      const user = await users.findUserById(grant.userId);
      if (user) body.id_token = await deps.idToken({ application: app, user, grant, now, issuer });
    }
    return body;
  }

  async function exchangeCode(app: OAuthApplication, params: Params, issuer: string): Promise<TokenResponse> {
    const code = text(params, 'code');
    if (!code) throw new OAuthError('invalid_request', 'Missing required parameter: code.');
    if (code.length > 256) throw new OAuthError('invalid_grant');
    const now = clock.now();
    const found = await store.findCodeByDigest(digester.digest(code));
    if (!found || found.applicationId !== app.id) throw new OAuthError('invalid_grant');
    if (found.usedAt !== null) {
      // A code presented twice: whoever holds it may be an attacker, so what it gave is taken back.
      if (found.grantId !== null) await codeReplayed(found.grantId, app);
      throw new OAuthError('invalid_grant');
    }
    if (now.getTime() >= Date.parse(found.expiresAt)) throw new OAuthError('invalid_grant');
    if (text(params, 'redirect_uri') !== found.redirectUri) throw new OAuthError('invalid_grant');
    const verifier = text(params, 'code_verifier');
    if (found.codeChallenge !== null) {
      if (!verifier) throw new OAuthError('invalid_request', 'Missing required parameter: code_verifier.');
      if (!PKCE_VALUE.test(verifier) || S256(verifier) !== found.codeChallenge) throw new OAuthError('invalid_grant');
    } else if (verifier) {
      throw new OAuthError('invalid_grant');
    }
    const user = await users.findUserById(found.userId);
    if (!user || user.state !== 'active') throw new OAuthError('invalid_grant');
    const result = await store.transaction(async (tx) => {
      const grant = await tx.insertGrant({ applicationId: app.id, userId: found.userId, scopes: found.scopes, flow: 'authorization_code', nonce: found.nonce, authTime: found.createdAt, createdAt: now.toISOString(), expiresAt: grantExpiry(now) });
      // A concurrent redemption won: nothing of this one is kept (rolled back), and the replay is handled below.
      if (!(await tx.markCodeUsed(found.id, now.toISOString(), grant.id))) throw new RaceLost();
      return { grant, issued: await issue(tx, app, grant, found.scopes, now) };
    }).catch((e: unknown) => {
      if (e instanceof RaceLost) return null;
      throw e;
    });
    if (!result) {
      const again = await store.findCodeByDigest(digester.digest(code));
      if (again?.grantId) await codeReplayed(again.grantId, app);
      throw new OAuthError('invalid_grant');
    }
    report('oauth.grant_issued', result.grant, app, { tokenId: result.issued.token.id, by: user.username });
    return respond(app, result.grant, result.issued, now, issuer);
  }

  /** A refresh token by value, used or not; one issued before a re-key of the server secret is found by its digest under a previous key. */
  async function findRefreshToken(presented: string) {
    let found = await store.findRefreshTokenByDigest(digester.digest(presented));
    for (const older of found ? [] : digester.olderDigests(presented)) if ((found = await store.findRefreshTokenByDigest(older))) break;
    return found;
  }

  /** A grant with its application and user (the leak response shows all three). */
  async function describeGrant(grant: OAuthGrant | null) {
    if (!grant) return null;
    const [application, user] = await Promise.all([store.findApplication(grant.applicationId), users.findUserById(grant.userId)]);
    return application ? { grant, application, user } : null;
  }

  /** A new grant's expiry under the configured lifetime; stored, so a later config change does not rewrite it. */
  const grantExpiry = (now: Date): string | null =>
    settings.refreshTokenLifetimeDays === null ? null : new Date(now.getTime() + settings.refreshTokenLifetimeDays * 86_400_000).toISOString();

  async function refresh(app: OAuthApplication, params: Params, issuer: string): Promise<TokenResponse> {
    const presented = text(params, 'refresh_token');
    if (!presented) throw new OAuthError('invalid_request', 'Missing required parameter: refresh_token.');
    if (presented.length > 256) throw new OAuthError('invalid_grant');
    const now = clock.now();
    const found = await findRefreshToken(presented);
    if (!found) throw new OAuthError('invalid_grant');
    const grant = await store.findGrant(found.grantId);
    if (!grant || grant.applicationId !== app.id || grant.revokedAt !== null) throw new OAuthError('invalid_grant');
    if (grant.expiresAt !== null && now.getTime() >= Date.parse(grant.expiresAt)) throw new OAuthError('invalid_grant');
    if (found.usedAt !== null) {
      // Rotation: a refresh token works once. Seeing it again means two parties hold it; end the grant.
      await revokeGrant(grant.id, 'refresh_reuse', null, app);
      throw new OAuthError('invalid_grant');
    }
    const asked = params.scope === undefined ? [...grant.scopes] : parseScopeParam(params.scope);
    if (asked.length === 0 || !asked.every((s) => grant.scopes.includes(s))) throw new OAuthError('invalid_scope');
    const user = await users.findUserById(grant.userId);
    if (!user || user.state !== 'active') throw new OAuthError('invalid_grant');
    const result = await store.transaction(async (tx) => {
      if (!(await tx.markRefreshTokenUsed(found.id, now.toISOString()))) return null;
      // The access token the previous refresh (or the code) gave stops working: one live access token per grant.
      const revoked = await tx.revokeAccessTokensOfGrant(grant.id, now.toISOString());
      return { revoked, issued: await issue(tx, app, grant, asked, now) };
    });
    if (!result) {
      await revokeGrant(grant.id, 'refresh_reuse', null, app);
      throw new OAuthError('invalid_grant');
    }
    publish(result.revoked);
    report('oauth.token_refreshed', grant, app, { tokenId: result.issued.token.id, by: user.username });
    return respond(app, grant, result.issued, now, issuer);
  }

  async function exchangeDeviceCode(app: OAuthApplication, params: Params, issuer: string): Promise<TokenResponse> {
    const deviceCode = text(params, 'device_code');
    if (!deviceCode) throw new OAuthError('invalid_request', 'Missing required parameter: device_code.');
    if (deviceCode.length > 256) throw new OAuthError('invalid_grant');
    const now = clock.now();
    const found = await store.findDeviceCodeByDeviceDigest(digester.digest(deviceCode));
    if (!found || found.applicationId !== app.id || found.usedAt !== null) throw new OAuthError('invalid_grant');
    if (now.getTime() >= Date.parse(found.expiresAt)) throw new OAuthError('expired_token');
    if (found.deniedAt !== null) throw new OAuthError('access_denied');
    if (found.approvedAt === null) {
      const tooSoon = found.lastPolledAt !== null && now.getTime() - Date.parse(found.lastPolledAt) < settings.devicePollIntervalSeconds * 1000;
      await store.markDeviceCodePolled(found.id, now.toISOString());
      throw new OAuthError(tooSoon ? 'slow_down' : 'authorization_pending');
    }
    const user = found.userId === null ? null : await users.findUserById(found.userId);
    if (!user || user.state !== 'active') throw new OAuthError('invalid_grant');
    const result = await store
      .transaction(async (tx) => {
        if (!(await tx.markDeviceCodeUsed(found.id, now.toISOString()))) throw new RaceLost();
        const grant = await tx.insertGrant({ applicationId: app.id, userId: user.id, scopes: found.scopes, flow: 'device_code', nonce: null, authTime: found.approvedAt!, createdAt: now.toISOString(), expiresAt: grantExpiry(now) });
        return { grant, issued: await issue(tx, app, grant, found.scopes, now) };
      })
      .catch((e: unknown) => {
        if (e instanceof RaceLost) return null;
        throw e;
      });
    if (!result) throw new OAuthError('invalid_grant');
    report('oauth.grant_issued', result.grant, app, { tokenId: result.issued.token.id, by: user.username });
    return respond(app, result.grant, result.issued, now, issuer);
  }

  /** A device request the user may still decide on, with its application; null when unknown, expired or decided. */
  async function pendingDevice(typedUserCode: string) {
    const normalized = normalizeUserCode(typedUserCode);
    if (normalized.length !== 8) return null;
    const found = await store.findDeviceCodeByUserCodeDigest(digester.digest(normalized));
    if (!found || found.approvedAt !== null || found.deniedAt !== null || clock.now().getTime() >= Date.parse(found.expiresAt)) return null;
    const application = await store.findApplication(found.applicationId);
    return application ? { device: found, application, userCode: normalized } : null;
  }

  return {
    authenticateClient,

    /** POST /oauth/authorize_device (RFC 8628 3.1–3.2): a device code for the client, a user code for the person. */
    async authorizeDevice(params: Params, authorization: string | undefined, base: string) {
      const app = await authenticateClient(params, authorization);
      const scopes = params.scope === undefined ? [...app.scopes] : parseScopeParam(params.scope);
      if (scopes.length === 0 || !scopes.every((s) => isOAuthScope(s) && app.scopes.includes(s))) throw new OAuthError('invalid_scope');
      const deviceCode = generateToken(DEVICE_CODE_PREFIX, random);
      let userCode = '';
      for (const b of random.randomBytes(8)) userCode += USER_CODE_ALPHABET[b % USER_CODE_ALPHABET.length];
      const now = clock.now();
      await store.insertDeviceCode({
        deviceDigest: digester.digest(deviceCode), userCodeDigest: digester.digest(userCode), applicationId: app.id, scopes,
        createdAt: now.toISOString(), expiresAt: new Date(now.getTime() + settings.deviceCodeTtlSeconds * 1000).toISOString(),
      });
      const shown = `${userCode.slice(0, 4)}-${userCode.slice(4)}`;
      return {
        device_code: deviceCode,
        user_code: shown,
        verification_uri: `${base}/oauth/device`,
        verification_uri_complete: `${base}/oauth/device?user_code=${shown}`,
        expires_in: settings.deviceCodeTtlSeconds,
        interval: settings.devicePollIntervalSeconds,
      };
    },

    pendingDevice,

    /** The signed-in user approves or denies a pending device request; false when it is no longer pending. */
    async decideDevice(user: User, typedUserCode: string, approve: boolean): Promise<boolean> {
      const pending = await pendingDevice(typedUserCode);
      if (!pending) return false;
      return store.decideDeviceCode(pending.device.id, user.id, approve ? 'approved' : 'denied', clock.now().toISOString());
    },

    /** Checks /oauth/authorize's parameters (GET for the consent page, POST when the user decides). */
    async checkAuthorization(params: Params): Promise<AuthorizationCheck> {
      const clientId = text(params, 'client_id');
      const app = clientId && clientId.length <= 256 ? await store.findApplicationByUid(clientId) : null;
      if (!app) return { kind: 'page', error: new OAuthError('invalid_client') };
      const askedUri = text(params, 'redirect_uri');
      const redirectUri = askedUri ?? (app.redirectUris.length === 1 ? app.redirectUris[0]! : null);
      // Exact match only: no prefix, no normalisation, so a code can never be sent anywhere else.
      if (redirectUri === null || !app.redirectUris.includes(redirectUri)) return { kind: 'page', error: new OAuthError('invalid_redirect_uri') };
      const state = text(params, 'state');
      const fail = (error: OAuthError): AuthorizationCheck => ({ kind: 'redirect', location: withParams(redirectUri, { error: error.code, error_description: error.description, state }) });
      const responseType = text(params, 'response_type');
      if (!responseType) return fail(new OAuthError('invalid_request', 'Missing required parameter: response_type.'));
      if (responseType !== 'code') return fail(new OAuthError('unsupported_response_type'));
      const scopes = params.scope === undefined ? [...app.scopes] : parseScopeParam(params.scope);
      if (scopes.length === 0 || !scopes.every((s) => isOAuthScope(s) && app.scopes.includes(s))) return fail(new OAuthError('invalid_scope'));
      const codeChallenge = text(params, 'code_challenge');
      const method = text(params, 'code_challenge_method') ?? (codeChallenge ? 'plain' : null);
      if (codeChallenge !== null) {
        if (method !== 'S256') return fail(new OAuthError('invalid_request', 'Code challenge method must be S256.'));
        if (!/^[A-Za-z0-9_-]{43}$/.test(codeChallenge)) return fail(new OAuthError('invalid_request', 'The code challenge is malformed.'));
      } else if (!app.confidential) {
        return fail(new OAuthError('invalid_request', 'Public clients must use PKCE: code_challenge (S256) is required.'));
      }
      const nonce = text(params, 'nonce');
      if (nonce !== null && nonce.length > 512) return fail(new OAuthError('invalid_request', 'The nonce is too long.'));
      if (state !== null && state.length > 2048) return { kind: 'page', error: new OAuthError('invalid_request', 'The state is too long.') };
      return { kind: 'ok', request: { application: app, redirectUri, scopes, state, codeChallenge, codeChallengeMethod: codeChallenge ? 'S256' : null, nonce } };
    },

    /** The user approved: a single-use code, short-lived, bound to the client, redirect URI and PKCE challenge. */
    async approve(user: User, request: AuthorizationRequest): Promise<string> {
      const code = generateToken(CODE_PREFIX, random);
      const now = clock.now();
      await store.insertCode({
        digest: digester.digest(code), applicationId: request.application.id, userId: user.id, redirectUri: request.redirectUri, scopes: request.scopes,
        codeChallenge: request.codeChallenge, codeChallengeMethod: request.codeChallengeMethod, nonce: request.nonce,
        createdAt: now.toISOString(), expiresAt: new Date(now.getTime() + settings.codeTtlSeconds * 1000).toISOString(),
      });
      return withParams(request.redirectUri, { code, state: request.state });
    },

    deny(request: AuthorizationRequest): string {
      const error = new OAuthError('access_denied');
      return withParams(request.redirectUri, { error: error.code, error_description: error.description, state: request.state });
    },

    /** POST /oauth/token; `issuer` is the base URL ID tokens name. */
    async token(params: Params, authorization: string | undefined, issuer: string): Promise<TokenResponse> {
      const grantType = text(params, 'grant_type');
      if (!grantType) throw new OAuthError('invalid_request', 'Missing required parameter: grant_type.');
      if (grantType !== 'authorization_code' && grantType !== 'refresh_token' && grantType !== DEVICE_CODE_GRANT) throw new OAuthError('unsupported_grant_type');
      const app = await authenticateClient(params, authorization);
      if (grantType === DEVICE_CODE_GRANT) return exchangeDeviceCode(app, params, issuer);
      return grantType === 'authorization_code' ? exchangeCode(app, params, issuer) : refresh(app, params, issuer);
    },

    /**
     * POST /oauth/revoke (RFC 7009): an access token stops working; a refresh token ends its grant. A
     * token that is unknown, already revoked or another client's is answered the same (200), as the RFC says.
     */
    async revoke(params: Params, authorization: string | undefined): Promise<void> {
      const app = await authenticateClient(params, authorization);
      const presented = text(params, 'token');
      if (!presented) throw new OAuthError('invalid_request', 'Missing required parameter: token.');
      if (presented.length > 256) return;
      const digest = digester.digest(presented);
      const hint = text(params, 'token_type_hint');
      const tryAccess = async () => {
        const token = await store.transaction((tx) => tx.tokens.findByDigest(digest));
        if (!token || token.kind !== 'oauth') return false;
        const grant = await store.grantOfAccessToken(token.id);
        if (!grant || grant.applicationId !== app.id) return true;
        if (await store.transaction((tx) => tx.tokens.markRevoked(token.id, clock.now().toISOString()))) {
          publish([token.id]);
          report('oauth.token_revoked', grant, app, { tokenId: token.id, reason: 'revoked' });
        }
        return true;
      };
      const tryRefresh = async () => {
        const found = await store.findRefreshTokenByDigest(digest);
        if (!found) return false;
        const grant = await store.findGrant(found.grantId);
        if (grant && grant.applicationId === app.id) await revokeGrant(grant.id, 'revoked', null, app);
        return true;
      };
      if (hint === 'refresh_token') {
        if (!(await tryRefresh())) await tryAccess();
      } else if (!(await tryAccess())) await tryRefresh();
    },

    /** GET /oauth/token/info: what an OAuth access token is (Doorkeeper's token info, with GitLab's extra fields). */
    async tokenInfo(secret: string | null): Promise<TokenInfo> {
      if (!secret) throw new OAuthError('invalid_token', 'The access token is invalid');
      const result = await deps.verifier.verify(secret);
      if (!result.ok) {
        const reason = result.reason === 'expired' ? 'The access token expired' : result.reason === 'revoked' ? 'The access token was revoked' : 'The access token is invalid';
        throw new OAuthError('invalid_token', result.token?.kind === 'oauth' || result.reason === 'unknown' ? reason : 'The access token is invalid');
      }
      if (result.token.kind !== 'oauth') throw new OAuthError('invalid_token', 'The access token is invalid');
      const grant = await store.grantOfAccessToken(result.token.id);
      const app = grant ? await store.findApplication(grant.applicationId) : null;
      if (!grant || !app) throw new OAuthError('invalid_token', 'The access token is invalid');
      const left = Math.max(0, Math.floor((Date.parse(result.token.validUntil!) - clock.now().getTime()) / 1000));
      const scopes = [...result.token.scopes];
      return { resource_owner_id: grant.userId, scope: scopes, expires_in: left, application: { uid: app.uid }, created_at: epoch(result.token.createdAt), scopes, expires_in_seconds: left };
    },

    /** The user behind an OAuth access token for /oauth/userinfo: it must carry `openid`. */
    async userOfOpenIdToken(secret: string | null): Promise<{ user: User; scopes: readonly string[] }> {
      if (!secret) throw new OAuthError('invalid_token', 'The access token is invalid');
      const result = await deps.verifier.verify(secret);
      if (!result.ok || result.token.kind !== 'oauth' || !result.user) throw new OAuthError('invalid_token', 'The access token is invalid');
      if (!result.token.scopes.includes('openid')) throw new OAuthError('insufficient_scope', 'The request requires higher privileges than provided by the access token.', 403);
      return { user: result.user, scopes: result.token.scopes };
    },

    /** "Authorized applications": what the user authorised that still works. */
    async authorizedApplications(user: User) {
      return store.liveGrantsOfUser(user.id);
    },

    /** The user takes back one authorisation: its grant and every token of it stop working. */
    async revokeAuthorization(user: User, grantId: number): Promise<void> {
      const grant = await store.findGrant(grantId);
      if (!grant || grant.userId !== user.id || grant.revokedAt !== null) throw notFound('Authorization Not Found', 'AUTHORIZATION_NOT_FOUND');
      await revokeGrant(grant.id, 'revoked', user.username);
    },

    /** POST|DELETE /admin/token: the grant an OAuth access token (a `tokens` row of kind oauth) was issued under. */
    grantOfAccessToken: async (tokenId: number) => describeGrant(await store.grantOfAccessToken(tokenId)),

    /** POST|DELETE /admin/token: the grant of an OAuth refresh token, by its value (a used one too: it still names its grant). */
    async grantOfRefreshToken(secret: string) {
      if (secret.length > 256 || !secret.startsWith(OAUTH_REFRESH_TOKEN_PREFIX)) return null;
      const found = await findRefreshToken(secret);
      return found ? describeGrant(await store.findGrant(found.grantId)) : null;
    },

    /** The leak response: an admin ends a grant, so neither its access nor its refresh token works. */
    async revokeGrantAsAdmin(admin: User, grantId: number): Promise<void> {
      await revokeGrant(grantId, 'admin', admin.username);
    },

    /** Housekeeping (`serve` runs it hourly): codes, device codes and spent refresh tokens past their retention. */
    async prune() {
      const now = clock.now().getTime();
      return store.prune(new Date(now - CODE_RETENTION_MS).toISOString(), new Date(now - REFRESH_RETENTION_MS).toISOString());
    },

    /** Ends every grant of an application and its tokens (before the application is deleted). */
    async revokeApplicationGrants(applicationId: number): Promise<void> {
      for (const id of await store.liveGrantIdsOfApplication(applicationId)) await revokeGrant(id, 'application_deleted', null);
    },
  };
}
export type OAuthService = ReturnType<typeof createOAuthService>;
