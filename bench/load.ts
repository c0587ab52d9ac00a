/**
 * Load generation for `npm run bench`: autocannon, run in the bench's own process (the servers are
 * child processes), with the same requests sent to the bare baseline and to Latchkey so that the client's
 * own cost is the same on both sides.
 */
import autocannon from 'autocannon';

export interface RequestShape {
  method?: 'GET' | 'POST' | 'PUT' | 'HEAD';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface LoadResult {
  /** Requests per second (completed responses / duration). */
  rps: number;
  p50: number;
  p99: number;
  /** Responses outside 2xx, and connection errors/timeouts. */
  non2xx: number;
  /** Responses by status code, e.g. { "200": 980, "429": 20 }. */
  statuses: Record<string, number>;
  errors: number;
  total: number;
  seconds: number;
}

export interface LoadOptions {
  connections: number;
  /** Seconds; or `amount` requests in all. */
  seconds?: number;
  amount?: number;
  /** Each request in turn (a rotating set of tokens, of projects); a fixed request otherwise. */
  next?: () => RequestShape;
  request?: RequestShape;
}

export async function load(baseUrl: string, options: LoadOptions): Promise<LoadResult> {
  const fixed = options.request;
  const result = await autocannon({
    url: baseUrl,
    connections: options.connections,
    pipelining: 1,
    // With an amount, autocannon ends the run at its next sample tick after the last answer, and its
    // duration is that tick's time: at the default 1 s interval a run's time was rounded up to the whole
    // second (31.0 s for 30.1 s). A 10 ms interval makes the duration the last answer's time within 10 ms.
    ...(options.amount ? { amount: options.amount, sampleInt: 10 } : { duration: options.seconds ?? 10 }),
    timeout: 30,
    requests: [
      fixed
        ? { method: fixed.method ?? 'GET', path: fixed.path, headers: fixed.headers ?? {}, body: fixed.body }
        : {
            setupRequest: (req: Record<string, unknown>) => {
              const r = options.next!();
              return { ...req, method: r.method ?? 'GET', path: r.path, headers: r.headers ?? {}, body: r.body };
            },
          },
    ],
  } as autocannon.Options);
  const total = result.requests.total;
  const seconds = result.duration;
  const statuses = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, v]) => [code, (v as { count: number }).count]));
  return { rps: total / seconds, p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx, statuses, errors: result.errors + result.timeouts, total, seconds };
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
