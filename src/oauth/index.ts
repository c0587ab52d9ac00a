/**
 * The OAuth2 / OpenID Connect provider (issue 17), built once by the composition root: applications
 * now; grants, tokens and ID tokens as they land.
 */
import type { Kysely } from 'kysely';
import type { Clock } from '../kernel/clock.js';
import type { TokenGenerator } from '../kernel/random.js';
import type { Database } from '../store/database.js';
import { createOAuthStore } from '../store/oauth.js';
import type { TokenDigester } from '../tokens/token-digest.js';
import { createApplicationService } from './application-service.js';

export interface OAuthModuleDeps {
  db: Kysely<Database>;
  clock: Clock;
  random: TokenGenerator;
  digester: TokenDigester;
}

export function createOAuthModule({ db, clock, random, digester }: OAuthModuleDeps) {
  const store = createOAuthStore(db);
  const applications = createApplicationService({ store, clock, random, digester });
  return { store, applications };
}
