/**
 * GitLab's service accounts API (doc/api/service_accounts.md). Instance: GET|POST /service_accounts,
 * PATCH /service_accounts/:user_id (admins only, refused before the input is read). Group: GET|POST
 * /groups/:id/service_accounts, PATCH|DELETE /groups/:id/service_accounts/:user_id, and the accounts'
 * personal access tokens: GET|POST …/:user_id/personal_access_tokens, DELETE …/:token_id, POST
 * …/:token_id/rotate (+ Latchkey's grace_period).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalidParam } from '../../kernel/errors.js';
import { PERSONAL_TOKEN_SCOPES } from '../../tokens/scopes.js';
import { PaginationQuery, readPage, setPaginationHeaders } from '../pagination.js';
import {
  presentServiceAccount,
  presentPersonalAccessToken,
  ServiceAccountEntity,
  PersonalAccessTokenEntity,
  PersonalAccessTokenWithTokenEntity,
} from '../presenters.js';
import type { RouteContext } from '../route-context.js';
import { coerceTokenBody, readGracePeriod, RotateBody } from './access-tokens.js';
import { readTokenSearch, TokenListQuery, type TokenListQueryT } from './token-list-query.js';
import { ResourceParams } from './resource-params.js';

const Id = (description: string) => Type.Integer({ minimum: 1, maximum: 2147483647, description });
const UserIdParams = Type.Object({ user_id: Id('ID of the service account') });
const AccountParams = Type.Object({ ...ResourceParams.properties, ...UserIdParams.properties });
const AccountTokenParams = Type.Object({ ...AccountParams.properties, token_id: Id('ID of the token') });

const CreateAccountBody = Type.Object({
  name: Type.Optional(Type.String({ description: 'Default `Service account user`' })),
  username: Type.Optional(Type.String({ description: 'Default `service_account_group_<group id>_<random>`' })),
  email: Type.Optional(Type.String({ description: 'Default `<username>@noreply.<host>`' })),
});

const ListAccountsQuery = Type.Object({
  order_by: Type.Optional(Type.String({ enum: ['id', 'username'], description: 'Default id' })),
  sort: Type.Optional(Type.String({ enum: ['asc', 'desc'], description: 'Default desc' })),
  ...PaginationQuery,
});

const CreateTokenBody = Type.Object({
  name: Type.String({ description: 'Name of the token' }),
  description: Type.Optional(Type.String()),
  scopes: Type.Array(Type.String({ enum: [...PERSONAL_TOKEN_SCOPES] }), { description: 'At least one scope' }),
  expires_at: Type.Optional(Type.String({ description: 'YYYY-MM-DD; default the maximum lifetime' })),
});

type AccountInput = { name?: string; username?: string; email?: string };
type ListAccountsQueryT = { order_by?: 'id' | 'username'; sort?: 'asc' | 'desc'; page?: number; per_page?: number };
type AccountParamsT = { id: string; user_id: number };
type TokenParamsT = AccountParamsT & { token_id: number };

/** A missing body is an empty one; Grape never takes an array or object for a String param. */
async function rejectObjectFields(request: FastifyRequest): Promise<void> {
  if (request.body === undefined || request.body === null) request.body = {};
  const body = request.body as Record<string, unknown>;
  for (const field of ['name', 'username', 'email']) {
    if (typeof body === 'object' && typeof body[field] === 'object' && body[field] !== null) throw invalidParam(`${field} is invalid`);
  }
}

export function registerServiceAccountRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { serviceAccounts } = ctx.services;
  const tags = ['service_accounts'];
  const now = () => ctx.clock.now();
  const groupOf = async (request: FastifyRequest, id: string) => (await ctx.services.namespaces.findGroup(request.actor, id)).group;
  const orderOf = (query: ListAccountsQueryT) => ({ by: query.order_by ?? 'id', direction: query.sort ?? 'desc' }) as const;
  // The instance API: admins only, before params, query and body are validated (GitLab's `before { authenticated_as_admin! }`).
  const adminFirst = async (request: FastifyRequest) => serviceAccounts.authorizeAdmin(request.actor);

  app.post<{ Body: AccountInput }>(
    '/service_accounts',
    {
      preValidation: async (request) => {
        await adminFirst(request);
        await rejectObjectFields(request);
      },
      schema: { tags, summary: 'Create an instance service account (admin)', body: CreateAccountBody, response: { 201: ServiceAccountEntity } },
    },
    async (request, reply) => reply.status(201).send(presentServiceAccount(await serviceAccounts.createInstance(request.actor, request.body))),
  );

  app.get<{ Querystring: ListAccountsQueryT }>(
    '/service_accounts',
    { preValidation: adminFirst, schema: { tags, summary: 'List every service account of the instance, group ones included (admin)', querystring: ListAccountsQuery, response: { 200: Type.Array(ServiceAccountEntity) } } },
    async (request, reply) => {
      const page = readPage(request.query);
      const result = await serviceAccounts.listInstance(request.actor, orderOf(request.query), page);
      setPaginationHeaders(request, reply, page, result.total, ctx.baseUrl(request));
      return result.items.map(presentServiceAccount);
    },
  );

  app.patch<{ Params: { user_id: number }; Body: AccountInput }>(
    '/service_accounts/:user_id',
    {
      preValidation: async (request) => {
        await adminFirst(request);
        await rejectObjectFields(request);
      },
      schema: { tags, summary: "Change a service account's name, username or email (admin)", params: UserIdParams, body: CreateAccountBody, response: { 200: ServiceAccountEntity } } },
    async (request) => presentServiceAccount(await serviceAccounts.updateInstance(request.actor, request.params.user_id, request.body)),
  );

  app.post<{ Params: { id: string }; Body: AccountInput }>(
    '/groups/:id/service_accounts',
    {
      preValidation: rejectObjectFields,
      schema: { tags, summary: 'Create a service account owned by a top-level group', params: ResourceParams, body: CreateAccountBody, response: { 201: ServiceAccountEntity } },
    },
    async (request, reply) => {
      const group = await groupOf(request, request.params.id);
      const account = await serviceAccounts.create(request.actor, group, request.body);
      return reply.status(201).send(presentServiceAccount(account));
    },
  );

  app.get<{ Params: { id: string }; Querystring: ListAccountsQueryT }>(
    '/groups/:id/service_accounts',
    { schema: { tags, summary: "List a group's service accounts", params: ResourceParams, querystring: ListAccountsQuery, response: { 200: Type.Array(ServiceAccountEntity) } } },
    async (request, reply) => {
      const group = await groupOf(request, request.params.id);
      const page = readPage(request.query);
      const result = await serviceAccounts.list(request.actor, group, orderOf(request.query), page);
      setPaginationHeaders(request, reply, page, result.total, ctx.baseUrl(request));
      return result.items.map(presentServiceAccount);
    },
  );

  app.patch<{ Params: AccountParamsT; Body: AccountInput }>(
    '/groups/:id/service_accounts/:user_id',
    {
      preValidation: rejectObjectFields,
      schema: { tags, summary: "Change a service account's name, username or email", params: AccountParams, body: CreateAccountBody, response: { 200: ServiceAccountEntity } },
    },
    async (request) => {
      const group = await groupOf(request, request.params.id);
      return presentServiceAccount(await serviceAccounts.update(request.actor, group, request.params.user_id, request.body));
    },
  );

  // GitLab's `hard_delete` also deletes the account's contributions; Latchkey has none, and blocks the account either way.
  const DeleteAccountQuery = Type.Object({ hard_delete: Type.Optional(Type.Boolean({ description: 'Accepted as GitLab has it; the account is blocked and its tokens revoked either way' })) });
  app.delete<{ Params: AccountParamsT; Querystring: { hard_delete?: boolean } }>(
    '/groups/:id/service_accounts/:user_id',
    { schema: { tags, summary: 'Delete a service account (blocked, its tokens revoked)', params: AccountParams, querystring: DeleteAccountQuery, response: { 204: Type.Null() } } },
    async (request, reply) => {
      const group = await groupOf(request, request.params.id);
      await serviceAccounts.remove(request.actor, group, request.params.user_id);
      return reply.status(204).send();
    },
  );

  app.get<{ Params: AccountParamsT; Querystring: TokenListQueryT & { page?: number; per_page?: number } }>(
    '/groups/:id/service_accounts/:user_id/personal_access_tokens',
    {
      schema: {
        tags,
        summary: "List a service account's personal access tokens (GitLab's filters and sort)",
        params: AccountParams,
        querystring: Type.Object({ ...TokenListQuery, ...PaginationQuery }),
        response: { 200: Type.Array(PersonalAccessTokenEntity) },
      },
    },
    async (request, reply) => {
      const group = await groupOf(request, request.params.id);
      const page = readPage(request.query);
      const result = await serviceAccounts.listTokens(request.actor, group, request.params.user_id, readTokenSearch(request.query), page);
      setPaginationHeaders(request, reply, page, result.total, ctx.baseUrl(request));
      return result.items.map((t) => presentPersonalAccessToken(t, now()));
    },
  );

  app.post<{ Params: AccountParamsT; Body: { name: string; description?: string; scopes: string[]; expires_at?: string } }>(
    '/groups/:id/service_accounts/:user_id/personal_access_tokens',
    {
      preValidation: coerceTokenBody,
      schema: { tags, summary: 'Create a personal access token for a service account (the secret is in this response only)', params: AccountParams, body: CreateTokenBody, response: { 201: PersonalAccessTokenWithTokenEntity } },
    },
    async (request, reply) => {
      const group = await groupOf(request, request.params.id);
      const b = request.body;
      const { token, secret } = await serviceAccounts.createToken(request.actor, group, request.params.user_id, { name: b.name, description: b.description, scopes: b.scopes, expiresAt: b.expires_at });
      return reply.status(201).send({ ...presentPersonalAccessToken(token, now()), token: secret });
    },
  );

  app.delete<{ Params: TokenParamsT }>(
    '/groups/:id/service_accounts/:user_id/personal_access_tokens/:token_id',
    { schema: { tags, summary: "Revoke a service account's personal access token", params: AccountTokenParams, response: { 204: Type.Null() } } },
    async (request, reply) => {
      const group = await groupOf(request, request.params.id);
      await serviceAccounts.revokeToken(request.actor, group, request.params.user_id, request.params.token_id);
      return reply.status(204).send();
    },
  );

  app.post<{ Params: TokenParamsT; Body: { expires_at?: string; grace_period?: number | string } }>(
    '/groups/:id/service_accounts/:user_id/personal_access_tokens/:token_id/rotate',
    {
      preValidation: coerceTokenBody,
      schema: { tags, summary: "Rotate a service account's personal access token", params: AccountTokenParams, body: RotateBody, response: { 200: PersonalAccessTokenWithTokenEntity } },
    },
    async (request, reply) => {
      const group = await groupOf(request, request.params.id);
      const { token, secret } = await serviceAccounts.rotateToken(request.actor, group, request.params.user_id, request.params.token_id, {
        expiresAt: request.body.expires_at,
        gracePeriodSeconds: readGracePeriod(request.body.grace_period),
      });
      return reply.status(200).send({ ...presentPersonalAccessToken(token, now()), token: secret });
    },
  );
}
