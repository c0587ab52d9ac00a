/** GitLab's /users/sign_in and /users/sign_out, and the one-time sign-in link of `latchkey admin bootstrap`. */
import type { FastifyInstance } from 'fastify';
import { CsrfField, Layout, Notice, sendHtml, type PageChrome } from '../html.js';
import { formText, queryText } from '../form.js';
import { clearSessionCookie, requireSignIn, safeRedirectTarget, setSessionCookie } from '../web-session.js';
import type { WebContext } from '../web-context.js';
import type { WebPageTools } from '../web-tools.js';

function SignInPage({ chrome, login, redirectTo, message }: { chrome: PageChrome; login: string; redirectTo: string; message?: { kind: 'error' | 'info'; text: string } }) {
  return (
    <Layout title="Sign in" chrome={chrome}>
      {message && <Notice kind={message.kind}>{message.text}</Notice>}
      <form method="post" action="/users/sign_in" class="card narrow">
        <CsrfField token={chrome.csrf} />
        <input type="hidden" name="redirect_to" value={redirectTo} />
        <div class="field">
          <label for="user-login">Username or primary email</label>
          <input id="user-login" name="login" autoComplete="username" required value={login} autoFocus />
        </div>
        <div class="field">
          <label for="user-password">Password</label>
          <input id="user-password" name="password" type="password" autoComplete="current-password" required />
        </div>
        <button type="submit" class="primary">
          Sign in
        </button>
      </form>
      <p class="help">No password yet? An admin sets one (<code>latchkey user set-password &lt;username&gt;</code>), or signs you in once with the link <code>latchkey admin bootstrap</code> prints.</p>
    </Layout>
  );
}

export function registerSignInPages(app: FastifyInstance, ctx: WebContext, tools: WebPageTools): void {
  const { signIn, sessions } = ctx.services;
  const meta = (request: Parameters<typeof tools.chrome>[0]) => ({ ip: request.ip, userAgent: request.headers['user-agent'] ?? null });

  app.get('/users/sign_in', async (request, reply) => {
    const target = safeRedirectTarget(queryText(request, 'redirect_to')) ?? '/';
    if (request.webSession) return reply.redirect(target, 303);
    const message = queryText(request, 'expired') === '1'
      ? { kind: 'info' as const, text: 'Your session has expired. Sign in again to continue.' }
      : queryText(request, 'signed_out') === '1' ? { kind: 'info' as const, text: 'You have signed out.' } : undefined;
    return sendHtml(reply, <SignInPage chrome={tools.chrome(request, reply)} login="" redirectTo={target} message={message} />);
  });

  app.post('/users/sign_in', { preHandler: [tools.csrf] }, async (request, reply) => {
    const login = formText(request, 'login');
    const target = safeRedirectTarget(formText(request, 'redirect_to')) ?? '/';
    const result = await signIn.signInWithPassword(login, formText(request, 'password'), meta(request));
    if (result.ok) {
      setSessionCookie(request, reply, result.secret, sessions.policy.absoluteTimeoutMs, ctx.secureCookies(request));
      return reply.redirect(target, 303);
    }
    // One answer for an unknown user, a wrong password, a bot or a blocked account; a lock looks the same for all.
    const text = result.reason === 'locked'
      ? `Too many failed sign-in attempts. Try again in ${Math.ceil(result.retryAfterSeconds / 60)} minute${result.retryAfterSeconds > 60 ? 's' : ''}.`
      : 'Invalid username or password.';
    if (result.reason === 'locked') reply.header('retry-after', String(result.retryAfterSeconds));
    return sendHtml(reply, <SignInPage chrome={tools.chrome(request, reply)} login={login} redirectTo={target} message={{ kind: 'error', text }} />, result.reason === 'locked' ? 429 : 401);
  });

  app.post('/users/sign_out', { preHandler: [requireSignIn, tools.csrf] }, async (request, reply) => {
    await sessions.end(request.webSession!.session);
    clearSessionCookie(reply, ctx.secureCookies(request));
    return reply.redirect('/users/sign_in?signed_out=1', 303);
  });

  // The link's secret travels in the query string, which logs redact and the audit log never records.
  app.get('/users/sign_in/link', async (request, reply) => {
    const secret = queryText(request, 'token') ?? '';
    const user = await signIn.peekLink(secret);
    const chrome = tools.chrome(request, reply);
    if (!user) {
      return sendHtml(reply, <Layout title="Sign-in link" chrome={chrome}><Notice kind="error">This sign-in link does not work: it was used already, it expired, or it never existed. Ask an admin for a new one.</Notice></Layout>, 404);
    }
    return sendHtml(
      reply,
      <Layout title="Sign-in link" chrome={chrome}>
        <form method="post" action="/users/sign_in/link" class="card narrow">
          <CsrfField token={chrome.csrf} />
          <input type="hidden" name="token" value={secret} />
          <p>{`This one-time link signs you in as ${user.username}. It works once.`}</p>
          <button type="submit" class="primary">{`Sign in as ${user.username}`}</button>
        </form>
        <p class="help">Then set a password with <code>latchkey user set-password {user.username}</code> or ask an admin to.</p>
      </Layout>,
    );
  });

  app.post('/users/sign_in/link', { preHandler: [tools.csrf] }, async (request, reply) => {
    const result = await signIn.signInWithLink(formText(request, 'token'), meta(request));
    if (!result) {
      return sendHtml(reply, <Layout title="Sign-in link" chrome={tools.chrome(request, reply)}><Notice kind="error">This sign-in link does not work: it was used already, it expired, or it never existed.</Notice></Layout>, 404);
    }
    setSessionCookie(request, reply, result.secret, sessions.policy.absoluteTimeoutMs, ctx.secureCookies(request));
    return reply.redirect('/', 303);
  });
}
