/** POST /admin/token (identify a token by its value) and DELETE /admin/token (revoke it): admins only. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalidParam } from '../../kernel/errors.js';
import { lookUpValue, revokeValue } from '../../tokens/value-lookup.js';
import { presentCredential } from '../../inventory/credential-json.js';
import { CredentialEntity } from './credentials.js';
import { presentAdminToken } from '../presenters.js';
import { AdminTokenWithGrantEntity, OAuthRefreshTokenMatchEntity, presentGrantRef, presentRefreshTokenMatch } from './oauth-token-match.js';
import type { RouteContext } from '../route-context.js';

/** An outside credential recognised by its fingerprint (issue 14): its inventory entries, with placements to rotate. */
const InventoryMatchEntity = Type.Object({ credential_inventory: Type.Array(CredentialEntity) });
/** A Latchkey token, and its inventory entry when inventory fields were added to it. */
const TokenMatchEntity = Type.Composite([AdminTokenWithGrantEntity, Type.Object({ credential_inventory: Type.Optional(Type.Array(CredentialEntity)) })]);

const Body = Type.Object({ token: Type.String({ description: 'The token value to look up' }) });

/** No body is an empty one, so the answer names the missing param; an object is never a string. */
async function coerceBody(request: FastifyRequest): Promise<void> {
  if (request.body === undefined || request.body === null) request.body = {};
  const body = request.body as Record<string, unknown>;
  if (typeof body === 'object' && !Array.isArray(body) && typeof body.token === 'object' && body.token !== null) throw invalidParam('token is invalid');
}

export function registerAdminTokenRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { adminTokens, inventory, oauth } = ctx.services;
  const tags = ['admin'];

  app.post<{ Body: { token: string } }>(
    '/admin/token',
    { preValidation: coerceBody, schema: { tags, summary: 'Identify a token by its value (admin)', body: Body, response: { 200: Type.Union([TokenMatchEntity, OAuthRefreshTokenMatchEntity, InventoryMatchEntity]) } } },
    async (request, reply) => {
      const match = await lookUpValue({ adminTokens, inventory, oauth }, request.actor, request.body.token);
      if (match.type === 'oauth_refresh') return reply.status(200).send(presentRefreshTokenMatch(match.grant));
      if (match.type === 'inventory') return reply.status(200).send({ credential_inventory: match.credentials.map(presentCredential) });
      const { token, owner, grant, entry } = match;
      return reply.status(200).send({
        ...presentAdminToken(token, owner, ctx.clock.now()),
        ...(grant ? { oauth: presentGrantRef(grant, token.validUntil ?? null) } : {}),
        // A Latchkey token with inventory fields: its entry (placements to update, the token's state), as for outside credentials.
        ...(entry ? { credential_inventory: [presentCredential(entry)] } : {}),
      });
    },
  );

  app.delete<{ Body: { token: string } }>(
    '/admin/token',
    { preValidation: coerceBody, schema: { tags, summary: 'Revoke a token by its value (admin)', body: Body, response: { 204: Type.Null() } } },
    async (request, reply) => {
      await revokeValue({ adminTokens, oauth }, request.actor, request.body.token);
      return reply.status(204).send();
    },
  );
}
