/**
 * GitLab's project and group hooks API as a service: a project's hooks are managed by its Maintainers
 * and Owners, a group's by its Owners (admins count as both), as GitLab's docs require. The secret
 * token (X-Gitlab-Token) and custom header values are sealed under the server secret — they must be
 * sent again with every delivery — and never returned. The URL guard of the other webhooks applies:
 * no credentials in it, and no local-network address unless LATCHKEY_WEBHOOK_ALLOW_LOCAL_NETWORK.
 */
import { DomainError, forbidden, invalidParam, notFound, unprocessable } from '../kernel/errors.js';
import type { Page, PageRequest } from '../kernel/page.js';
import { AccessLevel } from '../namespaces/access-levels.js';
import type { Resource, User } from '../namespaces/namespace.js';
import { LOCAL_NETWORK_BLOCKED } from './local-network.js';
import { BRANCH_FILTER_STRATEGIES, defaultSettings, parseSettings, settableFlags, type GitlabHook, type GitlabHookSettings, type HookContainer } from './gitlab-hook.js';
import type { GitlabHookStore } from './gitlab-hook-store.js';
import { readWebhookUrl, type WebhookServiceDeps } from './webhook-service.js';
import type { StoredHook } from './webhook-store.js';

/** The Latchkey-format service's dependencies, and the GitLab hooks' own store. */
export interface GitlabHookServiceDeps extends WebhookServiceDeps {
  store: GitlabHookStore;
}

/** The request's parameters after the route's schema (GitLab's names). */
export type GitlabHookInput = Record<string, unknown>;

const MAX_TEXT = 2048;
const MAX_CUSTOM_HEADERS = 20;
/** A header name (RFC 9110 token). */
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,255}$/;
/** Headers Latchkey sets itself or that would break the request: a custom header may not name them. */
const RESERVED_HEADERS = new Set(['host', 'content-length', 'content-type', 'transfer-encoding', 'connection', 'user-agent', 'idempotency-key', 'x-gitlab-event', 'x-gitlab-token', 'x-gitlab-instance', 'x-gitlab-webhook-uuid', 'x-gitlab-event-uuid']);

const containerOf = (resource: Resource): { container: HookContainer; id: number } =>
  resource.type === 'project' ? { container: 'project', id: resource.project.id } : { container: 'group', id: resource.group.id };

function optionalText(input: GitlabHookInput, field: string): string | null | undefined {
  const v = input[field];
  if (v === undefined) return undefined;
  if (v === null) return null;
  if (typeof v !== 'string' || v.length > MAX_TEXT) throw invalidParam(`${field} is invalid`);
  return v;
}

/** A header value or token: one line (it becomes an HTTP header). */
function headerValue(field: string, v: unknown): string {
  if (typeof v !== 'string' || v.length > MAX_TEXT || /[\r\n\0]/.test(v)) throw invalidParam(`${field} is invalid`);
  return v;
}

function readCustomHeaders(input: unknown): Record<string, string> {
  if (!Array.isArray(input)) throw invalidParam('custom_headers is invalid');
  if (input.length > MAX_CUSTOM_HEADERS) throw invalidParam('custom_headers is invalid');
  const headers: Record<string, string> = {};
  for (const item of input) {
    if (typeof item !== 'object' || item === null) throw invalidParam('custom_headers is invalid');
    const { key, value } = item as { key?: unknown; value?: unknown };
    if (key === undefined) throw invalidParam('custom_headers[key] is missing');
    if (value === undefined) throw invalidParam('custom_headers[value] is missing');
    headers[readHeaderKey(key)] = headerValue('custom_headers[value]', value);
  }
  return headers;
}

function readHeaderKey(key: unknown): string {
  if (typeof key !== 'string' || !HEADER_NAME.test(key)) throw invalidParam('custom_headers[key] is invalid');
  if (RESERVED_HEADERS.has(key.toLowerCase())) throw invalidParam(`custom_headers[key] ${key} is set by Latchkey itself`);
  return key;
}

export type GitlabHookService = ReturnType<typeof createGitlabHookService>;

export function createGitlabHookService({ store, hooks, secrets, clock, random, namespaces, allowLocalNetwork = false }: GitlabHookServiceDeps) {
  const hookNotFound = () => notFound('Not found', 'HOOK_NOT_FOUND');

  async function authorize(actor: User, resource: Resource): Promise<void> {
    if (actor.isAdmin) return;
    const needed = resource.type === 'project' ? AccessLevel.MAINTAINER : AccessLevel.OWNER;
    if ((await namespaces.accessLevel(actor, resource)) < needed) throw forbidden();
  }

  function readUrl(input: unknown): string {
    try {
      return readWebhookUrl(input, !allowLocalNetwork);
    } catch (e) {
      if (e instanceof DomainError && e.message === LOCAL_NETWORK_BLOCKED) throw unprocessable('Url is blocked: Requests to the local network are not allowed');
      throw unprocessable('Invalid url given');
    }
  }

  function toGitlabHook(h: StoredHook): GitlabHook {
    const container: HookContainer = h.projectId !== null ? 'project' : 'group';
    return { id: h.id, container, containerId: (h.projectId ?? h.groupId)!, url: h.url, createdAt: h.createdAt, settings: parseSettings(h.settings, container), tokenPresent: secrets.open(h.secretEncrypted) !== '' };
  }

  /** Applies the given attributes onto `settings`; returns the new custom headers when some were given. */
  function apply(settings: GitlabHookSettings, container: HookContainer, input: GitlabHookInput, headers: Record<string, string>): Record<string, string> {
    const name = optionalText(input, 'name');
    if (name !== undefined) settings.name = name;
    const description = optionalText(input, 'description');
    if (description !== undefined) settings.description = description;
    for (const f of settableFlags(container)) {
      const v = input[f];
      if (v === undefined) continue;
      if (typeof v !== 'boolean') throw invalidParam(`${f} is invalid`);
      settings.flags[f] = v;
    }
    if (input.enable_ssl_verification !== undefined) {
      if (typeof input.enable_ssl_verification !== 'boolean') throw invalidParam('enable_ssl_verification is invalid');
      settings.enable_ssl_verification = input.enable_ssl_verification;
    }
    const filter = optionalText(input, 'push_events_branch_filter');
    if (filter !== undefined) settings.push_events_branch_filter = filter;
    if (input.branch_filter_strategy !== undefined) {
      if (!(BRANCH_FILTER_STRATEGIES as readonly unknown[]).includes(input.branch_filter_strategy)) throw invalidParam('branch_filter_strategy does not have a valid value');
      settings.branch_filter_strategy = input.branch_filter_strategy as string;
    }
    // Not implemented: refused rather than stored and ignored (README, Deliberate differences).
    if (input.url_variables !== undefined && !(Array.isArray(input.url_variables) && input.url_variables.length === 0)) throw invalidParam('url_variables is not supported by Latchkey');
    if (input.custom_webhook_template !== undefined && input.custom_webhook_template !== null && input.custom_webhook_template !== '') throw invalidParam('custom_webhook_template is not supported by Latchkey');
    // Given headers are merged into the existing ones, as GitLab's update does.
    const merged = input.custom_headers === undefined ? headers : { ...headers, ...readCustomHeaders(input.custom_headers) };
    if (Object.keys(merged).length > MAX_CUSTOM_HEADERS) throw invalidParam('custom_headers is invalid');
    settings.custom_header_keys = Object.keys(merged);
    return merged;
  }

  const sealHeaders = (headers: Record<string, string>) => (Object.keys(headers).length === 0 ? null : secrets.seal(JSON.stringify(headers)));
  const openHeaders = (h: StoredHook): Record<string, string> => (h.customHeadersEncrypted ? (JSON.parse(secrets.open(h.customHeadersEncrypted)) as Record<string, string>) : {});

  async function find(actor: User, resource: Resource, hookId: number): Promise<StoredHook> {
    await authorize(actor, resource);
    const { container, id } = containerOf(resource);
    const hook = await store.find(container, id, hookId);
    if (!hook) throw hookNotFound();
    return hook;
  }

  async function save(hook: StoredHook, url: string, settings: GitlabHookSettings, token: string, headers: Record<string, string>): Promise<GitlabHook> {
    const updated = await store.update(hook.id, { url, settings: JSON.stringify(settings), secretEncrypted: secrets.seal(token), customHeadersEncrypted: sealHeaders(headers) });
    return toGitlabHook(updated);
  }

  return {
    /** Who may manage the hooks of `resource` (the routes call it before reading the body, as Grape's `before`). */
    authorize,

    async list(actor: User, resource: Resource, page: PageRequest): Promise<Page<GitlabHook>> {
      await authorize(actor, resource);
      const { container, id } = containerOf(resource);
      const result = await store.list(container, id, page);
      return { items: result.items.map(toGitlabHook), total: result.total };
    },

    async get(actor: User, resource: Resource, hookId: number): Promise<GitlabHook> {
      return toGitlabHook(await find(actor, resource, hookId));
    },

    async create(actor: User, resource: Resource, input: GitlabHookInput): Promise<GitlabHook> {
      await authorize(actor, resource);
      const { container, id } = containerOf(resource);
      if (input.url === undefined || input.url === null) throw invalidParam('url is missing');
      const url = readUrl(input.url);
      const settings = defaultSettings(container);
      const headers = apply(settings, container, input, {});
      const token = input.token === undefined || input.token === null ? '' : headerValue('token', input.token);
      const uuid = uuidFrom(random.randomBytes(16));
      const hook = await store.insert(container, id, {
        url, settings: JSON.stringify(settings), secretEncrypted: secrets.seal(token), customHeadersEncrypted: sealHeaders(headers), uuid, createdBy: actor.id === 0 ? null : actor.id, createdAt: clock.now().toISOString(),
      });
      return toGitlabHook(hook);
    },

    async update(actor: User, resource: Resource, hookId: number, input: GitlabHookInput): Promise<GitlabHook> {
      const hook = await find(actor, resource, hookId);
      const given = Object.keys(input).filter((k) => input[k] !== undefined);
      if (given.length === 0) throw invalidParam('No parameters provided');
      const { container } = containerOf(resource);
      const url = input.url === undefined ? hook.url : readUrl(input.url);
      const settings = parseSettings(hook.settings, container);
      const headers = apply(settings, container, input, openHeaders(hook));
      // GitLab: changing the URL resets the secret token unless a new one is given with it.
      let token = secrets.open(hook.secretEncrypted);
      if (input.token !== undefined) token = input.token === null ? '' : headerValue('token', input.token);
      else if (url !== hook.url) token = '';
      return save(hook, url, settings, token, headers);
    },

    async remove(actor: User, resource: Resource, hookId: number): Promise<void> {
      const hook = await find(actor, resource, hookId);
      await hooks.deleteHook(hook.id, clock.now().toISOString());
    },

    /** PUT …/hooks/:hook_id/custom_headers/:key */
    async setCustomHeader(actor: User, resource: Resource, hookId: number, key: string, value: unknown): Promise<void> {
      const hook = await find(actor, resource, hookId);
      if (value === undefined || value === null) throw invalidParam('value is missing');
      const { container } = containerOf(resource);
      const settings = parseSettings(hook.settings, container);
      const headers = { ...openHeaders(hook), [readHeaderKey(key)]: headerValue('value', value) };
      if (Object.keys(headers).length > MAX_CUSTOM_HEADERS) throw invalidParam('custom_headers is invalid');
      settings.custom_header_keys = Object.keys(headers);
      await save(hook, hook.url, settings, secrets.open(hook.secretEncrypted), headers);
    },

    /** DELETE …/hooks/:hook_id/custom_headers/:key: 404 when the hook has no such header. */
    async deleteCustomHeader(actor: User, resource: Resource, hookId: number, key: string): Promise<void> {
      const hook = await find(actor, resource, hookId);
      const headers = openHeaders(hook);
      if (!(key in headers)) throw notFound('Not found', 'CUSTOM_HEADER_NOT_FOUND');
      delete headers[key];
      const { container } = containerOf(resource);
      const settings = parseSettings(hook.settings, container);
      settings.custom_header_keys = Object.keys(headers);
      await save(hook, hook.url, settings, secrets.open(hook.secretEncrypted), headers);
    },
  };
}

/** A version-4 UUID from 16 random bytes. */
export function uuidFrom(bytes: Uint8Array): string {
  const b = Buffer.from(bytes.slice(0, 16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = b.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
