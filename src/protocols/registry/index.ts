/** The registry module as app.ts wires it: the signing key (shared through the store) and the token service. */
import type { Clock } from '../../kernel/clock.js';
import type { TokenGenerator } from '../../kernel/random.js';
import type { NamespaceService } from '../../namespaces/namespace-service.js';
import type { Store } from '../../store/open-store.js';
import type { TokenVerifier } from '../../tokens/verify-token.js';
import { createSecretBox, type ServerSecrets } from '../../kernel/secret-box.js';
import { createRegistryAccess } from './registry-access.js';
import { createRegistryTokenService, type IssuedToken, type RegistrySettings } from './registry-token-service.js';
import type { DecisionCache } from '../decision-cache.js';
import { createSigningKeyProvider } from './signing-key.js';
import { createSigningKeyStore } from './signing-key-store.js';

export interface RegistryModuleDeps {
  store: Store;
  clock: Clock;
  random: TokenGenerator;
  verifier: TokenVerifier;
  namespaces: NamespaceService;
  /** The server secret; the key that seals the signing key is derived from it. */
  serverSecret: ServerSecrets;
  settings: RegistrySettings;
  /** JWTs reused per (token, request) for a short time (registry-token-service.ts). */
  issued?: DecisionCache<IssuedToken>;
}

/** HKDF purpose of the sealed signing keys. Frozen: stored keys were sealed under it. */
export const REGISTRY_KEY_PURPOSE = 'registry signing key v1';

export function createRegistryModule({ store, clock, random, verifier, namespaces, serverSecret, settings, issued }: RegistryModuleDeps) {
  const keys = createSigningKeyProvider({
    keys: createSigningKeyStore(store.db),
    secrets: createSecretBox(serverSecret, REGISTRY_KEY_PURPOSE),
    clock,
    random,
    tokenLifetimeSeconds: settings.tokenLifetimeSeconds,
  });
  const access = createRegistryAccess({ store, namespaces });
  return { keys, tokens: createRegistryTokenService({ verifier, access, keys, clock, random, settings, issued }) };
}

export type RegistryModule = ReturnType<typeof createRegistryModule>;
