/**
 * `GET /api/v4/latchkey/git/auth`: the nginx `auth_request` endpoint for git over HTTP (docs/nginx-git.conf).
 * nginx forwards the client's `Authorization` header and sets `X-Original-URI` ($request_uri),
 * `X-Original-Method` ($request_method) and `X-Real-IP` ($remote_addr). Public to the API's token
 * plugin: the credential is judged here, by protocols/git/git-access.ts.
 *
 * Answers, for nginx: 200 allows (the user git should see as REMOTE_USER is in `X-Latchkey-User`,
 * empty for an anonymous fetch of a public project);
 * 401 carries `WWW-Authenticate: Basic` (nginx copies it, so git retries with its credentials);
 * 403 refuses an authenticated request; 404 is an unknown project or one the token may not see
 * (nginx turns every other status into a 500 unless told otherwise; the snippet passes 404 on).
 */
import { isIP } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { GitAccess, GitAccessOutcome, GitRefusal } from '../../protocols/git/git-access.js';

export const GIT_AUTH_PATH = '/latchkey/git/auth';
export const GIT_REALM = 'Latchkey';

// GitLab's texts (Repositories::GitHttpClientController, Gitlab::GitAccess::ERROR_MESSAGES).
const DENIED = { message: 'HTTP Basic: Access denied' };
const PROJECT_NOT_FOUND = { message: "The project you were looking for could not be found or you don't have permission to view it." };
const REFUSED: Record<GitRefusal, string> = {
  auth_download: 'You are not allowed to download code.',
  auth_upload: 'You are not allowed to upload code.',
  download: 'You are not allowed to download code from this project.',
  push: 'You are not allowed to push code to this project.',
};

const header = (request: FastifyRequest, name: string): string | undefined => {
  const v = request.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/** The client's address as nginx saw it (`X-Real-IP`); trusted only here, where nginx is the only expected caller. */
export function gitClientIp(realIp: string | string[] | undefined, socketIp: string): string {
  const real = (Array.isArray(realIp) ? realIp[0] : realIp)?.trim();
  return real && isIP(real) ? real : socketIp;
}

/** The body of an allowed answer (the user is also in `X-Latchkey-User`). */
export function gitAllowedBody(result: Extract<GitAccessOutcome, { outcome: 'allowed' }>): { username: string; project: string; operation: 'fetch' | 'push' } {
  return { username: result.remoteUser, project: result.project.pathWithNamespace, operation: result.operation === 'read' ? 'fetch' : 'push' };
}

export function registerGitAuthRoute(app: FastifyInstance, gitAccess: GitAccess): void {
  // Counted when answered ('after-handler'): the handler verifies the credential; anonymous tries
  // count against the git client's address as nginx reports it, not against nginx's.
  app.get(GIT_AUTH_PATH, { config: { public: true, rateLimit: 'after-handler' }, schema: { hide: true } }, async (request, reply) => {
    request.clientIp = gitClientIp(request.headers['x-real-ip'], request.ip);
    const originalUri = header(request, 'x-original-uri');
    const originalMethod = header(request, 'x-original-method');
    if (!originalUri) return reply.status(400).send({ error: 'X-Original-URI header is missing' });
    if (!originalMethod) return reply.status(400).send({ error: 'X-Original-Method header is missing' });

    const result = await gitAccess.check({
      authorization: header(request, 'authorization'),
      originalUri,
      originalMethod,
      context: { ip: request.clientIp, userAgent: header(request, 'user-agent') ?? null, endpoint: `${originalMethod} ${originalUri.split('?', 1)[0]}` },
    });
    // Whoever authenticated, allowed or not, is on the request for the audit log.
    if (result.outcome === 'unauthenticated') {
      // Known but not working (expired, revoked, wrong username): the audit log names it.
      if (result.token) request.presentedToken = result.token;
    } else if ('token' in result && result.token) {
      request.authToken = result.token;
      if (result.user) request.actor = result.user;
    }
    switch (result.outcome) {
      case 'allowed':
        return reply
          .header('x-latchkey-user', result.remoteUser)
          .send(gitAllowedBody(result));
      case 'unauthenticated':
        return reply.status(401).header('www-authenticate', `Basic realm="${GIT_REALM}"`).send(DENIED);
      case 'forbidden':
        return reply.status(403).send({ message: REFUSED[result.reason] });
      case 'not_found':
        return reply.status(404).send(PROJECT_NOT_FOUND);
      case 'not_git':
        return reply.status(404).send({ message: '404 Not Found' });
    }
  });
}
