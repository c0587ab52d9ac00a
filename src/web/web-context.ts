/** What every web UI page module receives: the services (the same the API calls), the clock, URLs. */
import type { FastifyRequest } from 'fastify';
import type { Services } from '../services.js';
import type { Clock } from '../kernel/clock.js';

export interface WebContext {
  readonly services: Services;
  readonly clock: Clock;
  /** LATCHKEY_PUBLIC_URL, else what the browser called. */
  baseUrl(request: FastifyRequest): string;
  /** Cookies get `Secure` when the public URL (or the request) is https. */
  secureCookies(request: FastifyRequest): boolean;
}
