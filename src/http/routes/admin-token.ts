/** POST /admin/token (identify a token by its value) and DELETE /admin/token (revoke it): admins only. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalidParam } from '../../kernel/errors.js';
import { AdminTokenEntity, presentAdminToken } from '../presenters.js';
import type { RouteContext } from '../route-context.js';

const Body = Type.Object({ token: Type.String({ description: 'The token value to look up' }) });

/** No body is an empty one, so the answer names the missing param; an object is never a string. */
async function coerceBody(request: FastifyRequest): Promise<void> {
  if (request.body === undefined || request.body === null) request.body = {};
  const body = request.body as Record<string, unknown>;
  if (typeof body === 'object' && !Array.isArray(body) && typeof body.token === 'object' && body.token !== null) throw invalidParam('token is invalid');
}

export function registerAdminTokenRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { adminTokens } = ctx.services;
  const tags = ['admin'];

  app.post<{ Body: { token: string } }>(
    '/admin/token',
    { preValidation: coerceBody, schema: { tags, summary: 'Identify a token by its value (admin)', body: Body, response: { 200: AdminTokenEntity } } },
    async (request, reply) => {
      const { token, owner } = await adminTokens.identify(request.actor, request.body.token);
      return reply.status(200).send(presentAdminToken(token, owner, ctx.clock.now()));
    },
  );

  app.delete<{ Body: { token: string } }>(
    '/admin/token',
    { preValidation: coerceBody, schema: { tags, summary: 'Revoke a token by its value (admin)', body: Body, response: { 204: Type.Null() } } },
    async (request, reply) => {
      await adminTokens.revoke(request.actor, request.body.token);
      return reply.status(204).send();
    },
  );
}
