/**
 * GET|PUT /groups/:id/token_policy — a Latchkey extension (GitLab has no per-group API for this): the
 * group's own maximum token lifetime and the one in effect for tokens created in it.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { GroupTokenPolicy } from '../../tokens/token-policy-service.js';
import type { RouteContext } from '../route-context.js';
import { ResourceParams } from './resource-params.js';

const TokenPolicyEntity = Type.Object({
  group_id: Type.Integer(),
  max_token_lifetime_days: Type.Union([Type.Integer(), Type.Null()], { description: "This group's own limit; null when it sets none" }),
  effective_max_token_lifetime_days: Type.Integer({ description: 'Strictest of the instance limit and every limit along the group chain' }),
  instance_max_token_lifetime_days: Type.Integer(),
  expiry_required: Type.Boolean(),
});

// Checked by the service, not the schema: the app's coercing validator would read 0 or false as null,
// and null as 0, for a nullable integer.
const UpdateTokenPolicyBody = Type.Object({
  max_token_lifetime_days: Type.Unknown({ description: 'Days (integer), 1 to the instance maximum; null clears the limit' }),
});

function present(p: GroupTokenPolicy): Static<typeof TokenPolicyEntity> {
  return {
    group_id: p.groupId,
    max_token_lifetime_days: p.maxTokenLifetimeDays,
    effective_max_token_lifetime_days: p.effectiveMaxTokenLifetimeDays,
    instance_max_token_lifetime_days: p.instanceMaxTokenLifetimeDays,
    expiry_required: p.expiryRequired,
  };
}

export function registerTokenPolicyRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { tokenPolicies } = ctx.services;
  const tags = ['groups'];

  app.get<{ Params: { id: string } }>(
    '/groups/:id/token_policy',
    { schema: { tags, summary: "A group's token lifetime policy (Latchkey extension; Maintainer+)", params: ResourceParams, response: { 200: TokenPolicyEntity } } },
    async (request) => present(await tokenPolicies.show(request.actor, request.params.id)),
  );

  app.put<{ Params: { id: string }; Body: { max_token_lifetime_days: unknown } }>(
    '/groups/:id/token_policy',
    { schema: { tags, summary: "Set a group's maximum token lifetime (Latchkey extension; Owner)", params: ResourceParams, body: UpdateTokenPolicyBody, response: { 200: TokenPolicyEntity } } },
    async (request) => present(await tokenPolicies.set(request.actor, request.params.id, request.body.max_token_lifetime_days)),
  );
}
