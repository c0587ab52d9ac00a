/**
 * GitLab's /oauth/authorize for people: after sign-in (the web UI's session), a consent page naming the
 * application and every scope it asks for; Authorize sends a single-use code to the registered redirect
 * URI, Deny sends access_denied. And /oauth/device, where a person enters the user code a device shows
 * (RFC 8628) and authorizes it the same way. Registered in the web UI's scope (cookies, CSRF, security headers).
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
        <DecisionButtons />
      </form>
    </Layout>
  );
}

function ScopeList({ scopes }: { scopes: readonly string[] }) {
  return (
    <ul class="scopes">
      {scopes.map((s) => (
        <li>
          <code>{s}</code> — {isOAuthScope(s) ? OAUTH_SCOPE_DESCRIPTIONS[s] : s}
        </li>
      ))}
    </ul>
  );
}

function DeviceCodePage({ chrome, error }: { chrome: PageChrome; error?: string }) {
  return (
    <Layout title="Connect a device" chrome={chrome}>
      {error && <Notice kind="error">{error}</Notice>}
      <form method="post" action="/oauth/device" class="card narrow">
        <CsrfField token={chrome.csrf} />
        <div class="field">
          <label for="user-code">Code shown on your device</label>
          <input id="user-code" name="user_code" required autoComplete="off" autoFocus />
        </div>
        <button type="submit" class="primary">Continue</button>
      </form>
    </Layout>
  );
}

function DeviceConsentPage({ chrome, name, scopes, userCode }: { chrome: PageChrome; name: string; scopes: readonly string[]; userCode: string }) {
  return (
    <Layout title="Authorize device" chrome={chrome}>
      <form method="post" action="/oauth/device" class="card narrow">
        <CsrfField token={chrome.csrf} />
        <input type="hidden" name="user_code" value={userCode} />
        <p>
          A device running <strong>{name}</strong> wants to use your account <strong>{chrome.user?.username}</strong>. It asks for these scopes:
        </p>
        <ScopeList scopes={scopes} />
        <p class="help">Authorize only if you started this on your own device and it shows the same code.</p>
        <DecisionButtons />
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

  const INVALID_CODE = 'That code is not valid, or it has expired or been used. Start again on your device.';

  app.get('/oauth/device', { preHandler: [requireSignIn] }, async (request, reply) => {
    const typed = typeof (request.query as Record<string, unknown>)?.user_code === 'string' ? String((request.query as Record<string, unknown>).user_code) : '';
    if (typed === '') return sendHtml(reply, <DeviceCodePage chrome={tools.chrome(request, reply)} />);
    const pending = await oauth.pendingDevice(typed);
    if (!pending) return sendHtml(reply, <DeviceCodePage chrome={tools.chrome(request, reply)} error={INVALID_CODE} />, 400);
    return sendHtml(reply, <DeviceConsentPage chrome={tools.chrome(request, reply)} name={pending.application.name} scopes={pending.device.scopes} userCode={pending.userCode} />);
  });

  app.post('/oauth/device', { preHandler: [requireSignIn, tools.csrf] }, async (request, reply) => {
    const typed = formText(request, 'user_code');
    const decision = formText(request, 'decision');
    const chrome = tools.chrome(request, reply);
    if (decision !== 'approve' && decision !== 'deny') {
      const pending = await oauth.pendingDevice(typed);
      if (!pending) return sendHtml(reply, <DeviceCodePage chrome={chrome} error={INVALID_CODE} />, 400);
      return sendHtml(reply, <DeviceConsentPage chrome={chrome} name={pending.application.name} scopes={pending.device.scopes} userCode={pending.userCode} />);
    }
    if (!(await oauth.decideDevice(request.webSession!.user, typed, decision === 'approve'))) return sendHtml(reply, <DeviceCodePage chrome={chrome} error={INVALID_CODE} />, 400);
    const text = decision === 'approve' ? 'The device is authorized. You can return to it now.' : 'The device was denied access.';
    return sendHtml(reply, <Layout title="Connect a device" chrome={chrome}><Notice kind="success">{text}</Notice></Layout>);
  });
}

/** The consent forms' two answers, posted as `decision`. */
function DecisionButtons() {
  return (
    <>
      <button type="submit" class="primary" name="decision" value="approve">
        Authorize
      </button>{' '}
      <button type="submit" name="decision" value="deny">
        Deny
      </button>
    </>
  );
}
