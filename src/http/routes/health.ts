/** Liveness and readiness probes; both answer without credentials. */
import type { FastifyInstance } from 'fastify';
import type { Store } from '../../store/open-store.js';

export function registerHealthRoutes(app: FastifyInstance, store: Store): void {
  // Probes are never throttled: a load balancer polling them must not be locked out.
  const config = { public: true, rateLimit: 'exempt' as const };
  app.get('/-/health', { config, schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/-/readiness', { config, schema: { hide: true } }, async (request, reply) => {
    try {
      await store.ping();
      return { status: 'ok', checks: { database: 'ok' } };
    } catch (e) {
      request.log.warn({ err: (e as Error).message }, 'readiness: database unreachable');
      return reply.status(503).send({ status: 'failed', checks: { database: 'failed' } });
    }
  });
}
