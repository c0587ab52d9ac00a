/**
 * Pages below a project or group, at GitLab's URLs: `/<project path>/-/settings/access_tokens`,
 * `/<project path>/-/settings/repository` (deploy tokens), and the same under `/groups/<group path>/`,
 * plus `/groups/<group path>/-/settings/service_accounts` and each account's tokens, and
 * `/groups/<group path>/-/settings/applications` (oauth-group-applications.tsx). A path may have any
 * number of segments, so these share one catch-all route that reads the path itself. Anything else it
 * catches is a 404 (JSON under /api/, as the API's own not-found answer).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AccessLevel, VALID_ACCESS_LEVELS } from '../../namespaces/access-levels.js';
import type { Group, Resource, User } from '../../namespaces/namespace.js';
import { notFound } from '../../kernel/errors.js';
import { CsrfField, KeysetPager, Layout, Notice, TableWrap, keysetNextHref, sendHtml } from '../html.js';
import { formText, queryAfterId } from '../form.js';
import { DEPLOY_SCOPE_OPTIONS, PERSONAL_SCOPE_OPTIONS, RESOURCE_SCOPE_OPTIONS } from '../scope-help.js';
import { createTokenPages, expiryBounds, TABLE_PAGE_SIZE, type TokenPageAdapter } from '../token-pages.js';
import { requireSignIn } from '../web-session.js';
import { errorText, type WebPageTools } from '../web-tools.js';
import type { WebContext } from '../web-context.js';
import { notFoundPage } from './error-pages.js';
import { answerUnrouted } from '../../http/openapi.js';
import { createGroupApplicationPages } from './oauth-group-applications.js';

const PAGE_RE = /^\/(groups\/)?([^?]+?)\/-\/settings\/(access_tokens|repository|service_accounts|applications)(\/[^?]*)?$/;

const resourcePath = (r: Resource) => (r.type === 'project' ? `/${r.project.pathWithNamespace}` : `/groups/${r.group.fullPath}`);
const resourceName = (r: Resource) => (r.type === 'project' ? r.project.pathWithNamespace : r.group.fullPath);

export function registerNamespacePages(app: FastifyInstance, ctx: WebContext, tools: WebPageTools): void {
  const { namespaces, resourceTokens, deployTokens, serviceAccounts, expiryPolicy } = ctx.services;
  const pages = createTokenPages(ctx, tools);
  const groupApplications = createGroupApplicationPages(ctx, tools);

  async function resolve(user: User, isGroup: boolean, path: string): Promise<Resource> {
    if (isGroup) return { type: 'group', group: (await namespaces.findGroup(user, path)).group };
    return { type: 'project', project: (await namespaces.findProject(user, path)).project };
  }

  /** The group chain whose stricter token lifetime applies to tokens of this resource. */
  async function chainOf(user: User, r: Resource): Promise<readonly number[]> {
    if (r.type === 'group') return r.group.ancestorIds;
    return (await namespaces.findGroup(user, String(r.project.groupId)).catch(() => null))?.group.ancestorIds ?? [];
  }

  async function accessTokenAdapter(user: User, r: Resource): Promise<TokenPageAdapter> {
    const base = `${resourcePath(r)}/-/settings/access_tokens`;
    const level = await namespaces.accessLevel(user, r);
    const what = r.type === 'project' ? 'project' : 'group';
    return {
      title: `${what === 'project' ? 'Project' : 'Group'} access tokens · ${resourceName(r)}`,
      kindLabel: `${what} access token`,
      intro: `Generate ${what} access tokens scoped to ${resourceName(r)} for your applications that need access to the Latchkey API, the registry or git. Each token gets its own bot user, a member with the role you choose.`,
      nav: 'home',
      path: base,
      actionBase: base,
      scopes: RESOURCE_SCOPE_OPTIONS,
      roles: VALID_ACCESS_LEVELS.filter((l) => l <= level),
      canRotate: true,
      repositoryPath: r.type === 'project' ? r.project.pathWithNamespace : `${r.group.fullPath}/PROJECT`,
      async expiry() {
        const now = ctx.clock.now();
        return expiryBounds(now, await expiryPolicy.maxLifetimeDays({ now, groupIds: await chainOf(user, r) }), expiryPolicy.settings.requireExpiry);
      },
      list: (state, page) => resourceTokens.list(user, r, { state }, page),
      async create(input) {
        const created = await resourceTokens.create(user, r, { name: input.name, description: input.description, scopes: input.scopes, accessLevel: input.accessLevel ?? AccessLevel.GUEST, expiresAt: input.expiresAt ?? undefined });
        return { token: created.token, secret: created.secret, username: created.bot.username };
      },
      find: (id) => resourceTokens.show(user, r, id),
      revoke: (id) => resourceTokens.revoke(user, r, id),
      async rotate(id, input) {
        const rotated = await resourceTokens.rotate(user, r, id, input);
        const bot = rotated.token.userId === null ? null : await namespaces.findUser(user, rotated.token.userId);
        return { token: rotated.token, secret: rotated.secret, username: bot?.username ?? 'bot' };
      },
    };
  }

  function deployTokenAdapter(user: User, r: Resource): TokenPageAdapter {
    const base = `${resourcePath(r)}/-/settings/repository`;
    return {
      title: `Deploy tokens · ${resourceName(r)}`,
      kindLabel: 'deploy token',
      intro: r.type === 'project'
        ? 'Deploy tokens give access to packages, the repository and the registry images of this project, and to nothing else: no API.'
        : 'Group deploy tokens give access to the packages, repositories and registry images of every project in this group and its subgroups.',
      nav: 'home',
      path: base,
      actionBase: `${base}/deploy_tokens`,
      scopes: DEPLOY_SCOPE_OPTIONS,
      withUsername: true,
      withDescription: false,
      canRotate: false,
      repositoryPath: r.type === 'project' ? r.project.pathWithNamespace : `${r.group.fullPath}/PROJECT`,
      async expiry() {
        return expiryBounds(ctx.clock.now(), null, false);
      },
      list: (state, page) => deployTokens.list(user, r, { state }, page),
      async create(input) {
        const created = await deployTokens.create(user, r, { name: input.name, scopes: input.scopes, expiresAt: input.expiresAt ?? undefined, username: input.username || undefined });
        return { token: created.token, secret: created.secret, username: created.token.username ?? '' };
      },
      find: (id) => deployTokens.show(user, r, id),
      revoke: (id) => deployTokens.remove(user, r, id),
      rotate: () => Promise.reject(notFound('Not Found')),
    };
  }

  function serviceAccountTokenAdapter(user: User, group: Group, account: User): TokenPageAdapter {
    const base = `/groups/${group.fullPath}/-/settings/service_accounts/${account.id}`;
    return {
      title: `Service account ${account.username}`,
      kindLabel: 'service account token',
      intro: `Personal access tokens of the service account ${account.username}, owned by ${group.fullPath}. They act with the memberships the account is given.`,
      nav: 'home',
      path: base,
      actionBase: `${base}/tokens`,
      scopes: PERSONAL_SCOPE_OPTIONS,
      canRotate: true,
      repositoryPath: `${group.fullPath}/PROJECT`,
      header: (
        <p>
          <a href={`/groups/${group.fullPath}/-/settings/service_accounts`}>All service accounts of {group.fullPath}</a>
        </p>
      ),
      async expiry() {
        const now = ctx.clock.now();
        return expiryBounds(now, await expiryPolicy.maxLifetimeDays({ now, groupIds: group.ancestorIds }), expiryPolicy.settings.requireExpiry);
      },
      list: (state, page) => serviceAccounts.listTokens(user, group, account.id, { state }, page),
      async create(input) {
        const created = await serviceAccounts.createToken(user, group, account.id, { name: input.name, description: input.description, scopes: input.scopes, expiresAt: input.expiresAt ?? undefined });
        return { ...created, username: account.username };
      },
      find: (id) => serviceAccounts.showToken(user, group, account.id, id),
      revoke: (id) => serviceAccounts.revokeToken(user, group, account.id, id),
      async rotate(id, input) {
        const rotated = await serviceAccounts.rotateToken(user, group, account.id, id, input);
        return { token: rotated.token, secret: rotated.secret, username: account.username };
      },
    };
  }

  async function serviceAccountsList(request: FastifyRequest, reply: FastifyReply, user: User, group: Group, error?: string, values?: { name: string; username: string }) {
    // Keyset pages by id: nothing counts every account.
    const afterId = queryAfterId(request);
    const accounts = await serviceAccounts.list(user, group, { by: 'id', direction: 'asc' }, { page: 1, perPage: TABLE_PAGE_SIZE, keyset: { afterId, direction: 'asc' } });
    const chrome = tools.chrome(request, reply, 'home');
    const base = `/groups/${group.fullPath}/-/settings/service_accounts`;
    return sendHtml(
      reply,
      <Layout title={`Service accounts · ${group.fullPath}`} chrome={chrome}>
        <p class="intro">Service accounts are users owned by this group for automation that belongs to the team, not to a person. Give one memberships like a person, then tokens.</p>
        <section class="card" aria-labelledby="create-account-heading">
          <h2 id="create-account-heading">Add a service account</h2>
          {error && <Notice kind="error">{error}</Notice>}
          <form method="post" action={base}>
            <CsrfField token={chrome.csrf} />
            <div class="field">
              <label for="account-name">Name</label>
              <input id="account-name" name="name" maxLength={255} value={values?.name ?? ''} />
            </div>
            <div class="field">
              <label for="account-username">
                Username <span class="optional">(optional)</span>
              </label>
              <input id="account-username" name="username" maxLength={255} value={values?.username ?? ''} />
            </div>
            <button type="submit" class="primary">
              Create service account
            </button>
          </form>
        </section>
        <h2 id="accounts-heading">Service accounts</h2>
        {accounts.items.length === 0 ? (
          <p>This group has no service accounts.</p>
        ) : (
          <TableWrap label="Service accounts">
            <table>
              <thead>
                <tr>
                  <th scope="col">Username</th>
                  <th scope="col">Name</th>
                  <th scope="col">State</th>
                  <th scope="col">Tokens</th>
                </tr>
              </thead>
              <tbody>
                {accounts.items.map((a) => (
                  <tr>
                    <th scope="row">{a.username}</th>
                    <td>{a.name}</td>
                    <td>{a.state}</td>
                    <td>
                      <a href={`${base}/${a.id}`} aria-label={`Tokens of ${a.username}`}>Manage tokens</a>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        )}
        <KeysetPager label="Service accounts pages" firstHref={afterId === null ? null : base} nextHref={keysetNextHref(accounts, (id) => `${base}?after=${id}`)} />
      </Layout>,
      error ? 400 : 200,
    );
  }

  async function dispatch(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const path = request.url.split('?', 1)[0]!;
    if (path.startsWith('/api/')) {
      request.webRoute = { route: '(unmatched)', surface: 'api' };
      return answerUnrouted(request.server.routeMethods, request, reply);
    }
    const m = PAGE_RE.exec(path);
    if (!m) {
      request.webRoute = { route: '(unmatched)', surface: 'ui' };
      // A browser gets the page; a script that asked for anything but HTML (a wrong base URL, a typo) gets GitLab's JSON.
      if (!acceptsHtml(request)) return reply.status(404).send({ error: '404 Not Found' });
      return notFoundPage(reply, tools.chrome(request, reply));
    }
    // The pattern, never the path (bounded label values; no names in metrics).
    request.webRoute = { route: `${m[1] ? '/groups/:group' : '/:project'}/-/settings/${m[3]}${(m[4] ?? '').replace(/\/[0-9]+/g, '/:id')}`, surface: 'ui' };
    await requireSignIn(request, reply);
    if (reply.sent) return reply;
    if (request.method === 'POST') {
      await new Promise<void>((resolvePromise, reject) => tools.csrf(request, reply, (err) => (err ? reject(err) : resolvePromise())));
      if (reply.sent) return reply;
    }
    const user = request.webSession!.user;
    const isGroup = m[1] !== undefined;
    let nsPath: string;
    try {
      nsPath = decodeURIComponent(m[2]!);
    } catch {
      return notFoundPage(reply, tools.chrome(request, reply));
    }
    const section = m[3]!;
    const sub = m[4] ?? '';
    const resource = await resolve(user, isGroup, nsPath);
    let answered: FastifyReply | null = null;
    if (section === 'access_tokens') answered = await pages.handle(await accessTokenAdapter(user, resource), request, reply, sub);
    else if (section === 'repository') answered = await pages.handle(deployTokenAdapter(user, resource), request, reply, sub);
    else if (section === 'applications') answered = resource.type === 'group' ? await groupApplications(request, reply, user, resource.group, sub) : null;
    else if (resource.type === 'group') {
      const group = resource.group;
      if (sub === '' || sub === '/') {
        if (request.method !== 'POST') return serviceAccountsList(request, reply, user, group);
        const values = { name: formText(request, 'name').trim(), username: formText(request, 'username').trim() };
        try {
          const account = await serviceAccounts.create(user, group, { name: values.name || undefined, username: values.username || undefined });
          return reply.redirect(`/groups/${group.fullPath}/-/settings/service_accounts/${account.id}`, 303);
        } catch (e) {
          return serviceAccountsList(request, reply, user, group, errorText(e), values);
        }
      }
      const am = /^\/([0-9]{1,10})(\/.*)?$/.exec(sub);
      if (am) {
        const account = await serviceAccounts.show(user, group, Number(am[1]));
        answered = await pages.handle(serviceAccountTokenAdapter(user, group, account), request, reply, am[2] ?? '');
      }
    }
    if (answered === null) return notFoundPage(reply, tools.chrome(request, reply));
    return answered;
  }

  app.route({ method: ['GET', 'POST'], url: '/*', handler: dispatch });
}

/** Whether the client names text/html in its Accept header (browsers do; curl, python-gitlab and gitbeaker do not). */
function acceptsHtml(request: FastifyRequest): boolean {
  const accept = request.headers.accept;
  return typeof accept === 'string' && /(^|,)\s*text\/html\s*(;|,|$)/i.test(accept);
}
