/** POST /admin/token (identify a token by its value) and DELETE /admin/token (revoke it): admins only. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DomainError, invalidParam } from '../../kernel/errors.js';
import { lookUpValue } from '../../tokens/value-lookup.js';
import { presentCredential } from '../../inventory/credential-json.js';
import { CredentialEntity } from './credentials.js';
import { presentAdminToken } from '../presenters.js';
import { AdminTokenWithGrantEntity, OAuthRefreshTokenMatchEntity, presentGrantRef, presentRefreshTokenMatch } from './oauth-token-match.js';
import type { RouteContext } from '../route-context.js';

/** An outside credential recognised by its fingerprint (issue 14): its inventory entries, with placements to rotate. */
const InventoryMatchEntity = Type.Object({ credential_inventory: Type.Array(CredentialEntity) });

const Body = Type.Object({ token: Type.String({ description: 'The token value to look up' }) });

/** No body is an empty one, so the answer names the missing param; an object is never a string. */
async function coerceBody(request: FastifyRequest): Promise<void> {
  if (request.body === undefined || request.body === null) request.body = {};
  const body = request.body as Record<string, unknown>;
  if (typeof body === 'object' && !Array.isArray(body) && typeof body.token === 'object' && body.token !== null) throw invalidParam('token is invalid');
}

export function registerAdminTokenRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { adminTokens, inventory, oauth } = ctx.services;
  const notFound = (e: unknown) => e instanceof DomainError && e.code === 'TOKEN_NOT_FOUND';
  const tags = ['admin'];

  app.post<{ Body: { token: string } }>(
    '/admin/token',
    { preValidation: coerceBody, schema: { tags, summary: 'Identify a token by its value (admin)', body: Body, response: { 200: Type.Union([AdminTokenWithGrantEntity, OAuthRefreshTokenMatchEntity, InventoryMatchEntity]) } } },
    async (request, reply) => {
      // An OAuth refresh token is no token record: it is shown by its grant.
      const match = await lookUpValue({ adminTokens, inventory }, request.actor, request.body.token).catch(async (e: unknown) => {
        const grant = notFound(e) ? await oauth.grantOfRefreshToken(request.body.token.trim()) : null;
        if (!grant) throw e;
        return { type: 'oauth_refresh' as const, grant };
      });
      if (match.type === 'oauth_refresh') return reply.status(200).send(presentRefreshTokenMatch(match.grant));
      if (match.type === 'inventory') return reply.status(200).send({ credential_inventory: match.credentials.map(presentCredential) });
      const grant = match.token.kind === 'oauth' ? await oauth.grantOfAccessToken(match.token.id) : null;
      return reply.status(200).send({ ...presentAdminToken(match.token, match.owner, ctx.clock.now()), ...(grant ? { oauth: presentGrantRef(grant, match.token.validUntil ?? null) } : {}) });
    },
  );

  app.delete<{ Body: { token: string } }>(
    '/admin/token',
    { preValidation: coerceBody, schema: { tags, summary: 'Revoke a token by its value (admin)', body: Body, response: { 204: Type.Null() } } },
    async (request, reply) => {
      // An OAuth token, access or refresh, ends its whole grant: whoever leaked one may hold the other.
      const grant = await adminTokens.identify(request.actor, request.body.token).then(
        ({ token }) => (token.kind === 'oauth' ? oauth.grantOfAccessToken(token.id) : null),
        async (e: unknown) => (notFound(e) && (await oauth.grantOfRefreshToken(request.body.token.trim()))) || Promise.reject(e),
      );
      if (grant) await oauth.revokeGrantAsAdmin(request.actor, grant.grant.id);
      else await adminTokens.revoke(request.actor, request.body.token);
      return reply.status(204).send();
    },
  );
}
