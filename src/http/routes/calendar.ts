/**
 * Calendar feeds of due dates (Latchkey extension, issue 14): the caller's feed token
 * (`/latchkey/feed_token`: issue or reset — shown in that answer only —, show, revoke) and the
 * iCalendar feeds calendar clients subscribe to with it (`?feed_token=`, as GitLab's feeds): the
 * user's (`/latchkey/calendar.ics`) and a group's (`/latchkey/groups/:id/calendar.ics`). The feeds take
 * no other credential; a missing, unknown or revoked feed token is a 401.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../route-context.js';

const tags = ['latchkey'];
const FeedQuery = Type.Object({ feed_token: Type.Optional(Type.String({ maxLength: 200, description: 'The feed token (POST /latchkey/feed_token)' })) });
const FeedTokenEntity = Type.Object({
  created_at: Type.String(),
  last_used_at: Type.Union([Type.String(), Type.Null()]),
  feed_urls: Type.Object({ user: Type.String(), group: Type.String() }, { description: 'Add ?feed_token=<token> to subscribe' }),
});
const CALENDAR_TYPE = 'text/calendar; charset=utf-8';
const CalendarBody = { description: 'RFC 5545 iCalendar', content: { 'text/calendar': { schema: Type.String() } } };

export function registerCalendarRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { calendar } = ctx.services;
  const present = (r: { createdAt: string; lastUsedAt: string | null }) => ({ created_at: r.createdAt, last_used_at: r.lastUsedAt, feed_urls: calendar.feedUrls() });

  app.post(
    '/latchkey/feed_token',
    { schema: { tags, summary: 'Issue or reset your calendar feed token (the old one stops working); the token is in this answer only', response: { 201: Type.Intersect([Type.Object({ token: Type.String() }), FeedTokenEntity]) } } },
    async (request, reply) => {
      const { token, record } = await calendar.issue(request.actor);
      return reply.status(201).header('cache-control', 'no-store').send({ token, ...present(record) });
    },
  );
  app.get('/latchkey/feed_token', { schema: { tags, summary: 'Your calendar feed token: when it was made and last used (never the token)', response: { 200: FeedTokenEntity } } }, async (request) =>
    present(await calendar.status(request.actor)),
  );
  app.delete('/latchkey/feed_token', { schema: { tags, summary: 'Revoke your calendar feed token: the feeds stop answering to it', response: { 204: Type.Null() } } }, async (request, reply) => {
    await calendar.revoke(request.actor);
    return reply.status(204).send();
  });

  const feed = { public: true } as const;
  app.get<{ Querystring: { feed_token?: string } }>(
    '/latchkey/calendar.ics',
    { config: feed, schema: { tags, summary: 'iCalendar feed of the due dates of every inventory entry you can read (subscribe with ?feed_token=)', querystring: FeedQuery, response: { 200: CalendarBody } } },
    async (request, reply) => reply.type(CALENDAR_TYPE).header('cache-control', 'private, no-store').send(await calendar.userFeed(request.query.feed_token)),
  );
  app.get<{ Params: { id: string }; Querystring: { feed_token?: string } }>(
    '/latchkey/groups/:id/calendar.ics',
    { config: feed, schema: { tags, summary: "iCalendar feed of the due dates of a group's inventory entries (subscribe with ?feed_token=)", params: Type.Object({ id: Type.String({ maxLength: 1000 }) }), querystring: FeedQuery, response: { 200: CalendarBody } } },
    async (request, reply) => reply.type(CALENDAR_TYPE).header('cache-control', 'private, no-store').send(await calendar.groupFeed(request.query.feed_token, request.params.id)),
  );
}
