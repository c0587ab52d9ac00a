/**
 * A small client of a GitLab v4 API (gitlab.com, a self-managed GitLab, another Latchkey): GET with the
 * upstream's token, GitLab's pagination (`Link: rel="next"`, else `X-Next-Page`), and its rate limits
 * (`429` + `Retry-After`, and a pause when `RateLimit-Remaining` reaches 0). Writes (`send`: rotation's
 * variable writes and token rotations) go through the same transport and failure rules.
 *
 * Every way a request can fail becomes an `UpstreamFailure` whose message is the reason an operator
 * reads on the upstream ("401 Unauthorized: …", "no answer within 30000 ms"); 403 and 404 are
 * answers the caller decides about (a group the token may not read is skipped, not a failure).
 * Redirects are refused rather than followed, so the token never travels to another host; a `Link`
 * to another origin is ignored for the same reason. Time comes from the injected clock and sleep.
 */
import type { Clock } from '../kernel/clock.js';

/** The reason a sync or a check stopped; recorded on the upstream. Never contains the token. */
export class UpstreamFailure extends Error {
  override readonly name = 'UpstreamFailure';
}

export interface GitlabClientOptions {
  /** How long one request may take, answer included (LATCHKEY_UPSTREAM_TIMEOUT_MS). */
  readonly timeoutMs: number;
  /** The longest `Retry-After` (or rate-limit reset) a request waits for before it gives up. */
  readonly maxRetryWaitMs: number;
  readonly clock: Clock;
  readonly sleep: (ms: number) => Promise<void>;
  /** Injected for tests of the transport itself; the global fetch otherwise. */
  readonly fetch?: typeof fetch;
}

/** What upstream audit logs and reuse checks see on every request. */
export const UPSTREAM_USER_AGENT = 'Latchkey-Upstream-Sync/1 (+https://gitlab.com/latchkey)';

/** How many times one request is retried after a 429 before the sync gives up. */
const MAX_RATE_LIMIT_RETRIES = 5;
/** A list longer than this many pages is cut (a Link loop must not run forever). */
const MAX_PAGES = 10_000;

export interface GitlabAnswer<T> {
  readonly status: 200 | 403 | 404;
  readonly body: T | null;
  readonly headers: Headers;
}

export interface GitlabClient {
  /** One GET: 200 with its JSON, or 403/404 for the caller to judge; anything else throws UpstreamFailure. */
  get<T>(path: string, query?: Record<string, string>): Promise<GitlabAnswer<T>>;
  /**
   * One write (POST/PUT) with a JSON body: any 2xx or 4xx answer (401 aside) for the caller to judge,
   * with its JSON body (null when none or not JSON); 401, 5xx, redirects, timeouts and broken
   * connections throw. A 429 is waited for and retried like a GET (GitLab refuses before it writes).
   */
  send<T>(method: 'POST' | 'PUT', path: string, body: Record<string, unknown>, query?: Record<string, string>): Promise<{ status: number; body: T | null }>;
  /** Every page of a list; `forbidden` when the first page answers 403 or 404. */
  getAll<T>(path: string, query?: Record<string, string>): Promise<T[] | 'forbidden'>;
  /** How many requests were made, how often a rate limit (a 429, or none left) made them wait, and how long. */
  stats(): { requests: number; rateLimitWaits: number; waitedMs: number };
}

/** Seconds or an HTTP date (`Retry-After`), or a reset as epoch seconds (`RateLimit-Reset`), as milliseconds from now. */
function waitFrom(headers: Headers, now: Date): number | null {
  const retryAfter = headers.get('retry-after');
  if (retryAfter !== null) {
    if (/^\d{1,10}$/.test(retryAfter.trim())) return Number(retryAfter.trim()) * 1000;
    const at = Date.parse(retryAfter);
    if (!Number.isNaN(at)) return Math.max(0, at - now.getTime());
  }
  const reset = headers.get('ratelimit-reset');
  if (reset !== null && /^\d{1,12}$/.test(reset.trim())) return Math.max(0, Number(reset.trim()) * 1000 - now.getTime());
  return null;
}

export function createGitlabClient(baseUrl: string, token: string, options: GitlabClientOptions): GitlabClient {
  const doFetch = options.fetch ?? fetch;
  const apiBase = `${baseUrl}/api/v4`;
  const host = new URL(baseUrl).host;
  let requests = 0;
  let rateLimitWaits = 0;
  let waitedMs = 0;
  /** Set when an answer said no requests are left in this window: the next request waits for the reset. */
  let pauseUntil = 0;

  const wait = async (ms: number) => {
    waitedMs += ms;
    await options.sleep(ms);
  };

  async function fetchOnce(url: string, label: string, write?: { method: string; body: string }): Promise<Response> {
    requests++;
    try {
      return await doFetch(url, {
        method: write?.method ?? 'GET',
        redirect: 'manual',
        headers: { 'PRIVATE-TOKEN': token, Accept: 'application/json', 'User-Agent': UPSTREAM_USER_AGENT, ...(write ? { 'Content-Type': 'application/json' } : {}) },
        ...(write ? { body: write.body } : {}),
        signal: AbortSignal.timeout(options.timeoutMs),
      });
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      if (err.name === 'TimeoutError' || err.name === 'AbortError') throw new UpstreamFailure(`no answer from ${host} within ${options.timeoutMs} ms (${label})`);
      throw new UpstreamFailure(`cannot reach ${host}: ${err.cause?.code ?? err.cause?.message ?? err.message} (${label})`);
    }
  }

  async function readJson(res: Response, label: string): Promise<unknown> {
    let text: string;
    try {
      text = await res.text();
    } catch (e) {
      const err = e as Error;
      if (err.name === 'TimeoutError' || err.name === 'AbortError') throw new UpstreamFailure(`no answer from ${host} within ${options.timeoutMs} ms (${label})`);
      throw new UpstreamFailure(`the connection to ${host} broke while reading the answer (${label})`);
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new UpstreamFailure(`${host} answered ${label} with something that is not JSON (is ${baseUrl} a GitLab?)`);
    }
  }

  /** One request through the rate limits: the answer, or an UpstreamFailure for 401, redirects, 5xx and a 429 not waited for. */
  async function exchange(url: string, label: string, write?: { method: string; body: string }): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      const pause = pauseUntil - options.clock.now().getTime();
      if (pause > 0) {
        pauseUntil = 0;
        if (pause <= options.maxRetryWaitMs) {
          rateLimitWaits++;
          await wait(pause);
        }
      }
      const res = await fetchOnce(url, label, write);
      if (res.headers.get('ratelimit-remaining')?.trim() === '0') {
        const reset = waitFrom(new Headers({ 'ratelimit-reset': res.headers.get('ratelimit-reset') ?? '' }), options.clock.now());
        if (reset !== null) pauseUntil = options.clock.now().getTime() + reset;
      }
      if (res.status === 429) {
        await res.body?.cancel();
        const ms = waitFrom(res.headers, options.clock.now()) ?? 60_000;
        if (attempt >= MAX_RATE_LIMIT_RETRIES) throw new UpstreamFailure(`429 Too Many Requests: ${host} still refused ${label} after ${MAX_RATE_LIMIT_RETRIES} waits`);
        if (ms > options.maxRetryWaitMs) {
          throw new UpstreamFailure(`429 Too Many Requests: ${host} asked to wait ${Math.ceil(ms / 1000)} s (Retry-After), longer than the ${Math.floor(options.maxRetryWaitMs / 1000)} s a sync waits (${label})`);
        }
        rateLimitWaits++;
        await wait(ms);
        continue;
      }
      if (res.status < 300 || (res.status >= 400 && res.status < 500 && res.status !== 401)) return res;
      await res.body?.cancel();
      if (res.status === 401) throw new UpstreamFailure(`401 Unauthorized: ${host} refused the upstream token (invalid, expired or revoked) (${label})`);
      if (res.status >= 300 && res.status < 400) {
        throw new UpstreamFailure(`${res.status}: ${host} redirected ${label} to ${res.headers.get('location') ?? 'elsewhere'}; register the URL it redirects to`);
      }
      if (res.status >= 500) throw new UpstreamFailure(`${res.status}: ${host} failed to answer ${label} (server error)`);
      throw new UpstreamFailure(`${res.status}: ${host} refused ${label}`);
    }
  }

  async function request<T>(url: string, label: string): Promise<GitlabAnswer<T>> {
    const res = await exchange(url, label);
    if (res.status === 200) return { status: 200, body: (await readJson(res, label)) as T, headers: res.headers };
    await res.body?.cancel();
    if (res.status === 403 || res.status === 404) return { status: res.status, body: null, headers: res.headers };
    throw new UpstreamFailure(`${res.status}: ${host} refused ${label}`);
  }

  const urlOf = (path: string, query: Record<string, string>) => {
    const qs = new URLSearchParams(query).toString();
    return `${apiBase}${path}${qs ? `?${qs}` : ''}`;
  };

  /** The next page's URL: `Link: rel="next"` when it stays on this API, else `X-Next-Page`, else none. */
  function nextPage(headers: Headers, path: string, query: Record<string, string>): string | null {
    const link = headers.get('link');
    const m = link ? /<([^>]+)>\s*;\s*rel="next"/.exec(link) : null;
    if (m) {
      try {
        const next = new URL(m[1]!);
        if (next.origin === new URL(apiBase).origin && next.pathname.startsWith(new URL(apiBase).pathname)) return next.toString();
      } catch {
        // An unreadable Link: fall back to X-Next-Page.
      }
    }
    const page = headers.get('x-next-page')?.trim();
    return page && /^\d{1,9}$/.test(page) ? urlOf(path, { ...query, page }) : null;
  }

  return {
    get: (path, query = {}) => request(urlOf(path, query), `GET ${path}`),

    async send<T>(method: 'POST' | 'PUT', path: string, body: Record<string, unknown>, query: Record<string, string> = {}) {
      const label = `${method} ${path}`;
      const res = await exchange(urlOf(path, query), label, { method, body: JSON.stringify(body) });
      if (res.status < 300) return { status: res.status, body: res.status === 204 ? null : ((await readJson(res, label)) as T) };
      // A refusal's body is only its message: one that is not JSON is no message.
      const refusal = await readJson(res, label).catch(() => null);
      return { status: res.status, body: refusal as T | null };
    },

    async getAll<T>(path: string, query: Record<string, string> = {}): Promise<T[] | 'forbidden'> {
      const q = { per_page: '100', ...query };
      const items: T[] = [];
      let url: string | null = urlOf(path, q);
      for (let pages = 0; url !== null && pages < MAX_PAGES; pages++) {
        const answer: GitlabAnswer<unknown> = await request<unknown>(url, `GET ${path}`);
        if (answer.status !== 200) {
          if (pages === 0) return 'forbidden';
          throw new UpstreamFailure(`${answer.status}: ${host} refused page ${pages + 1} of GET ${path}`);
        }
        if (!Array.isArray(answer.body)) throw new UpstreamFailure(`${host} answered GET ${path} with JSON that is not a list (is ${baseUrl} a GitLab?)`);
        items.push(...(answer.body as T[]));
        url = nextPage(answer.headers, path, q);
      }
      return items;
    },

    stats: () => ({ requests, rateLimitWaits, waitedMs }),
  };
}
