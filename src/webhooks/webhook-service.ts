/**
 * Registering webhooks: instance hooks by admins, group hooks by the group's Owners (admins count as
 * Owners); a group hook receives the events of tokens anywhere in the group's tree. The signing secret
 * is generated here, returned once from `create`, and stored only encrypted.
 */
import type { Clock } from '../kernel/clock.js';
import { forbidden, invalidParam, notFound } from '../kernel/errors.js';
import type { Page, PageRequest } from '../kernel/page.js';
import type { TokenGenerator } from '../kernel/random.js';
import { AccessLevel } from '../namespaces/access-levels.js';
import type { Group, User } from '../namespaces/namespace.js';
import type { NamespaceService } from '../namespaces/namespace-service.js';
import { LOCAL_NETWORK_BLOCKED, urlNamesLocalNetwork } from './local-network.js';
import type { SecretBox } from './secret-box.js';
import { WEBHOOK_EVENTS, type DeliveryHistory, type Webhook } from './webhook.js';
import type { StoredHook, WebhookStore } from './webhook-store.js';

export interface WebhookServiceDeps {
  hooks: WebhookStore;
  secrets: SecretBox;
  clock: Clock;
  random: TokenGenerator;
  namespaces: NamespaceService;
  /** LATCHKEY_WEBHOOK_ALLOW_LOCAL_NETWORK: group hooks may target loopback/private addresses. */
  allowLocalNetwork?: boolean;
}

/** Where a hook belongs: the instance, or a group. */
export type HookScope = { type: 'instance' } | { type: 'group'; group: Group };

export interface CreateWebhookInput {
  url: unknown;
  events: unknown;
}

const MAX_URL_LENGTH = 2048;

/**
 * An absolute http(s) URL without credentials in it (they would be stored and shown in plain text).
 * With `blockLocalNetwork`, one that names a loopback/private address or `localhost` is refused too
 * (a name that resolves there is refused when delivering).
 */
export function readWebhookUrl(input: unknown, blockLocalNetwork = false): string {
  if (input === undefined || input === null) throw invalidParam('url is missing');
  if (typeof input !== 'string' || input.length > MAX_URL_LENGTH) throw invalidParam('url is invalid');
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw invalidParam('url is invalid');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalidParam('url is invalid');
  if (url.username !== '' || url.password !== '') throw invalidParam('url must not contain credentials');
  if (blockLocalNetwork && urlNamesLocalNetwork(url)) throw invalidParam(LOCAL_NETWORK_BLOCKED);
  return url.toString();
}

export function readWebhookEvents(input: unknown): string[] {
  if (input === undefined || input === null) throw invalidParam('events is missing');
  if (!Array.isArray(input)) throw invalidParam('events is invalid');
  if (input.length === 0) throw invalidParam('events is empty');
  if (!input.every((e) => typeof e === 'string' && (WEBHOOK_EVENTS as readonly string[]).includes(e))) throw invalidParam('events does not have a valid value');
  return WEBHOOK_EVENTS.filter((e) => input.includes(e));
}

const publicHook = (h: StoredHook): Webhook => ({ id: h.id, groupId: h.groupId, url: h.url, events: h.events, createdBy: h.createdBy, createdAt: h.createdAt });

export type WebhookService = ReturnType<typeof createWebhookService>;

export function createWebhookService({ hooks, secrets, clock, random, namespaces, allowLocalNetwork = false }: WebhookServiceDeps) {
  const hookNotFound = () => notFound('Webhook Not Found', 'WEBHOOK_NOT_FOUND');

  async function authorize(actor: User, scope: HookScope): Promise<void> {
    if (actor.isAdmin) return;
    if (scope.type === 'instance') throw forbidden();
    if ((await namespaces.accessLevel(actor, { type: 'group', group: scope.group })) < AccessLevel.OWNER) throw forbidden();
  }

  const groupIdOf = (scope: HookScope) => (scope.type === 'group' ? scope.group.id : null);

  async function findInScope(scope: HookScope, hookId: number): Promise<StoredHook> {
    const hook = await hooks.findHook(hookId);
    if (!hook || hook.format !== 'latchkey' || hook.groupId !== groupIdOf(scope)) throw hookNotFound();
    return hook;
  }

  return {
    /** Registers a hook; `secret` is returned only here. */
    async create(actor: User, scope: HookScope, input: CreateWebhookInput): Promise<{ hook: Webhook; secret: string }> {
      await authorize(actor, scope);
      const url = readWebhookUrl(input.url, scope.type === 'group' && !allowLocalNetwork);
      const events = readWebhookEvents(input.events);
      const secret = `whsec_${Buffer.from(random.randomBytes(32)).toString('base64url')}`;
      const hook = await hooks.insertHook({ groupId: groupIdOf(scope), url, events, secretEncrypted: secrets.seal(secret), createdBy: actor.id === 0 ? null : actor.id, createdAt: clock.now().toISOString() });
      return { hook: publicHook(hook), secret };
    },

    async list(actor: User, scope: HookScope, page: PageRequest): Promise<Page<Webhook>> {
      await authorize(actor, scope);
      const result = await hooks.listHooks(groupIdOf(scope), page);
      return { items: result.items.map(publicHook), total: result.total };
    },

    async remove(actor: User, scope: HookScope, hookId: number): Promise<void> {
      await authorize(actor, scope);
      const hook = await findInScope(scope, hookId);
      await hooks.deleteHook(hook.id, clock.now().toISOString());
    },

    async deliveries(actor: User, scope: HookScope, hookId: number, page: PageRequest): Promise<Page<DeliveryHistory>> {
      await authorize(actor, scope);
      const hook = await findInScope(scope, hookId);
      return hooks.listDeliveries(hook.id, page);
    },

    /** A hook by id in any scope (the CLI, acting as admin, names hooks by id alone). */
    async scopeOf(actor: User, hookId: number): Promise<HookScope> {
      if (!actor.isAdmin) throw forbidden();
      const hook = await hooks.findHook(hookId);
      if (!hook || hook.format !== 'latchkey') throw hookNotFound();
      if (hook.groupId === null) return { type: 'instance' };
      const group = (await namespaces.findGroup(actor, String(hook.groupId))).group;
      return { type: 'group', group };
    },
  };
}
