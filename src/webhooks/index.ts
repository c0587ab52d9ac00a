/** The webhooks module as app.ts wires it: the registration service, the outbox sink, the dispatcher. */
import type { Clock } from '../kernel/clock.js';
import type { TokenGenerator } from '../kernel/random.js';
import type { NamespaceService } from '../namespaces/namespace-service.js';
import type { Store } from '../store/open-store.js';
import { createSecretBox } from './secret-box.js';
import type { ServerSecrets } from '../kernel/secret-box.js';
import { createWebhookDispatcher, type WebhookDispatcherDeps } from './webhook-dispatcher.js';
import { createWebhookOutbox } from './webhook-outbox.js';
import { createWebhookService } from './webhook-service.js';
import { createWebhookStore } from './webhook-store.js';
import { createGitlabHookEvents } from './gitlab-hook-events.js';
import { createGitlabHookService } from './gitlab-hook-service.js';
import { createGitlabHookStore } from './gitlab-hook-store.js';

export interface WebhookModuleDeps {
  store: Store;
  clock: Clock;
  random: TokenGenerator;
  namespaces: NamespaceService;
  /** The server secret; the key that encrypts signing secrets is derived from it. */
  serverSecret: ServerSecrets;
  timeoutMs: number;
  /** Group hooks may reach loopback, private and link-local addresses (default false). */
  allowLocalNetwork?: boolean;
  /** The public URL: X-Gitlab-Instance, and the base of GitLab payloads' web_url / git_http_url. */
  publicUrl?: string;
  /** Days finished deliveries are kept (default 30). */
  retentionDays?: number;
  onAttempt?: WebhookDispatcherDeps['onAttempt'];
  onError?: (error: unknown) => void;
}

export function createWebhookModule({ store, clock, random, namespaces, serverSecret, timeoutMs, allowLocalNetwork = false, publicUrl = 'http://localhost', retentionDays = 30, onAttempt, onError = () => {} }: WebhookModuleDeps) {
  const hooks = createWebhookStore(store.db);
  const gitlabHooks = createGitlabHookStore(store.db);
  const secrets = createSecretBox(serverSecret);
  return {
    service: createWebhookService({ hooks, secrets, clock, random, namespaces, allowLocalNetwork }),
    /** GitLab's project and group hooks API (/projects/:id/hooks, /groups/:id/hooks). */
    gitlabHooks: createGitlabHookService({ store: gitlabHooks, hooks, secrets, clock, random, namespaces, allowLocalNetwork }),
    // The outbox relay's webhook sinks: Latchkey's signed token events, and GitLab's expiring_access_token /
    // expiring_deploy_token bodies for GitLab-format hooks.
    outbox: createWebhookOutbox({ store, hooks, clock }),
    gitlabOutbox: createGitlabHookEvents({ store, hooks, gitlabHooks, clock, publicUrl }),
    dispatcher: createWebhookDispatcher({ hooks, secrets, clock, timeoutMs, allowLocalNetwork, retentionDays, instanceUrl: publicUrl, onAttempt, onError }),
  };
}
