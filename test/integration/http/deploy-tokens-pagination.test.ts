/**
 * GitLab offset pagination on the deploy token lists: X-Total, X-Total-Pages, X-Page, X-Per-Page,
 * X-Next-Page, X-Prev-Page and Link (prev/next/first/last); per_page defaults to 20 and is clamped to
 * 100; bad page values are a 400 with Grape's message, never a 500.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type Response, type TestApp, type World } from '../../support/test-app.js';

/** `<url>; rel="x", …` → { x: URL }. */
function parseLink(header: unknown): Record<string, URL> {
  expect(typeof header).toBe('string');
  const out: Record<string, URL> = {};
  for (const part of (header as string).split(',')) {
    const m = /^\s*<([^>]+)>;\s*rel="([a-z]+)"\s*$/.exec(part);
    expect(m, `malformed Link part: ${part}`).not.toBeNull();
    out[m![2]!] = new URL(m![1]!);
  }
  return out;
}

function pageHeaders(res: Response) {
  return {
    total: res.headers['x-total'],
    totalPages: res.headers['x-total-pages'],
    page: res.headers['x-page'],
    perPage: res.headers['x-per-page'],
    next: res.headers['x-next-page'],
    prev: res.headers['x-prev-page'],
  };
}

describe.each(DIALECTS)('deploy token pagination on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let projectUrl: string;
  /** Ids of the project's five tokens, in creation (= id) order. */
  let created: number[];

  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
    projectUrl = `/api/v4/projects/${w.project.id}/deploy_tokens`;
    created = [];
    for (let i = 1; i <= 5; i++) {
      const res = await t.request('POST', projectUrl, { token: w.users.maintainer.token, body: { name: `page token ${i}`, scopes: ['read_repository'] } });
      expect(res.status).toBe(201);
      created.push(res.body.id);
    }
  });
  afterAll(() => t?.close());

  const get = (url: string, token = w.users.maintainer.token) => t.request('GET', url, { token });

  it('page=2&per_page=2 → the 3rd and 4th tokens with every GitLab header', async () => {
    const res = await get(`${projectUrl}?page=2&per_page=2`);
    expect(res.status).toBe(200);
    expect(res.body.map((x: any) => x.id)).toEqual(created.slice(2, 4));
    expect(pageHeaders(res)).toEqual({ total: '5', totalPages: '3', page: '2', perPage: '2', next: '3', prev: '1' });
    const links = parseLink(res.headers.link);
    expect(Object.keys(links).sort()).toEqual(['first', 'last', 'next', 'prev']);
    for (const [rel, page] of [['prev', '1'], ['next', '3'], ['first', '1'], ['last', '3']] as const) {
      expect(links[rel]!.pathname).toBe(projectUrl);
      expect(links[rel]!.searchParams.get('page')).toBe(page);
      expect(links[rel]!.searchParams.get('per_page')).toBe('2');
    }
  });

  it('the first page has no prev, the last page no next', async () => {
    const first = await get(`${projectUrl}?per_page=2`);
    expect(first.body.map((x: any) => x.id)).toEqual(created.slice(0, 2));
    expect(pageHeaders(first)).toEqual({ total: '5', totalPages: '3', page: '1', perPage: '2', next: '2', prev: '' });
    expect(Object.keys(parseLink(first.headers.link)).sort()).toEqual(['first', 'last', 'next']);

    const last = await get(`${projectUrl}?page=3&per_page=2`);
    expect(last.body.map((x: any) => x.id)).toEqual(created.slice(4));
    expect(pageHeaders(last)).toEqual({ total: '5', totalPages: '3', page: '3', perPage: '2', next: '', prev: '2' });
    expect(Object.keys(parseLink(last.headers.link)).sort()).toEqual(['first', 'last', 'prev']);
  });

  it('walking the next links visits every token once', async () => {
    const seen: number[] = [];
    let url: string | undefined = `${projectUrl}?per_page=2`;
    for (let guard = 0; url && guard < 10; guard++) {
      const res = await get(url);
      seen.push(...res.body.map((x: any) => x.id));
      const next = parseLink(res.headers.link).next;
      url = next ? `${next.pathname}${next.search}` : undefined;
    }
    expect(seen).toEqual(created);
  });

  it('defaults: page 1, per_page 20', async () => {
    const res = await get(projectUrl);
    expect(res.body.map((x: any) => x.id)).toEqual(created);
    expect(pageHeaders(res)).toEqual({ total: '5', totalPages: '1', page: '1', perPage: '20', next: '', prev: '' });
    const links = parseLink(res.headers.link);
    expect(links.first!.searchParams.get('per_page')).toBe('20');
    expect(links.last!.searchParams.get('page')).toBe('1');
  });

  it('per_page above 100 is clamped to 100, as GitLab does', async () => {
    for (const perPage of ['101', '1000', '1000000']) {
      const res = await get(`${projectUrl}?per_page=${perPage}`);
      expect(res.status).toBe(200);
      expect(res.headers['x-per-page']).toBe('100');
      expect(res.body).toHaveLength(5);
    }
  });

  it('a page past the end is an empty array, not an error', async () => {
    const res = await get(`${projectUrl}?page=9&per_page=2`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual([]);
    expect(res.headers['x-total']).toBe('5');
    expect(res.headers['x-page']).toBe('9');
    expect(res.headers['x-next-page']).toBe('');
    expect(res.headers['x-prev-page']).toBe('');
    expect(Object.keys(parseLink(res.headers.link)).sort()).toEqual(['first', 'last']);
  });

  it('the active filter is kept in the Link URLs', async () => {
    const res = await get(`${projectUrl}?active=true&per_page=2&page=2`);
    expect(res.headers['x-total']).toBe('5');
    const links = parseLink(res.headers.link);
    for (const url of Object.values(links)) expect(url.searchParams.get('active')).toBe('true');
  });

  it.each([
    ['page=0', { error: 'page does not have a valid value' }],
    ['page=-1', { error: 'page does not have a valid value' }],
    ['page=abc', { error: 'page is invalid' }],
    ['page=1.5', { error: 'page is invalid' }],
    ['page=99999999999999999999', { error: 'page does not have a valid value' }],
    ['per_page=0', { error: 'per_page does not have a valid value' }],
    ['per_page=-5', { error: 'per_page does not have a valid value' }],
    ['per_page=ten', { error: 'per_page is invalid' }],
    ['active=maybe', { error: 'active is invalid' }],
  ])('%s → 400, never 500', async (query, body) => {
    for (const url of [projectUrl, `/api/v4/groups/${w.sub.id}/deploy_tokens`]) {
      const res = await get(`${url}?${query}`);
      expect({ url, status: res.status, body: res.body }).toEqual({ url, status: 400, body });
    }
    const instance = await get(`/api/v4/deploy_tokens?${query}`, w.adminToken);
    expect(instance.status).toBe(400);
    expect(instance.body).toEqual(body);
  });

  it('the group list and the instance list paginate the same way', async () => {
    const groupUrl = `/api/v4/groups/${w.sub.id}/deploy_tokens`;
    const groupIds: number[] = [];
    for (let i = 1; i <= 3; i++) {
      const res = await t.request('POST', groupUrl, { token: w.users.owner.token, body: { name: `group page ${i}`, scopes: ['read_registry'] } });
      groupIds.push(res.body.id);
    }
    const group = await get(`${groupUrl}?page=2&per_page=2`);
    expect(group.body.map((x: any) => x.id)).toEqual(groupIds.slice(2));
    expect(pageHeaders(group)).toEqual({ total: '3', totalPages: '2', page: '2', perPage: '2', next: '', prev: '1' });

    const instance = await get('/api/v4/deploy_tokens?page=2&per_page=3', w.adminToken);
    expect(instance.status).toBe(200);
    expect(instance.body.map((x: any) => x.id)).toEqual([...created, ...groupIds].slice(3, 6));
    expect(pageHeaders(instance)).toEqual({ total: '8', totalPages: '3', page: '2', perPage: '3', next: '3', prev: '1' });
    expect(parseLink(instance.headers.link).next!.pathname).toBe('/api/v4/deploy_tokens');
  });
});
