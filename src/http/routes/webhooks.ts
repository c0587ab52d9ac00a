/**
 * Latchkey extension — webhooks for token events: instance hooks (admins) under /latchkey/webhooks,
 * group hooks (group Owners) under /groups/:id/latchkey/webhooks, each with DELETE /:hook_id and
 * GET /:hook_id/deliveries (every attempt: status code, latency, error, next retry).
 */
import { presentDelivery, presentWebhook } from '../../webhooks/webhook-json.js';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalidParam } from '../../kernel/errors.js';
import { WEBHOOK_EVENTS } from '../../webhooks/webhook.js';
import type { HookScope } from '../../webhooks/webhook-service.js';
import { PaginationQuery, readPage, setPaginationHeaders } from '../pagination.js';
import type { RouteContext } from '../route-context.js';
import { ResourceParams } from './resource-params.js';

const WebhookEntity = Type.Object({
  id: Type.Integer(),
  url: Type.String(),
  events: Type.Array(Type.String()),
  group_id: Type.Union([Type.Integer(), Type.Null()]),
  created_at: Type.String(),
});
const WebhookWithSecretEntity = Type.Intersect([WebhookEntity, Type.Object({ secret: Type.String({ description: 'Signing secret, shown in this response only' }) })]);

const AttemptEntity = Type.Object({
  attempt: Type.Integer(),
  started_at: Type.String(),
  status_code: Type.Union([Type.Integer(), Type.Null()]),
  latency_ms: Type.Integer(),
  error: Type.Union([Type.String(), Type.Null()]),
  next_retry_at: Type.Union([Type.String(), Type.Null()]),
});
const DeliveryEntity = Type.Object({
  id: Type.Integer(),
  event: Type.String(),
  token_id: Type.Integer(),
  status: Type.String({ description: 'pending, delivered, failed (given up) or cancelled (hook deleted)' }),
  attempt_count: Type.Integer(),
  next_attempt_at: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String(),
  finished_at: Type.Union([Type.String(), Type.Null()]),
  attempts: Type.Array(AttemptEntity),
});

const CreateBody = Type.Object({
  url: Type.String({ maxLength: 2048, description: 'http:// or https:// URL that receives POSTed events' }),
  events: Type.Array(Type.String({ enum: [...WEBHOOK_EVENTS] }), { maxItems: 20, description: 'Events to receive' }),
});
const HookParams = Type.Object({ hook_id: Type.Integer({ minimum: 1, maximum: 2147483647 }) });
const GroupHookParams = Type.Object({ ...ResourceParams.properties, hook_id: Type.Integer({ minimum: 1, maximum: 2147483647 }) });

/** No body is an empty one (so the answer names the missing field); `events` may be comma-separated. */
async function coerceCreateBody(request: FastifyRequest): Promise<void> {
  if (request.body === undefined || request.body === null) request.body = {};
  const body = request.body as Record<string, unknown>;
  if (typeof body !== 'object' || Array.isArray(body)) throw invalidParam('body is invalid');
  if (body.url === undefined) throw invalidParam('url is missing');
  if (body.events === undefined) throw invalidParam('events is missing');
  if (typeof body.url !== 'string') throw invalidParam('url is invalid');
  if (typeof body.events === 'string') body.events = body.events.split(',').map((e) => e.trim()).filter(Boolean);
}

export function registerWebhookRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { webhooks } = ctx.services;
  const tags = ['webhooks'];
  const groupScope = async (request: FastifyRequest, id: string): Promise<HookScope> => {
    const resource = await ctx.resolve(request, 'groups', id);
    return { type: 'group', group: (resource as Extract<typeof resource, { type: 'group' }>).group };
  };

  const routes: { prefix: string; what: string; params: typeof ResourceParams | null; scope: (request: FastifyRequest) => Promise<HookScope> }[] = [
    { prefix: '/latchkey/webhooks', what: 'instance', params: null, scope: async () => ({ type: 'instance' }) },
    { prefix: '/groups/:id/latchkey/webhooks', what: 'group', params: ResourceParams, scope: (request) => groupScope(request, (request.params as { id: string }).id) },
  ];

  for (const r of routes) {
    const listParams = r.params ?? undefined;
    const hookParams = r.params ? GroupHookParams : HookParams;

    app.get<{ Querystring: { page?: number; per_page?: number } }>(
      r.prefix,
      { schema: { tags, summary: `List ${r.what} webhooks (Latchkey extension)`, ...(listParams ? { params: listParams } : {}), querystring: Type.Object(PaginationQuery), response: { 200: Type.Array(WebhookEntity) } } },
      async (request, reply) => {
        const scope = await r.scope(request);
        const page = readPage(request.query);
        const result = await webhooks.list(request.actor, scope, page);
        setPaginationHeaders(request, reply, page, result.total, ctx.baseUrl(request));
        return result.items.map(presentWebhook);
      },
    );

    app.post<{ Body: { url: string; events: string[] } }>(
      r.prefix,
      {
        preValidation: coerceCreateBody,
        schema: { tags, summary: `Register a ${r.what} webhook; its signing secret is in this response only`, ...(listParams ? { params: listParams } : {}), body: CreateBody, response: { 201: WebhookWithSecretEntity } },
      },
      async (request, reply) => {
        const scope = await r.scope(request);
        const { hook, secret } = await webhooks.create(request.actor, scope, { url: request.body.url, events: request.body.events });
        return reply.status(201).send({ ...presentWebhook(hook), secret });
      },
    );

    app.delete<{ Params: { hook_id: number } }>(
      `${r.prefix}/:hook_id`,
      { schema: { tags, summary: `Delete a ${r.what} webhook (pending deliveries are cancelled)`, params: hookParams, response: { 204: Type.Null() } } },
      async (request, reply) => {
        const scope = await r.scope(request);
        await webhooks.remove(request.actor, scope, request.params.hook_id);
        return reply.status(204).send();
      },
    );

    app.get<{ Params: { hook_id: number }; Querystring: { page?: number; per_page?: number } }>(
      `${r.prefix}/:hook_id/deliveries`,
      { schema: { tags, summary: `A ${r.what} webhook's deliveries, newest first, with every attempt`, params: hookParams, querystring: Type.Object(PaginationQuery), response: { 200: Type.Array(DeliveryEntity) } } },
      async (request, reply) => {
        const scope = await r.scope(request);
        const page = readPage(request.query);
        const result = await webhooks.deliveries(request.actor, scope, request.params.hook_id, page);
        setPaginationHeaders(request, reply, page, result.total, ctx.baseUrl(request));
        return result.items.map(presentDelivery);
      },
    );
  }
}
