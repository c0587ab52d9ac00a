/**
 * `GET /metrics`: Prometheus text exposition, outside /api/v4 as GitLab's is. Open unless
 * LATCHKEY_METRICS_TOKEN is set; then only `Authorization: Bearer <that token>` may scrape.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { EXPOSITION_CONTENT_TYPE } from '../../metrics/exposition.js';

export interface MetricsRouteOptions {
  scraper: { render(): Promise<string> };
  /** The bearer token a scraper must present; null = no authentication. */
  token: string | null;
}

// Compared as SHA-256 digests so the comparison takes the same time whatever the lengths.
const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

function presentsToken(request: FastifyRequest, expected: Buffer): boolean {
  const header = request.headers.authorization;
  const m = typeof header === 'string' ? /^Bearer\s+(.+)$/i.exec(header.trim()) : null;
  return m !== null && timingSafeEqual(digest(m[1]!), expected);
}

export function registerMetricsRoute(app: FastifyInstance, options: MetricsRouteOptions): void {
  const expected = options.token === null ? null : digest(options.token);
  app.get('/metrics', { config: { public: true, rateLimit: 'exempt' }, schema: { hide: true } }, async (request, reply) => {
    if (expected !== null && !presentsToken(request, expected)) {
      return reply.status(401).header('www-authenticate', 'Bearer realm="metrics"').send({ message: '401 Unauthorized' });
    }
    const text = await options.scraper.render();
    return reply.header('content-type', EXPOSITION_CONTENT_TYPE).header('cache-control', 'no-store').send(text);
  });
}
