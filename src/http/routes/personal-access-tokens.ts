/**
 * GitLab's personal access token API: GET /personal_access_tokens (+ filters), GET|DELETE
 * /personal_access_tokens/:id and /self, POST /personal_access_tokens/:id/rotate and /self/rotate,
 * POST /users/:user_id/personal_access_tokens (admin) and POST /user/personal_access_tokens (own,
 * limited scopes). `grace_period` on rotate is Latchkey's extension.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalidParam } from '../../kernel/errors.js';
import type { TokenSearch } from '../../tokens/token-store.js';
import { KeysetPaginationQuery, readListPage, setListHeaders, type KeysetPaginationQueryT } from '../pagination.js';
import { PersonalAccessTokenEntity, PersonalAccessTokenWithTokenEntity, presentPersonalAccessToken } from '../presenters.js';
import type { RouteContext } from '../route-context.js';
import { keysetDirectionOf, readTokenSearch, TokenListQuery, type TokenListQueryT } from './token-list-query.js';

const Id = Type.Integer({ minimum: 1, maximum: 2147483647 });
const TokenIdParams = Type.Object({ id: Id });
const UserIdParams = Type.Object({ user_id: Id });
const ListQuery = Type.Object({
  user_id: Type.Optional(Type.Integer({ minimum: 1, maximum: 2147483647, description: 'Owner (admins: anyone; others: themselves only)' })),
  ...TokenListQuery,
  ...KeysetPaginationQuery,
});
type ListQueryT = { user_id?: number } & KeysetPaginationQueryT & TokenListQueryT;

const CreateBody = Type.Object({
  name: Type.String({ description: 'Token name' }),
  scopes: Type.Array(Type.String(), { description: 'Scopes' }),
  expires_at: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'ISO 8601 date; required by the instance policy unless it allows none; defaults to the maximum lifetime' })),
  description: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'Description' })),
});
type CreateBodyT = { name: string; scopes: string[]; expires_at?: string | null; description?: string | null };

const RotateBody = Type.Object({
  expires_at: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'ISO 8601 date of the new token; one week when omitted' })),
  grace_period: Type.Optional(
    Type.Union([Type.Integer({ minimum: 0 }), Type.String({ maxLength: 32 })], {
      description: 'Latchkey extension: how long the old secret keeps working — seconds, or 30m, 12h, 7d. Default 0: revoked at once (GitLab).',
    }),
  ),
});
type RotateBodyT = { expires_at?: string | null; grace_period?: number | string };

/** `grace_period`: whole seconds, or a number with s, m, h or d. */
export function readGracePeriod(input: unknown): number | undefined {
  if (input === undefined || input === null || input === '') return undefined;
  if (typeof input === 'number') return input;
  const m = /^\s*(\d{1,9})\s*([smhd]?)\s*$/i.exec(String(input));
  if (!m) throw invalidParam('grace_period is invalid');
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2]!.toLowerCase() as '' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

/** Grape's coercions: no body is an empty one; comma-separated scopes; objects are never strings. */
async function coerceBody(request: FastifyRequest): Promise<void> {
  if (request.body === undefined || request.body === null) request.body = {};
  const body = request.body as Record<string, unknown>;
  if (typeof body !== 'object' || Array.isArray(body)) return;
  for (const field of ['name', 'description', 'expires_at', 'grace_period']) {
    if (typeof body[field] === 'object' && body[field] !== null) throw invalidParam(`${field} is invalid`);
  }
  const scopes = body.scopes;
  const split = (values: string[]) => values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v.length > 0);
  if (typeof scopes === 'string') body.scopes = split([scopes]);
  else if (Array.isArray(scopes) && scopes.every((s) => typeof s === 'string')) body.scopes = split(scopes);
}

export function registerPersonalAccessTokenRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { personalTokens } = ctx.services;
  const now = () => ctx.clock.now();
  const tags = ['personal_access_tokens'];

  app.get<{ Querystring: ListQueryT }>(
    '/personal_access_tokens',
    { schema: { tags, summary: 'List personal access tokens (own; admins: all)', querystring: ListQuery, response: { 200: Type.Array(PersonalAccessTokenEntity) } } },
    async (request, reply) => {
      const q = request.query;
      const filter: TokenSearch = { ...readTokenSearch(q), userId: q.user_id };
      const page = readListPage(q, keysetDirectionOf(filter));
      const result = await personalTokens.list(request.actor, filter, page);
      setListHeaders(request, reply, page, result, ctx.baseUrl(request));
      return result.items.map((t) => presentPersonalAccessToken(t, now()));
    },
  );

  app.get(
    '/personal_access_tokens/self',
    { schema: { tags, summary: 'The token this request authenticates with', response: { 200: PersonalAccessTokenEntity } } },
    async (request) => presentPersonalAccessToken(personalTokens.showSelf(request.authToken), now()),
  );

  app.get<{ Params: { id: number } }>(
    '/personal_access_tokens/:id',
    { schema: { tags, summary: 'Show a personal access token', params: TokenIdParams, response: { 200: PersonalAccessTokenEntity } } },
    async (request) => presentPersonalAccessToken(await personalTokens.show(request.actor, request.params.id), now()),
  );

  app.delete(
    '/personal_access_tokens/self',
    { schema: { tags, summary: 'Revoke the token this request authenticates with', response: { 204: Type.Null() } } },
    async (request, reply) => {
      await personalTokens.revokeSelf(request.actor, request.authToken);
      return reply.status(204).send();
    },
  );

  app.delete<{ Params: { id: number } }>(
    '/personal_access_tokens/:id',
    { schema: { tags, summary: 'Revoke a personal access token', params: TokenIdParams, response: { 204: Type.Null() } } },
    async (request, reply) => {
      await personalTokens.revoke(request.actor, request.params.id);
      return reply.status(204).send();
    },
  );

  app.post<{ Body: RotateBodyT }>(
    '/personal_access_tokens/self/rotate',
    { preValidation: coerceBody, schema: { tags, summary: 'Rotate the token this request authenticates with (api or self_rotate scope)', body: RotateBody, response: { 200: PersonalAccessTokenWithTokenEntity, 405: Type.Object({ message: Type.String() }, { description: 'The credential is not an access token (OAuth)' }) } } },
    async (request, reply) => {
      const b = request.body;
      const { token, secret } = await personalTokens.rotateSelf(request.actor, request.authToken, { expiresAt: b.expires_at, gracePeriodSeconds: readGracePeriod(b.grace_period) });
      return reply.status(200).send({ ...presentPersonalAccessToken(token, now()), token: secret });
    },
  );

  app.post<{ Params: { id: number }; Body: RotateBodyT }>(
    '/personal_access_tokens/:id/rotate',
    { preValidation: coerceBody, schema: { tags, summary: 'Rotate a personal access token (the new secret is in this response only)', params: TokenIdParams, body: RotateBody, response: { 200: PersonalAccessTokenWithTokenEntity } } },
    async (request, reply) => {
      const b = request.body;
      const { token, secret } = await personalTokens.rotate(request.actor, request.params.id, { expiresAt: b.expires_at, gracePeriodSeconds: readGracePeriod(b.grace_period) });
      return reply.status(200).send({ ...presentPersonalAccessToken(token, now()), token: secret });
    },
  );

  app.post<{ Params: { user_id: number }; Body: CreateBodyT }>(
    '/users/:user_id/personal_access_tokens',
    { preValidation: coerceBody, schema: { tags: ['users'], summary: "Create a user's personal access token (admin)", params: UserIdParams, body: CreateBody, response: { 201: PersonalAccessTokenWithTokenEntity } } },
    async (request, reply) => {
      const b = request.body;
      const { token, secret } = await personalTokens.createForUser(request.actor, request.params.user_id, { name: b.name, scopes: b.scopes, expiresAt: b.expires_at, description: b.description });
      return reply.status(201).send({ ...presentPersonalAccessToken(token, now()), token: secret });
    },
  );

  app.post<{ Body: CreateBodyT }>(
    '/user/personal_access_tokens',
    {
      preValidation: coerceBody,
      schema: { tags: ['users'], summary: 'Create a personal access token for yourself (scope self_rotate only, as GitLab limits it)', body: CreateBody, response: { 201: PersonalAccessTokenWithTokenEntity } },
    },
    async (request, reply) => {
      const b = request.body;
      const { token, secret } = await personalTokens.createForSelf(request.actor, { name: b.name, scopes: b.scopes, expiresAt: b.expires_at, description: b.description });
      return reply.status(201).send({ ...presentPersonalAccessToken(token, now()), token: secret });
    },
  );
}
