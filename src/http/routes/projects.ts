/**
 * POST /projects, GET /projects, GET|PUT /projects/:id. The reads also answer without a token, as
 * GitLab's do: the public projects, or a public project (visibility: namespaces/visibility.ts).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalidParam } from '../../kernel/errors.js';
import type { Project } from '../../namespaces/namespace.js';
import { PaginationQuery, readPage, setPaginationHeaders } from '../pagination.js';
import { viewerOf } from '../plugins/authenticate.js';
import { ProjectEntity, presentProject } from '../presenters.js';
import type { RouteContext } from '../route-context.js';
import { ResourceParams } from './resource-params.js';

const Visibility = Type.Union([Type.Literal('private'), Type.Literal('internal'), Type.Literal('public')], {
  description: 'private (default: members only), internal (any signed-in user) or public (anyone, without a token); never more visible than the group',
});

const CreateProjectBody = Type.Object({
  name: Type.Optional(Type.String({ description: 'Project name (name or path is required)' })),
  path: Type.Optional(Type.String({ description: 'URL path segment' })),
  namespace_id: Type.Union([Type.Integer({ minimum: 1, maximum: 2147483647 }), Type.String({ minLength: 1, maxLength: 2048 })], { description: 'ID or full path of the group' }),
  description: Type.Optional(Type.String({ maxLength: 2000 })),
  visibility: Type.Optional(Visibility),
});

const UpdateProjectBody = Type.Object({
  name: Type.Optional(Type.String({ description: 'New name (Owner)' })),
  description: Type.Optional(Type.String({ maxLength: 2000 })),
  visibility: Type.Optional(Visibility),
});
type UpdateProjectBodyT = { name?: string; description?: string; visibility?: string };

const ListProjectsQuery = Type.Object({
  ...PaginationQuery,
  search: Type.Optional(Type.String({ maxLength: 255, description: 'Part of the name or path' })),
  membership: Type.Optional(Type.Boolean({ description: 'Only projects the user is a member of (otherwise every project they can see)' })),
  order_by: Type.Optional(Type.Union([Type.Literal('id'), Type.Literal('name'), Type.Literal('path'), Type.Literal('created_at')], { description: 'Default created_at' })),
  sort: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')], { description: 'Default desc' })),
  simple: Type.Optional(Type.Boolean({ description: 'Accepted for compatibility; the full entity is returned' })),
});

type ListProjectsQueryT = { page?: number; per_page?: number; search?: string; membership?: boolean; order_by?: 'id' | 'name' | 'path' | 'created_at'; sort?: 'asc' | 'desc' };

export function registerProjectRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { namespaces } = ctx.services;

  async function present(request: FastifyRequest, project: Project) {
    // The namespace of a project one may see is shown, whatever the group's own visibility.
    const resource = await namespaces.resolveResourceAsAdmin('group', String(project.groupId));
    return presentProject(project, (resource as Extract<typeof resource, { type: 'group' }>).group, ctx.baseUrl(request));
  }

  app.post<{ Body: { name?: string; path?: string; namespace_id: number | string; description?: string; visibility?: string } }>(
    '/projects',
    { schema: { tags: ['projects'], summary: 'Create a project in a group', body: CreateProjectBody, response: { 201: ProjectEntity } } },
    async (request, reply) => {
      const b = request.body;
      const project = await namespaces.createProject(request.actor, { name: b.name, path: b.path, namespaceId: b.namespace_id, description: b.description, visibility: b.visibility });
      return reply.status(201).send(await present(request, project));
    },
  );

  app.get<{ Querystring: ListProjectsQueryT }>(
    '/projects',
    {
      config: { anonymous: true },
      schema: {
        tags: ['projects'],
        summary: 'Projects the caller can see: public, internal and their own (admins: all; without a token: the public ones)',
        querystring: ListProjectsQuery,
        response: { 200: Type.Array(ProjectEntity) },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const page = readPage(q);
      const result = await namespaces.listProjects(viewerOf(request), { search: q.search ?? null, membership: q.membership ?? false, orderBy: q.order_by ?? 'created_at', sort: q.sort ?? 'desc' }, page);
      setPaginationHeaders(request, reply, page, result.total, ctx.baseUrl(request));
      return Promise.all(result.items.map((p) => present(request, p)));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/projects/:id',
    { config: { anonymous: true }, schema: { tags: ['projects'], summary: 'Show a project (a public one also without a token)', params: ResourceParams, response: { 200: ProjectEntity } } },
    async (request) => present(request, (await namespaces.findProject(viewerOf(request), request.params.id)).project),
  );

  app.put<{ Params: { id: string }; Body: UpdateProjectBodyT }>(
    '/projects/:id',
    {
      schema: {
        tags: ['projects'],
        summary: 'Update a project: description (Maintainer+), name and visibility (Owner)',
        params: ResourceParams,
        body: UpdateProjectBody,
        response: { 200: ProjectEntity },
      },
    },
    async (request) => {
      const b = request.body ?? {};
      if (b.name === undefined && b.description === undefined && b.visibility === undefined) throw invalidParam('name, description, visibility are missing, at least one parameter must be provided');
      const { project } = await namespaces.findProject(request.actor, request.params.id);
      return present(request, await namespaces.updateProject(request.actor, project, b));
    },
  );
}
