/** GET /user, GET /users, GET /users/:id, POST /users (admin). */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { hashPassword } from '../../auth/password.js';
import { invalidField } from '../../kernel/errors.js';
import { PaginationQuery, readPage, setPaginationHeaders } from '../pagination.js';
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

  app.get<{ Querystring: { page?: number; per_page?: number } }>(
    '/users',
    { schema: { tags: ['users'], summary: 'List users (admin)', querystring: Type.Object(PaginationQuery), response: { 200: Type.Array(UserEntity) } } },
    async (request, reply) => {
      const page = readPage(request.query);
      const result = await namespaces.listUsers(request.actor, page);
      setPaginationHeaders(request, reply, page, result.total, ctx.baseUrl(request));
      return result.items.map((u) => presentUser(u, ctx.baseUrl(request)));
    },
  );

  app.get<{ Params: { id: number } }>(
    '/users/:id',
    { schema: { tags: ['users'], summary: 'Show a user', params: Type.Object({ id: Type.Integer({ minimum: 1, maximum: 2147483647 }) }), response: { 200: UserEntity } } },
    async (request) => presentUser(await namespaces.findUser(request.actor, request.params.id), ctx.baseUrl(request)),
  );

  app.post<{ Body: { username: string; name: string; email: string; password?: string; admin?: boolean } }>(
    '/users',
    { schema: { tags: ['users'], summary: 'Create a user (admin)', body: CreateUserBody, response: { 201: UserEntity } } },
    async (request, reply) => {
      const { password } = request.body;
      if (password !== undefined && (password.length < 8 || password.length > 128)) throw invalidField('password', 'must be 8 to 128 characters');
      const user = await namespaces.createUser(request.actor, {
        username: request.body.username,
        name: request.body.name,
        email: request.body.email,
        admin: request.body.admin,
        passwordHash: password === undefined ? null : hashPassword(password, ctx.services.random),
      });
      return reply.status(201).send(presentUser(user, ctx.baseUrl(request)));
    },
  );
}
