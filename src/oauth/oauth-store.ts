/** The storage port of the OAuth2 provider. Implemented in store/oauth.ts. */
import type { TokenStore } from '../tokens/token-store.js';
import type { ApplicationOwner, OAuthApplication } from './application.js';

export interface NewApplication {
  uid: string;
  name: string;
  redirectUris: readonly string[];
  scopes: readonly string[];
  confidential: boolean;
  secretDigest: string;
  owner: ApplicationOwner;
  createdAt: string;
}

/** One authorisation a user gave an application: every access and refresh token descends from one. */
export interface OAuthGrant {
  readonly id: number;
  readonly applicationId: number;
  readonly userId: number;
  readonly scopes: readonly string[];
  readonly flow: 'authorization_code' | 'device_code';
  readonly nonce: string | null;
  readonly authTime: string;
  readonly createdAt: string;
  readonly revokedAt: string | null;
  readonly revokeReason: string | null;
  /** When refreshing stops working (issued + the configured lifetime, not extended by refreshes); null: never. */
  readonly expiresAt: string | null;
}

export interface OAuthCode {
  readonly id: number;
  readonly applicationId: number;
  readonly userId: number;
  readonly redirectUri: string;
  readonly scopes: readonly string[];
  readonly codeChallenge: string | null;
  readonly codeChallengeMethod: string | null;
  readonly nonce: string | null;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly usedAt: string | null;
  readonly grantId: number | null;
}

export interface OAuthRefreshToken {
  readonly id: number;
  readonly grantId: number;
  readonly createdAt: string;
  readonly usedAt: string | null;
}

/** A device authorization request (RFC 8628). */
export interface OAuthDeviceCode {
  readonly id: number;
  readonly applicationId: number;
  readonly scopes: readonly string[];
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly lastPolledAt: string | null;
  readonly userId: number | null;
  readonly approvedAt: string | null;
  readonly deniedAt: string | null;
  readonly usedAt: string | null;
}

export interface OAuthStore {
  insertApplication(app: NewApplication): Promise<OAuthApplication>;
  findApplication(id: number): Promise<OAuthApplication | null>;
  findApplicationByUid(uid: string): Promise<(OAuthApplication & { secretDigest: string }) | null>;
  /** The applications of one owner in id order. */
  listApplications(owner: ApplicationOwner): Promise<OAuthApplication[]>;
  /** Deletes it with its codes and grants' rows; the grants must have been revoked first. False when there was none. */
  deleteApplication(id: number): Promise<boolean>;
  setSecretDigest(id: number, digest: string): Promise<boolean>;

  insertCode(code: Omit<OAuthCode, 'id' | 'usedAt' | 'grantId'> & { digest: string }): Promise<OAuthCode>;
  findCodeByDigest(digest: string): Promise<OAuthCode | null>;
  /** Marks an unused code used by `grantId`; false when it was used already (a concurrent redemption won). */
  markCodeUsed(id: number, at: string, grantId: number): Promise<boolean>;

  insertGrant(grant: Omit<OAuthGrant, 'id' | 'revokedAt' | 'revokeReason'>): Promise<OAuthGrant>;
  findGrant(id: number): Promise<OAuthGrant | null>;
  /** Grant ids of an application that are not revoked. */
  liveGrantIdsOfApplication(applicationId: number): Promise<number[]>;
  /**
   * Revokes a grant and every access token issued under it: whether this call ended the grant (a grant
   * already revoked keeps its first reason) and the ids of the tokens it revoked (for the revocation feed).
   */
  revokeGrant(id: number, at: string, reason: string): Promise<{ ended: boolean; tokenIds: number[] }>;
  /** Revokes the grant's access tokens that still work (before a refresh issues the next one); their ids. */
  revokeAccessTokensOfGrant(grantId: number, at: string): Promise<number[]>;

  insertRefreshToken(r: { grantId: number; digest: string; createdAt: string }): Promise<void>;
  findRefreshTokenByDigest(digest: string): Promise<OAuthRefreshToken | null>;
  /** false when it was used already (rotation: a concurrent refresh won). */
  markRefreshTokenUsed(id: number, at: string): Promise<boolean>;

  linkAccessToken(tokenId: number, grantId: number): Promise<void>;
  /** The grant an OAuth access token was issued under. */
  grantOfAccessToken(tokenId: number): Promise<OAuthGrant | null>;

  insertDeviceCode(d: { deviceDigest: string; userCodeDigest: string; applicationId: number; scopes: readonly string[]; createdAt: string; expiresAt: string }): Promise<void>;
  findDeviceCodeByDeviceDigest(digest: string): Promise<OAuthDeviceCode | null>;
  findDeviceCodeByUserCodeDigest(digest: string): Promise<OAuthDeviceCode | null>;
  /** Records the user's decision on a pending request; false when it was decided already. */
  decideDeviceCode(id: number, userId: number, decision: 'approved' | 'denied', at: string): Promise<boolean>;
  markDeviceCodePolled(id: number, at: string): Promise<void>;
  /** false when it was exchanged already (a concurrent poll won). */
  markDeviceCodeUsed(id: number, at: string): Promise<boolean>;

  /** The grants of a user that still work, with their application, oldest first. */
  liveGrantsOfUser(userId: number): Promise<{ grant: OAuthGrant; applicationName: string; applicationUid: string }[]>;

  /**
   * Housekeeping: deletes codes and device codes that expired before `codesBefore`, and refresh tokens used
   * (rotated away) before `refreshBefore` or of grants revoked before it. How many rows of each went.
   */
  prune(codesBefore: string, refreshBefore: string): Promise<{ codes: number; deviceCodes: number; refreshTokens: number }>;

  /** Runs `fn` in one transaction with this store and the token store bound to it. */
  transaction<T>(fn: (tx: OAuthStore & { tokens: TokenStore }) => Promise<T>): Promise<T>;
}
