/**
 * GitLab's CI/CD variables API (doc/api/project_level_variables.md, group_level_variables.md):
 * GET|POST /:kind/:id/variables and GET|PUT|DELETE /:kind/:id/variables/:key for projects and groups,
 * with `filter[environment_scope]`. As Grape does, parameters may come in the query string or the body,
 * and the caller is authorised (404 / 403) before they are validated.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ManagedVariables, VariableFilter, VariableView } from '../../ci-variables/ci-variable-service.js';
import { VARIABLE_TYPES, type VariableInput } from '../../ci-variables/ci-variable.js';
import { PaginationQuery, readPage, setPaginationHeaders } from '../pagination.js';
import type { RouteContext } from '../route-context.js';
import { ResourceParams } from './resource-params.js';

const NullableString = Type.Union([Type.Null(), Type.String()]);

/** GitLab's Entities::Ci::Variable, in its field order. `value` is null for hidden variables. */
export const VariableEntity = Type.Object({
  variable_type: Type.String({ enum: [...VARIABLE_TYPES] }),
  key: Type.String(),
  value: NullableString,
  hidden: Type.Boolean(),
  protected: Type.Boolean(),
  masked: Type.Boolean(),
  raw: Type.Boolean(),
  environment_scope: Type.String(),
  description: NullableString,
});

export function presentVariable({ variable: v, value }: VariableView) {
  return {
    variable_type: v.variableType,
    key: v.key,
    value,
    hidden: v.hidden,
    protected: v.protected,
    masked: v.masked,
    raw: v.raw,
    environment_scope: v.environmentScope,
    description: v.description,
  };
}

const KeyParams = Type.Object({
  id: ResourceParams.properties.id,
  key: Type.String({ minLength: 1, maxLength: 2048, description: 'The key of a variable' }),
});

const FILTER_PARAM = 'filter[environment_scope]';
const FilterQuery = Type.Object({ [FILTER_PARAM]: Type.Optional(Type.String({ description: 'Select the variable of this environment scope when several share the key' })) });

const VariableFields = {
  value: Type.String({ description: 'The value of the variable' }),
  protected: Type.Boolean({ description: 'Only exported to pipelines on protected branches and tags. Default: false' }),
  masked: Type.Boolean({ description: 'Masked in job logs: at least 8 characters from the Base64 alphabet plus @ : . ~ (raw: any 8+ non-blank characters). Default: false' }),
  raw: Type.Boolean({ description: '$VARIABLE references in the value are not expanded. Default: false' }),
  variable_type: Type.String({ enum: [...VARIABLE_TYPES], description: 'env_var (default) or file' }),
  environment_scope: Type.String({ description: 'The environment scope. Default: *' }),
  description: NullableString,
};

const CreateBody = Type.Object({
  key: Type.String({ description: "Letters, digits and '_', at most 255 characters" }),
  value: VariableFields.value,
  protected: Type.Optional(VariableFields.protected),
  masked: Type.Optional(VariableFields.masked),
  masked_and_hidden: Type.Optional(Type.Boolean({ description: 'Masked, and the value is never shown again. Default: false' })),
  raw: Type.Optional(VariableFields.raw),
  variable_type: Type.Optional(VariableFields.variable_type),
  environment_scope: Type.Optional(VariableFields.environment_scope),
  description: Type.Optional(VariableFields.description),
});

const UpdateBody = Type.Object({
  value: Type.Optional(VariableFields.value),
  protected: Type.Optional(VariableFields.protected),
  masked: Type.Optional(VariableFields.masked),
  raw: Type.Optional(VariableFields.raw),
  variable_type: Type.Optional(VariableFields.variable_type),
  environment_scope: Type.Optional(VariableFields.environment_scope),
  description: Type.Optional(VariableFields.description),
  filter: Type.Optional(Type.Object({ environment_scope: Type.Optional(Type.String()) })),
});

/** The parameters Grape would read from the query string as well as from the body. */
const PARAMS = ['key', 'value', 'protected', 'masked', 'masked_and_hidden', 'raw', 'variable_type', 'environment_scope', 'description'];

type Body = Record<string, unknown>;

/**
 * Grape merges query and body parameters, and a form body (or a query) spells the filter
 * `filter[environment_scope]=…`. One object for the schema: the body's fields over the query's, the
 * filter as `{filter: {environment_scope}}`.
 */
function mergeParams(request: FastifyRequest): void {
  const query = (request.query ?? {}) as Record<string, unknown>;
  const body = request.body === undefined || request.body === null ? {} : request.body;
  if (typeof body !== 'object' || Array.isArray(body)) return;
  const merged: Body = {};
  for (const p of PARAMS) if (query[p] !== undefined) merged[p] = query[p];
  Object.assign(merged, body);
  const flatFilter = (body as Body)[FILTER_PARAM] ?? query[FILTER_PARAM];
  delete merged[FILTER_PARAM];
  if (merged.filter === undefined && flatFilter !== undefined) merged.filter = { environment_scope: flatFilter };
  request.body = merged;
}

/** `filter[environment_scope]` from the query string, or from the body (`{"filter": {...}}`, as gitbeaker sends it on DELETE). */
function filterOf(request: FastifyRequest): VariableFilter {
  const query = (request.query ?? {}) as Record<string, unknown>;
  const body = (request.body ?? {}) as Body;
  const fromBody = typeof body === 'object' && body !== null ? ((body.filter as Body | undefined)?.environment_scope ?? body[FILTER_PARAM]) : undefined;
  const scope = query[FILTER_PARAM] ?? fromBody;
  return typeof scope === 'string' ? { environmentScope: scope } : {};
}

function inputOf(body: Body): VariableInput {
  return {
    value: body.value as string | undefined,
    protected: body.protected as boolean | undefined,
    masked: body.masked as boolean | undefined,
    maskedAndHidden: body.masked_and_hidden as boolean | undefined,
    raw: body.raw as boolean | undefined,
    variableType: body.variable_type as VariableInput['variableType'],
    environmentScope: body.environment_scope as string | undefined,
    description: body.description as string | null | undefined,
  };
}

export function registerVariableRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { cicdVariables } = ctx.services;
  // The handle each request's preValidation authorised, for its handler.
  const managed = new WeakMap<FastifyRequest, ManagedVariables>();
  const handle = (request: FastifyRequest) => managed.get(request)!;

  for (const kind of ['projects', 'groups'] as const) {
    const tags = ['ci_variables'];
    const what = kind.slice(0, -1);
    // Before schema validation: 404 for what the caller cannot see, 403 below Maintainer.
    const authorise = async (request: FastifyRequest) => {
      const resource = await ctx.resolve(request, kind, (request.params as { id: string }).id);
      managed.set(request, await cicdVariables.manage(request.actor, resource));
    };

    app.get<{ Params: { id: string }; Querystring: { page?: number; per_page?: number } }>(
      `/${kind}/:id/variables`,
      { preValidation: authorise, schema: { tags, summary: `List a ${what}'s CI/CD variables`, params: ResourceParams, querystring: Type.Object(PaginationQuery), response: { 200: Type.Array(VariableEntity) } } },
      async (request, reply) => {
        const page = readPage(request.query);
        const result = await handle(request).list(page);
        setPaginationHeaders(request, reply, page, result.total, ctx.baseUrl(request));
        return result.items.map(presentVariable);
      },
    );

    app.get<{ Params: { id: string; key: string } }>(
      `/${kind}/:id/variables/:key`,
      { preValidation: authorise, schema: { tags, summary: `Show a ${what}'s CI/CD variable`, params: KeyParams, querystring: FilterQuery, response: { 200: VariableEntity } } },
      async (request) => presentVariable(await handle(request).show(request.params.key, filterOf(request))),
    );

    app.post<{ Params: { id: string }; Body: Body }>(
      `/${kind}/:id/variables`,
      {
        preValidation: [authorise, async (request) => mergeParams(request)],
        schema: { tags, summary: `Create a ${what} CI/CD variable`, params: ResourceParams, body: CreateBody, response: { 201: VariableEntity } },
      },
      async (request, reply) => {
        const body = request.body;
        const created = await handle(request).create({ ...inputOf(body), key: body.key as string, value: body.value as string });
        return reply.status(201).send(presentVariable(created));
      },
    );

    app.put<{ Params: { id: string; key: string }; Body: Body }>(
      `/${kind}/:id/variables/:key`,
      {
        preValidation: [authorise, async (request) => mergeParams(request)],
        schema: { tags, summary: `Update a ${what} CI/CD variable`, params: KeyParams, body: UpdateBody, response: { 200: VariableEntity } },
      },
      async (request) => {
        // GitLab's group endpoint without a filter updates the first variable of the key (kept there for
        // compatibility, gitlab MR 136475); the project endpoint answers 409 when the key is ambiguous.
        const updated = await handle(request).update(request.params.key, filterOf(request), { ...inputOf(request.body), maskedAndHidden: undefined }, { firstOfKey: kind === 'groups' });
        return presentVariable(updated);
      },
    );

    app.delete<{ Params: { id: string; key: string } }>(
      `/${kind}/:id/variables/:key`,
      { preValidation: authorise, schema: { tags, summary: `Delete a ${what} CI/CD variable`, params: KeyParams, querystring: FilterQuery, response: { 204: Type.Null() } } },
      async (request, reply) => {
        await handle(request).remove(request.params.key, filterOf(request));
        return reply.status(204).send();
      },
    );
  }
}
