/**
 * POST /groups, GET /groups, GET|PUT /groups/:id. The reads also answer without a token, as GitLab's
 * do: the public groups, or a public group (visibility: namespaces/visibility.ts).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { PaginationQuery, readPage, setPaginationHeaders } from '../pagination.js';
import { viewerOf } from '../plugins/authenticate.js';
import { GroupEntity, presentGroup } from '../presenters.js';
import type { RouteContext } from '../route-context.js';
import { ResourceParams } from './resource-params.js';

const Visibility = Type.Union([Type.Literal('private'), Type.Literal('internal'), Type.Literal('public')], {
  description: 'private (default: members only), internal (any signed-in user) or public (anyone); never more visible than the parent group, never less than its projects and sub-groups',
});

const CreateGroupBody = Type.Object({
  name: Type.String({ description: 'Group name' }),
  path: Type.String({ description: 'URL path segment' }),
  parent_id: Type.Optional(Type.Integer({ minimum: 1, maximum: 2147483647, description: 'Parent group, for a sub-group' })),
  description: Type.Optional(Type.String({ maxLength: 2000 })),
  visibility: Type.Optional(Visibility),
});

const UpdateGroupBody = Type.Object({
  name: Type.Optional(Type.String({ description: 'New name' })),
  description: Type.Optional(Type.String({ maxLength: 2000 })),
  visibility: Type.Optional(Visibility),
});

const ListGroupsQuery = Type.Object({
  ...PaginationQuery,
  all_available: Type.Optional(Type.Boolean({ description: 'Every group the user can see (internal and public ones too), not only their memberships' })),
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

  app.get<{ Querystring: { page?: number; per_page?: number; all_available?: boolean } }>(
    '/groups',
    {
      config: { anonymous: true },
      schema: {
        tags: ['groups'],
        summary: "The caller's groups (all_available: every group they can see; admins: all; without a token: the public ones)",
        querystring: ListGroupsQuery,
        response: { 200: Type.Array(GroupEntity) },
      },
    },
    async (request, reply) => {
      const page = readPage(request.query);
      const result = await namespaces.listGroups(viewerOf(request), { allAvailable: request.query.all_available ?? false }, page);
      setPaginationHeaders(request, reply, page, result.total, ctx.baseUrl(request));
      return result.items.map((g) => presentGroup(g, ctx.baseUrl(request)));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/groups/:id',
    { config: { anonymous: true }, schema: { tags: ['groups'], summary: 'Show a group (a public one also without a token)', params: ResourceParams, response: { 200: GroupEntity } } },
    async (request) => presentGroup((await namespaces.findGroup(viewerOf(request), request.params.id)).group, ctx.baseUrl(request)),
  );

  app.put<{ Params: { id: string }; Body: { name?: string; description?: string; visibility?: string } }>(
    '/groups/:id',
    { schema: { tags: ['groups'], summary: 'Update a group: name, description, visibility (Owner)', params: ResourceParams, body: UpdateGroupBody, response: { 200: GroupEntity } } },
    async (request) => {
      const { group } = await namespaces.findGroup(request.actor, request.params.id);
      return presentGroup(await namespaces.updateGroup(request.actor, group, request.body ?? {}), ctx.baseUrl(request));
    },
  );
}
