/** GET|POST /groups/:id/members and /projects/:id/members; GET …/members/all (inherited too). */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { parseExpiryDate } from '../../kernel/dates.js';
import { invalidParam } from '../../kernel/errors.js';
import { VALID_ACCESS_LEVELS } from '../../namespaces/access-levels.js';
import { PaginationQuery, readPage, setPaginationHeaders } from '../pagination.js';
import { MemberEntity, presentMember } from '../presenters.js';
import type { RouteContext } from '../route-context.js';
import { ResourceParams } from './resource-params.js';

const AddMemberBody = Type.Object({
  user_id: Type.Integer({ minimum: 1, maximum: 2147483647, description: 'The user to add' }),
  access_level: Type.Integer({ enum: [...VALID_ACCESS_LEVELS], description: '10 Guest, 15 Planner, 20 Reporter, 30 Developer, 40 Maintainer, 50 Owner' }),
  expires_at: Type.Optional(Type.String({ description: 'Membership end date (YYYY-MM-DD)' })),
});

export function registerMemberRoutes(app: FastifyInstance, ctx: RouteContext, kind: 'projects' | 'groups'): void {
  const { namespaces } = ctx.services;
  const tags = [kind];

  app.get<{ Params: { id: string }; Querystring: { page?: number; per_page?: number } }>(
    `/${kind}/:id/members`,
    { schema: { tags, summary: `List direct members of a ${kind.slice(0, -1)}`, params: ResourceParams, querystring: Type.Object(PaginationQuery), response: { 200: Type.Array(MemberEntity) } } },
    async (request, reply) => {
      const resource = await ctx.resolve(request, kind, request.params.id);
      const page = readPage(request.query);
      const result = await namespaces.listMembers(request.actor, resource, page);
      setPaginationHeaders(request, reply, page, result.total, ctx.baseUrl(request));
      return result.items.map((m) => presentMember(m, ctx.baseUrl(request)));
    },
  );

  app.get<{ Params: { id: string }; Querystring: { page?: number; per_page?: number } }>(
    `/${kind}/:id/members/all`,
    { schema: { tags, summary: `List direct and inherited members of a ${kind.slice(0, -1)} (each user once, highest level)`, params: ResourceParams, querystring: Type.Object(PaginationQuery), response: { 200: Type.Array(MemberEntity) } } },
    async (request, reply) => {
      const resource = await ctx.resolve(request, kind, request.params.id);
      const page = readPage(request.query);
      const result = await namespaces.listAllMembers(request.actor, resource, page);
      setPaginationHeaders(request, reply, page, result.total, ctx.baseUrl(request));
      return result.items.map((m) => presentMember(m, ctx.baseUrl(request)));
    },
  );

  app.post<{ Params: { id: string }; Body: { user_id: number; access_level: number; expires_at?: string } }>(
    `/${kind}/:id/members`,
    { schema: { tags, summary: `Add a member to a ${kind.slice(0, -1)}`, params: ResourceParams, body: AddMemberBody, response: { 201: MemberEntity } } },
    async (request, reply) => {
      const resource = await ctx.resolve(request, kind, request.params.id);
      let expiresAt = null;
      if (request.body.expires_at) {
        expiresAt = parseExpiryDate(request.body.expires_at);
        if (expiresAt === null) throw invalidParam('expires_at is invalid');
      }
      const member = await namespaces.addMember(request.actor, resource, { userId: request.body.user_id, accessLevel: request.body.access_level, expiresAt });
      return reply.status(201).send(presentMember(member, ctx.baseUrl(request)));
    },
  );
}
