/** The storage port of the OAuth2 provider. Implemented in store/oauth.ts. */
import type { OAuthApplication } from './application.js';

export interface NewApplication {
  uid: string;
  name: string;
  redirectUris: readonly string[];
  scopes: readonly string[];
  confidential: boolean;
  secretDigest: string;
  ownerId: number | null;
  createdAt: string;
}

export interface OAuthStore {
  insertApplication(app: NewApplication): Promise<OAuthApplication>;
  findApplication(id: number): Promise<OAuthApplication | null>;
  findApplicationByUid(uid: string): Promise<(OAuthApplication & { secretDigest: string }) | null>;
  /** Instance applications (owner null) in id order. */
  listApplications(): Promise<OAuthApplication[]>;
  /** False when there was no such application. */
  deleteApplication(id: number): Promise<boolean>;
  setSecretDigest(id: number, digest: string): Promise<boolean>;
}
