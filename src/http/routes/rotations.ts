/**
 * Latchkey extension — rotation jobs (issue 16): POST /latchkey/credentials/:credential/rotate starts
 * one (or answers the one already running for the entry), GET …/rotations lists an entry's jobs and
 * GET /latchkey/rotations/:id shows one with its steps. The new secret appears once, in the answer that
 * created the job; no other answer carries a secret.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { parseExpiryDate } from '../../kernel/dates.js';
import { invalidRecord } from '../../kernel/errors.js';
import { ROTATION_STATES, ROTATION_STEP_KINDS } from '../../rotation/contracts.js';
import { presentRotation } from '../../rotation/rotation-json.js';
import { KeysetPaginationQuery, readListPage, setListHeaders, type KeysetPaginationQueryT } from '../pagination.js';
import { MAX_ID } from '../strict-input.js';
import type { RouteContext } from '../route-context.js';
import { readGracePeriod } from './personal-access-tokens.js';

const Nullable = <T extends ReturnType<typeof Type.String | typeof Type.Integer>>(t: T) => Type.Union([t, Type.Null()]);

const StepEntity = Type.Object({
  kind: Type.String({ enum: [...ROTATION_STEP_KINDS] }),
  placement_id: Nullable(Type.Integer()),
  state: Type.String({ enum: ['pending', 'done', 'failed', 'skipped'] }),
  detail: Nullable(Type.String({ description: 'Why it failed or was skipped, or what it found ("still used from …"); never a secret' })),
  started_at: Nullable(Type.String()),
  finished_at: Nullable(Type.String()),
});

export const RotationEntity = Type.Object({
  id: Type.Integer(),
  credential_id: Type.Integer(),
  state: Type.String({ enum: [...ROTATION_STATES], description: 'running, waiting (the old secret is watched for quiet, or manual tasks are open), succeeded, failed' }),
  trigger: Type.String({ enum: ['api', 'cli', 'web', 'schedule'] }),
  started_by: Nullable(Type.Integer()),
  old_token_id: Nullable(Type.Integer({ description: 'The Latchkey token rotated away' })),
  new_token_id: Nullable(Type.Integer({ description: "The Latchkey token issued, or the upstream's id of the new token" })),
  grace_period: Type.Integer({ description: 'Seconds the old secret works at most' }),
  quiet_period: Type.Integer({ description: 'The old secret is revoked once unused for this many seconds' }),
  failure: Nullable(Type.String()),
  steps: Type.Array(StepEntity),
  created_at: Type.String(),
  updated_at: Type.String(),
  finished_at: Nullable(Type.String()),
});

const Seconds = (description: string) => Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.String({ maxLength: 20 })], { description }));
const RotateBody = Type.Object({
  grace_period: Seconds('Seconds (or 30m, 12h, 7d) the old secret of a Latchkey token keeps working at most (default 1 day; 0: revoked once every automatic placement holds the new one)'),
  quiet_period: Seconds('Revoke the old secret once unused for this long (default 1 hour)'),
  expires_at: Type.Optional(Type.String({ maxLength: 10, description: "The new token's expiry (YYYY-MM-DD); default: a week, as GitLab's rotate" })),
});
type RotateBodyT = { grace_period?: number | string; quiet_period?: number | string; expires_at?: string };

const CredentialParams = Type.Object({ credential: Type.String({ minLength: 1, maxLength: 255, description: 'Entry id, slug, or token-<id>' }) });
const JobParams = Type.Object({ id: Type.Integer({ minimum: 1, maximum: MAX_ID }) });

/** A duration field: seconds or `<n>s|m|h|d`, named in the error. */
function seconds(name: string, input: unknown): number | undefined {
  try {
    return readGracePeriod(input);
  } catch {
    throw invalidRecord(`${name} is invalid`);
  }
}

export function registerRotationRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { rotations } = ctx.services;
  const tags = ['credential rotation'];

  app.post<{ Params: { credential: string }; Body: RotateBodyT }>(
    '/latchkey/credentials/:credential/rotate',
    {
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
        if (typeof request.body !== 'object' || Array.isArray(request.body)) throw invalidRecord('body must be an object');
      },
      schema: {
        tags,
        summary: 'Rotate an entry: new secret, every automatic placement written and verified, tasks for the manual ones, the old secret revoked once quiet (Maintainer+)',
        params: CredentialParams,
        body: RotateBody,
        response: {
          201: Type.Intersect([RotationEntity, Type.Object({ token: Nullable(Type.String({ description: 'The new secret: in this answer only' })) })]),
          200: Type.Intersect([RotationEntity, Type.Object({ token: Type.Null({ description: 'A retry answers the running job, never a secret' }) })]),
        },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const gracePeriodSeconds = seconds('grace_period', b.grace_period);
      const quietSeconds = seconds('quiet_period', b.quiet_period);
      let expiresAt;
      if (b.expires_at !== undefined) {
        expiresAt = /^\d{4}-\d{2}-\d{2}$/.test(b.expires_at) ? parseExpiryDate(b.expires_at) : null;
        if (expiresAt === null) throw invalidRecord('expires_at is invalid');
      }
      const started = await rotations.startByRef(request.actor, request.params.credential, {
        trigger: 'api',
        ...(gracePeriodSeconds !== undefined ? { gracePeriodSeconds } : {}),
        ...(quietSeconds !== undefined ? { quietSeconds } : {}),
        ...(expiresAt !== undefined ? { expiresAt } : {}),
      });
      return reply.status(started.created ? 201 : 200).send({ ...presentRotation(started.job), token: started.secret });
    },
  );

  app.get<{ Params: { credential: string }; Querystring: KeysetPaginationQueryT }>(
    '/latchkey/credentials/:credential/rotations',
    { schema: { tags, summary: "An entry's rotation jobs with their steps, newest first (Reporter+)", params: CredentialParams, querystring: Type.Object(KeysetPaginationQuery), response: { 200: Type.Array(RotationEntity) } } },
    async (request, reply) => {
      const page = readListPage(request.query, 'desc');
      const result = await rotations.list(request.actor, request.params.credential, page);
      setListHeaders(request, reply, page, result, ctx.baseUrl(request));
      return result.items.map(presentRotation);
    },
  );

  app.get<{ Params: { id: number } }>(
    '/latchkey/rotations/:id',
    { schema: { tags, summary: 'A rotation job with its steps and their times (Reporter+ of the entry)', params: JobParams, response: { 200: RotationEntity } } },
    async (request) => presentRotation(await rotations.get(request.actor, request.params.id)),
  );
}
