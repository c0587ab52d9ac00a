/** What every route module receives: the services, the clock and how to build absolute URLs. */
import type { FastifyRequest } from 'fastify';
import type { Services } from '../services.js';
import type { Clock } from '../kernel/clock.js';
import type { Resource } from '../namespaces/namespace.js';

export interface RouteContext {
  readonly services: Services;
  readonly clock: Clock;
  /** The base URL for web_url and Link headers: LATCHKEY_PUBLIC_URL, else what the client called. */
  baseUrl(request: FastifyRequest): string;
  /** Resolves `:id` of a project or group route to a resource the actor may see (404 otherwise). */
  resolve(request: FastifyRequest, kind: 'projects' | 'groups', id: string): Promise<Resource>;
}
