/** The issue-6 protocol services as app.ts wires them: generic packages and the CI deploy-token variables. */
import type { Clock } from '../kernel/clock.js';
import type { TokenGenerator } from '../kernel/random.js';
import { createSecretBox, type ServerSecrets } from '../kernel/secret-box.js';
import type { Project } from '../namespaces/namespace.js';
import type { NamespaceService } from '../namespaces/namespace-service.js';
import type { DecisionCache } from './decision-cache.js';
import type { Store } from '../store/open-store.js';
import { createCiVariablesService } from './ci-variables.js';
import { createPackageBlobs } from './generic-packages/package-blobs.js';
import { createPackageFileCache } from './generic-packages/package-file-cache.js';
import { createGenericPackageService } from './generic-packages/package-service.js';
import { createPackageStore } from './generic-packages/package-store.js';

export interface ProtocolServicesDeps {
  store: Store;
  clock: Clock;
  random: TokenGenerator;
  namespaces: NamespaceService;
  /** The server secret; the key sealing gitlab-deploy-token secrets is derived from it. */
  serverSecret: ServerSecrets;
  packagesDir: string;
  packageMaxBytes: number;
  /** Package decisions per (token, action, project) (protocols/decision-cache.ts). */
  packageDecisions?: DecisionCache<Project>;
  /** How long a download's file look-up is reused (LATCHKEY_VERIFY_CACHE_MS); 0 or absent = not cached. */
  packageFileCacheMs?: number;
}

/** HKDF purpose of the gitlab-deploy-token box. Frozen: stored secrets were sealed under it. */
export const CI_DEPLOY_TOKEN_PURPOSE = 'gitlab-deploy-token v1';

export function createProtocolServices({ store, clock, random, namespaces, serverSecret, packagesDir, packageMaxBytes, packageDecisions, packageFileCacheMs = 0 }: ProtocolServicesDeps) {
  const ciSecretBox = createSecretBox(serverSecret, CI_DEPLOY_TOKEN_PURPOSE);
  return {
    ciSecretBox,
    ciVariables: createCiVariablesService({ secrets: store.deployTokenSecrets, box: ciSecretBox, namespaces, clock }),
    genericPackages: createGenericPackageService({
      namespaces,
      namespaceStore: store.namespaces,
      packages: createPackageStore(store.db, store.traits.isUniqueViolation),
      blobs: createPackageBlobs(packagesDir, random),
      clock,
      maxBytes: packageMaxBytes,
      decisions: packageDecisions,
      files: createPackageFileCache({ clock, ttlMs: packageFileCacheMs }),
    }),
  };
}
