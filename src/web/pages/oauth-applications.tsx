/**
 * GitLab's User settings → Applications (`/-/user_settings/applications`): the OAuth2 applications a user
 * registers (the client secret shown once, renewable) and, below, the applications the user authorised,
 * each revocable — its access and refresh tokens stop at once. Same services as the API; no rules here.
 * A group's Settings → Applications (oauth-group-applications.tsx) is these pages over the group's
 * applications, without the authorized list.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { OAuthApplication } from '../../oauth/application.js';
import type { ApplicationReach } from '../../oauth/application-service.js';
import { OAUTH_SCOPES, OAUTH_SCOPE_DESCRIPTIONS } from '../../oauth/oauth-scopes.js';
import { DomainError, notFound } from '../../kernel/errors.js';
import { formList, formText, queryText } from '../form.js';
import { CsrfField, Layout, Notice, sendHtml, TableWrap, type NavKey, type PageChrome } from '../html.js';
import { formatInstant, NewSecretPanel } from '../token-views.js';
import { requireSignIn } from '../web-session.js';
import type { WebContext } from '../web-context.js';
import { errorText, type WebPageTools } from '../web-tools.js';

export const APPLICATIONS_PATH = '/-/user_settings/applications';

/** Fixed notices after a redirect: looked up, never echoed from the URL. */
const NOTICES: Record<string, string> = {
  deleted: 'The application was deleted: its grants and tokens stopped working.',
  revoked: 'The authorization was revoked: that application can no longer act as you.',
};

interface FormValues {
  readonly name?: string;
  readonly redirectUri?: string;
  readonly scopes?: readonly string[];
  readonly confidential?: boolean;
}

/** Whose applications a page shows, and its words: the user's own page or a group's. */
export interface ApplicationsScope {
  readonly reach: ApplicationReach;
  /** The page's path; its forms post below it. */
  readonly base: string;
  readonly title: string;
  readonly intro: string;
  readonly listHeading: string;
  readonly emptyText: string;
  readonly nav: NavKey;
  /** The user's page also lists the applications the user authorised. */
  readonly withAuthorized: boolean;
}

export const OWN_APPLICATIONS: ApplicationsScope = {
  reach: 'own',
  base: APPLICATIONS_PATH,
  title: 'Applications',
  intro: 'Manage the applications that use Latchkey as an OAuth provider, and those you have authorized to use your account.',
  listHeading: 'Your applications',
  emptyText: 'You have no applications.',
  nav: 'applications',
  withAuthorized: true,
};

interface PageModel {
  readonly scope: ApplicationsScope;
  readonly applications: readonly OAuthApplication[];
  readonly authorized?: readonly { grant: { id: number; scopes: readonly string[]; createdAt: string; flow: string }; applicationName: string }[];
  readonly created?: { application: OAuthApplication; secret: string };
  readonly notice?: string;
  readonly error?: string;
  readonly values?: FormValues;
}

function NewApplicationForm({ action, csrf, error, values = {} }: { action: string; csrf: string; error?: string; values?: FormValues }) {
  const checked = new Set(values.scopes ?? []);
  return (
    <section class="card" aria-labelledby="new-app-heading">
      <h2 id="new-app-heading">Add new application</h2>
      {error && <Notice kind="error">{error}</Notice>}
      <form method="post" action={action} class="token-form">
        <CsrfField token={csrf} />
        <div class="field">
          <label for="app-name">Name</label>
          <input id="app-name" name="name" required maxLength={255} value={values.name ?? ''} autoComplete="off" />
        </div>
        <div class="field">
          <label for="app-redirect">Redirect URI</label>
          <textarea id="app-redirect" name="redirect_uri" required rows={2} maxLength={4096} aria-describedby="app-redirect-help">
            {values.redirectUri ?? ''}
          </textarea>
          <p id="app-redirect-help" class="help">
            Use one line per URI. A request's redirect URI must equal one of them exactly.
          </p>
        </div>
        <div class="field scope">
          <input type="checkbox" id="app-confidential" name="confidential" value="1" checked={values.confidential ?? true} aria-describedby="app-confidential-help" />
          <label for="app-confidential">Confidential</label>
          <p id="app-confidential-help" class="help">
            The application keeps its secret on a server. Leave unchecked for mobile, desktop and single-page apps: they must use PKCE instead.
          </p>
        </div>
        <fieldset class="field scopes">
          <legend>Scopes</legend>
          {OAUTH_SCOPES.map((s) => (
            <div class="scope">
              <input type="checkbox" id={`scope-${s}`} name="scopes[]" value={s} checked={checked.has(s)} aria-describedby={`scope-${s}-help`} />
              <label for={`scope-${s}`}>
                <code>{s}</code>
              </label>
              <p id={`scope-${s}-help`} class="help">
                {OAUTH_SCOPE_DESCRIPTIONS[s]}
              </p>
            </div>
          ))}
        </fieldset>
        <button type="submit" class="primary">Save application</button>
      </form>
    </section>
  );
}

function PostButton({ action, csrf, label, danger = false }: { action: string; csrf: string; label: string; danger?: boolean }) {
  return (
    <form method="post" action={action} class="inline">
      <CsrfField token={csrf} />
      <button type="submit" class={danger ? 'danger link' : 'link'}>
        {label}
      </button>
    </form>
  );
}

function ColumnHeads({ names }: { names: readonly string[] }) {
  return (
    <thead>
      <tr>
        {names.map((n) => (
          <th scope="col">{n}</th>
        ))}
      </tr>
    </thead>
  );
}

function ScopeChips({ scopes }: { scopes: readonly string[] }) {
  return (
    <td>
      {scopes.map((s) => (
        <code class="scope-chip">{s}</code>
      ))}
    </td>
  );
}

function ApplicationsPage({ chrome, model }: { chrome: PageChrome; model: PageModel }) {
  const csrf = chrome.csrf;
  const { scope } = model;
  return (
    <Layout title={scope.title} chrome={chrome}>
      <p>{scope.intro}</p>
      {model.notice && <Notice kind="success">{model.notice}</Notice>}
      {model.created && (
        <>
          <section class="card" aria-labelledby="app-id-heading">
            <h2 id="app-id-heading">{`Application: ${model.created.application.name}`}</h2>
            <p>
              Application ID: <code id="new-application-id">{model.created.application.uid}</code>
            </p>
          </section>
          <NewSecretPanel created={{ heading: 'Secret', secret: model.created.secret, snippets: [] }} />
        </>
      )}
      <NewApplicationForm action={scope.base} csrf={csrf} error={model.error} values={model.values} />
      <section class="card" aria-labelledby="own-apps-heading">
        <h2 id="own-apps-heading">{scope.listHeading}</h2>
        {model.applications.length === 0 ? (
          <p>{scope.emptyText}</p>
        ) : (
          <TableWrap label={scope.listHeading}>
            <table>
              <ColumnHeads names={['Name', 'Application ID', 'Callback URL', 'Scopes', 'Confidential', 'Actions']} />
              <tbody>
                {model.applications.map((a) => (
                  <tr>
                    <th scope="row">{a.name}</th>
                    <td>
                      <code>{a.uid}</code>
                    </td>
                    <td>
                      {a.redirectUris.map((u) => (
                        <div>
                          <code>{u}</code>
                        </div>
                      ))}
                    </td>
                    <ScopeChips scopes={a.scopes} />
                    <td>{a.confidential ? 'Yes' : 'No'}</td>
                    <td class="actions">
                      <PostButton action={`${scope.base}/${a.id}/renew`} csrf={csrf} label={`Renew secret of ${a.name}`} />
                      <PostButton action={`${scope.base}/${a.id}/delete`} csrf={csrf} label={`Delete ${a.name}`} danger />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        )}
      </section>
      {model.authorized && (
      <section class="card" aria-labelledby="authorized-heading">
        <h2 id="authorized-heading">Authorized applications</h2>
        {model.authorized.length === 0 ? (
          <p>You have not authorized any application to use your account.</p>
        ) : (
          <TableWrap label="Authorized applications">
            <table>
              <ColumnHeads names={['Name', 'Authorized', 'Scopes', 'Actions']} />
              <tbody>
                {model.authorized.map((a) => (
                  <tr>
                    <th scope="row">{a.applicationName}</th>
                    <td>{formatInstant(a.grant.createdAt)}</td>
                    <ScopeChips scopes={a.grant.scopes} />
                    <td class="actions">
                      <PostButton action={`${APPLICATIONS_PATH}/authorized/${a.grant.id}/revoke`} csrf={csrf} label={`Revoke ${a.applicationName}`} danger />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        )}
      </section>
      )}
    </Layout>
  );
}

/** The id in a path segment: anything else is a page that does not exist. */
function idOf(raw: string): number {
  if (!/^[0-9]{1,10}$/.test(raw) || Number(raw) > 2147483647) throw notFound('Not Found');
  return Number(raw);
}
const idParam = (request: FastifyRequest) => idOf((request.params as { id?: string }).id ?? '');

/**
 * The application pages of one scope: list and register (`base`), renew a secret and delete
 * (`base/:id/renew|delete`). The caller has checked sign-in and, for a POST, the CSRF token.
 */
export function createApplicationPages(ctx: WebContext, tools: WebPageTools) {
  const { oauthApplications, oauth } = ctx.services;

  async function render(scope: ApplicationsScope, request: FastifyRequest, reply: FastifyReply, extra: Omit<PageModel, 'scope' | 'applications' | 'authorized'>, status = 200) {
    const user = request.webSession!.user;
    const [applications, authorized] = await Promise.all([oauthApplications.list(user, scope.reach), scope.withAuthorized ? oauth.authorizedApplications(user) : undefined]);
    return sendHtml(reply, <ApplicationsPage chrome={tools.chrome(request, reply, scope.nav)} model={{ scope, applications, authorized, ...extra }} />, status);
  }

  const show = (scope: ApplicationsScope, request: FastifyRequest, reply: FastifyReply) => render(scope, request, reply, { notice: NOTICES[queryText(request, 'notice') ?? ''] });

  async function create(scope: ApplicationsScope, request: FastifyRequest, reply: FastifyReply) {
    const values: FormValues = { name: formText(request, 'name'), redirectUri: formText(request, 'redirect_uri'), scopes: formList(request, 'scopes'), confidential: formText(request, 'confidential') === '1' };
    try {
      const created = await oauthApplications.create(request.webSession!.user, { name: values.name, redirectUri: values.redirectUri, scopes: values.scopes, confidential: values.confidential }, scope.reach);
      return await render(scope, request, reply, { created });
    } catch (e) {
      // Bad input is shown on the form; a group the user may not manage is the 404 page.
      if (!(e instanceof DomainError) || e.kind !== 'invalid') throw e;
      return render(scope, request, reply, { error: errorText(e), values }, 400);
    }
  }

  const renew = async (scope: ApplicationsScope, request: FastifyRequest, reply: FastifyReply, id: number) =>
    render(scope, request, reply, { created: await oauthApplications.renewSecret(request.webSession!.user, id, scope.reach) });

  async function remove(scope: ApplicationsScope, request: FastifyRequest, reply: FastifyReply, id: number) {
    await oauthApplications.remove(request.webSession!.user, id, scope.reach);
    return reply.redirect(`${scope.base}?notice=deleted`, 303);
  }

  /** Answers `sub` (the path below `base`), or null when it names no application page. */
  async function handle(scope: ApplicationsScope, request: FastifyRequest, reply: FastifyReply, sub: string): Promise<FastifyReply | null> {
    if (sub === '' || sub === '/') return request.method === 'POST' ? create(scope, request, reply) : show(scope, request, reply);
    const m = /^\/([^/]+)\/(renew|delete)$/.exec(sub);
    if (!m || request.method !== 'POST') return null;
    return m[2] === 'renew' ? renew(scope, request, reply, idOf(m[1]!)) : remove(scope, request, reply, idOf(m[1]!));
  }

  return { show, create, renew, remove, handle };
}

export function registerOAuthApplicationPages(app: FastifyInstance, ctx: WebContext, tools: WebPageTools): void {
  const { oauth } = ctx.services;
  const pages = createApplicationPages(ctx, tools);
  const scope = OWN_APPLICATIONS;

  app.get(APPLICATIONS_PATH, { preHandler: [requireSignIn] }, (request, reply) => pages.show(scope, request, reply));
  app.post(APPLICATIONS_PATH, { preHandler: [requireSignIn, tools.csrf] }, (request, reply) => pages.create(scope, request, reply));
  app.post(`${APPLICATIONS_PATH}/:id/renew`, { preHandler: [requireSignIn, tools.csrf] }, (request, reply) => pages.renew(scope, request, reply, idParam(request)));
  app.post(`${APPLICATIONS_PATH}/:id/delete`, { preHandler: [requireSignIn, tools.csrf] }, (request, reply) => pages.remove(scope, request, reply, idParam(request)));

  app.post(`${APPLICATIONS_PATH}/authorized/:id/revoke`, { preHandler: [requireSignIn, tools.csrf] }, async (request, reply) => {
    await oauth.revokeAuthorization(request.webSession!.user, idParam(request));
    return reply.redirect(`${APPLICATIONS_PATH}?notice=revoked`, 303);
  });
}
