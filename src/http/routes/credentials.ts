/**
 * Latchkey extension — the credential inventory (issue 14) under /latchkey/credentials: CRUD of
 * entries (`:credential` is the numeric id or the slug), their placements, paginated lists. Bodies are
 * read by the inventory's own validator before the schema runs, so a bad field is named precisely
 * (`{"message": {"renewal.every_days": [...]}}`); the schemas document the shapes.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { PLACEMENT_KINDS, TOKEN_STATES, VALUE_FORMATS, parseCredentialInput, parsePlacementInput, type CredentialInput, type PlacementFields } from '../../inventory/credential.js';
import { presentCredential, presentPlacement, presentRenewalEntry } from '../../inventory/credential-json.js';
import type { TokenStateFilter } from '../../inventory/token-entry.js';
import { parseExpiryDate } from '../../kernel/dates.js';
import { invalidParam } from '../../kernel/errors.js';
import { invalidCredential } from '../../inventory/credential.js';
import { PaginationQuery, readPage, setPaginationHeaders } from '../pagination.js';
import { MAX_ID } from '../strict-input.js';
import { COUNT_LIMIT } from '../../kernel/page.js';
import type { ListCursor } from '../../inventory/inventory-service.js';
import type { RouteContext } from '../route-context.js';

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const Str = (description: string, maxLength = 255) => Type.String({ maxLength, description });

const PlacementProps = {
  kind: Type.String({ enum: [...PLACEMENT_KINDS], description: 'ci_variable, file, kubernetes_secret or manual' }),
  instance: Type.Optional(Str('ci_variable: the GitLab host (gitlab.com)')),
  project: Type.Optional(Str('ci_variable: project path (a project variable)')),
  group: Type.Optional(Str('ci_variable: group path (a group variable); neither project nor group: an instance variable')),
  key: Type.Optional(Str('ci_variable: variable key; file: key in the file; kubernetes_secret: data key')),
  format: Type.Optional(Type.String({ enum: [...VALUE_FORMATS], description: 'What the place holds: raw (default), docker_auth_config, netrc, user_password' })),
  registry: Type.Optional(Str('docker_auth_config: the registry host (gitlab.com:443)')),
  username: Type.Optional(Str('netrc, user_password, docker_auth_config: the user name')),
  host: Type.Optional(Str('file: the host')),
  path: Type.Optional(Str('file: the file path')),
  cluster: Type.Optional(Str('kubernetes_secret: the cluster')),
  namespace: Type.Optional(Str('kubernetes_secret: the namespace')),
  name: Type.Optional(Str('kubernetes_secret: the secret name')),
  where: Type.Optional(Str('manual: what a person updates, free text', 2000)),
};
const PlacementBody = Type.Object(PlacementProps);
const PlacementEntity = Type.Object({ id: Type.Integer(), ...PlacementProps, description: Type.String({ description: 'One line a person reads' }) });

const RenewalRule = Type.Object(
  {
    expires_at: Type.Optional(Type.String({ maxLength: 10, description: 'A fixed expiry date (YYYY-MM-DD)' })),
    every_days: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650, description: 'Due this many days after the last renewal (or creation)' })),
    event: Type.Optional(Str('Renewed during this recurring task')),
    review_every_days: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650, description: 'With event: reminded this many days after the last renewal' })),
  },
  { description: 'Exactly one of expires_at, every_days, or event with review_every_days' },
);

const CredentialBodyProps = {
  slug: Type.Optional(Type.String({ maxLength: 100, description: 'Stable key (import/export); default: from the name' })),
  name: Type.Optional(Str('Name')),
  kind: Type.Optional(Str('npm_token, api_key, gitlab_group_token, …', 64)),
  provider: Type.Optional(Nullable(Str('Who issued it: gitlab.com, npm, Tempo, …'))),
  resource: Type.Optional(Nullable(Str('What it belongs to at the provider (group, project, account)'))),
  owner: Type.Optional(Str('Owning Latchkey group: id or full path', 2048)),
  scopes: Type.Optional(Type.Union([Type.Array(Type.String({ maxLength: 100 }), { maxItems: 50 }), Type.String({ maxLength: 5100 }), Type.Null()])),
  role: Type.Optional(Nullable(Str('Role at the provider', 100))),
  purpose: Type.Optional(Nullable(Str('What it is for', 20000))),
  renewal: Type.Optional(RenewalRule),
  procedure: Type.Optional(Nullable(Str('Renewal procedure, Markdown', 20000))),
  value: Type.Optional(Nullable(Type.String({ maxLength: 10000, description: 'The secret, to fingerprint (HMAC) only: never stored, never returned; null clears the fingerprint' }))),
  placements: Type.Optional(Type.Union([Type.Array(PlacementBody, { maxItems: 100 }), Type.Null()])),
};
const CreateBody = Type.Object(CredentialBodyProps);
const UpdateBody = Type.Object(CredentialBodyProps);

const Owner = Type.Object({ id: Type.Integer(), full_path: Type.String() });

export const CredentialEntity = Type.Object({
  id: Type.Union([Type.Integer(), Type.Null()], { description: "The stored entry's id; null for a Latchkey token's entry without inventory fields (name it token-<token id>)" }),
  slug: Type.String({ description: 'Stable key; token-<id of the first token of its rotation chain> for a Latchkey token' }),
  name: Type.String(),
  kind: Type.String(),
  provider: Nullable(Type.String()),
  resource: Nullable(Type.String()),
  owner: Type.Union([Owner, Type.Null()], { description: "The owning group; null for a person's token no group answers for yet" }),
  scopes: Type.Array(Type.String()),
  role: Nullable(Type.String()),
  purpose: Nullable(Type.String()),
  renewal: RenewalRule,
  renewed_on: Nullable(Type.String({ description: 'Date of the last renewal' })),
  due_on: Type.String({ description: 'When it expires or is next due for renewal or review (YYYY-MM-DD)' }),
  procedure: Nullable(Type.String()),
  fingerprint_set: Type.Boolean({ description: 'A value was fingerprinted (the fingerprint itself is never shown)' }),
  token_id: Type.Union([Type.Integer(), Type.Null()], { description: 'A Latchkey token: its live token (after rotations, the newest); null for outside credentials' }),
  token_state: Type.Optional(Type.String({ enum: [...TOKEN_STATES], description: "A Latchkey token's entry only: its token's state now (active, expired, revoked, deleted)" })),
  token_state_since: Type.Optional(Nullable(Type.String({ description: 'The day the token expired, was revoked or deleted; null while active' }))),
  placements: Type.Array(PlacementEntity),
  created_at: Type.String(),
  updated_at: Type.String(),
});

export const CredentialParams = Type.Object({ credential: Type.String({ minLength: 1, maxLength: 255, description: 'Entry id or slug' }) });
const PlacementParams = Type.Object({ credential: CredentialParams.properties.credential, placement_id: Type.Integer({ minimum: 1, maximum: 2147483647 }) });

const ListQuery = Type.Object({
  ...PaginationQuery,
  source: Type.Optional(Type.String({ enum: ['all', 'outside', 'tokens'], description: "all (default): outside credentials, then Latchkey's own tokens; outside; tokens" })),
  state: Type.Optional(Type.String({ enum: ['active', 'expired', 'revoked', 'all'], description: "Latchkey's tokens by state: active (default), expired, revoked (or deleted), all; expired and revoked list tokens only" })),
  pagination: Type.Optional(Type.String({ enum: ['keyset', 'offset'], description: 'keyset: follow the Link rel="next" header (cursor); nothing is counted. Default offset.' })),
  cursor: Type.Optional(Type.String({ maxLength: 30, pattern: '^(outside|tokens)(-[0-9]{1,10})?$', description: 'Keyset pagination: where the page starts (from the previous Link rel="next")' })),
  owner: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, description: 'Owning group: id or full path' })),
  kind: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  search: Type.Optional(Type.String({ maxLength: 255, description: 'Part of the slug, name or provider' })),
  due_before: Type.Optional(Type.String({ maxLength: 10, description: 'Due on or before this date (YYYY-MM-DD)' })),
});
type ListQueryType = { page?: number; per_page?: number; source?: 'all' | 'outside' | 'tokens'; state?: TokenStateFilter; pagination?: string; cursor?: string; owner?: string; kind?: string; search?: string; due_before?: string };

/** A keyset cursor from the query (`outside-12`, `tokens-345`, `tokens`: where the page starts). */
function readCursor(q: ListQueryType): ListCursor | undefined {
  if (q.pagination !== 'keyset') {
    if (q.cursor !== undefined) throw invalidParam('cursor is invalid (it pages with pagination=keyset)');
    return undefined;
  }
  const m = /^(outside|tokens)(?:-([0-9]{1,10}))?$/.exec(q.cursor ?? 'outside');
  const afterId = m?.[2] === undefined ? null : Number(m[2]);
  if (m === null || (afterId !== null && afterId > MAX_ID)) throw invalidParam('cursor is invalid');
  return { source: m[1] as ListCursor['source'], afterId };
}

/** Text a query may carry into SQL: no NUL (PostgreSQL refuses it), no half surrogate pair. */
function checkQueryText(name: string, value: string | undefined): void {
  if (value !== undefined && (value.includes('\u0000') || /[\ud800-\udfff]/.test(value.replace(/[\ud800-\udbff][\udc00-\udfff]/g, '')))) throw invalidParam(`${name} is invalid`);
}

export function registerCredentialRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { inventory } = ctx.services;
  const tags = ['credential inventory'];
  // Bodies as the inventory's validator read them, for the handlers.
  const parsedCredentials = new WeakMap<FastifyRequest, CredentialInput>();
  const parsedPlacements = new WeakMap<FastifyRequest, PlacementFields>();
  const readCredential = (partial: boolean) => async (request: FastifyRequest) => {
    parsedCredentials.set(request, parseCredentialInput(request.body ?? {}, { partial }));
  };
  const readPlacement = async (request: FastifyRequest) => {
    // This runs before the schema's own check of the path: an id no column holds is refused first, as on every route.
    const placementId = (request.params as { placement_id?: string }).placement_id;
    if (placementId !== undefined && !(/^[1-9][0-9]{0,9}$/.test(placementId) && Number(placementId) <= MAX_ID)) throw invalidParam('placement_id is invalid');
    parsedPlacements.set(request, parsePlacementInput(request.body ?? {}));
  };

  app.get<{ Querystring: ListQueryType }>(
    '/latchkey/credentials',
    { schema: { tags, summary: 'List inventory entries the caller may read (Latchkey extension)', querystring: ListQuery, response: { 200: Type.Array(CredentialEntity) } } },
    async (request, reply) => {
      const q = request.query;
      for (const name of ['owner', 'kind', 'search'] as const) checkQueryText(name, q[name]);
      let dueOnOrBefore: string | undefined;
      if (q.due_before !== undefined) {
        dueOnOrBefore = /^\d{4}-\d{2}-\d{2}$/.test(q.due_before) ? (parseExpiryDate(q.due_before) ?? undefined) : undefined;
        if (dueOnOrBefore === undefined) throw invalidParam('due_before is invalid');
      }
      const cursor = readCursor(q);
      const page = { ...readPage(q), countLimit: COUNT_LIMIT };
      const result = await inventory.list(request.actor, { source: q.source, state: q.state, owner: q.owner, kind: q.kind, search: q.search, dueOnOrBefore }, page, cursor);
      if (cursor === undefined) setPaginationHeaders(request, reply, page, result.total, ctx.baseUrl(request), result);
      else {
        reply.header('X-Per-Page', String(page.perPage));
        if (result.next) {
          const url = new URL(request.url, ctx.baseUrl(request));
          // A token in the query string is never echoed back.
          for (const p of ['private_token', 'access_token', 'page']) url.searchParams.delete(p);
          url.searchParams.set('per_page', String(page.perPage));
          url.searchParams.set('cursor', `${result.next.source}${result.next.afterId === null ? '' : `-${result.next.afterId}`}`);
          reply.header('Link', `<${url.toString()}>; rel="next"`);
        }
      }
      return result.items.map(presentCredential);
    },
  );

  app.post(
    '/latchkey/credentials',
    { preValidation: readCredential(false), schema: { tags, summary: 'Create an inventory entry (Maintainer+ of the owning group)', body: CreateBody, response: { 201: CredentialEntity } } },
    async (request, reply) => reply.status(201).send(presentCredential(await inventory.create(request.actor, parsedCredentials.get(request)!))),
  );

  app.get<{ Params: { credential: string } }>(
    '/latchkey/credentials/:credential',
    { schema: { tags, summary: 'Show an inventory entry', params: CredentialParams, response: { 200: CredentialEntity } } },
    async (request) => presentCredential(await inventory.get(request.actor, request.params.credential)),
  );

  app.put<{ Params: { credential: string } }>(
    '/latchkey/credentials/:credential',
    { preValidation: readCredential(true), schema: { tags, summary: 'Update an inventory entry (given fields only; placements, when given, replace the list)', params: CredentialParams, body: UpdateBody, response: { 200: CredentialEntity } } },
    async (request) => presentCredential(await inventory.update(request.actor, request.params.credential, parsedCredentials.get(request)!)),
  );

  app.delete<{ Params: { credential: string } }>(
    '/latchkey/credentials/:credential',
    { schema: { tags, summary: 'Delete an inventory entry, its placements and renewal history', params: CredentialParams, response: { 204: Type.Null() } } },
    async (request, reply) => {
      await inventory.remove(request.actor, request.params.credential);
      return reply.status(204).send();
    },
  );

  app.get<{ Params: { credential: string } }>(
    '/latchkey/credentials/:credential/placements',
    { schema: { tags, summary: "An entry's placements: where it is configured", params: CredentialParams, response: { 200: Type.Array(PlacementEntity) } } },
    async (request) => (await inventory.get(request.actor, request.params.credential)).placements.map(presentPlacement),
  );

  app.post<{ Params: { credential: string } }>(
    '/latchkey/credentials/:credential/placements',
    { preValidation: readPlacement, schema: { tags, summary: 'Add a placement', params: CredentialParams, body: PlacementBody, response: { 201: PlacementEntity } } },
    async (request, reply) => reply.status(201).send(presentPlacement(await inventory.addPlacement(request.actor, request.params.credential, parsedPlacements.get(request)!))),
  );

  app.put<{ Params: { credential: string; placement_id: number } }>(
    '/latchkey/credentials/:credential/placements/:placement_id',
    { preValidation: readPlacement, schema: { tags, summary: 'Replace a placement', params: PlacementParams, body: PlacementBody, response: { 200: PlacementEntity } } },
    async (request) => presentPlacement(await inventory.updatePlacement(request.actor, request.params.credential, request.params.placement_id, parsedPlacements.get(request)!)),
  );

  app.delete<{ Params: { credential: string; placement_id: number } }>(
    '/latchkey/credentials/:credential/placements/:placement_id',
    { schema: { tags, summary: 'Remove a placement', params: PlacementParams, response: { 204: Type.Null() } } },
    async (request, reply) => {
      await inventory.removePlacement(request.actor, request.params.credential, request.params.placement_id);
      return reply.status(204).send();
    },
  );

  const RenewalEntity = Type.Object({
    id: Type.Integer(),
    renewed_at: Type.String(),
    renewed_on: Type.String(),
    renewed_by: Nullable(Type.String()),
    previous_due_on: Type.String(),
    due_on: Type.String(),
    placements_updated: Type.Array(Type.Object({ id: Type.Integer(), description: Type.String() })),
    note: Nullable(Type.String()),
  });
  const RenewBody = Type.Object({
    renewed_on: Type.Optional(Type.String({ maxLength: 10, description: 'The day it was renewed (YYYY-MM-DD, default today, not in the future)' })),
    expires_at: Type.Optional(Type.String({ maxLength: 10, description: 'The new expiry date: required when the rule is a fixed date, refused otherwise' })),
    placements_updated: Type.Optional(Type.Array(Type.Integer({ minimum: 1, maximum: 2147483647 }), { maxItems: 100, description: 'Ids of the placements updated with the new value (default: all)' })),
    note: Type.Optional(Nullable(Type.String({ maxLength: 2000 }))),
    value: Type.Optional(Nullable(Type.String({ maxLength: 10000, description: 'The new value, to fingerprint only (never stored or returned)' }))),
  });
  type RenewBodyType = { renewed_on?: string; expires_at?: string; placements_updated?: number[]; note?: string | null; value?: string | null };

  app.post<{ Params: { credential: string }; Body: RenewBodyType }>(
    '/latchkey/credentials/:credential/renewals',
    {
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
        const body = request.body as Record<string, unknown>;
        if (typeof body !== 'object' || Array.isArray(body)) throw invalidCredential({ base: ['must be an object'] });
        if (body.value !== undefined && body.value !== null && (typeof body.value !== 'string' || body.value.length === 0)) throw invalidCredential({ value: ['must be a non-empty string'] });
      },
      schema: { tags, summary: 'Mark renewed: who, when, the new expiry or next due date, the placements updated (kept in the history)', params: CredentialParams, body: RenewBody, response: { 201: Type.Intersect([RenewalEntity, Type.Object({ credential: CredentialEntity })]) } },
    },
    async (request, reply) => {
      const b = request.body;
      const { credential, renewal } = await inventory.renew(request.actor, request.params.credential, { renewedOn: b.renewed_on, expiresAt: b.expires_at, placementIds: b.placements_updated, note: b.note, value: b.value });
      return reply.status(201).send({ ...presentRenewalEntry(renewal), credential: presentCredential(credential) });
    },
  );

  app.get<{ Params: { credential: string }; Querystring: { page?: number; per_page?: number } }>(
    '/latchkey/credentials/:credential/renewals',
    { schema: { tags, summary: "An entry's renewal history, newest first", params: CredentialParams, querystring: Type.Object(PaginationQuery), response: { 200: Type.Array(RenewalEntity) } } },
    async (request, reply) => {
      const page = readPage(request.query);
      const result = await inventory.renewals(request.actor, request.params.credential, page);
      setPaginationHeaders(request, reply, page, result.total, ctx.baseUrl(request));
      return result.items.map(presentRenewalEntry);
    },
  );

  const LookupQuery = Type.Object({
    ...PaginationQuery,
    kind: Type.Optional(Type.String({ enum: [...PLACEMENT_KINDS] })),
    instance: Type.Optional(Str('GitLab host of a CI variable')),
    project: Type.Optional(Str('Project path of a CI variable')),
    group: Type.Optional(Str('Group path of a CI variable')),
    key: Type.Optional(Str('Variable key, file key or secret data key')),
    host: Type.Optional(Str('Host of a file')),
    path: Type.Optional(Str('Path of a file')),
    namespace: Type.Optional(Str('Kubernetes namespace')),
    name: Type.Optional(Str('Kubernetes secret name')),
  });
  const LOOKUP_FIELDS = ['kind', 'instance', 'project', 'group', 'key', 'host', 'path', 'namespace', 'name'] as const;
  app.get<{ Querystring: Record<string, string | number | undefined> }>(
    '/latchkey/placements',
    {
      schema: {
        tags,
        summary: 'Reverse look-up: which credentials are configured in this place (e.g. CI variable X of project Y)',
        querystring: LookupQuery,
        response: { 200: Type.Array(Type.Intersect([PlacementEntity, Type.Object({ credential: Type.Object({ id: CredentialEntity.properties.id, slug: Type.String(), name: Type.String(), kind: Type.String(), token_id: CredentialEntity.properties.token_id, owner: CredentialEntity.properties.owner, due_on: Type.String(), token_state: CredentialEntity.properties.token_state, token_state_since: CredentialEntity.properties.token_state_since }) })])) },
      },
    },
    async (request, reply) => {
      const query: Record<string, string> = {};
      for (const f of LOOKUP_FIELDS) {
        const v = request.query[f];
        if (typeof v === 'string') {
          checkQueryText(f, v);
          query[f] = v;
        }
      }
      if (Object.keys(query).length === 0) throw invalidParam('kind, instance, project, group, key, host, path, namespace, name are missing, at least one parameter must be provided');
      const page = readPage(request.query as { page?: number; per_page?: number });
      const result = await inventory.findPlacements(request.actor, query, page);
      setPaginationHeaders(request, reply, page, result.total, ctx.baseUrl(request));
      return result.items.map(({ placement, credential: c }) => ({ ...presentPlacement(placement), credential: { id: c.id, slug: c.slug, name: c.name, kind: c.kind, token_id: c.tokenId, owner: c.owner === null ? null : { id: c.owner.id, full_path: c.owner.fullPath }, due_on: c.dueOn, ...(c.tokenStatus ? { token_state: c.tokenStatus.state, token_state_since: c.tokenStatus.since } : {}) } }));
    },
  );
}
