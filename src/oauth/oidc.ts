/**
 * OpenID Connect (issue 17): ID tokens for `openid` grants, the discovery document, the JWKS and
 * userinfo with GitLab's claims (doc/integration/openid_connect_provider.md). The RS256 signing key is
 * kept in the store with its private half sealed under the server secret, so every node signs with the
 * same key; the newest generation signs, and older keys stay published for a day after their successor
 * appears, longer than any ID token they signed lives.
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, SignJWT, type JWK } from 'jose';
import type { Clock } from '../kernel/clock.js';
import type { SecretBox } from '../kernel/secret-box.js';
import type { NamespaceStore } from '../namespaces/namespace-store.js';
import type { User } from '../namespaces/namespace.js';
import type { OidcKeyStore } from '../store/oidc-keys.js';
import type { OAuthApplication } from './application.js';
import { OAUTH_SCOPES } from './oauth-scopes.js';
import type { OAuthGrant } from './oauth-store.js';

/** HKDF purpose of the sealed private keys: never change it for stored keys. */
export const OIDC_KEY_PURPOSE = 'latchkey oidc signing key v1';
/** doorkeeper-openid_connect's default ID token lifetime. */
export const ID_TOKEN_TTL_SECONDS = 120;
/** How long a replaced key stays in the JWKS: far beyond any ID token it signed. */
const RETIRED_KEY_PUBLISHED_MS = 24 * 3600 * 1000;
/** How long a node trusts its in-memory copy of the key ring (a rotation on another node shows within this). */
const KEY_RING_CACHE_MS = 60_000;

interface RingKey {
  readonly generation: number;
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicJwk: JWK;
  readonly createdAt: string;
}

export interface OidcDeps {
  keys: OidcKeyStore;
  box: SecretBox;
  clock: Clock;
  users: Pick<NamespaceStore, 'listGroupsVisibleTo'>;
}

export function createOidc({ keys, box, clock, users }: OidcDeps) {
  let ring: { keys: RingKey[]; until: number } | null = null;

  async function newKey(generation: number) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(jwk);
    const publicJwk = { ...jwk, kid, use: 'sig', alg: 'RS256' };
    await keys.insertIfAbsent({
      generation, kid, algorithm: 'RS256', private_key_sealed: box.seal(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string), public_jwk: JSON.stringify(publicJwk), created_at: clock.now().toISOString(),
    });
  }

  async function loadRing(): Promise<RingKey[]> {
    const now = clock.now().getTime();
    if (ring && ring.until > now) return ring.keys;
    let rows = await keys.all();
    if (rows.length === 0) {
      await newKey(1);
      rows = await keys.all();
    }
    const loaded = rows.map((r) => ({ generation: Number(r.generation), kid: r.kid, privateKey: createPrivateKey(box.open(r.private_key_sealed)), publicJwk: JSON.parse(r.public_jwk) as JWK, createdAt: r.created_at }));
    ring = { keys: loaded, until: now + KEY_RING_CACHE_MS };
    return loaded;
  }

  async function groupPaths(user: User): Promise<string[]> {
    const page = await users.listGroupsVisibleTo({ kind: 'user', userId: user.id, withInternalAndPublic: false }, { page: 1, perPage: 100 });
    return page.items.map((g) => g.fullPath);
  }

  /** The claims of `user` that `scopes` release (the ID token's and userinfo's common part). */
  function profileClaims(user: User, scopes: readonly string[], issuer: string): Record<string, unknown> {
    const claims: Record<string, unknown> = { sub: String(user.id), name: user.name, nickname: user.username, preferred_username: user.username, profile: `${issuer}/${user.username}` };
    if (scopes.includes('email') && user.email) {
      claims.email = user.email;
      // Latchkey does not confirm addresses (an admin sets them), so it never claims they are verified.
      claims.email_verified = false;
    }
    return claims;
  }

  return {
    async idToken(input: { application: OAuthApplication; user: User; grant: OAuthGrant; now: Date; issuer: string }): Promise<string> {
      const [key] = await loadRing();
      const { application, user, grant, now, issuer } = input;
      const iat = Math.floor(now.getTime() / 1000);
      const claims: Record<string, unknown> = { ...profileClaims(user, grant.scopes, issuer), auth_time: Math.floor(Date.parse(grant.authTime) / 1000), groups_direct: await groupPaths(user) };
      if (grant.nonce) claims.nonce = grant.nonce;
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: key!.kid, typ: 'JWT' })
        .setIssuer(issuer)
        .setSubject(String(user.id))
        .setAudience(application.uid)
        .setIssuedAt(iat)
        .setExpirationTime(iat + ID_TOKEN_TTL_SECONDS)
        .sign(key!.privateKey);
    },

    /** The public keys an ID token may be checked against: the signing one and those replaced less than a day ago. */
    async jwks(): Promise<{ keys: JWK[] }> {
      const all = await loadRing();
      const now = clock.now().getTime();
      return { keys: all.filter((k, i) => i === 0 || now - Date.parse(all[i - 1]!.createdAt) < RETIRED_KEY_PUBLISHED_MS).map((k) => k.publicJwk) };
    },

    /** A new signing key; the previous ones stay published for a day. */
    async rotateKey(): Promise<string> {
      const all = await keys.all();
      await newKey((all[0] ? Number(all[0].generation) : 0) + 1);
      ring = null;
      return (await loadRing())[0]!.kid;
    },

    async userinfo(user: User, scopes: readonly string[], issuer: string): Promise<Record<string, unknown>> {
      return { ...profileClaims(user, scopes, issuer), groups: await groupPaths(user) };
    },

    discovery(issuer: string, options: { deviceFlow?: boolean } = {}) {
      return {
        issuer,
        authorization_endpoint: `${issuer}/oauth/authorize`,
        token_endpoint: `${issuer}/oauth/token`,
        revocation_endpoint: `${issuer}/oauth/revoke`,
        userinfo_endpoint: `${issuer}/oauth/userinfo`,
        jwks_uri: `${issuer}/oauth/discovery/keys`,
        ...(options.deviceFlow ? { device_authorization_endpoint: `${issuer}/oauth/authorize_device` } : {}),
        scopes_supported: [...OAUTH_SCOPES],
        response_types_supported: ['code'],
        response_modes_supported: ['query'],
        grant_types_supported: ['authorization_code', 'refresh_token', ...(options.deviceFlow ? ['urn:ietf:params:oauth:grant-type:device_code'] : [])],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
        revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        claim_types_supported: ['normal'],
        claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'name', 'nickname', 'preferred_username', 'profile', 'email', 'email_verified', 'groups', 'groups_direct'],
        code_challenge_methods_supported: ['S256'],
      };
    },
  };
}
export type Oidc = ReturnType<typeof createOidc>;
