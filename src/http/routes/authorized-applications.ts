/**
 * Latchkey extension — the signed-in user's "Authorized applications" (GitLab shows them in its UI only):
 * the OAuth2 grants that still work, and revoking one (its access and refresh tokens stop at once).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../route-context.js';

const AuthorizationEntity = Type.Object({
  id: Type.Integer({ description: 'The grant id' }),
  application_id: Type.String({ description: 'The client id' }),
  application_name: Type.String(),
  scopes: Type.Array(Type.String()),
  flow: Type.String({ description: 'authorization_code or device_code' }),
  created_at: Type.String(),
});
const IdParams = Type.Object({ id: Type.Integer({ minimum: 1, maximum: 2147483647 }) });

export function registerAuthorizedApplicationRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { oauth } = ctx.services;
  const tags = ['oauth'];
  app.get(
    '/user/latchkey/authorized_applications',
    { schema: { tags, summary: 'The OAuth2 applications you authorised whose grants still work (Latchkey extension)', response: { 200: Type.Array(AuthorizationEntity) } } },
    async (request) =>
      (await oauth.authorizedApplications(request.actor)).map((a) => ({
        id: a.grant.id, application_id: a.applicationUid, application_name: a.applicationName, scopes: [...a.grant.scopes], flow: a.grant.flow, created_at: a.grant.createdAt,
      })),
  );
  app.delete<{ Params: { id: number } }>(
    '/user/latchkey/authorized_applications/:id',
    { schema: { tags, summary: 'Revoke an authorisation: its access and refresh tokens stop working (Latchkey extension)', params: IdParams, response: { 204: Type.Null() } } },
    async (request, reply) => {
      await oauth.revokeAuthorization(request.actor, request.params.id);
      return reply.status(204).send();
    },
  );
}
