/** POST /groups, GET /groups, GET /groups/:id. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { PaginationQuery, readPage, setPaginationHeaders } from '../pagination.js';
import { GroupEntity, presentGroup } from '../presenters.js';
import type { RouteContext } from '../route-context.js';
import { ResourceParams } from './resource-params.js';

const Visibility = Type.Union([Type.Literal('private'), Type.Literal('internal'), Type.Literal('public')], { description: 'private (default), internal or public' });

const CreateGroupBody = Type.Object({
  name: Type.String({ description: 'Group name' }),
  path: Type.String({ description: 'URL path segment' }),
  parent_id: Type.Optional(Type.Integer({ minimum: 1, maximum: 2147483647, description: 'Parent group, for a sub-group' })),
  description: Type.Optional(Type.String({ maxLength: 2000 })),
  visibility: Type.Optional(Visibility),
});

export function registerGroupRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { namespaces } = ctx.services;

  app.post<{ Body: { name: string; path: string; parent_id?: number; description?: string; visibility?: string } }>(
    '/groups',
    { schema: { tags: ['groups'], summary: 'Create a group or sub-group', body: CreateGroupBody, response: { 201: GroupEntity } } },
    async (request, reply) => {
      const b = request.body;
      const group = await namespaces.createGroup(request.actor, { name: b.name, path: b.path, parentId: b.parent_id, description: b.description, visibility: b.visibility });
      return reply.status(201).send(presentGroup(group, ctx.baseUrl(request)));
    },
  );

  app.get<{ Querystring: { page?: number; per_page?: number } }>(
    '/groups',
    { schema: { tags: ['groups'], summary: 'Groups visible to the current user', querystring: Type.Object(PaginationQuery), response: { 200: Type.Array(GroupEntity) } } },
    async (request, reply) => {
      const page = readPage(request.query);
      const result = await namespaces.listGroups(request.actor, page);
      setPaginationHeaders(request, reply, page, result.total, ctx.baseUrl(request));
      return result.items.map((g) => presentGroup(g, ctx.baseUrl(request)));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/groups/:id',
    { schema: { tags: ['groups'], summary: 'Show a group', params: ResourceParams, response: { 200: GroupEntity } } },
    async (request) => presentGroup((await namespaces.findGroup(request.actor, request.params.id)).group, ctx.baseUrl(request)),
  );
}
