/**
 * GitLab's project and group hooks API (doc/api/project_webhooks.md, group_webhooks.md):
 * GET|POST /projects/:id/hooks, GET|PUT|DELETE /projects/:id/hooks/:hook_id and
 * PUT|DELETE …/:hook_id/custom_headers/:key, the same under /groups/:id/hooks. Maintainer+ for a
 * project's hooks, Owner for a group's. These hooks receive GitLab's expiring_access_token and
 * expiring_deploy_token events (webhooks/gitlab-hook-events.ts).
 */
import { Type, type TSchema } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalidParam } from '../../kernel/errors.js';
import { BRANCH_FILTER_STRATEGIES, GROUP_FLAGS, PROJECT_FLAGS, presentGitlabHook, settableFlags } from '../../webhooks/gitlab-hook.js';
import { PaginationQuery, readPage, setPaginationHeaders } from '../pagination.js';
import type { RouteContext } from '../route-context.js';
import { ResourceParams } from './resource-params.js';

const Text = Type.String({ maxLength: 2048 });
const Nullable = (t: TSchema) => Type.Union([t, Type.Null()]);

function hookEntity(kind: 'projects' | 'groups') {
  const flags = kind === 'projects' ? PROJECT_FLAGS : GROUP_FLAGS;
  return Type.Object({
    id: Type.Integer(),
    url: Type.String(),
    name: Nullable(Type.String()),
    description: Nullable(Type.String()),
    created_at: Type.String(),
    push_events: Type.Boolean(),
    tag_push_events: Type.Boolean(),
    merge_requests_events: Type.Boolean(),
    repository_update_events: Type.Boolean(),
    enable_ssl_verification: Type.Boolean(),
    alert_status: Type.String(),
    disabled_until: Type.Null(),
    url_variables: Type.Array(Type.Object({ key: Type.String() })),
    push_events_branch_filter: Nullable(Type.String()),
    branch_filter_strategy: Type.String(),
    custom_webhook_template: Type.Null(),
    custom_headers: Type.Array(Type.Object({ key: Type.String() }), { description: 'Names only: values are never returned' }),
    token_present: Type.Boolean({ description: 'Whether a secret token is set; the token itself is never returned' }),
    ...(kind === 'projects' ? { project_id: Type.Integer() } : { group_id: Type.Integer() }),
    ...Object.fromEntries(flags.map((f) => [f, f === 'confidential_note_events' ? Nullable(Type.Boolean()) : Type.Boolean()])),
  });
}

function hookBody(kind: 'projects' | 'groups', urlRequired: boolean) {
  const flags = settableFlags(kind === 'projects' ? 'project' : 'group');
  return Type.Object({
    url: urlRequired ? Type.String({ maxLength: 2048 }) : Type.Optional(Type.String({ maxLength: 2048 })),
    name: Type.Optional(Text),
    description: Type.Optional(Text),
    token: Type.Optional(Type.String({ maxLength: 2048, description: 'Sent as X-Gitlab-Token; never returned (a new url resets it)' })),
    enable_ssl_verification: Type.Optional(Type.Boolean()),
    push_events_branch_filter: Type.Optional(Text),
    branch_filter_strategy: Type.Optional(Type.String({ enum: [...BRANCH_FILTER_STRATEGIES] })),
    custom_headers: Type.Optional(Type.Array(Type.Object({ key: Type.String({ maxLength: 255 }), value: Type.String({ maxLength: 2048 }) }), { maxItems: 20 })),
    url_variables: Type.Optional(Type.Array(Type.Object({ key: Type.String({ maxLength: 255 }), value: Type.String({ maxLength: 2048 }) }), { maxItems: 20, description: 'Not supported: only an empty list is accepted' })),
    custom_webhook_template: Type.Optional(Type.String({ maxLength: 2048, description: 'Not supported: only an empty template is accepted' })),
    ...Object.fromEntries(flags.map((f) => [f, Type.Optional(Type.Boolean())])),
  });
}

const HookParams = Type.Object({ ...ResourceParams.properties, hook_id: Type.Integer({ minimum: 1, maximum: 2147483647 }) });
const HeaderParams = Type.Object({ ...HookParams.properties, key: Type.String({ minLength: 1, maxLength: 255 }) });

type Body = Record<string, unknown>;

/** Grape reads parameters from the query string too; no body is an empty one. */
async function mergeParams(request: FastifyRequest): Promise<void> {
  const body = request.body === undefined || request.body === null ? {} : request.body;
  if (typeof body !== 'object' || Array.isArray(body)) throw invalidParam('body is invalid');
  const query = (request.query ?? {}) as Body;
  request.body = { ...query, ...(body as Body) };
}

export function registerHookRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { gitlabHooks } = ctx.services;

  for (const kind of ['projects', 'groups'] as const) {
    const what = kind.slice(0, -1);
    const tags = [`${what}_hooks`];
    const Entity = hookEntity(kind);
    const resource = (request: FastifyRequest) => ctx.resolve(request, kind, (request.params as { id: string }).id);
    // As GitLab's `before { authorize! }`: 404 for what the caller cannot see and 403 below the role come before any 400.
    const authorise = async (request: FastifyRequest) => gitlabHooks.authorize(request.actor, await resource(request));
    const write = [authorise, mergeParams];

    app.get<{ Params: { id: string }; Querystring: { page?: number; per_page?: number } }>(
      `/${kind}/:id/hooks`,
      { preValidation: authorise, schema: { tags, summary: `List a ${what}'s webhooks`, params: ResourceParams, querystring: Type.Object(PaginationQuery), response: { 200: Type.Array(Entity) } } },
      async (request, reply) => {
        const page = readPage(request.query);
        const result = await gitlabHooks.list(request.actor, await resource(request), page);
        setPaginationHeaders(request, reply, page, result.total, ctx.baseUrl(request));
        return result.items.map(presentGitlabHook);
      },
    );

    app.get<{ Params: { id: string; hook_id: number } }>(
      `/${kind}/:id/hooks/:hook_id`,
      { preValidation: authorise, schema: { tags, summary: `Get a ${what} webhook`, params: HookParams, response: { 200: Entity } } },
      async (request) => presentGitlabHook(await gitlabHooks.get(request.actor, await resource(request), request.params.hook_id)),
    );

    app.post<{ Params: { id: string }; Body: Body }>(
      `/${kind}/:id/hooks`,
      { preValidation: write, schema: { tags, summary: `Add a webhook to a ${what}`, params: ResourceParams, body: hookBody(kind, true), response: { 201: Entity } } },
      async (request, reply) => reply.status(201).send(presentGitlabHook(await gitlabHooks.create(request.actor, await resource(request), request.body))),
    );

    app.put<{ Params: { id: string; hook_id: number }; Body: Body }>(
      `/${kind}/:id/hooks/:hook_id`,
      { preValidation: write, schema: { tags, summary: `Edit a ${what} webhook`, params: HookParams, body: hookBody(kind, false), response: { 200: Entity } } },
      async (request) => presentGitlabHook(await gitlabHooks.update(request.actor, await resource(request), request.params.hook_id, request.body)),
    );

    app.delete<{ Params: { id: string; hook_id: number } }>(
      `/${kind}/:id/hooks/:hook_id`,
      { preValidation: authorise, schema: { tags, summary: `Delete a ${what} webhook (what it had not sent yet is cancelled)`, params: HookParams, response: { 204: Type.Null() } } },
      async (request, reply) => {
        await gitlabHooks.remove(request.actor, await resource(request), request.params.hook_id);
        return reply.status(204).send();
      },
    );

    app.put<{ Params: { id: string; hook_id: number; key: string }; Body: Body }>(
      `/${kind}/:id/hooks/:hook_id/custom_headers/:key`,
      { preValidation: write, schema: { tags, summary: `Set a custom header of a ${what} webhook`, params: HeaderParams, body: Type.Object({ value: Type.String({ maxLength: 2048 }) }), response: { 204: Type.Null() } } },
      async (request, reply) => {
        await gitlabHooks.setCustomHeader(request.actor, await resource(request), request.params.hook_id, request.params.key, request.body.value);
        return reply.status(204).send();
      },
    );

    app.delete<{ Params: { id: string; hook_id: number; key: string } }>(
      `/${kind}/:id/hooks/:hook_id/custom_headers/:key`,
      { preValidation: authorise, schema: { tags, summary: `Delete a custom header of a ${what} webhook`, params: HeaderParams, response: { 204: Type.Null() } } },
      async (request, reply) => {
        await gitlabHooks.deleteCustomHeader(request.actor, await resource(request), request.params.hook_id, request.params.key);
        return reply.status(204).send();
      },
    );
  }
}
