/**
 * Latchkey extension — the tasks of rotation jobs (issue 16): an entry's manual placements the job left
 * to a person, under /latchkey/credentials/:credential/tasks: list them (Reporter+; open ones first),
 * check one off and reveal the job's pending new secret (Maintainer+). The rules are the service's
 * (rotation/rotation-tasks.ts).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { InventoryEntry } from '../../inventory/credential.js';
import type { RotationTask, TaskStateFilter } from '../../rotation/rotation-task-store.js';
import { PaginationQuery, readPage, setPaginationHeaders } from '../pagination.js';
import type { RouteContext } from '../route-context.js';
import { CredentialParams } from './credentials.js';

const TaskEntity = Type.Object({
  id: Type.Integer(),
  job_id: Type.Integer({ description: 'The rotation job that opened it' }),
  credential_id: Type.Integer(),
  placement_id: Type.Integer({ description: 'The manual placement' }),
  where: Type.String({ description: 'What a person updates (the placement as it was when the task opened)' }),
  procedure: Type.Union([Type.String(), Type.Null()], { description: "The entry's renewal procedure (Markdown)" }),
  assigned_to: Type.Object({ group: Type.Object({ id: Type.Integer(), full_path: Type.String() }), access_levels: Type.Array(Type.Integer()) }, { description: "The owning group's Maintainers (40) and Owners (50), inherited memberships included" }),
  state: Type.String({ enum: ['open', 'done'] }),
  created_at: Type.String(),
  done_at: Type.Union([Type.String(), Type.Null()]),
  done_by: Type.Union([Type.String(), Type.Null()], { description: 'Username of who checked it off' }),
});
const TaskParams = Type.Object({ credential: CredentialParams.properties.credential, id: Type.Integer({ minimum: 1, maximum: 2147483647 }) });

export function presentTask(t: RotationTask, entry: Pick<InventoryEntry, 'procedure' | 'owner'>) {
  return {
    id: t.id,
    job_id: t.jobId,
    credential_id: t.credentialId,
    placement_id: t.placementId,
    where: t.where,
    procedure: entry.procedure,
    assigned_to: { group: { id: entry.owner?.id ?? 0, full_path: entry.owner?.fullPath ?? '' }, access_levels: [40, 50] },
    state: t.doneAt === null ? 'open' : 'done',
    created_at: t.createdAt,
    done_at: t.doneAt,
    done_by: t.doneBy?.username ?? null,
  };
}

export function registerRotationTaskRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { rotationTasks } = ctx.services;
  const tags = ['credential inventory'];

  app.get<{ Params: { credential: string }; Querystring: { state?: TaskStateFilter | 'all'; page?: number; per_page?: number } }>(
    '/latchkey/credentials/:credential/tasks',
    {
      schema: {
        tags,
        summary: "An entry's rotation tasks (manual placements a rotation left to a person), open ones first",
        params: CredentialParams,
        querystring: Type.Object({ ...PaginationQuery, state: Type.Optional(Type.String({ enum: ['open', 'done', 'all'], description: 'open, done, or all (default)' })) }),
        response: { 200: Type.Array(TaskEntity) },
      },
    },
    async (request, reply) => {
      const page = readPage(request.query);
      const { entry, tasks } = await rotationTasks.list(request.actor, request.params.credential, request.query.state ?? 'all', page);
      setPaginationHeaders(request, reply, page, tasks.total, ctx.baseUrl(request));
      return tasks.items.map((t) => presentTask(t, entry));
    },
  );

  app.post<{ Params: { credential: string; id: number } }>(
    '/latchkey/credentials/:credential/tasks/:id/done',
    { schema: { tags, summary: 'Check a rotation task off (Maintainer+; again: no change). The last one of a job lets the job finish', params: TaskParams, response: { 200: TaskEntity } } },
    async (request) => {
      const { entry, task } = await rotationTasks.markDone(request.actor, request.params.credential, request.params.id);
      return presentTask(task, entry);
    },
  );

  app.post<{ Params: { credential: string; id: number } }>(
    '/latchkey/credentials/:credential/tasks/:id/reveal',
    { schema: { tags, summary: "The task's job's pending new secret, to paste where the task says (Maintainer+; 404 once the job finished and wiped it)", params: TaskParams, response: { 200: Type.Object({ token: Type.String() }) } } },
    async (request, reply) => {
      const { secret } = await rotationTasks.reveal(request.actor, request.params.credential, request.params.id);
      reply.header('Cache-Control', 'no-store');
      return { token: secret };
    },
  );
}
