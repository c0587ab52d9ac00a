/**
 * The OAuth2 / OpenID Connect provider (issue 17), built once by the composition root: applications,
 * and the protocol (grants, codes, OAuth access and refresh tokens).
 */
import type { Kysely } from 'kysely';
import type { Clock } from '../kernel/clock.js';
import type { TokenGenerator } from '../kernel/random.js';
import type { NamespaceStore } from '../namespaces/namespace-store.js';
import type { NamespaceService } from '../namespaces/namespace-service.js';
import type { Database } from '../store/database.js';
import { createOAuthStore } from '../store/oauth.js';
import type { TokenDigester } from '../tokens/token-digest.js';
import type { TokenVerifier } from '../tokens/verify-token.js';
import { createSecretBox, type ServerSecrets } from '../kernel/secret-box.js';
import { createOidcKeyStore } from '../store/oidc-keys.js';
import { createApplicationService } from './application-service.js';
import { createOidc, OIDC_KEY_PURPOSE } from './oidc.js';
import { createOAuthService, DEFAULT_OAUTH_SETTINGS, type OAuthSettings } from './oauth-service.js';
import type { OAuthEventSink } from './oauth-events.js';

export interface OAuthModuleDeps {
  db: Kysely<Database>;
  users: Pick<NamespaceStore, 'findUserById' | 'listGroupsVisibleTo'>;
  /** Groups and the actor's level on them: group applications are their Owners'. */
  namespaces: Pick<NamespaceService, 'findGroup'>;
  /** Seals the OpenID Connect signing keys. */
  serverSecret: ServerSecrets;
  clock: Clock;
  random: TokenGenerator;
  digester: TokenDigester;
  verifier: Pick<TokenVerifier, 'verify'>;
  /** Publishes token ids that stopped working (the revocation feed). */
  onRevoked: (tokenId: number) => void;
  /** Grants issued, refreshed, revoked, codes replayed: the audit log and metrics. */
  onEvent?: OAuthEventSink;
  settings?: OAuthSettings;
}

export function createOAuthModule({ db, users, namespaces, serverSecret, clock, random, digester, verifier, onRevoked, onEvent, settings = DEFAULT_OAUTH_SETTINGS }: OAuthModuleDeps) {
  const store = createOAuthStore(db);
  const oidc = createOidc({ keys: createOidcKeyStore(db), box: createSecretBox(serverSecret, OIDC_KEY_PURPOSE), clock, users });
  const oauth = createOAuthService({ store, users, clock, random, digester, verifier, settings, onRevoked, onEvent, idToken: oidc.idToken });
  const applications = createApplicationService({ store, clock, random, digester, namespaces, onApplicationDeleted: oauth.revokeApplicationGrants });
  return { store, applications, oauth, oidc };
}
