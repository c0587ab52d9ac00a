/**
 * The start page: `/` signs the signed-out in; otherwise the groups and projects one is a member of, with
 * links to their token pages, each list keyset-paged by id.
 */
import type { FastifyInstance } from 'fastify';
import { AccessLevel } from '../../namespaces/access-levels.js';
import type { PageRequest } from '../../kernel/page.js';
import { KeysetPager, Layout, TableWrap, keysetNextHref, sendHtml } from '../html.js';
import { queryAfterId } from '../form.js';
import type { WebContext } from '../web-context.js';
import type { WebPageTools } from '../web-tools.js';
import { PERSONAL_TOKENS_PATH } from './personal-tokens.js';

const PER_PAGE = 50;

/** Where each list's keyset page starts: the last id the previous page showed, null for its first page. */
interface HomeCursor {
  readonly groups: number | null;
  readonly projects: number | null;
}

const homeUrl = (c: HomeCursor) => {
  const q = new URLSearchParams();
  if (c.groups !== null) q.set('groups_after', String(c.groups));
  if (c.projects !== null) q.set('projects_after', String(c.projects));
  const query = q.toString();
  return query === '' ? '/' : `/?${query}`;
};

export function registerHomePage(app: FastifyInstance, ctx: WebContext, tools: WebPageTools): void {
  const { namespaces } = ctx.services;
  app.get('/', async (request, reply) => {
    if (!request.webSession) return reply.redirect('/users/sign_in', 303);
    const user = request.webSession.user;
    // Each list pages by id on its own (`?groups_after=`, `?projects_after=`): nothing is counted, so a
    // member of thousands of projects costs what one with ten does.
    const cursor: HomeCursor = { groups: queryAfterId(request, 'groups_after'), projects: queryAfterId(request, 'projects_after') };
    const keyset = (afterId: number | null): PageRequest => ({ page: 1, perPage: PER_PAGE, keyset: { afterId, direction: 'asc' } });
    const [projects, groups] = await Promise.all([
      namespaces.listProjects(user, { search: null, orderBy: 'id', sort: 'asc', membership: true }, keyset(cursor.projects)),
      namespaces.listGroups(user, { allAvailable: false }, keyset(cursor.groups)),
    ]);
    const levels = new Map<string, number>();
    await Promise.all([
      ...projects.items.map(async (p) => levels.set(`p${p.id}`, await namespaces.accessLevel(user, { type: 'project', project: p }))),
      ...groups.items.map(async (g) => levels.set(`g${g.id}`, await namespaces.accessLevel(user, { type: 'group', group: g }))),
    ]);
    const chrome = tools.chrome(request, reply, 'home');
    return sendHtml(
      reply,
      <Layout title="Projects and groups" chrome={chrome}>
        <p class="intro">
          {`Signed in as ${user.name} (${user.username}).`} Your own tokens: <a href={PERSONAL_TOKENS_PATH}>Access tokens</a>. Tokens about to expire: <a href="/-/expiring">What expires when</a>.
        </p>
        <h2 id="groups-heading">Groups</h2>
        {groups.items.length === 0 ? (
          <p>You are not a member of any group.</p>
        ) : (
          <TableWrap label="Groups">
            <table>
              <thead>
                <tr>
                  <th scope="col">Group</th>
                  <th scope="col">Token pages</th>
                </tr>
              </thead>
              <tbody>
                {groups.items.map((g) => {
                  const level = levels.get(`g${g.id}`) ?? 0;
                  return (
                    <tr>
                      <th scope="row">{g.fullPath}</th>
                      <td class="actions">
                        {level >= AccessLevel.OWNER && <a href={`/groups/${g.fullPath}/-/settings/access_tokens`}>Access tokens</a>}
                        {level >= AccessLevel.MAINTAINER && <a href={`/groups/${g.fullPath}/-/settings/repository`}>Deploy tokens</a>}
                        {level >= AccessLevel.OWNER && g.parentId === null && <a href={`/groups/${g.fullPath}/-/settings/service_accounts`}>Service accounts</a>}
                        {level >= AccessLevel.OWNER && <a href={`/groups/${g.fullPath}/-/settings/applications`}>Applications</a>}
                        {level < AccessLevel.MAINTAINER && <span>Maintainers manage this group's tokens.</span>}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </TableWrap>
        )}
        <KeysetPager
          label="Groups pages"
          firstHref={cursor.groups === null ? null : homeUrl({ ...cursor, groups: null })}
          nextHref={keysetNextHref(groups, (id) => homeUrl({ ...cursor, groups: id }))}
        />
        <h2 id="projects-heading">Projects</h2>
        {projects.items.length === 0 ? (
          <p>You are not a member of any project.</p>
        ) : (
          <TableWrap label="Projects">
            <table>
              <thead>
                <tr>
                  <th scope="col">Project</th>
                  <th scope="col">Token pages</th>
                </tr>
              </thead>
              <tbody>
                {projects.items.map((p) => {
                  const level = levels.get(`p${p.id}`) ?? 0;
                  return (
                    <tr>
                      <th scope="row">{p.pathWithNamespace}</th>
                      <td class="actions">
                        {level >= AccessLevel.MAINTAINER ? (
                          <>
                            <a href={`/${p.pathWithNamespace}/-/settings/access_tokens`}>Access tokens</a>
                            <a href={`/${p.pathWithNamespace}/-/settings/repository`}>Deploy tokens</a>
                          </>
                        ) : (
                          <span>Maintainers manage this project's tokens.</span>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </TableWrap>
        )}
        <KeysetPager
          label="Projects pages"
          firstHref={cursor.projects === null ? null : homeUrl({ ...cursor, projects: null })}
          nextHref={keysetNextHref(projects, (id) => homeUrl({ ...cursor, projects: id }))}
        />
      </Layout>,
    );
  });
}
