/**
 * Latchkey extension — scheduled rotation (issue 16 item 3): the rotation policy of an inventory entry
 * (`/latchkey/credentials/:credential/rotation_policy`, with the policy that applies and the last
 * scheduled runs) and of a group (`/latchkey/groups/:id/rotation_policy`, for the entries of its tree).
 * Bodies are read by the policy's own validator, so a bad field is named (`{"message": {"hour": [...]}}`).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { MAX_DAYS_BEFORE_EXPIRY, MAX_PERIOD_SECONDS, parsePolicyInput, RUN_STATES, type PolicyInput } from '../../rotation/rotation-policies.js';
import { presentCredentialPolicy, presentGroupPolicy } from '../../rotation/rotation-policy-json.js';
import type { RouteContext } from '../route-context.js';

const tags = ['credential inventory'];

const PolicyProps = {
  days_before_expiry: Type.Integer({ minimum: 1, maximum: MAX_DAYS_BEFORE_EXPIRY, description: "Rotate this many days before the entry's due date (expiry)" }),
  hour: Type.Integer({ minimum: 0, maximum: 23, description: 'At this hour of that day (UTC); default 0' }),
  grace_period: Type.Integer({ minimum: 0, maximum: MAX_PERIOD_SECONDS, description: "Seconds the old secret of a Latchkey token keeps working at most; default 86400, as a rotate request's" }),
  quiet_period: Type.Integer({ minimum: 0, maximum: MAX_PERIOD_SECONDS, description: 'Revoke the old secret once unused this many seconds (within the grace); default 3600 (at most the grace)' }),
  notify: Type.Boolean({ description: "E-mail each scheduled outcome to the owning group's Maintainers and Owners; default false" }),
  enabled: Type.Boolean({ description: 'Default true; false keeps the policy but starts nothing (and, on an entry, overrides its group’s)' }),
};
const PolicyBody = Type.Partial(Type.Object(PolicyProps));
const PolicyEntity = Type.Object({ ...PolicyProps, created_at: Type.String(), updated_at: Type.String() });
const GroupRef = Type.Object({ id: Type.Integer(), full_path: Type.String() });
const Effective = Type.Union([
  Type.Null(),
  Type.Intersect([PolicyEntity, Type.Object({ source: Type.String({ enum: ['credential', 'group'] }), group: Type.Union([GroupRef, Type.Null()], { description: 'The group whose policy applies (source group)' }) })]),
]);
const RunEntity = Type.Object({
  due_on: Type.String({ description: 'The due date this run rotated for' }),
  policy: Type.String({ description: 'credential, or group:<id>' }),
  state: Type.String({ enum: [...RUN_STATES] }),
  job_id: Type.Union([Type.Integer(), Type.Null()]),
  reason: Type.Union([Type.String(), Type.Null()], { description: 'Why it failed or was not started ("not rotatable: …"); never a secret' }),
  scheduled_at: Type.String(),
  finished_at: Type.Union([Type.String(), Type.Null()]),
});
const CredentialPolicyEntity = Type.Object({
  credential: Type.Object({ id: Type.Union([Type.Integer(), Type.Null()]), slug: Type.String(), due_on: Type.String() }),
  policy: Type.Union([PolicyEntity, Type.Null()], { description: "The entry's own policy" }),
  effective: Effective,
  rotates_at: Type.Union([Type.String(), Type.Null()], { description: 'When the policy that applies starts the rotation for the current due date' }),
  last_runs: Type.Array(RunEntity),
});
const GroupPolicyEntity = Type.Object({ group: GroupRef, policy: Type.Union([PolicyEntity, Type.Null()], { description: "The group's own policy" }), effective: Effective });

const CredentialParams = Type.Object({ credential: Type.String({ minLength: 1, maxLength: 255, description: 'Entry id or slug, or token-<id>' }) });
const GroupParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 1000, description: 'Group id or full path' }) });

export function registerRotationPolicyRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { rotationPolicies } = ctx.services;
  // Bodies as the policy's validator read them (before the schema, so the field is named in our words).
  const parsed = new WeakMap<FastifyRequest, PolicyInput>();
  const readBody = async (request: FastifyRequest) => {
    parsed.set(request, parsePolicyInput(request.body));
  };

  app.get<{ Params: { credential: string } }>(
    '/latchkey/credentials/:credential/rotation_policy',
    { schema: { tags, summary: "An entry's rotation policy, the one that applies (its own or its group's) and its last scheduled runs", params: CredentialParams, response: { 200: CredentialPolicyEntity } } },
    async (request) => presentCredentialPolicy(await rotationPolicies.getForCredential(request.actor, request.params.credential)),
  );
  app.put<{ Params: { credential: string } }>(
    '/latchkey/credentials/:credential/rotation_policy',
    { preValidation: readBody, schema: { tags, summary: "Set an entry's rotation policy (given fields; days_before_expiry required for a new one). Maintainer+", params: CredentialParams, body: PolicyBody, response: { 200: CredentialPolicyEntity } } },
    async (request) => presentCredentialPolicy(await rotationPolicies.putForCredential(request.actor, request.params.credential, parsed.get(request)!)),
  );
  app.delete<{ Params: { credential: string } }>(
    '/latchkey/credentials/:credential/rotation_policy',
    { schema: { tags, summary: "Remove an entry's own rotation policy (its group's applies again). Maintainer+", params: CredentialParams, response: { 204: Type.Null() } } },
    async (request, reply) => {
      await rotationPolicies.removeForCredential(request.actor, request.params.credential);
      return reply.status(204).send();
    },
  );

  app.get<{ Params: { id: string } }>(
    '/latchkey/groups/:id/rotation_policy',
    { schema: { tags, summary: "A group's rotation policy (for the entries of its tree) and the one that applies (its own or an ancestor's)", params: GroupParams, response: { 200: GroupPolicyEntity } } },
    async (request) => presentGroupPolicy(await rotationPolicies.getForGroup(request.actor, request.params.id)),
  );
  app.put<{ Params: { id: string } }>(
    '/latchkey/groups/:id/rotation_policy',
    { preValidation: readBody, schema: { tags, summary: "Set a group's rotation policy. Maintainer+", params: GroupParams, body: PolicyBody, response: { 200: GroupPolicyEntity } } },
    async (request) => presentGroupPolicy(await rotationPolicies.putForGroup(request.actor, request.params.id, parsed.get(request)!)),
  );
  app.delete<{ Params: { id: string } }>(
    '/latchkey/groups/:id/rotation_policy',
    { schema: { tags, summary: "Remove a group's rotation policy. Maintainer+", params: GroupParams, response: { 204: Type.Null() } } },
    async (request, reply) => {
      await rotationPolicies.removeForGroup(request.actor, request.params.id);
      return reply.status(204).send();
    },
  );
}
