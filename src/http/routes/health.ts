/**
 * Liveness and readiness probes; both answer without credentials. Liveness says the process serves
 * HTTP; readiness says it can serve requests, i.e. the database answers — within a bound, so a probe
 * never hangs on a database that does not answer.
 */
import type { FastifyInstance } from 'fastify';
import type { Store } from '../../store/open-store.js';

/** Longest a readiness probe waits for the database. */
const READINESS_TIMEOUT_MS = 3_000;

function withinTimeout(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export function registerHealthRoutes(app: FastifyInstance, store: Store): void {
  // Probes are never throttled: a load balancer polling them must not be locked out.
  const config = { public: true, rateLimit: 'exempt' as const };
  app.get('/-/health', { config, schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/-/readiness', { config, schema: { hide: true } }, async (request, reply) => {
    try {
      await withinTimeout(store.ping(), READINESS_TIMEOUT_MS);
      return { status: 'ok', checks: { database: 'ok' } };
    } catch (e) {
      const cause = (e as Error).cause as Error | undefined;
      request.log.warn({ err: (cause ?? (e as Error)).message }, 'readiness: database unreachable');
      return reply.status(503).send({ status: 'failed', checks: { database: 'failed' } });
    }
  });
}
