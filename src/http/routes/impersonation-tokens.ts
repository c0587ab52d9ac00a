/**
 * GitLab's impersonation token API (doc/api/user_tokens.md): GET|POST /users/:user_id/impersonation_tokens,
 * GET|DELETE /users/:user_id/impersonation_tokens/:impersonation_token_id. Admins only, refused with 403
 * before the input is looked at, as GitLab's `before { authenticated_as_admin! }` runs first.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalidParam } from '../../kernel/errors.js';
import type { ImpersonationTokenState } from '../../tokens/impersonation-token-service.js';
import { PaginationQuery, readPage, setPaginationHeaders } from '../pagination.js';
import { ImpersonationTokenEntity, ImpersonationTokenWithTokenEntity, presentImpersonationToken } from '../presenters.js';
import type { RouteContext } from '../route-context.js';

const Id = Type.Integer({ minimum: 1, maximum: 2147483647 });
const UserParams = Type.Object({ user_id: Id });
const TokenParams = Type.Object({ user_id: Id, impersonation_token_id: Id });

const ListQuery = Type.Object({
  state: Type.Optional(Type.String({ enum: ['all', 'active', 'inactive'], description: 'all (default), active or inactive' })),
  ...PaginationQuery,
});

const CreateBody = Type.Object({
  name: Type.String({ description: 'Token name' }),
  scopes: Type.Optional(Type.Array(Type.String(), { description: 'Scopes (required: a token without scopes is refused)' })),
  expires_at: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'ISO 8601 date; the maximum lifetime when omitted' })),
  description: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'Description' })),
});
type CreateBodyT = { name: string; scopes?: string[]; expires_at?: string | null; description?: string | null };

export function registerImpersonationTokenRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { impersonationTokens } = ctx.services;
  const now = () => ctx.clock.now();
  const tags = ['users'];
  // Admins only, before params, query and body are validated.
  const adminFirst = async (request: FastifyRequest) => impersonationTokens.authorize(request.actor);

  /** Grape's coercions: no body is an empty one; comma-separated scopes; an object is never a string. */
  async function coerceBody(request: FastifyRequest): Promise<void> {
    await adminFirst(request);
    if (request.body === undefined || request.body === null) request.body = {};
    const body = request.body as Record<string, unknown>;
    if (typeof body !== 'object' || Array.isArray(body)) return;
    for (const field of ['name', 'description', 'expires_at']) {
      if (typeof body[field] === 'object' && body[field] !== null) throw invalidParam(`${field} is invalid`);
    }
    const split = (values: string[]) => values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v.length > 0);
    if (typeof body.scopes === 'string') body.scopes = split([body.scopes]);
    else if (Array.isArray(body.scopes) && body.scopes.every((s) => typeof s === 'string')) body.scopes = split(body.scopes);
  }

  app.get<{ Params: { user_id: number }; Querystring: { state?: ImpersonationTokenState; page?: number; per_page?: number } }>(
    '/users/:user_id/impersonation_tokens',
    { preValidation: adminFirst, schema: { tags, summary: "List a user's impersonation tokens (admin)", params: UserParams, querystring: ListQuery, response: { 200: Type.Array(ImpersonationTokenEntity) } } },
    async (request, reply) => {
      const page = readPage(request.query);
      const result = await impersonationTokens.list(request.actor, request.params.user_id, request.query.state ?? 'all', page);
      setPaginationHeaders(request, reply, page, result.total, ctx.baseUrl(request));
      return result.items.map((t) => presentImpersonationToken(t, now()));
    },
  );

  app.post<{ Params: { user_id: number }; Body: CreateBodyT }>(
    '/users/:user_id/impersonation_tokens',
    {
      preValidation: coerceBody,
      schema: { tags, summary: 'Create an impersonation token: act as the user (admin; the secret is in this response only)', params: UserParams, body: CreateBody, response: { 201: ImpersonationTokenWithTokenEntity } },
    },
    async (request, reply) => {
      const b = request.body;
      const { token, secret } = await impersonationTokens.create(request.actor, request.params.user_id, { name: b.name, scopes: b.scopes, expiresAt: b.expires_at, description: b.description });
      return reply.status(201).send({ ...presentImpersonationToken(token, now()), token: secret });
    },
  );

  app.get<{ Params: { user_id: number; impersonation_token_id: number } }>(
    '/users/:user_id/impersonation_tokens/:impersonation_token_id',
    { preValidation: adminFirst, schema: { tags, summary: "Show a user's impersonation token (admin)", params: TokenParams, response: { 200: ImpersonationTokenEntity } } },
    async (request) => presentImpersonationToken(await impersonationTokens.show(request.actor, request.params.user_id, request.params.impersonation_token_id), now()),
  );

  app.delete<{ Params: { user_id: number; impersonation_token_id: number } }>(
    '/users/:user_id/impersonation_tokens/:impersonation_token_id',
    { preValidation: adminFirst, schema: { tags, summary: "Revoke a user's impersonation token (admin)", params: TokenParams, response: { 204: Type.Null() } } },
    async (request, reply) => {
      await impersonationTokens.revoke(request.actor, request.params.user_id, request.params.impersonation_token_id);
      return reply.status(204).send();
    },
  );
}
