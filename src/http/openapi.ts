/**
 * The OpenAPI document (@fastify/swagger, from the routes' own schemas) and what keeps it honest enough
 * for a schema-driven fuzzer: every operation documents the 4xx answers the error mapping can give,
 * every free string has a length bound that validation enforces too, and the web UI's pages stay out.
 * Also the 405 for a known path with a method it does not serve (Grape's `405 Not Allowed`, with Allow).
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';

/** The bound of a string field that declares none: larger than any name or text the services take. */
export const MAX_FREE_STRING = 65_536;

interface SchemaNode {
  type?: string | string[];
  maxLength?: number;
  format?: string;
  enum?: unknown[];
  const?: unknown;
  [key: string]: unknown;
}

/** A copy of a request schema in which every string without a maxLength (or enum) gets MAX_FREE_STRING. */
function boundStrings<T>(schema: T): T {
  if (Array.isArray(schema)) return schema.map(boundStrings) as T;
  if (schema === null || typeof schema !== 'object') return schema;
  const node: SchemaNode = {};
  for (const [key, value] of Object.entries(schema as SchemaNode)) node[key] = key === 'enum' || key === 'const' || key === 'default' || key === 'examples' ? value : boundStrings(value);
  // TypeBox marks its schemas with symbol keys; keep them (Object.entries skips symbols).
  for (const symbol of Object.getOwnPropertySymbols(schema)) (node as Record<symbol, unknown>)[symbol] = (schema as Record<symbol, unknown>)[symbol];
  const types = Array.isArray(node.type) ? node.type : [node.type];
  if (types.includes('string') && node.maxLength === undefined && node.enum === undefined && node.const === undefined) node.maxLength = MAX_FREE_STRING;
  return node as T;
}

const ERROR_BODY = {
  type: 'object',
  description: 'GitLab-shaped error: {"error": "<text>"} or {"message": "<text>" | {"<field>": ["<reason>"]}}',
  properties: {
    error: { type: 'string' },
    error_description: { type: 'string' },
    message: { anyOf: [{ type: 'string' }, { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } }] },
  },
};

const ANSWERS: Record<number, string> = {
  400: 'Bad request: a parameter or the body is missing, malformed or out of range',
  401: 'Unauthorized: no valid credential',
  403: 'Forbidden: the credential may not do this',
  404: 'Not found (or not visible to the caller)',
  405: 'Method not allowed',
  409: 'Conflict: the name or key is taken',
  413: 'Request body too large',
  415: 'Unsupported media type',
  422: 'Unprocessable: the request cannot be carried out as asked',
  429: 'Too many requests: rate limited',
};

/** The 4xx answers an operation can give: what the error mapping (http/error-mapping.ts) produces for it. */
export function documentedErrors(method: string, hasBody: boolean): number[] {
  const codes = [400, 401, 403, 404, 409, 422, 429];
  if (hasBody || method === 'POST' || method === 'PUT' || method === 'PATCH') codes.push(413, 415);
  return codes;
}

type Transform = NonNullable<Parameters<typeof swagger>[1] extends infer O ? (O extends { transform?: infer T } ? T : never) : never>;

const transform: Transform = ({ schema, url, route }) => {
  const r = route as RouteOptions | undefined;
  const hidden = (schema as { hide?: boolean } | undefined)?.hide === true || r?.config?.ui === true || url.includes('*');
  if (hidden) return { schema: { ...schema, hide: true }, url };
  const methods = [r?.method ?? 'GET'].flat().map(String);
  const response: Record<string, unknown> = { ...((schema as { response?: Record<string, unknown> })?.response ?? {}) };
  // @fastify/swagger adds its "Default Response" 200 only to a route that declares no answers at all.
  if (!Object.keys(response).some((code) => code.startsWith('2'))) response[200] = { description: 'Default Response' };
  for (const code of documentedErrors(methods[0]!, (schema as { body?: unknown })?.body !== undefined)) {
    response[code] ??= { ...ERROR_BODY, description: ANSWERS[code] };
  }
  return { schema: { ...schema, response }, url };
};

export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  // Every route's request schemas get their string bounds before they are compiled and documented.
  app.addHook('onRoute', (route) => {
    if (!route.schema) return;
    const s = route.schema as Record<string, unknown>;
    for (const part of ['params', 'querystring', 'body'] as const) if (s[part] !== undefined) s[part] = boundStrings(s[part]);
  });
  await app.register(swagger, {
    transform,
    openapi: {
      info: { title: 'Latchkey API', version: '4', description: 'GitLab v4-compatible token API of Latchkey' },
      components: {
        securitySchemes: {
          privateToken: { type: 'apiKey', in: 'header', name: 'PRIVATE-TOKEN' },
          bearer: { type: 'http', scheme: 'bearer' },
        },
      },
      security: [{ privateToken: [] }, { bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/api/docs', uiConfig: { docExpansion: 'list' } });
  app.get('/api/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());
}

/**
 * Which methods serve which path pattern, collected as routes are added (catch-all `*` routes are not
 * "known paths"), so a request no route took can be told apart: a known path with another method (405)
 * or nothing at all (404).
 */
export class RouteMethods {
  private readonly patterns = new Map<string, { re: RegExp; methods: Set<string> }>();

  add(url: string, method: string | string[]): void {
    if (url.includes('*')) return;
    let entry = this.patterns.get(url);
    if (!entry) {
      const source = url
        .replace(/\/+$/, '')
        .split(/(:[A-Za-z0-9_]+)/)
        .map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
        .join('');
      entry = { re: new RegExp(`^${source}/?$`), methods: new Set() };
      this.patterns.set(url, entry);
    }
    for (const m of [method].flat()) entry.methods.add(m.toUpperCase());
  }

  /** The methods a path is served with, or null when no route has that path. */
  allowed(path: string): string[] | null {
    const found = new Set<string>();
    for (const { re, methods } of this.patterns.values()) if (re.test(path)) for (const m of methods) found.add(m);
    return found.size === 0 ? null : [...found].sort();
  }
}

/**
 * The answer to a request no route served: 405 `{"error": "405 Not Allowed"}` with an Allow header on
 * a known path (as Grape answers), else GitLab's catch-all `{"error": "404 Not Found"}`.
 */
export function answerUnrouted(routes: RouteMethods, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const allowed = routes.allowed(request.url.split('?', 1)[0]!);
  if (allowed && !allowed.includes(request.method)) return reply.status(405).header('allow', allowed.join(', ')).send({ error: '405 Not Allowed' });
  return reply.status(404).send({ error: '404 Not Found' });
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The app's route table by path pattern (http/openapi.ts), for 405 answers. */
    routeMethods: RouteMethods;
  }
}

export function registerRouteMethods(app: FastifyInstance): RouteMethods {
  const routes = new RouteMethods();
  app.decorate('routeMethods', routes);
  app.addHook('onRoute', (route) => routes.add(route.url, route.method));
  app.setNotFoundHandler((request, reply) => answerUnrouted(routes, request, reply));
  return routes;
}
