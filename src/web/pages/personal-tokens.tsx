/** GitLab's User settings → Access tokens (`/-/user_settings/personal_access_tokens`). */
import type { FastifyInstance } from 'fastify';
import { PERSONAL_SCOPE_OPTIONS } from '../scope-help.js';
import { createTokenPages, expiryBounds, type TokenPageAdapter } from '../token-pages.js';
import { requireSignIn } from '../web-session.js';
import type { WebContext } from '../web-context.js';
import type { WebPageTools } from '../web-tools.js';
import type { User } from '../../namespaces/namespace.js';
import { notFound } from '../../kernel/errors.js';

export const PERSONAL_TOKENS_PATH = '/-/user_settings/personal_access_tokens';

export function personalTokenAdapter(ctx: WebContext, user: User): TokenPageAdapter {
  const { personalTokens, expiryPolicy } = ctx.services;
  return {
    title: 'Personal access tokens',
    kindLabel: 'personal access token',
    intro: 'You can generate a personal access token for each application you use that needs access to the Latchkey API, the registry or git over HTTP. Give each the fewest scopes it needs.',
    nav: 'tokens',
    path: PERSONAL_TOKENS_PATH,
    actionBase: PERSONAL_TOKENS_PATH,
    scopes: PERSONAL_SCOPE_OPTIONS,
    canRotate: true,
    repositoryPath: 'GROUP/PROJECT',
    async expiry() {
      const now = ctx.clock.now();
      return expiryBounds(now, await expiryPolicy.maxLifetimeDays({ now }), expiryPolicy.settings.requireExpiry);
    },
    list: (state, page) => personalTokens.list(user, { userId: user.id, state }, page),
    async create(input) {
      const r = await personalTokens.createOwn(user, { name: input.name, description: input.description, scopes: input.scopes, expiresAt: input.expiresAt ?? undefined });
      return { ...r, username: user.username };
    },
    find: (id) => personalTokens.show(user, id),
    revoke: (id) => personalTokens.revoke(user, id),
    async rotate(id, input) {
      const r = await personalTokens.rotate(user, id, input);
      return { token: r.token, secret: r.secret, username: user.username };
    },
  };
}

export function registerPersonalTokenPages(app: FastifyInstance, ctx: WebContext, tools: WebPageTools): void {
  const pages = createTokenPages(ctx, tools);
  const handler = async (request: Parameters<typeof tools.chrome>[0], reply: Parameters<typeof tools.chrome>[1]) => {
    const sub = request.url.split('?', 1)[0]!.slice(PERSONAL_TOKENS_PATH.length);
    const answered = await pages.handle(personalTokenAdapter(ctx, request.webSession!.user), request, reply, sub);
    if (answered === null) throw notFound('Not Found');
    return answered;
  };
  app.get(PERSONAL_TOKENS_PATH, { preHandler: [requireSignIn] }, handler);
  app.post(PERSONAL_TOKENS_PATH, { preHandler: [requireSignIn, tools.csrf] }, handler);
  app.get(`${PERSONAL_TOKENS_PATH}/:id/:action`, { preHandler: [requireSignIn] }, handler);
  app.post(`${PERSONAL_TOKENS_PATH}/:id/:action`, { preHandler: [requireSignIn, tools.csrf] }, handler);
}
