/**
 * A cookie-keeping client for the web UI over `inject` (no socket): sign in, read a page's CSRF token,
 * post forms as a browser would (application/x-www-form-urlencoded, `scopes[]` repeated).
 */
import type { TestApp } from './test-app.js';

export interface WebResponse {
  status: number;
  html: string;
  location: string | undefined;
  headers: Record<string, string | string[] | number | undefined>;
}

export type FormFields = Record<string, string | readonly string[]>;

export function csrfOf(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error('no CSRF field on the page');
  return m[1]!;
}

export function encodeForm(fields: FormFields): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) {
    if (typeof v === 'string') params.append(k, v);
    else for (const item of v) params.append(k, item);
  }
  return params.toString();
}

export function webClient(t: TestApp, options: { ip?: string } = {}) {
  const jar = new Map<string, string>();
  async function send(method: 'GET' | 'POST', url: string, form?: FormFields, extraHeaders: Record<string, string> = {}): Promise<WebResponse> {
    // What a browser sends on navigation: pages that fall through to the 404 answer HTML only to a client asking for it.
    const headers: Record<string, string> = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', ...extraHeaders };
    if (jar.size > 0) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    if (form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await t.app.http.inject({ method, url, headers, payload: form ? encodeForm(form) : undefined, remoteAddress: options.ip ?? '127.0.0.1' });
    for (const c of res.cookies as { name: string; value: string; maxAge?: number; expires?: Date }[]) {
      const gone = c.value === '' || c.maxAge === 0 || (c.expires !== undefined && c.expires.getTime() < Date.now());
      if (gone) jar.delete(c.name);
      else jar.set(c.name, c.value);
    }
    return { status: res.statusCode, html: res.body, location: res.headers.location as string | undefined, headers: res.headers };
  }
  return {
    jar,
    get: (url: string) => send('GET', url),
    post: (url: string, form: FormFields, headers?: Record<string, string>) => send('POST', url, form, headers),
    /** GETs `page`, then posts `fields` (with the page's CSRF token) to `action` (default: the page). */
    async submit(page: string, fields: FormFields, action = page.split('?')[0]!): Promise<WebResponse> {
      const shown = await send('GET', page);
      if (shown.status !== 200) throw new Error(`GET ${page} answered ${shown.status}`);
      return send('POST', action, { ...fields, _csrf: csrfOf(shown.html) });
    },
    async signIn(login: string, password: string): Promise<WebResponse> {
      const shown = await send('GET', '/users/sign_in');
      return send('POST', '/users/sign_in', { login, password, _csrf: csrfOf(shown.html) });
    },
  };
}
