/**
 * Latchkey extension — upstream GitLab instances (issue 15) under /latchkey/upstreams, admins only:
 * register, change, remove, check what the token sees, sync now, and list the tokens a sync found.
 * `:name` is the upstream's name. The token goes in and never comes back out.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseUpstreamInput, PLACEMENT_CHECK_STATUSES, UPSTREAM_TOKEN_KINDS, type UpstreamInput } from '../../upstreams/upstream.js';
import { presentCheck, presentPlacementCheck, presentSyncedToken, presentSyncResult, presentUpstream } from '../../upstreams/upstream-json.js';
import { PaginationQuery, readPage, setPaginationHeaders } from '../pagination.js';
import type { RouteContext } from '../route-context.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const Counts = Type.Object({ seen: Type.Integer(), created: Type.Integer(), updated: Type.Integer(), revoked: Type.Integer(), disappeared: Type.Integer(), skipped: Type.Integer() });

const UpstreamEntity = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  url: Type.String({ description: 'Base URL; the API is at <url>/api/v4' }),
  owner: Type.Object({ id: Type.Integer(), full_path: Type.String() }, { description: 'The group owning the inventory entries of this upstream' }),
  source: Type.String({ enum: ['api', 'config'], description: 'config: defined in LATCHKEY_UPSTREAMS (changed there)' }),
  created_at: Type.String(),
  updated_at: Type.String(),
  last_sync: Type.Object({
    started_at: Nullable(Type.String()),
    finished_at: Nullable(Type.String()),
    status: Nullable(Type.String({ enum: ['ok', 'failed'] })),
    reason: Nullable(Type.String({ description: 'Why the last sync failed; entries were left as they were' })),
    counts: Nullable(Counts),
  }),
});

const CheckEntity = Type.Object({
  upstream: Type.String(),
  ok: Type.Boolean(),
  reason: Nullable(Type.String()),
  user: Nullable(Type.Object({ id: Type.Integer(), username: Type.String(), name: Nullable(Type.String()) })),
  is_admin: Nullable(Type.Boolean()),
  scopes: Nullable(Type.Array(Type.String())),
  token_name: Nullable(Type.String()),
  token_expires_at: Nullable(Type.String()),
  warnings: Type.Array(Type.String()),
});

const SyncEntity = Type.Object({
  upstream: Type.String(),
  status: Type.String({ enum: ['ok', 'failed'] }),
  reason: Nullable(Type.String()),
  counts: Nullable(Counts),
  requests: Type.Integer(),
  rate_limit_waits: Type.Integer(),
});

const SyncedTokenEntity = Type.Object({
  kind: Type.String({ enum: [...UPSTREAM_TOKEN_KINDS] }),
  id: Type.Integer({ description: 'The token id upstream' }),
  resource: Type.String({ description: 'group:<path>, project:<path> or user:<id>' }),
  name: Type.String(),
  scopes: Type.Array(Type.String()),
  access_level: Nullable(Type.Integer()),
  expires_at: Nullable(Type.String()),
  last_used_at: Nullable(Type.String()),
  revoked: Type.Boolean(),
  active: Type.Boolean(),
  state: Type.String({ enum: ['present', 'disappeared'] }),
  credential: Type.Object({ id: Type.Integer(), slug: Type.String() }, { description: 'Its inventory entry' }),
  first_seen_at: Type.String(),
  last_seen_at: Type.String(),
  disappeared_at: Nullable(Type.String()),
});

const PlacementCheckEntity = Type.Object({
  placement_id: Type.Integer(),
  status: Type.String({ enum: [...PLACEMENT_CHECK_STATUSES] }),
  detail: Type.String({ description: 'in sync; stale: holds an older secret; missing; cannot read: 403; …' }),
  checked_at: Type.String(),
});
const CredentialParams = Type.Object({ credential: Type.String({ minLength: 1, maxLength: 255, description: 'Entry id or slug' }) });
const PlacementParams = Type.Object({ credential: CredentialParams.properties.credential, placement_id: Type.Integer({ minimum: 1, maximum: 2147483647 }) });

const BodyProps = {
  url: Type.Optional(Type.String({ maxLength: 2048, description: 'Base URL (https://gitlab.com, https://gitlab.example.com)' })),
  token: Type.Optional(Type.String({ maxLength: 1024, description: 'A token with read_api (api to rotate and write variables); sealed, never shown again' })),
  owner: Type.Optional(Type.String({ maxLength: 2048, description: 'Owning Latchkey group of the synced entries: id or full path' })),
};
const CreateBody = Type.Object({ name: Type.Optional(Type.String({ maxLength: 63, description: 'Lower-case letters, digits, _ and -' })), ...BodyProps });
const UpdateBody = Type.Object(BodyProps);
const NameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 63, description: 'Upstream name' }) });

export function registerUpstreamRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { upstreams } = ctx.services;
  const tags = ['upstreams'];
  const parsed = new WeakMap<FastifyRequest, UpstreamInput>();
  const readBody = (partial: boolean) => async (request: FastifyRequest) => {
    parsed.set(request, parseUpstreamInput(request.body ?? {}, { partial }));
  };

  app.get('/latchkey/upstreams', { schema: { tags, summary: 'List upstream GitLab instances (admins; Latchkey extension)', response: { 200: Type.Array(UpstreamEntity) } } }, async (request) =>
    (await upstreams.list(request.actor)).map(presentUpstream),
  );

  app.post(
    '/latchkey/upstreams',
    { preValidation: readBody(false), schema: { tags, summary: 'Register an upstream (admins); its token is sealed and never shown again', body: CreateBody, response: { 201: UpstreamEntity } } },
    async (request, reply) => reply.status(201).send(presentUpstream(await upstreams.create(request.actor, parsed.get(request)!))),
  );

  app.get<{ Params: { name: string } }>('/latchkey/upstreams/:name', { schema: { tags, summary: 'Show an upstream and its last sync', params: NameParams, response: { 200: UpstreamEntity } } }, async (request) =>
    presentUpstream(await upstreams.get(request.actor, request.params.name)),
  );

  app.put<{ Params: { name: string } }>(
    '/latchkey/upstreams/:name',
    { preValidation: readBody(true), schema: { tags, summary: 'Change the URL, token or owner of an upstream', params: NameParams, body: UpdateBody, response: { 200: UpstreamEntity } } },
    async (request) => presentUpstream(await upstreams.update(request.actor, request.params.name, parsed.get(request)!)),
  );

  app.delete<{ Params: { name: string } }>(
    '/latchkey/upstreams/:name',
    { schema: { tags, summary: 'Remove an upstream (its inventory entries stay)', params: NameParams, response: { 204: Type.Null() } } },
    async (request, reply) => {
      await upstreams.remove(request.actor, request.params.name);
      return reply.status(204).send();
    },
  );

  app.post<{ Params: { name: string } }>(
    '/latchkey/upstreams/:name/check',
    { schema: { tags, summary: "What the upstream token can see: its user, scopes and admin flag (GET /user, /personal_access_tokens/self)", params: NameParams, response: { 200: CheckEntity } } },
    async (request) => presentCheck(await upstreams.check(request.actor, request.params.name)),
  );

  app.post<{ Params: { name: string } }>(
    '/latchkey/upstreams/:name/sync',
    { schema: { tags, summary: 'Sync the upstream now; a failure is reported and recorded, entries are kept', params: NameParams, response: { 200: SyncEntity } } },
    async (request) => presentSyncResult(await upstreams.sync(request.actor, request.params.name)),
  );

  app.get<{ Params: { name: string }; Querystring: { page?: number; per_page?: number } }>(
    '/latchkey/upstreams/:name/tokens',
    { schema: { tags, summary: 'The tokens the syncs of an upstream found, with their inventory entries', params: NameParams, querystring: Type.Object(PaginationQuery), response: { 200: Type.Array(SyncedTokenEntity) } } },
    async (request, reply) => {
      const page = readPage(request.query);
      const result = await upstreams.tokens(request.actor, request.params.name, page);
      setPaginationHeaders(request, reply, page, result.total, ctx.baseUrl(request));
      return result.items.map(presentSyncedToken);
    },
  );

  app.post<{ Params: { credential: string; placement_id: number } }>(
    '/latchkey/credentials/:credential/placements/:placement_id/check',
    {
      schema: {
        tags: ['credential inventory'],
        summary: "Check a ci_variable placement: read the variable through its instance's upstream and compare it (decoded by format) with the entry's fingerprint",
        params: PlacementParams,
        response: { 200: PlacementCheckEntity },
      },
    },
    async (request) => presentPlacementCheck(await upstreams.checkPlacement(request.actor, request.params.credential, request.params.placement_id)),
  );

  app.get<{ Params: { credential: string } }>(
    '/latchkey/credentials/:credential/placement_checks',
    { schema: { tags: ['credential inventory'], summary: "The last check of each of an entry's placements", params: CredentialParams, response: { 200: Type.Array(PlacementCheckEntity) } } },
    async (request) => (await upstreams.placementChecks(request.actor, request.params.credential)).map(presentPlacementCheck),
  );
}
