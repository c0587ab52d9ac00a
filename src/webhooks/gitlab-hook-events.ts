/**
 * GitLab's token expiry webhook events for GitLab-format hooks: when the expiry job publishes
 * `token.expiring` (60, 30 and 7 days ahead), a project or group access token's notice becomes GitLab's
 * `expiring_access_token` body (doc/user/project/integrations/webhook_events.md, "Project and group
 * access token events", X-Gitlab-Event: Resource Access Token Hook) for the hooks with
 * resource_access_token_events, and a project or group deploy token's becomes `expiring_deploy_token`
 * ("Project and group deploy token events", Resource Deploy Token Hook) for those with
 * resource_deploy_token_events. Hooks of the token's project and of every group above it receive it
 * (GitLab runs a project's hooks and its groups' hooks). Each becomes a row of the same delivery
 * outbox the other webhooks use; the dispatcher sends it with GitLab's headers (gitlabHookHeaders).
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../kernel/clock.js';
import type { TokenEvent } from '../events/token-events.js';
import type { RelaySink } from '../events/event-relay.js';
import { visibilityLevel } from '../namespaces/visibility.js';
import type { Group, Project } from '../namespaces/namespace.js';
import type { Store } from '../store/open-store.js';
import { parseSettings } from './gitlab-hook.js';
import type { ExpiringTokenFacts, GitlabHookStore } from './gitlab-hook-store.js';
import type { SecretBox } from './secret-box.js';
import { createWebhookStore, type StoredHook, type WebhookStore } from './webhook-store.js';

export const EXPIRING_ACCESS_TOKEN = 'expiring_access_token';
export const EXPIRING_DEPLOY_TOKEN = 'expiring_deploy_token';

/** The X-Gitlab-Event header of each GitLab event a delivery may carry. */
export const GITLAB_EVENT_HEADER: Readonly<Record<string, string>> = {
  [EXPIRING_ACCESS_TOKEN]: 'Resource Access Token Hook',
  [EXPIRING_DEPLOY_TOKEN]: 'Resource Deploy Token Hook',
};

/** The interval names GitLab's expiring workers merge into the payload. */
const INTERVAL: Readonly<Record<string, string>> = { '60': 'sixty_days', '30': 'thirty_days', '7': 'seven_days' };

/** `2024-01-24 16:27:40 UTC`: how GitLab's hook data renders a time. */
export function gitlabTime(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

/** Project#hook_attrs. Latchkey serves git over HTTP only: the SSH URLs are null. */
export function projectHookAttrs(project: Project, group: Group | null, base: string) {
  const webUrl = `${base}/${project.pathWithNamespace}`;
  const httpUrl = `${webUrl}.git`;
  return {
    id: project.id,
    name: project.name,
    description: project.description === '' ? null : project.description,
    web_url: webUrl,
    avatar_url: null,
    git_ssh_url: null,
    git_http_url: httpUrl,
    namespace: group?.name ?? '',
    visibility_level: visibilityLevel(project.visibility),
    path_with_namespace: project.pathWithNamespace,
    default_branch: null,
    ci_config_path: null,
    homepage: webUrl,
    url: null,
    ssh_url: null,
    http_url: httpUrl,
  };
}

/** Group#hook_attrs. */
export const groupHookAttrs = (group: Group) => ({ group_name: group.name, group_path: group.path, group_id: group.id, full_path: group.fullPath });

/** ResourceAccessTokenPayload / ResourceDeployTokenPayload: one body for one token and interval. */
export function expiringTokenPayload(token: ExpiringTokenFacts, interval: string, resource: { project: ReturnType<typeof projectHookAttrs> } | { group: ReturnType<typeof groupHookAttrs> }) {
  if (token.kind === 'deploy') {
    return {
      object_kind: 'deploy_token',
      ...resource,
      object_attributes: {
        id: token.id,
        name: token.name,
        expires_at: token.expiresAt === null ? null : `${token.expiresAt} 00:00:00 UTC`,
        created_at: gitlabTime(token.createdAt),
        revoked: token.revokedAt !== null,
        deploy_token_type: 'project' in resource ? 'project_type' : 'group_type',
      },
      event_name: EXPIRING_DEPLOY_TOKEN,
      interval,
    };
  }
  return {
    object_kind: 'access_token',
    ...resource,
    object_attributes: {
      user_id: token.userId,
      created_at: gitlabTime(token.createdAt),
      id: token.id,
      name: token.name,
      expires_at: token.expiresAt,
      last_used_at: token.lastUsedAt === null ? null : gitlabTime(token.lastUsedAt),
    },
    event_name: EXPIRING_ACCESS_TOKEN,
    interval,
  };
}

export interface GitlabHookEventsDeps {
  store: Store;
  hooks: WebhookStore;
  gitlabHooks: GitlabHookStore;
  clock: Clock;
  /** LATCHKEY_PUBLIC_URL (or the listen address): the base of web_url and git_http_url. */
  publicUrl: string;
}

type Delivery = { hookId: number; tokenId: number; event: string; payload: string; at: string };

/**
 * The outbox relay's sink that records GitLab-format deliveries, in the relay's transaction (exactly
 * once per event). A look-up that fails fails the relay's pass: the event stays in the outbox.
 */
export function createGitlabHookEvents({ store, hooks, gitlabHooks, clock, publicUrl }: GitlabHookEventsDeps): RelaySink {
  const base = publicUrl.replace(/\/+$/, '');
  async function deliveriesOf(event: TokenEvent): Promise<Delivery[]> {
    if (event.name !== 'token.expiring') return [];
    const interval = INTERVAL[String(event.data.interval)];
    if (!interval) return [];
    const token = await gitlabHooks.token(event.tokenId);
    // Resource access tokens (project and group bots') and project/group deploy tokens; personal,
    // service-account and impersonation tokens have no GitLab hook event.
    if (!token || !['project', 'group', 'deploy'].includes(token.kind)) return [];
    const flag = token.kind === 'deploy' ? 'resource_deploy_token_events' : 'resource_access_token_events';
    let resource: Parameters<typeof expiringTokenPayload>[2];
    let candidates: StoredHook[];
    if (token.projectId !== null) {
      const project = await store.namespaces.findProjectById(token.projectId);
      if (!project) return [];
      const group = await store.namespaces.findGroupById(project.groupId);
      resource = { project: projectHookAttrs(project, group, base) };
      candidates = await gitlabHooks.hooksFor(project.id, await hooks.groupChain(project.groupId));
    } else if (token.groupId !== null) {
      const group = await store.namespaces.findGroupById(token.groupId);
      if (!group) return [];
      resource = { group: groupHookAttrs(group) };
      candidates = await gitlabHooks.hooksFor(null, group.ancestorIds);
    } else {
      return [];
    }
    const matching = candidates.filter((h) => parseSettings(h.settings, h.projectId !== null ? 'project' : 'group').flags[flag] === true);
    if (matching.length === 0) return [];
    const payload = JSON.stringify(expiringTokenPayload(token, interval, resource));
    const eventName = token.kind === 'deploy' ? EXPIRING_DEPLOY_TOKEN : EXPIRING_ACCESS_TOKEN;
    return matching.map((h) => ({ hookId: h.id, tokenId: token.id, event: eventName, payload, at: clock.now().toISOString() }));
  }
  return {
    async prepare(events) {
      const byEvent = new Map<number, Delivery[]>();
      for (const event of events) byEvent.set(event.id, await deliveriesOf(event));
      return async (trx, taken) => {
        const rows = taken.flatMap((e) => byEvent.get(e.id) ?? []);
        if (rows.length > 0) await createWebhookStore(trx).insertDeliveries(rows);
      };
    },
  };
}

/** A stable UUID for one delivery (label: what it names), the same on every retry and every node. */
function deliveryUuid(label: string, hookUuid: string, deliveryId: number): string {
  const h = createHash('sha256').update(`${label}:${hookUuid}:${deliveryId}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The headers of one delivery to a GitLab-format hook, as GitLab's WebHookService sends them: its
 * custom headers, then X-Gitlab-Event, X-Gitlab-Token (only when the hook has a token), the instance,
 * the hook's UUID, the event's UUID and an Idempotency-Key that stays the same across retries.
 */
export function gitlabHookHeaders(hook: StoredHook, delivery: { id: number; event: string }, secrets: SecretBox, instanceUrl: string): Record<string, string> {
  const custom = hook.customHeadersEncrypted ? (JSON.parse(secrets.open(hook.customHeadersEncrypted)) as Record<string, string>) : {};
  const token = secrets.open(hook.secretEncrypted);
  const hookUuid = hook.uuid ?? String(hook.id);
  return {
    ...custom,
    'content-type': 'application/json',
    'user-agent': 'Latchkey-Webhook/1',
    'x-gitlab-event': GITLAB_EVENT_HEADER[delivery.event] ?? 'System Hook',
    ...(token === '' ? {} : { 'x-gitlab-token': token }),
    'x-gitlab-instance': instanceUrl.replace(/\/+$/, ''),
    'x-gitlab-webhook-uuid': hookUuid,
    'x-gitlab-event-uuid': deliveryUuid('event', hookUuid, delivery.id),
    'idempotency-key': deliveryUuid('idempotency', hookUuid, delivery.id),
  };
}
