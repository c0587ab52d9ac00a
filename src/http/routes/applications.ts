/**
 * GitLab's Applications API (doc/api/applications.md, admin only): instance-wide OAuth2 applications.
 * The secret is in the create and renew-secret responses only.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { callbackUrlOf, type OAuthApplication } from '../../oauth/application.js';
import type { RouteContext } from '../route-context.js';

const ApplicationEntity = Type.Object({
  id: Type.Integer(),
  application_id: Type.String({ description: 'The OAuth client id' }),
  application_name: Type.String(),
  callback_url: Type.String({ description: 'Redirect URIs, one per line' }),
  confidential: Type.Boolean(),
});
const ApplicationWithSecretEntity = Type.Intersect([ApplicationEntity, Type.Object({ secret: Type.String({ description: 'Client secret, shown in this response only' }) })]);

const CreateBody = Type.Object({
  name: Type.String({ maxLength: 10_000 }),
  redirect_uri: Type.String({ maxLength: 10_000, description: 'Absolute redirect URI; several separated by whitespace' }),
  scopes: Type.Union([Type.String({ maxLength: 10_000 }), Type.Array(Type.String({ maxLength: 100 }), { maxItems: 50 })], { description: 'Space-separated scopes' }),
  confidential: Type.Optional(Type.Boolean({ description: 'The client can keep its secret (default true); public clients must use PKCE' })),
});
const IdParams = Type.Object({ id: Type.Integer({ minimum: 1, maximum: 2147483647 }) });

const present = (a: OAuthApplication) => ({ id: a.id, application_id: a.uid, application_name: a.name, callback_url: callbackUrlOf(a), confidential: a.confidential });

export function registerApplicationRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { oauthApplications } = ctx.services;
  const tags = ['applications'];

  app.post<{ Body: { name: string; redirect_uri: string; scopes: string | string[]; confidential?: boolean } }>(
    '/applications',
    { schema: { tags, summary: 'Create an application (admin); the secret is in this response only', body: CreateBody, response: { 201: ApplicationWithSecretEntity } } },
    async (request, reply) => {
      const b = request.body;
      const { application, secret } = await oauthApplications.create(request.actor, { name: b.name, redirectUri: b.redirect_uri, scopes: b.scopes, confidential: b.confidential });
      return reply.status(201).send({ ...present(application), secret });
    },
  );

  app.get('/applications', { schema: { tags, summary: 'List all applications (admin)', response: { 200: Type.Array(ApplicationEntity) } } }, async (request) =>
    (await oauthApplications.list(request.actor)).map(present),
  );

  app.delete<{ Params: { id: number } }>(
    '/applications/:id',
    { schema: { tags, summary: 'Delete an application (admin); its grants and tokens stop working', params: IdParams, response: { 204: Type.Null() } } },
    async (request, reply) => {
      await oauthApplications.remove(request.actor, request.params.id);
      return reply.status(204).send();
    },
  );

  app.post<{ Params: { id: number } }>(
    '/applications/:id/renew-secret',
    { schema: { tags, summary: 'Renew the secret of an application (admin); the new secret is in this response only', params: IdParams, response: { 200: ApplicationWithSecretEntity } } },
    async (request) => {
      const { application, secret } = await oauthApplications.renewSecret(request.actor, request.params.id);
      return { ...present(application), secret };
    },
  );
}
