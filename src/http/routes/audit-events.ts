/**
 * `GET /latchkey/audit_events` — Latchkey extension: the audit log, newest first, with keyset
 * pagination (GitLab's `pagination=keyset` style: follow the `Link: <…>; rel="next"` header, whose
 * `cursor` is opaque). Admins see every entry; a group Owner the entries of its groups' trees, a project
 * Owner those of its project; anyone else 403. Filters: token_id, token_hash (`sha256:<hex>`), actor
 * (username), event, status, project / group (id or full path), created_after / created_before.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { MAX_AUDIT_PAGE, presentAuditEvent } from '../../audit/audit-service.js';
import type { RouteContext } from '../route-context.js';

const Query = Type.Object({
  token_id: Type.Optional(Type.Integer({ minimum: 1, maximum: 2_147_483_647 })),
  token_hash: Type.Optional(Type.String({ maxLength: 100, description: '`sha256:<hex>` as entries show it' })),
  actor: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Username of the acting user, bot or deploy token' })),
  event: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: '`http.request`, `token.created`, `token.rotated`, `token.revoked`, `token.expiring`, `token.expired`, `token.reuse_detected`, …' })),
  status: Type.Optional(Type.Integer({ minimum: 100, maximum: 599 })),
  project: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, description: 'Project id or full path' })),
  group: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, description: 'Group id or full path (subgroups and projects included)' })),
  created_after: Type.Optional(Type.String({ maxLength: 40, description: 'ISO 8601, inclusive' })),
  created_before: Type.Optional(Type.String({ maxLength: 40, description: 'ISO 8601, inclusive' })),
  pagination: Type.Optional(Type.String({ enum: ['keyset'] })),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
  per_page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: `Entries per page (default 20, at most ${MAX_AUDIT_PAGE})` })),
});

type QueryType = {
  token_id?: number; token_hash?: string; actor?: string; event?: string; status?: number; project?: string; group?: string;
  created_after?: string; created_before?: string; pagination?: string; cursor?: string; per_page?: number;
};

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const NullableInt = Type.Union([Type.Integer(), Type.Null()]);

const AuditEventEntity = Type.Object({
  id: Type.Integer(),
  created_at: Type.String(),
  event: Type.String(),
  actor_type: Nullable(Type.String({ description: '`user`, `bot`, `deploy_token`, or null (no verified credential)' })),
  actor_id: NullableInt,
  actor_username: Nullable(Type.String()),
  token_id: NullableInt,
  token_hash: Nullable(Type.String({ description: '`sha256:<hex>` of the token digest; never the secret' })),
  method: Nullable(Type.String()),
  route: Nullable(Type.String()),
  path: Nullable(Type.String()),
  status: NullableInt,
  user_agent: Nullable(Type.String()),
  ip: Nullable(Type.String()),
  project_id: NullableInt,
  group_id: NullableInt,
  details: Type.Record(Type.String(), Type.Unknown()),
  hash: Type.String({ description: 'This entry\'s chain hash' }),
});

export function registerAuditEventRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { audit } = ctx.services;
  app.get<{ Querystring: QueryType }>(
    '/latchkey/audit_events',
    { schema: { tags: ['latchkey'], summary: 'The audit log of requests and token events, newest first (Latchkey extension)', querystring: Query, response: { 200: Type.Array(AuditEventEntity) } } },
    async (request, reply) => {
      const q = request.query;
      const perPage = Math.min(q.per_page ?? 20, MAX_AUDIT_PAGE);
      const page = await audit.list(request.actor, {
        tokenId: q.token_id, tokenHash: q.token_hash, actor: q.actor, event: q.event, status: q.status, project: q.project, group: q.group,
        createdAfter: q.created_after, createdBefore: q.created_before, cursor: q.cursor, perPage,
      });
      if (page.nextCursor !== null) {
        const next = new URL(request.url, ctx.baseUrl(request));
        // A token in the query string is not echoed back.
        next.searchParams.delete('private_token');
        next.searchParams.delete('access_token');
        next.searchParams.set('pagination', 'keyset');
        next.searchParams.set('per_page', String(perPage));
        next.searchParams.set('cursor', page.nextCursor);
        reply.header('Link', `<${next.toString()}>; rel="next"`);
      }
      reply.header('X-Per-Page', String(perPage));
      return page.items.map(presentAuditEvent);
    },
  );
}
