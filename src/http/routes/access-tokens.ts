/**
 * GitLab's project and group access token API (doc/api/project_access_tokens.md,
 * group_access_tokens.md): GET|POST /:kind/:id/access_tokens, GET|DELETE /:kind/:id/access_tokens/:token_id,
 * POST /:kind/:id/access_tokens/:token_id/rotate — plus Latchkey's `grace_period` on rotate.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalidParam } from '../../kernel/errors.js';
import { VALID_ACCESS_LEVELS } from '../../namespaces/access-levels.js';
import { RESOURCE_TOKEN_SCOPES } from '../../tokens/resource-token-service.js';
import { KeysetPaginationQuery, readListPage, setListHeaders, type KeysetPaginationQueryT } from '../pagination.js';
import { presentResourceAccessToken, ResourceAccessTokenEntity, ResourceAccessTokenWithTokenEntity } from '../presenters.js';
import type { RouteContext } from '../route-context.js';
import { ResourceParams, TokenParams } from './resource-params.js';
import { keysetDirectionOf, readTokenSearch, TokenListQuery, type TokenListQueryT } from './token-list-query.js';

const ListQuery = Type.Object({ ...TokenListQuery, ...KeysetPaginationQuery });

const CreateBody = Type.Object({
  name: Type.String({ description: 'Name of the token (also the bot user’s name)' }),
  description: Type.Optional(Type.String({ description: 'Description of the token' })),
  scopes: Type.Array(Type.String({ enum: [...RESOURCE_TOKEN_SCOPES] }), { description: 'At least one scope' }),
  access_level: Type.Optional(Type.Integer({ enum: [...VALID_ACCESS_LEVELS], description: 'Role of the token’s bot: 10 Guest … 50 Owner (default 40); never above your own' })),
  expires_at: Type.Optional(Type.String({ description: 'YYYY-MM-DD; the token stops working at 00:00 UTC of that date. Default: the maximum lifetime (365 days unless a group is stricter)' })),
});

export const RotateBody = Type.Object({
  expires_at: Type.Optional(Type.String({ description: 'Expiry of the new token (YYYY-MM-DD); default one week' })),
  grace_period: Type.Optional(
    Type.Union([Type.Integer({ minimum: 0 }), Type.String()], {
      description: 'Latchkey extension (not in GitLab): how long the old secret keeps working — seconds, or a number with s, m, h or d (`24h`). Default 0: revoked at once, as GitLab does',
    }),
  ),
});

const splitScopes = (values: string[]) => values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v.length > 0);

/** Grape's coercions before schema validation: no body is an empty one; objects are never strings; `scopes` may be a comma-separated string. */
export async function coerceTokenBody(request: FastifyRequest): Promise<void> {
  if (request.body === undefined || request.body === null) request.body = {};
  const body = request.body as Record<string, unknown>;
  if (typeof body !== 'object' || Array.isArray(body)) return;
  for (const field of ['name', 'description', 'expires_at']) {
    if (typeof body[field] === 'object' && body[field] !== null) throw invalidParam(`${field} is invalid`);
  }
  const scopes = body.scopes;
  if (typeof scopes === 'string') body.scopes = splitScopes([scopes]);
  else if (Array.isArray(scopes) && scopes.every((s) => typeof s === 'string')) body.scopes = splitScopes(scopes);
}

const GRACE_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `grace_period`: seconds, or `<n>s|m|h|d`. Range checks are the lifecycle's. */
export function readGracePeriod(input: number | string | undefined): number | undefined {
  if (input === undefined) return undefined;
  if (typeof input === 'number') return input;
  const m = /^\s*(\d{1,9})\s*([smhd]?)\s*$/.exec(input);
  if (!m) throw invalidParam('grace_period is invalid');
  return Number(m[1]) * GRACE_UNITS[m[2] || 's']!;
}

type RotateBodyT = { expires_at?: string; grace_period?: number | string };

export function registerAccessTokenRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { resourceTokens } = ctx.services;
  const now = () => ctx.clock.now();

  for (const kind of ['projects', 'groups'] as const) {
    const what = kind.slice(0, -1);
    const tags = ['access_tokens'];

    app.get<{ Params: { id: string }; Querystring: TokenListQueryT & KeysetPaginationQueryT }>(
      `/${kind}/:id/access_tokens`,
      {
        schema: {
          tags,
          summary: `List a ${what}'s access tokens (GitLab's filters: state, revoked, search, created/last_used/expires before and after; sort)`,
          params: ResourceParams,
          querystring: ListQuery,
          response: { 200: Type.Array(ResourceAccessTokenEntity) },
        },
      },
      async (request, reply) => {
        const resource = await ctx.resolve(request, kind, request.params.id);
        const search = readTokenSearch(request.query);
        const page = readListPage(request.query, keysetDirectionOf(search));
        const result = await resourceTokens.list(request.actor, resource, search, page);
        setListHeaders(request, reply, page, result, ctx.baseUrl(request));
        return result.items.map((t) => presentResourceAccessToken(t, now()));
      },
    );

    app.post<{ Params: { id: string }; Body: { name: string; description?: string; scopes: string[]; access_level?: number; expires_at?: string } }>(
      `/${kind}/:id/access_tokens`,
      {
        preValidation: coerceTokenBody,
        schema: { tags, summary: `Create a ${what} access token and its bot user (the secret is in this response only)`, params: ResourceParams, body: CreateBody, response: { 201: ResourceAccessTokenWithTokenEntity } },
      },
      async (request, reply) => {
        const resource = await ctx.resolve(request, kind, request.params.id);
        const b = request.body;
        const { token, secret } = await resourceTokens.create(request.actor, resource, {
          name: b.name,
          description: b.description,
          scopes: b.scopes,
          accessLevel: b.access_level,
          expiresAt: b.expires_at,
        });
        return reply.status(201).send({ ...presentResourceAccessToken(token, now()), token: secret });
      },
    );

    app.get<{ Params: { id: string } }>(
      `/${kind}/:id/access_tokens/self`,
      { schema: { tags, summary: `The ${what} access token this request authenticates with (any scope)`, params: ResourceParams, response: { 200: ResourceAccessTokenEntity } } },
      async (request) => {
        const resource = await ctx.resolve(request, kind, request.params.id);
        return presentResourceAccessToken(await resourceTokens.showSelf(request.actor, resource, request.authToken), now());
      },
    );

    app.get<{ Params: { id: string; token_id: number } }>(
      `/${kind}/:id/access_tokens/:token_id`,
      { schema: { tags, summary: `Show a ${what} access token`, params: TokenParams, response: { 200: ResourceAccessTokenEntity } } },
      async (request) => {
        const resource = await ctx.resolve(request, kind, request.params.id);
        return presentResourceAccessToken(await resourceTokens.show(request.actor, resource, request.params.token_id), now());
      },
    );

    app.delete<{ Params: { id: string; token_id: number } }>(
      `/${kind}/:id/access_tokens/:token_id`,
      { schema: { tags, summary: `Revoke a ${what} access token (its bot user is blocked)`, params: TokenParams, response: { 204: Type.Null() } } },
      async (request, reply) => {
        const resource = await ctx.resolve(request, kind, request.params.id);
        await resourceTokens.revoke(request.actor, resource, request.params.token_id);
        return reply.status(204).send();
      },
    );

    app.post<{ Params: { id: string }; Body: RotateBodyT }>(
      `/${kind}/:id/access_tokens/self/rotate`,
      {
        preValidation: coerceTokenBody,
        schema: {
          tags,
          summary: `Rotate the ${what} access token this request authenticates with (api or self_rotate scope)`,
          params: ResourceParams,
          body: RotateBody,
          response: { 200: ResourceAccessTokenWithTokenEntity, 405: Type.Object({ message: Type.String() }, { description: "The credential is not a project or group bot's access token" }) },
        },
      },
      async (request, reply) => {
        resourceTokens.assertSelfRotatable(request.actor, request.authToken);
        const resource = await ctx.resolve(request, kind, request.params.id);
        const { token, secret } = await resourceTokens.rotateSelf(request.actor, resource, request.authToken, {
          expiresAt: request.body.expires_at,
          gracePeriodSeconds: readGracePeriod(request.body.grace_period),
        });
        return reply.status(200).send({ ...presentResourceAccessToken(token, now()), token: secret });
      },
    );

    app.post<{ Params: { id: string; token_id: number }; Body: RotateBodyT }>(
      `/${kind}/:id/access_tokens/:token_id/rotate`,
      {
        preValidation: coerceTokenBody,
        schema: { tags, summary: `Rotate a ${what} access token: a new token and secret; the old one is revoked at once or after grace_period`, params: TokenParams, body: RotateBody, response: { 200: ResourceAccessTokenWithTokenEntity } },
      },
      async (request, reply) => {
        const resource = await ctx.resolve(request, kind, request.params.id);
        const { token, secret } = await resourceTokens.rotate(request.actor, resource, request.params.token_id, {
          expiresAt: request.body.expires_at,
          gracePeriodSeconds: readGracePeriod(request.body.grace_period),
        });
        return reply.status(200).send({ ...presentResourceAccessToken(token, now()), token: secret });
      },
    );
  }
}
