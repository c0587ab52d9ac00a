/**
 * The web UI's render bar (issue 18): the server renders a project's token page in under 50 ms with
 * 1,000 tokens in the project. Prepared against a running `latchkey serve` over its own API, as a person
 * would get there: a project `web-render` beside the bench's big project, topped up to 1,000 deploy
 * tokens (kept from run to run), root given a password, then signed in through `/users/sign_in` with
 * the page's CSRF token. The request measured is the deploy-token page with that session's cookie.
 */
import { load, type RequestShape } from './load.js';
import type { SeedInfo } from './seed.js';

export const WEB_RENDER_TOKENS = 1000;
const PROJECT_PATH = 'web-render';
const PASSWORD = 'bench web render password';

/** The cookies a response sets, as `name=value` for the next request's Cookie header. */
function cookiesOf(res: Response, jar: Map<string, string>): void {
  for (const line of res.headers.getSetCookie()) {
    const [pair] = line.split(';');
    const eq = pair!.indexOf('=');
    jar.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
  }
}

export async function prepareWebRender(baseUrl: string, info: SeedInfo, asRoot: Record<string, string>): Promise<RequestShape> {
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${baseUrl}/api/v4${path}`, { method, headers: { ...asRoot, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, headers: res.headers, json: (await res.json().catch(() => null)) as Record<string, any> };
  };
  const big = await api('GET', `/projects/${info.bigProjectId}`);
  if (big.status !== 200) throw new Error(`web render: the big project answered ${big.status}`);
  const fullPath = `${big.json.namespace.full_path}/${PROJECT_PATH}`;
  let project = await api('GET', `/projects/${encodeURIComponent(fullPath)}`);
  if (project.status === 404) project = await api('POST', '/projects', { name: PROJECT_PATH, path: PROJECT_PATH, namespace_id: big.json.namespace.id });
  if (project.status !== 200 && project.status !== 201) throw new Error(`web render: the project answered ${project.status}: ${JSON.stringify(project.json)}`);
  const projectId = project.json.id as number;

  const listed = await api('GET', `/projects/${projectId}/deploy_tokens?per_page=1`);
  const missing = WEB_RENDER_TOKENS - Number(listed.headers.get('x-total') ?? 0);
  if (missing > 0) {
    const r = await load(baseUrl, {
      connections: 8,
      amount: missing,
      next: () => ({ method: 'POST', path: `/api/v4/projects/${projectId}/deploy_tokens`, headers: { ...asRoot, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'web-render', scopes: ['read_registry'], expires_at: '2099-01-01' }) }),
    });
    if (r.non2xx > 0 || r.errors > 0) throw new Error(`web render: creating tokens gave ${r.non2xx} non-2xx answers (${JSON.stringify(r.statuses)})`);
  }

  const root = await api('GET', '/user');
  const set = await api('PUT', `/users/${root.json.id}`, { password: PASSWORD });
  if (set.status !== 200) throw new Error(`web render: setting root's password answered ${set.status}`);
  const jar = new Map<string, string>();
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const form = await fetch(`${baseUrl}/users/sign_in`, { headers: { accept: 'text/html' } });
  cookiesOf(form, jar);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1];
  if (!csrf) throw new Error('web render: no CSRF token on the sign-in page');
  const signIn = await fetch(`${baseUrl}/users/sign_in`, {
    method: 'POST',
    redirect: 'manual',
    headers: { accept: 'text/html', cookie: cookie(), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ login: 'root', password: PASSWORD, _csrf: csrf }).toString(),
  });
  if (signIn.status !== 303) throw new Error(`web render: sign-in answered ${signIn.status}`);
  cookiesOf(signIn, jar);
  return { path: `/${fullPath}/-/settings/repository`, headers: { accept: 'text/html', cookie: cookie() } };
}
