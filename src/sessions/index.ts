/**
 * The sign-in module: web sessions, password and link sign-in, and account changes that end sessions.
 * Built once by the composition root; the web UI and (later) the OAuth2 consent page use it.
 */
import { createHmac } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Clock } from '../kernel/clock.js';
import type { TokenGenerator } from '../kernel/random.js';
import type { NamespaceService } from '../namespaces/namespace-service.js';
import type { NamespaceStore } from '../namespaces/namespace-store.js';
import type { Database } from '../store/database.js';
import { createSessionStore } from '../store/sessions.js';
import { createAccountService } from '../accounts/account-service.js';
import { createSecretDigester, type SessionPolicy } from './session.js';
import { createSessionService } from './session-service.js';
import { createSignInService, type SignInPolicy } from './sign-in-service.js';

export interface SignInModuleDeps {
  db: Kysely<Database>;
  users: NamespaceStore;
  namespaces: NamespaceService;
  clock: Clock;
  random: TokenGenerator;
  serverSecret: string;
  policy: SessionPolicy;
  signInPolicy?: SignInPolicy;
  /** A user's account changed so that cached credentials must see it (the revocation feed's `publishUser`). */
  onUserChanged?: (userId: number) => void;
}

export function createSignInModule({ db, users, namespaces, clock, random, serverSecret, policy, signInPolicy, onUserChanged }: SignInModuleDeps) {
  const store = createSessionStore(db);
  const sessions = createSessionService({ sessions: store, users, clock, random, digester: createSecretDigester(serverSecret, 'web-session'), policy });
  const signIn = createSignInService({ store, users, sessions, clock, random, digester: createSecretDigester(serverSecret, 'sign-in-link'), policy: signInPolicy });
  const accounts = createAccountService({ namespaces, users, sessions, random, onUserChanged });
  // The web forms' CSRF tokens are HMACs under a key of their own, derived from the server secret.
  const csrfKey = createHmac('sha256', serverSecret).update('latchkey:csrf').digest();
  return { sessions, signIn, accounts, csrfKey };
}
