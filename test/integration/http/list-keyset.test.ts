/**
 * Lists at a million tokens (issue 13, item 3), as GitLab pages them: `pagination=keyset` walks a list
 * by id with only a `Link: <…>; rel="next"` (id_after ascending, id_before descending) and counts
 * nothing; an order that is not by id is GitLab's 405. Offset pages over more than 10,000 rows send no
 * X-Total, X-Total-Pages or rel="last" (the count stops there) but keep X-Page, X-Next-Page,
 * X-Prev-Page and the prev/next/first links; at 10,000 or fewer every header is there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../support/dialects.js';
import { seedWorld, startTestApp, type TestApp, type World } from '../../support/test-app.js';

function parseLink(header: unknown): Record<string, URL> {
  const out: Record<string, URL> = {};
  if (header === undefined) return out;
  for (const part of String(header).split(',')) {
    const m = /^\s*<([^>]+)>;\s*rel="([a-z]+)"\s*$/.exec(part);
    expect(m, `malformed Link part: ${part}`).not.toBeNull();
    out[m![2]!] = new URL(m![1]!);
  }
  return out;
}

describe.each(DIALECTS)('keyset pagination and bounded counts on %s', (dialect) => {
  let t: TestApp;
  let w: World;
  let projectUrl: string;
  let created: number[];

  beforeAll(async () => {
    t = await startTestApp(dialect);
    w = await seedWorld(t);
    projectUrl = `/api/v4/projects/${w.project.id}/deploy_tokens`;
    created = [];
    for (let i = 1; i <= 5; i++) {
      const res = await t.request('POST', projectUrl, { token: w.users.maintainer.token, body: { name: `keyset ${i}`, scopes: ['read_repository'] } });
      expect(res.status).toBe(201);
      created.push(res.body.id);
    }
  }, 60_000);
  afterAll(() => t?.close());

  /** Follows rel="next" from `url`; the ids of every page and the headers of each. */
  async function walk(url: string, token: string) {
    const pages: { ids: number[]; headers: Record<string, unknown> }[] = [];
    let next: string | undefined = url;
    for (let guard = 0; next && guard < 20; guard++) {
      const res = await t.request('GET', next, { token });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      pages.push({ ids: res.body.map((x: any) => x.id), headers: res.headers });
      const link = parseLink(res.headers.link).next;
      next = link ? `${link.pathname}${link.search}` : undefined;
    }
    return pages;
  }

  it('a project deploy token list, keyset: every token once, in id order, id_after in the next link, nothing counted', async () => {
    const pages = await walk(`${projectUrl}?pagination=keyset&per_page=2`, w.users.maintainer.token);
    expect(pages.map((p) => p.ids)).toEqual([created.slice(0, 2), created.slice(2, 4), created.slice(4)]);
    for (const p of pages) {
      expect(p.headers['x-total']).toBeUndefined();
      expect(p.headers['x-total-pages']).toBeUndefined();
    }
    const first = await t.request('GET', `${projectUrl}?pagination=keyset&per_page=2`, { token: w.users.maintainer.token });
    const next = parseLink(first.headers.link).next!;
    expect(Object.keys(parseLink(first.headers.link))).toEqual(['next']);
    expect(next.searchParams.get('id_after')).toBe(String(created[1]));
    expect(next.searchParams.get('pagination')).toBe('keyset');
    expect(next.searchParams.get('per_page')).toBe('2');
    // The last page has no Link at all.
    expect(pages.at(-1)!.headers.link).toBeUndefined();
  });

  it('personal access tokens, keyset in both id orders; another order is 405', async () => {
    const admin = w.adminToken;
    const all = (await t.request('GET', '/api/v4/personal_access_tokens?per_page=100', { token: admin })).body.map((x: any) => x.id) as number[];
    expect(all.length).toBeGreaterThan(3);
    const asc = await walk('/api/v4/personal_access_tokens?pagination=keyset&per_page=2', admin);
    expect(asc.flatMap((p) => p.ids)).toEqual(all);
    const desc = await walk('/api/v4/personal_access_tokens?pagination=keyset&per_page=2&sort=id_desc', admin);
    expect(desc.flatMap((p) => p.ids)).toEqual([...all].reverse());
    const firstDesc = await t.request('GET', '/api/v4/personal_access_tokens?pagination=keyset&per_page=2&sort=id_desc', { token: admin });
    expect(parseLink(firstDesc.headers.link).next!.searchParams.get('id_before')).toBe(String(all.at(-2)));

    const byName = await t.request('GET', '/api/v4/personal_access_tokens?pagination=keyset&sort=name_asc', { token: admin });
    expect(byName.status).toBe(405);
    expect(byName.body).toEqual({ message: 'Keyset pagination is not yet available for this type of request' });
    // The cursor of the other direction is a 400, never a silent full list.
    const wrong = await t.request('GET', '/api/v4/personal_access_tokens?pagination=keyset&id_before=5', { token: admin });
    expect(wrong.status).toBe(400);
    expect(wrong.body).toEqual({ error: 'id_before is invalid' });
  });

  it('project access tokens and users page by keyset too', async () => {
    const owner = w.users.owner.token;
    const url = `/api/v4/projects/${w.project.id}/access_tokens`;
    const ids: number[] = [];
    for (let i = 1; i <= 3; i++) {
      const res = await t.request('POST', url, { token: owner, body: { name: `bot ${i}`, scopes: ['read_api'], access_level: 30, expires_at: '2027-01-01' } });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      ids.push(res.body.id);
    }
    expect((await walk(`${url}?pagination=keyset&per_page=2`, owner)).map((p) => p.ids)).toEqual([ids.slice(0, 2), ids.slice(2)]);

    const users = (await t.request('GET', '/api/v4/users?per_page=100', { token: w.adminToken })).body.map((u: any) => u.id) as number[];
    const walked = await walk('/api/v4/users?pagination=keyset&per_page=3', w.adminToken);
    expect(walked.flatMap((p) => p.ids)).toEqual(users);
    expect(walked.length).toBe(Math.ceil(users.length / 3));
  });

  it('above 10,000 rows: no X-Total, X-Total-Pages or rel="last"; the next and prev pages are still linked; at 10,000 all are there', async () => {
    const db = t.app.store.db;
    const at = '2026-11-23T10:00:00.000Z';
    const row = (i: number) => ({ kind: 'deploy', name: `bulk ${i}`, description: '', digest: `bulk-digest-${i}`, project_id: w.otherProject.id, username: `bulk-${i}`, scopes: '["read_registry"]', created_at: at, impersonation: 0 });
    // 10,000 deploy tokens in the other project, plus the 5 of the first: 10,005 in the instance list.
    for (let start = 0; start < 10_000; start += 500) await db.insertInto('tokens').values(Array.from({ length: 500 }, (_, k) => row(start + k)) as any).execute();

    const counted = await t.request('GET', `/api/v4/projects/${w.otherProject.id}/deploy_tokens?per_page=100&page=100`, { token: w.adminToken });
    expect(counted.status).toBe(200);
    expect(counted.headers['x-total']).toBe('10000');
    expect(counted.headers['x-total-pages']).toBe('100');
    expect(counted.headers['x-next-page']).toBe('');
    expect(Object.keys(parseLink(counted.headers.link)).sort()).toEqual(['first', 'last', 'prev']);

    const page2 = await t.request('GET', '/api/v4/deploy_tokens?per_page=20&page=2', { token: w.adminToken });
    expect(page2.status).toBe(200);
    expect(page2.body).toHaveLength(20);
    expect(page2.headers['x-total']).toBeUndefined();
    expect(page2.headers['x-total-pages']).toBeUndefined();
    expect(page2.headers['x-page']).toBe('2');
    expect(page2.headers['x-per-page']).toBe('20');
    expect(page2.headers['x-next-page']).toBe('3');
    expect(page2.headers['x-prev-page']).toBe('1');
    const links = parseLink(page2.headers.link);
    expect(Object.keys(links).sort()).toEqual(['first', 'next', 'prev']);
    expect(links.next!.searchParams.get('page')).toBe('3');

    // The last page of 10,005 at 100 a page: rows, no next page.
    const last = await t.request('GET', '/api/v4/deploy_tokens?per_page=100&page=101', { token: w.adminToken });
    expect(last.body).toHaveLength(5);
    expect(last.headers['x-next-page']).toBe('');
    expect(Object.keys(parseLink(last.headers.link)).sort()).toEqual(['first', 'prev']);
  }, 120_000);
});
