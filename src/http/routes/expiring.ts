/**
 * `GET /latchkey/expiring?within=30d` — Latchkey extension: active tokens that expire within the window,
 * grouped by project, group or (personal tokens) user, soonest first. Admins see every token; others the
 * tokens of projects and groups where they are Maintainer+ and their own personal tokens. Outside
 * credentials of the inventory due in the window are listed apart (`credentials`, kind `credential`).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { presentExpiringReport } from '../../reports/expiring-report.js';
import type { RouteContext } from '../route-context.js';

const Query = Type.Object({
  within: Type.Optional(Type.String({ description: 'Window: `30d`, `4w` or a number of days (1 to 3650). Default 30d.' })),
});

const TokenEntity = Type.Object({
  id: Type.Integer(),
  kind: Type.String({ enum: ['deploy', 'personal', 'project', 'group', 'service_account', 'impersonation'] }),
  name: Type.String(),
  scopes: Type.Array(Type.String()),
  expires_at: Type.String({ description: 'Expiry date (YYYY-MM-DD); the token stops working at 00:00 UTC of it' }),
  days_left: Type.Integer({ description: 'Whole days from today (UTC) to expires_at' }),
});

const ReportEntity = Type.Object({
  within_days: Type.Integer(),
  until: Type.String({ description: 'Tokens expiring on or before this date are listed' }),
  generated_at: Type.String(),
  namespaces: Type.Array(
    Type.Object({
      type: Type.String({ enum: ['project', 'group', 'user'] }),
      id: Type.Integer(),
      full_path: Type.String({ description: 'Project or group full path; the username for personal tokens' }),
      tokens: Type.Array(TokenEntity),
    }),
  ),
  credentials: Type.Array(
    Type.Object({
      id: Type.Integer({ description: 'The inventory entry id (/api/v4/latchkey/credentials/:id)' }),
      kind: Type.String({ enum: ['credential'], description: 'Always `credential`: an outside credential of the inventory, not a Latchkey token' }),
      credential_kind: Type.String({ description: 'The inventory kind: `npm_token`, `api_key`, `gitlab_group_token`…' }),
      slug: Type.String(),
      name: Type.String(),
      provider: Type.Union([Type.String(), Type.Null()]),
      owner: Type.Object({ id: Type.Integer(), full_path: Type.String() }),
      renewal: Type.Record(Type.String(), Type.Union([Type.String(), Type.Integer()]), { description: 'The renewal rule: expires_at, every_days, or event with review_every_days' }),
      due_on: Type.String({ description: 'Expiry date, or the next renewal or review date its rule gives (YYYY-MM-DD)' }),
      days_left: Type.Integer({ description: 'Whole days from today (UTC) to due_on; negative when overdue' }),
      upstream_token: Type.Union([Type.String({ enum: ['revoked', 'disappeared'] }), Type.Null()], {
        description: 'A synced entry whose upstream token was revoked or is gone from the upstream (it gets no reminders); null otherwise',
      }),
    }),
    { description: 'Outside credentials of the inventory due on or before `until` (overdue ones too), of groups where the caller is Maintainer+ (admins: all)' },
  ),
  oauth_grants: Type.Array(
    Type.Object({
      id: Type.Integer({ description: 'The grant id' }),
      kind: Type.String({ enum: ['oauth_grant'] }),
      application: Type.String({ description: 'The OAuth application name' }),
      user: Type.Object({ id: Type.Integer(), username: Type.String() }),
      scopes: Type.Array(Type.String()),
      expires_on: Type.String({ description: 'UTC date the grant stops refreshing (YYYY-MM-DD)' }),
      days_left: Type.Integer(),
    }),
    { description: 'Live OAuth grants whose refresh expires on or before `until` (LATCHKEY_OAUTH_REFRESH_TOKEN_LIFETIME_DAYS); admins all, others their own' },
  ),
});

export function registerExpiringRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { expiringReport } = ctx.services;
  app.get<{ Querystring: { within?: string } }>(
    '/latchkey/expiring',
    { schema: { tags: ['latchkey'], summary: 'Active tokens expiring within a window, grouped by project/group (Latchkey extension)', querystring: Query, response: { 200: ReportEntity } } },
    async (request) => presentExpiringReport(await expiringReport.build(request.actor, request.query.within)),
  );
}
