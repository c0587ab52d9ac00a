/**
 * Admin pages (issue 18 item 6), for admins only (anyone else gets the 404 page):
 * - `/admin/token`, "Is this value one of ours?": a pasted value is looked up as `POST /api/v4/admin/token`
 *   does (a Latchkey token of any kind, an OAuth2 refresh token by its grant, or an outside credential
 *   fingerprinted in the inventory), and a Latchkey token can be revoked from there by the rule of
 *   `DELETE /api/v4/admin/token` (an OAuth2 token ends its whole grant). The value is
 *   only posted, never put in a URL; the answer page is not cached.
 * - `/admin/users`: the users, keyset-paged by id as `GET /api/v4/users?pagination=keyset`; create one,
 *   block and unblock, give or take the admin flag, through the account service the API calls.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ComponentChildren } from 'preact';
import { accessLevelName } from '../../namespaces/access-levels.js';
import type { User } from '../../namespaces/namespace.js';
import { forbidden } from '../../kernel/errors.js';
import { describePlacement } from '../../inventory/credential.js';
import { isActiveAt, isRevokedAt, kindLabelOf } from '../../tokens/token.js';
import { lookUpValue, revokeValue, type DescribedGrant, type ValueMatch } from '../../tokens/value-lookup.js';
import { CsrfField, KeysetPager, Layout, Notice, TableWrap, keysetNextHref, sendHtml, type PageChrome } from '../html.js';
import { formText, queryAfterId, queryText } from '../form.js';
import { formatInstant } from '../token-views.js';
import type { WebContext } from '../web-context.js';
import { requireSignIn } from '../web-session.js';
import { errorText, type WebPageTools } from '../web-tools.js';
import { inventoryEntryPath } from './inventory.js';

export const ADMIN_TOKEN_PATH = '/admin/token';
export const ADMIN_USERS_PATH = '/admin/users';
const USERS_PER_PAGE = 50;

/** preHandler after requireSignIn: admins only; the error handler shows anyone else the 404 page. */
async function requireAdmin(request: FastifyRequest): Promise<void> {
  if (!request.webSession?.user.isAdmin) throw forbidden();
}

const adminOnly = { preHandler: [requireSignIn, requireAdmin] };

function LookupForm({ csrf }: { csrf: string }) {
  return (
    <form method="post" action={ADMIN_TOKEN_PATH} class="card" aria-label="Look up a value">
      <CsrfField token={csrf} />
      <div class="field">
        <label for="lookup-value">Token or secret value</label>
        <input id="lookup-value" name="token" type="password" required maxLength={10000} autoComplete="off" spellcheck={false} aria-describedby="lookup-help" />
        <p id="lookup-help" class="help">
          Paste a value found in a log, a commit or a chat. It is only hashed to look it up, never stored or logged. Outside credentials are found when their value was fingerprinted in the inventory.
        </p>
      </div>
      <button type="submit" class="primary">Look it up</button>
    </form>
  );
}

/** The revoke button of a match: the value goes back in a hidden field, as the service revokes by value. */
function RevokeValueForm({ csrf, value, what }: { csrf: string; value: string; what: string }) {
  return (
    <form method="post" action={`${ADMIN_TOKEN_PATH}/revoke`}>
      <CsrfField token={csrf} />
      <input type="hidden" name="token" value={value} />
      <p>{`Revoking stops ${what} at once, on every node. This cannot be undone.`}</p>
      <button type="submit" class="danger">Revoke this token</button>
    </form>
  );
}

/** The OAuth2 grant a token belongs to: its application and whether the grant still works. */
function GrantFacts({ grant: { grant, application } }: { grant: DescribedGrant }) {
  return (
    <>
      <dt>OAuth2 application</dt>
      <dd>{`${application.name} (${grant.flow.replace(/_/g, ' ')} grant #${grant.id})`}</dd>
      <dt>Grant</dt>
      <dd>{grant.revokedAt === null ? 'Active' : `Revoked${grant.revokeReason ? ` (${grant.revokeReason.replace(/_/g, ' ')})` : ''}`}</dd>
    </>
  );
}

function OAuthRefreshMatch({ match, csrf, value }: { match: Extract<ValueMatch, { type: 'oauth_refresh' }>; csrf: string; value: string }) {
  const { grant, user } = match.grant;
  return (
    <section class="card" aria-labelledby="match-heading">
      <h2 id="match-heading">Yes: a Latchkey OAuth2 refresh token</h2>
      <dl class="facts">
        <dt>User</dt>
        <dd>{user ? user.username : `#${grant.userId}`}</dd>
        <GrantFacts grant={match.grant} />
        <dt>Scopes</dt>
        <dd>{grant.scopes.join(', ')}</dd>
        <dt>Created</dt>
        <dd>{formatInstant(grant.createdAt)}</dd>
      </dl>
      {grant.revokedAt === null && <RevokeValueForm csrf={csrf} value={value} what="its whole OAuth2 grant (the access tokens too)" />}
    </section>
  );
}

function TokenMatch({ match, where, now, csrf, value }: { match: Extract<ValueMatch, { type: 'token' }>; where: { label: string; href: string | null } | null; now: Date; csrf: string; value: string }) {
  const { token: t, owner } = match;
  const active = isActiveAt(t, now);
  const state = isRevokedAt(t, now) ? `Revoked${t.revokeReason ? ` (${t.revokeReason.replace('_', ' ')})` : ''}` : active ? 'Active' : 'Expired';
  return (
    <section class="card" aria-labelledby="match-heading">
      <h2 id="match-heading">{`Yes: Latchkey ${kindLabelOf(t, owner?.botKind ?? null).replace(/_/g, ' ')} token "${t.name}"`}</h2>
      <dl class="facts">
        <dt>State</dt>
        <dd>{state}</dd>
        <dt>Token id</dt>
        <dd>
          <a href={`/-/audit_events?token_id=${t.id}`} aria-label={`Audit log of token ${t.id}`}>{`#${t.id}`}</a>
        </dd>
        <dt>{t.kind === 'deploy' ? 'Username' : 'User'}</dt>
        <dd>{t.kind === 'deploy' ? (t.username ?? '') : owner ? `${owner.username}${owner.botKind ? ' (bot)' : ''}` : ''}</dd>
        {where && (
          <>
            <dt>Belongs to</dt>
            <dd>{where.href ? <a href={where.href}>{where.label}</a> : where.label}</dd>
          </>
        )}
        {match.grant && <GrantFacts grant={match.grant} />}
        <dt>Scopes</dt>
        <dd>{t.scopes.join(', ')}</dd>
        {t.accessLevel !== null && (
          <>
            <dt>Role</dt>
            <dd>{accessLevelName(t.accessLevel)}</dd>
          </>
        )}
        <dt>Created</dt>
        <dd>{formatInstant(t.createdAt)}</dd>
        <dt>Last used</dt>
        <dd>{`${formatInstant(t.lastUsedAt)}${t.lastUsedIps.length > 0 ? ` from ${t.lastUsedIps.join(', ')}` : ''}`}</dd>
        <dt>Expires</dt>
        <dd>{t.expiresAt ?? 'Never'}</dd>
      </dl>
      {!isRevokedAt(t, now) && <RevokeValueForm csrf={csrf} value={value} what={match.grant ? 'its whole OAuth2 grant (the refresh token too)' : 'this token'} />}
    </section>
  );
}

function InventoryMatch({ match }: { match: Extract<ValueMatch, { type: 'inventory' }> }) {
  return (
    <section class="card" aria-labelledby="match-heading">
      <h2 id="match-heading">Yes: an outside credential in the inventory</h2>
      <p>Latchkey did not issue it, so it cannot revoke it: renew it at its provider, update every placement, then mark it renewed.</p>
      {match.credentials.map((c) => (
        <div>
          <h3>
            <a href={inventoryEntryPath(c.slug)}>{c.name}</a> <span class="days">{`${c.kind}, owned by ${c.owner.fullPath}`}</span>
          </h3>
          {c.placements.length === 0 ? (
            <p>No placements recorded.</p>
          ) : (
            <ul>
              {c.placements.map((p) => (
                <li>{describePlacement(p)}</li>
              ))}
            </ul>
          )}
        </div>
      ))}
    </section>
  );
}

export function registerAdminPages(app: FastifyInstance, ctx: WebContext, tools: WebPageTools): void {
  const { adminTokens, inventory, oauth, namespaces, accounts } = ctx.services;

  app.get('/admin', adminOnly, async (_request, reply) => reply.redirect(ADMIN_TOKEN_PATH, 303));

  const tokenPage = (chrome: PageChrome, body: ComponentChildren) => (
    <Layout title="Is this value one of ours?" chrome={chrome}>
      <p class="intro">
        The leak response: find out what a token is from its value alone, and revoke it. Also: <a href={ADMIN_USERS_PATH}>Users</a>.
      </p>
      {body}
      <LookupForm csrf={chrome.csrf} />
    </Layout>
  );

  /** Where a token belongs: its project's or group's token page, or its user. */
  async function whereOf(actor: User, match: Extract<ValueMatch, { type: 'token' }>): Promise<{ label: string; href: string | null } | null> {
    const t = match.token;
    const page = t.kind === 'deploy' ? 'repository' : 'access_tokens';
    if (t.projectId !== null) {
      const p = await namespaces.findProject(actor, String(t.projectId)).catch(() => null);
      return p ? { label: `project ${p.project.pathWithNamespace}`, href: `/${p.project.pathWithNamespace}/-/settings/${page}` } : { label: `project ${t.projectId}`, href: null };
    }
    if (t.groupId !== null) {
      const g = await namespaces.findGroup(actor, String(t.groupId)).catch(() => null);
      return g ? { label: `group ${g.group.fullPath}`, href: `/groups/${g.group.fullPath}/-/settings/${page}` } : { label: `group ${t.groupId}`, href: null };
    }
    return null;
  }

  app.get(ADMIN_TOKEN_PATH, adminOnly, async (request, reply) => {
    const chrome = tools.chrome(request, reply, 'admin');
    const revoked = queryText(request, 'notice') === 'revoked';
    return sendHtml(reply, tokenPage(chrome, revoked && <Notice kind="success">The token was revoked.</Notice>));
  });

  app.post(ADMIN_TOKEN_PATH, { preHandler: [requireSignIn, requireAdmin, tools.csrf] }, async (request, reply) => {
    const actor = request.webSession!.user;
    const value = formText(request, 'token').trim();
    const chrome = tools.chrome(request, reply, 'admin');
    let match: ValueMatch;
    try {
      match = await lookUpValue({ adminTokens, inventory, oauth }, actor, value);
    } catch (e) {
      const unknown = (e as { code?: string }).code === 'TOKEN_NOT_FOUND';
      const text = unknown ? 'No: this value is not a Latchkey token, and no inventory entry has its fingerprint.' : errorText(e);
      return sendHtml(reply, tokenPage(chrome, <Notice kind={unknown ? 'info' : 'error'}>{text}</Notice>), unknown ? 200 : 400);
    }
    const body =
      match.type === 'token' ? (
        <TokenMatch match={match} where={await whereOf(actor, match)} now={ctx.clock.now()} csrf={chrome.csrf} value={value} />
      ) : match.type === 'oauth_refresh' ? (
        <OAuthRefreshMatch match={match} csrf={chrome.csrf} value={value} />
      ) : (
        <InventoryMatch match={match} />
      );
    return sendHtml(reply, tokenPage(chrome, body));
  });

  app.post(`${ADMIN_TOKEN_PATH}/revoke`, { preHandler: [requireSignIn, requireAdmin, tools.csrf] }, async (request, reply) => {
    await revokeValue({ adminTokens, oauth }, request.webSession!.user, formText(request, 'token').trim());
    return reply.redirect(`${ADMIN_TOKEN_PATH}?notice=revoked`, 303);
  });

  const USER_NOTICES: Record<string, string> = {
    created: 'The user was created.',
    block: 'The user was blocked: their tokens and web sessions stopped working.',
    unblock: 'The user was unblocked.',
    admin: 'The user is now an administrator.',
    unadmin: 'The user is no longer an administrator; their web sessions were ended.',
  };

  async function usersPage(request: FastifyRequest, reply: FastifyReply, extra: { error?: string; values?: Record<string, string>; status?: number } = {}) {
    const actor = request.webSession!.user;
    const afterId = queryAfterId(request);
    const page = await namespaces.listUsers(actor, { page: 1, perPage: USERS_PER_PAGE, keyset: { afterId, direction: 'asc' } });
    const chrome = tools.chrome(request, reply, 'admin');
    const notice = USER_NOTICES[queryText(request, 'notice') ?? ''];
    const v = extra.values ?? {};
    const action = (u: User, verb: string, label: string, danger = false) => (
      <form method="post" action={`${ADMIN_USERS_PATH}/${u.id}/${verb}`} class="inline">
        <CsrfField token={chrome.csrf} />
        <button type="submit" class={danger ? 'danger' : undefined} aria-label={`${label}: ${u.username}`}>
          {label}
        </button>
      </form>
    );
    return sendHtml(
      reply,
      <Layout title="Users" chrome={chrome}>
        <p class="intro">
          People who sign in and own tokens, and the bots of project, group and service-account tokens. A blocked user's tokens and sessions stop working at once. Also: <a href={ADMIN_TOKEN_PATH}>Is this value one of ours?</a>
        </p>
        {notice && <Notice kind="success">{notice}</Notice>}
        <TableWrap label="Users">
          <table class="users">
            <thead>
              <tr>
                <th scope="col">Username</th>
                <th scope="col">Name and e-mail</th>
                <th scope="col">State</th>
                <th scope="col">Created</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((u) => (
                <tr>
                  <th scope="row">
                    {u.username}
                    {u.isAdmin && <div class="badge">admin</div>}
                    {u.botKind && <div class="days">{u.botKind.replace(/_/g, ' ')}</div>}
                  </th>
                  <td>
                    {u.name}
                    {u.email && <div class="days">{u.email}</div>}
                  </td>
                  <td>{u.state}</td>
                  <td>{u.createdAt.slice(0, 10)}</td>
                  <td class="actions">
                    {u.id !== actor.id && (u.state === 'blocked' ? action(u, 'unblock', 'Unblock') : action(u, 'block', 'Block', true))}
                    {u.botKind === null && u.id !== actor.id && (u.isAdmin ? action(u, 'unadmin', 'Remove admin') : action(u, 'admin', 'Make admin'))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
        <KeysetPager
          label="Users pages"
          firstHref={afterId === null ? null : ADMIN_USERS_PATH}
          nextHref={keysetNextHref(page, (id) => `${ADMIN_USERS_PATH}?after=${id}`)}
        />
        <section class="card" aria-labelledby="new-user-heading">
          <h2 id="new-user-heading">New user</h2>
          {extra.error && <Notice kind="error">{extra.error}</Notice>}
          <form method="post" action={ADMIN_USERS_PATH}>
            <CsrfField token={chrome.csrf} />
            <div class="field">
              <label for="user-username">Username</label>
              <input id="user-username" name="username" required maxLength={255} autoComplete="off" value={v.username ?? ''} />
            </div>
            <div class="field">
              <label for="user-name">Name</label>
              <input id="user-name" name="name" required maxLength={255} autoComplete="off" value={v.name ?? ''} />
            </div>
            <div class="field">
              <label for="user-email">E-mail</label>
              <input id="user-email" name="email" type="email" required maxLength={255} autoComplete="off" value={v.email ?? ''} />
            </div>
            <div class="field">
              <label for="user-password">
                Password <span class="optional">(optional: without one, set it later with <code>latchkey user set-password</code>)</span>
              </label>
              <input id="user-password" name="password" type="password" minLength={8} maxLength={128} autoComplete="new-password" />
            </div>
            <div class="field scope">
              <input type="checkbox" id="user-admin" name="admin" value="true" checked={v.admin === 'true'} />
              <label for="user-admin">Administrator</label>
            </div>
            <button type="submit" class="primary">Create user</button>
          </form>
        </section>
      </Layout>,
      extra.status ?? 200,
    );
  }

  app.get(ADMIN_USERS_PATH, adminOnly, (request, reply) => usersPage(request, reply));

  app.post(ADMIN_USERS_PATH, { preHandler: [requireSignIn, requireAdmin, tools.csrf] }, async (request, reply) => {
    const values = { username: formText(request, 'username').trim(), name: formText(request, 'name').trim(), email: formText(request, 'email').trim(), admin: formText(request, 'admin') };
    const password = formText(request, 'password');
    try {
      await accounts.create(request.webSession!.user, { username: values.username, name: values.name, email: values.email, password: password === '' ? undefined : password, admin: values.admin === 'true' });
    } catch (e) {
      return usersPage(request, reply, { error: errorText(e), values, status: 400 });
    }
    return reply.redirect(`${ADMIN_USERS_PATH}?notice=created`, 303);
  });

  const USER_ACTIONS = {
    block: (actor: User, id: number) => accounts.block(actor, id),
    unblock: (actor: User, id: number) => accounts.unblock(actor, id),
    admin: (actor: User, id: number) => accounts.update(actor, id, { admin: true }),
    unadmin: (actor: User, id: number) => accounts.update(actor, id, { admin: false }),
  } as const;

  app.post<{ Params: { id: string; action: string } }>(`${ADMIN_USERS_PATH}/:id/:action`, { preHandler: [requireSignIn, requireAdmin, tools.csrf] }, async (request, reply) => {
    const { id, action } = request.params;
    const run = Object.hasOwn(USER_ACTIONS, action) ? USER_ACTIONS[action as keyof typeof USER_ACTIONS] : null;
    if (run === null || !/^[0-9]{1,10}$/.test(id)) return reply.callNotFound();
    try {
      await run(request.webSession!.user, Number(id));
    } catch (e) {
      if ((e as { kind?: string }).kind === 'not_found') throw e;
      return usersPage(request, reply, { error: errorText(e), status: 400 });
    }
    return reply.redirect(`${ADMIN_USERS_PATH}?notice=${action}`, 303);
  });
}
