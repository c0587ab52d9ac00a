/**
 * GET /projects/:id/latchkey/ci_variables — a Latchkey extension: CI_DEPLOY_USER and CI_DEPLOY_PASSWORD
 * of the project's `gitlab-deploy-token` (or its immediate parent group's), for a CI system that
 * authenticates with a project access token of that project. The answer holds a secret: never cached.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../route-context.js';
import { ResourceParams } from './resource-params.js';

const CiVariablesEntity = Type.Object({ CI_DEPLOY_USER: Type.String(), CI_DEPLOY_PASSWORD: Type.String() });

export function registerCiVariablesRoutes(api: FastifyInstance, ctx: RouteContext): void {
  const { ciVariables } = ctx.services;
  api.get<{ Params: { id: string } }>(
    '/projects/:id/latchkey/ci_variables',
    {
      schema: {
        tags: ['projects'],
        summary: "CI_DEPLOY_USER / CI_DEPLOY_PASSWORD from the project's (or its parent group's) gitlab-deploy-token (Latchkey extension; a project access token of this project)",
        params: ResourceParams,
        response: { 200: CiVariablesEntity },
      },
    },
    async (request, reply) => {
      const { project } = await ctx.services.namespaces.findProject(request.actor, request.params.id);
      const variables = await ciVariables.deployVariables({ user: request.actor, token: request.authToken }, project);
      return reply.header('cache-control', 'no-store').send(variables);
    },
  );
}
