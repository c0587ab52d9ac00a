/** GET /user, GET /users, GET /users/:id, POST /users (admin). */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { KeysetPaginationQuery, readListPage, setListHeaders, type KeysetPaginationQueryT } from '../pagination.js';
import { presentUser, UserEntity } from '../presenters.js';
import type { RouteContext } from '../route-context.js';

const CreateUserBody = Type.Object({
  username: Type.String({ description: 'Username' }),
  name: Type.String({ description: 'Display name' }),
  email: Type.String({ description: 'Email address' }),
  password: Type.Optional(Type.String({ description: 'Password for the web UI (at least 8 characters)' })),
  admin: Type.Optional(Type.Boolean({ description: 'Make the user an administrator' })),
});

export function registerUserRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { namespaces } = ctx.services;

  app.get('/user', { schema: { tags: ['users'], summary: 'The current user', response: { 200: UserEntity } } }, async (request) =>
    presentUser(request.actor, ctx.baseUrl(request)),
  );

  app.get<{ Querystring: KeysetPaginationQueryT }>(
    '/users',
    { schema: { tags: ['users'], summary: 'List users (admin)', querystring: Type.Object(KeysetPaginationQuery), response: { 200: Type.Array(UserEntity) } } },
    async (request, reply) => {
      const page = readListPage(request.query, 'asc');
      const result = await namespaces.listUsers(request.actor, page);
      setListHeaders(request, reply, page, result, ctx.baseUrl(request));
      return result.items.map((u) => presentUser(u, ctx.baseUrl(request)));
    },
  );

  app.get<{ Params: { id: number } }>(
    '/users/:id',
    { schema: { tags: ['users'], summary: 'Show a user', params: Type.Object({ id: Type.Integer({ minimum: 1, maximum: 2147483647 }) }), response: { 200: UserEntity } } },
    async (request) => presentUser(await namespaces.findUser(request.actor, request.params.id), ctx.baseUrl(request)),
  );

  const IdParams = Type.Object({ id: Type.Integer({ minimum: 1, maximum: 2147483647 }) });
  const UpdateUserBody = Type.Object({
    name: Type.Optional(Type.String({ description: 'Display name' })),
    username: Type.Optional(Type.String({ description: 'Username' })),
    email: Type.Optional(Type.String({ description: 'Email address' })),
    password: Type.Optional(Type.String({ description: 'New web UI password (8 to 128 characters); ends the user\'s web sessions' })),
    admin: Type.Optional(Type.Boolean({ description: 'Administrator flag' })),
  });

  app.put<{ Params: { id: number }; Body: { name?: string; username?: string; email?: string; password?: string; admin?: boolean } }>(
    '/users/:id',
    { schema: { tags: ['users'], summary: 'Modify a user (admin): profile, admin flag, web UI password', params: IdParams, body: UpdateUserBody, response: { 200: UserEntity } } },
    async (request) => presentUser(await ctx.services.accounts.update(request.actor, request.params.id, request.body ?? {}), ctx.baseUrl(request)),
  );

  // GitLab answers both with 201 and a bare `true`.
  app.post<{ Params: { id: number } }>(
    '/users/:id/block',
    { schema: { tags: ['users'], summary: 'Block a user (admin): their tokens and web sessions stop working', params: IdParams, response: { 201: Type.Boolean() } } },
    async (request, reply) => {
      await ctx.services.accounts.block(request.actor, request.params.id);
      return reply.status(201).send(true);
    },
  );

  app.post<{ Params: { id: number } }>(
    '/users/:id/unblock',
    { schema: { tags: ['users'], summary: 'Unblock a user (admin)', params: IdParams, response: { 201: Type.Boolean() } } },
    async (request, reply) => {
      await ctx.services.accounts.unblock(request.actor, request.params.id);
      return reply.status(201).send(true);
    },
  );

  app.post<{ Body: { username: string; name: string; email: string; password?: string; admin?: boolean } }>(
    '/users',
    { schema: { tags: ['users'], summary: 'Create a user (admin)', body: CreateUserBody, response: { 201: UserEntity } } },
    async (request, reply) => {
      const user = await ctx.services.accounts.create(request.actor, request.body);
      return reply.status(201).send(presentUser(user, ctx.baseUrl(request)));
    },
  );
}
