/**
 * GitLab's /oauth/authorize for people: after sign-in (the web UI's session), a consent page naming the
 * application and every scope it asks for; Authorize sends a single-use code to the registered redirect
 * URI, Deny sends access_denied. Registered in the web UI's scope (cookies, CSRF, security headers).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CsrfField, Layout, Notice, sendHtml, type PageChrome } from '../web/html.js';
import { formText } from '../web/form.js';
import { errorPage } from '../web/pages/error-pages.js';
import { requireSignIn } from '../web/web-session.js';
import type { WebContext } from '../web/web-context.js';
import type { WebPageTools } from '../web/web-tools.js';
import { OAUTH_SCOPE_DESCRIPTIONS, isOAuthScope } from './oauth-scopes.js';
import type { AuthorizationRequest } from './oauth-service.js';

function ConsentPage({ chrome, request }: { chrome: PageChrome; request: AuthorizationRequest }) {
  const hidden: Record<string, string | null> = {
    client_id: request.application.uid,
    redirect_uri: request.redirectUri,
    response_type: 'code',
    scope: request.scopes.join(' '),
    state: request.state,
    code_challenge: request.codeChallenge,
    code_challenge_method: request.codeChallengeMethod,
    nonce: request.nonce,
  };
  return (
    <Layout title="Authorize application" chrome={chrome}>
      <form method="post" action="/oauth/authorize" class="card narrow">
        <CsrfField token={chrome.csrf} />
        {Object.entries(hidden).map(([name, value]) => (value === null ? null : <input type="hidden" name={name} value={value} />))}
        <p>
          <strong>{request.application.name}</strong> wants to use your account <strong>{chrome.user?.username}</strong>.
        </p>
        <p>It asks for these scopes:</p>
        <ul class="scopes">
          {request.scopes.map((s) => (
            <li>
              <code>{s}</code> — {isOAuthScope(s) ? OAUTH_SCOPE_DESCRIPTIONS[s] : s}
            </li>
          ))}
        </ul>
        <p class="help">
          You will be sent back to <code>{request.redirectUri}</code>. Authorized applications act as you until you revoke them.
        </p>
        <button type="submit" class="primary" name="decision" value="approve">
          Authorize
        </button>{' '}
        <button type="submit" name="decision" value="deny">
          Deny
        </button>
      </form>
    </Layout>
  );
}

/** The web UI's policy, with the client's redirect origin allowed as a form target (browsers apply form-action to the redirect too). */
function consentCsp(redirectUri: string): string {
  const origin = new URL(redirectUri).origin;
  const formAction = origin === 'null' ? "'self'" : `'self' ${origin}`;
  return `default-src 'none';script-src 'self';style-src 'self';img-src 'self' data:;connect-src 'self';form-action ${formAction};frame-ancestors 'none';base-uri 'none';object-src 'none'`;
}

export function registerAuthorizePages(app: FastifyInstance, ctx: WebContext, tools: WebPageTools): void {
  const { oauth } = ctx.services;

  async function checked(request: FastifyRequest, reply: FastifyReply, params: Record<string, unknown>) {
    const check = await oauth.checkAuthorization(params);
    if (check.kind === 'page') {
      await errorPage(reply, tools.chrome(request, reply), 400, 'The authorization request was refused', `${check.error.code}: ${check.error.description}`);
      return null;
    }
    if (check.kind === 'redirect') {
      await reply.redirect(check.location, 302);
      return null;
    }
    return check.request;
  }

  app.get('/oauth/authorize', { preHandler: [requireSignIn] }, async (request, reply) => {
    const authorization = await checked(request, reply, (request.query ?? {}) as Record<string, unknown>);
    if (!authorization) return reply;
    reply.header('content-security-policy', consentCsp(authorization.redirectUri));
    return sendHtml(reply, <ConsentPage chrome={tools.chrome(request, reply)} request={authorization} />);
  });

  app.post('/oauth/authorize', { preHandler: [requireSignIn, tools.csrf] }, async (request, reply) => {
    const authorization = await checked(request, reply, (request.body ?? {}) as Record<string, unknown>);
    if (!authorization) return reply;
    const decision = formText(request, 'decision');
    if (decision === 'deny') return reply.redirect(oauth.deny(authorization), 302);
    if (decision !== 'approve') {
      return sendHtml(reply, <Layout title="Authorize application" chrome={tools.chrome(request, reply)}><Notice kind="error">Choose Authorize or Deny.</Notice></Layout>, 400);
    }
    return reply.redirect(await oauth.approve(request.webSession!.user, authorization), 302);
  });
}
