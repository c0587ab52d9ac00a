/**
 * GitLab's deploy token API: GET /deploy_tokens (admin), and GET|POST /:kind/:id/deploy_tokens,
 * GET|DELETE /:kind/:id/deploy_tokens/:token_id for projects and groups.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalidParam } from '../../kernel/errors.js';
import { DEPLOY_TOKEN_SCOPES } from '../../tokens/scopes.js';
import { KeysetPaginationQuery, readListPage, setListHeaders, type KeysetPaginationQueryT } from '../pagination.js';
import { DeployTokenEntity, DeployTokenWithTokenEntity, presentDeployToken } from '../presenters.js';
import type { RouteContext } from '../route-context.js';
import { ResourceParams, TokenParams } from './resource-params.js';

const ListQuery = Type.Object({ active: Type.Optional(Type.Boolean({ description: 'Limit by active status' })), ...KeysetPaginationQuery });

const CreateBody = Type.Object({
  name: Type.String({ description: "New deploy token's name" }),
  scopes: Type.Array(Type.String({ enum: [...DEPLOY_TOKEN_SCOPES] }), { description: 'At least one deploy-token scope' }),
  expires_at: Type.Optional(Type.String({ description: 'ISO 8601 date or date-time; the token stops working at 00:00 UTC of that date. No expiry when omitted.' })),
  username: Type.Optional(Type.String({ description: 'Username for the token (default gitlab+deploy-token-{id})' })),
});

type ListQueryT = { active?: boolean } & KeysetPaginationQueryT;

/**
 * GitLab's (Grape's) input coercions for the create body, applied before schema validation: no body
 * is an empty one (so the answer names the missing params); an array or object is never a string
 * (`name is invalid`), though numbers and booleans become strings; `scopes` may be a comma-separated
 * string (`scopes=read_repository,read_registry`), as GitLab's CommaSeparatedToArray allows.
 */
async function coerceCreateBody(request: FastifyRequest): Promise<void> {
  if (request.body === undefined || request.body === null) request.body = {};
  const body = request.body as Record<string, unknown>;
  if (typeof body !== 'object' || Array.isArray(body)) return;
  for (const field of ['name', 'username', 'expires_at']) {
    if (typeof body[field] === 'object' && body[field] !== null) throw invalidParam(`${field} is invalid`);
  }
  const scopes = body.scopes;
  if (typeof scopes === 'string') body.scopes = splitScopes([scopes]);
  else if (Array.isArray(scopes) && scopes.every((s) => typeof s === 'string')) body.scopes = splitScopes(scopes);
}

const splitScopes = (values: string[]) => values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v.length > 0);

export function registerDeployTokenRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { deployTokens } = ctx.services;
  const now = () => ctx.clock.now();

  app.get<{ Querystring: ListQueryT }>(
    '/deploy_tokens',
    { schema: { tags: ['deploy_tokens'], summary: 'All deploy tokens of the instance (admin)', querystring: ListQuery, response: { 200: Type.Array(DeployTokenEntity) } } },
    async (request, reply) => {
      const page = readListPage(request.query, 'asc');
      const result = await deployTokens.listAll(request.actor, { active: request.query.active }, page);
      setListHeaders(request, reply, page, result, ctx.baseUrl(request));
      return result.items.map((t) => presentDeployToken(t, now()));
    },
  );

  for (const kind of ['projects', 'groups'] as const) {
    const tags = ['deploy_tokens'];
    const what = kind.slice(0, -1);

    app.get<{ Params: { id: string }; Querystring: ListQueryT }>(
      `/${kind}/:id/deploy_tokens`,
      { schema: { tags, summary: `List a ${what}'s deploy tokens`, params: ResourceParams, querystring: ListQuery, response: { 200: Type.Array(DeployTokenEntity) } } },
      async (request, reply) => {
        const resource = await ctx.resolve(request, kind, request.params.id);
        const page = readListPage(request.query, 'asc');
        const result = await deployTokens.list(request.actor, resource, { active: request.query.active }, page);
        setListHeaders(request, reply, page, result, ctx.baseUrl(request));
        return result.items.map((t) => presentDeployToken(t, now()));
      },
    );

    app.post<{ Params: { id: string }; Body: { name: string; scopes: string[]; expires_at?: string; username?: string } }>(
      `/${kind}/:id/deploy_tokens`,
      {
        preValidation: coerceCreateBody,
        schema: { tags, summary: `Create a ${what} deploy token (the secret is in this response only)`, params: ResourceParams, body: CreateBody, response: { 201: DeployTokenWithTokenEntity } },
      },
      async (request, reply) => {
        const resource = await ctx.resolve(request, kind, request.params.id);
        const b = request.body;
        const { token, secret } = await deployTokens.create(request.actor, resource, { name: b.name, scopes: b.scopes, expiresAt: b.expires_at, username: b.username });
        return reply.status(201).send({ ...presentDeployToken(token, now()), token: secret });
      },
    );

    app.get<{ Params: { id: string; token_id: number } }>(
      `/${kind}/:id/deploy_tokens/:token_id`,
      { schema: { tags, summary: `Show a ${what} deploy token`, params: TokenParams, response: { 200: DeployTokenEntity } } },
      async (request) => {
        const resource = await ctx.resolve(request, kind, request.params.id);
        return presentDeployToken(await deployTokens.show(request.actor, resource, request.params.token_id), now());
      },
    );

    app.delete<{ Params: { id: string; token_id: number } }>(
      `/${kind}/:id/deploy_tokens/:token_id`,
      { schema: { tags, summary: `Delete (revoke) a ${what} deploy token`, params: TokenParams, response: { 204: Type.Null() } } },
      async (request, reply) => {
        const resource = await ctx.resolve(request, kind, request.params.id);
        await deployTokens.remove(request.actor, resource, request.params.token_id);
        return reply.status(204).send();
      },
    );
  }
}
