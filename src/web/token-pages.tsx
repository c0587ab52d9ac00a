/**
 * One handler for every token page (personal, project, group, deploy, service-account tokens): list,
 * create (the secret shown once, in the answer to the form post), and the revoke and rotate
 * confirmations. A page supplies an adapter of service calls; the rules are the services'.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ComponentChildren } from 'preact';
import { addDays, utcDateOf, type UtcDate } from '../kernel/dates.js';
import { parseDurationSeconds } from '../kernel/duration.js';
import type { Page, PageRequest } from '../kernel/page.js';
import type { Token } from '../tokens/token.js';
import { Layout, Notice, keysetNextHref, sendHtml, type PageChrome } from './html.js';
import { formList, formText, queryAfterId, queryText } from './form.js';
import type { ScopeOption } from './scope-help.js';
import { snippetsFor } from './snippets.js';
import {
  ActiveTokensTable,
  ConfirmRevoke,
  ConfirmRotate,
  CreateTokenForm,
  InactiveTokensTable,
  NewSecretPanel,
  type CreateFormModel,
  type NewSecret,
} from './token-views.js';
import { errorText, type WebPageTools } from './web-tools.js';
import type { WebContext } from './web-context.js';

export const TABLE_PAGE_SIZE = 50;

export interface ExpiryBounds {
  readonly min: UtcDate;
  readonly max: UtcDate | null;
  readonly default: UtcDate | '';
  readonly required: boolean;
}

export interface CreateInput {
  name: string;
  description: string;
  scopes: string[];
  expiresAt: string | null;
  accessLevel?: number;
  username?: string;
}

export interface TokenPageAdapter {
  readonly title: string;
  readonly kindLabel: string;
  readonly intro: ComponentChildren;
  readonly nav: PageChrome['nav'];
  /** The page's URL; the create form posts here. */
  readonly path: string;
  /** `${actionBase}/${id}/revoke|rotate` */
  readonly actionBase: string;
  readonly scopes: readonly ScopeOption[];
  readonly roles?: readonly number[];
  readonly withUsername?: boolean;
  readonly withDescription?: boolean;
  readonly canRotate: boolean;
  /** For git clone snippets. */
  readonly repositoryPath: string;
  /** Sections shown above the token tables (e.g. the service account's name). */
  readonly header?: ComponentChildren;
  expiry(): Promise<ExpiryBounds>;
  list(state: 'active' | 'inactive', page: PageRequest): Promise<Page<Token>>;
  create(input: CreateInput): Promise<{ token: Token; secret: string; username: string }>;
  find(id: number): Promise<Token>;
  revoke(id: number): Promise<void>;
  rotate(id: number, input: { expiresAt: string; gracePeriodSeconds?: number }): Promise<{ token: Token; secret: string; username: string }>;
}

const NOTICES: Record<string, string> = {
  revoked: 'The token was revoked.',
};

/** Bounds of the date picker: tomorrow to the policy's maximum, 30 days by default. */
export function expiryBounds(now: Date, maxDays: number | null, required: boolean): ExpiryBounds {
  const today = utcDateOf(now);
  const max = maxDays === null ? null : addDays(today, maxDays);
  const thirty = addDays(today, 30);
  return { min: addDays(today, 1), max, default: max !== null && max < thirty ? max : thirty, required };
}

export function createTokenPages(ctx: WebContext, tools: WebPageTools) {
  const now = () => ctx.clock.now();

  async function render(a: TokenPageAdapter, request: FastifyRequest, reply: FastifyReply, extra: { created?: NewSecret; values?: CreateFormModel['values']; error?: string; status?: number } = {}) {
    const activeAfter = queryAfterId(request, 'after');
    const inactiveAfter = queryAfterId(request, 'inactive_after');
    // Keyset pages in id order, as the API's `pagination=keyset`: no page counts every token.
    const keyset = (afterId: number | null): PageRequest => ({ page: 1, perPage: TABLE_PAGE_SIZE, keyset: { afterId, direction: 'asc' } });
    const [active, inactive, expiry] = await Promise.all([a.list('active', keyset(activeAfter)), a.list('inactive', keyset(inactiveAfter)), a.expiry()]);
    // Where each listed token is configured: its chain's inventory row (one batch for the page).
    const placements = await ctx.services.inventory.tokenFields(active.items);
    const notice = NOTICES[queryText(request, 'notice') ?? ''];
    const paging = (page: Page<Token>, param: string, current: number | null) => ({
      nextHref: keysetNextHref(page, (id) => `${a.path}?${param}=${id}`),
      firstHref: current === null ? null : a.path,
    });
    const at = now();
    const chrome = tools.chrome(request, reply, a.nav);
    const form: CreateFormModel = {
      action: a.path,
      kindLabel: a.kindLabel,
      scopes: a.scopes,
      roles: a.roles,
      withUsername: a.withUsername,
      withDescription: a.withDescription,
      expiry,
      values: extra.values,
      error: extra.error,
    };
    return sendHtml(
      reply,
      <Layout title={a.title} chrome={chrome}>
        {a.header}
        <p class="intro">{a.intro}</p>
        {notice && <Notice kind="success">{notice}</Notice>}
        {extra.created && <NewSecretPanel created={extra.created} />}
        <CreateTokenForm model={form} csrf={chrome.csrf} />
        <ActiveTokensTable
          title={`Active ${a.kindLabel}s`}
          model={{ tokens: active.items, now: at, actionBase: a.actionBase, canRotate: a.canRotate, withRole: a.roles !== undefined, withUsername: a.withUsername, placements, ...paging(active, 'after', activeAfter) }}
        />
        <InactiveTokensTable
          title={`Inactive ${a.kindLabel}s`}
          model={{ tokens: inactive.items, now: at, actionBase: a.actionBase, canRotate: false, withRole: a.roles !== undefined, ...paging(inactive, 'inactive_after', inactiveAfter) }}
        />
      </Layout>,
      extra.status ?? 200,
    );
  }

  function newSecret(a: TokenPageAdapter, request: FastifyRequest, r: { token: Token; secret: string; username: string }, verb: string): NewSecret {
    const baseUrl = ctx.baseUrl(request);
    return {
      heading: `Your ${verb} ${a.kindLabel}`,
      secret: r.secret,
      username: a.withUsername ? r.username : undefined,
      snippets: snippetsFor({
        secret: r.secret,
        username: r.username,
        scopes: r.token.scopes,
        deploy: r.token.kind === 'deploy',
        baseUrl,
        registryHost: new URL(baseUrl).host,
        repositoryPath: a.repositoryPath,
      }),
    };
  }

  function readCreateInput(a: TokenPageAdapter, request: FastifyRequest): CreateInput {
    const level = formText(request, 'access_level');
    const expires = formText(request, 'expires_at').trim();
    return {
      name: formText(request, 'name'),
      description: formText(request, 'description'),
      scopes: formList(request, 'scopes'),
      expiresAt: expires === '' ? null : expires,
      accessLevel: a.roles && /^[0-9]{1,3}$/.test(level) ? Number(level) : undefined,
      username: a.withUsername ? formText(request, 'username').trim() : undefined,
    };
  }

  return {
    render,

    /** Dispatches `sub` (the URL below the page): '' (list, create), `/<id>/revoke`, `/<id>/rotate`. Null when `sub` is none of them. */
    async handle(a: TokenPageAdapter, request: FastifyRequest, reply: FastifyReply, sub: string): Promise<FastifyReply | null> {
      const post = request.method === 'POST';
      if (sub === '' || sub === '/') {
        if (!post) return render(a, request, reply);
        const input = readCreateInput(a, request);
        try {
          const created = await a.create(input);
          return render(a, request, reply, { created: newSecret(a, request, created, 'new') });
        } catch (e) {
          const values = { name: input.name, description: input.description, scopes: input.scopes, expiresAt: input.expiresAt ?? '', accessLevel: input.accessLevel, username: input.username };
          // A form with no scope ticked is GitLab's "At least one scope is required." (the services say "scopes is missing").
          const error = input.scopes.length === 0 ? 'At least one scope is required.' : errorText(e);
          return render(a, request, reply, { values, error, status: 400 });
        }
      }
      const relative = sub.startsWith(a.actionBase.slice(a.path.length)) ? sub.slice(a.actionBase.length - a.path.length) : null;
      const m = relative === null ? null : /^\/([0-9]{1,10})\/(revoke|rotate)$/.exec(relative);
      if (!m) return null;
      const id = Number(m[1]);
      const action = m[2] as 'revoke' | 'rotate';
      if (action === 'rotate' && !a.canRotate) return null;
      const token = await a.find(id);
      const chrome = tools.chrome(request, reply, a.nav);
      const actionUrl = `${a.actionBase}/${id}/${action}`;
      if (action === 'revoke') {
        if (!post) return sendHtml(reply, <Layout title={a.title} chrome={chrome}><ConfirmRevoke token={token} action={actionUrl} back={a.path} csrf={chrome.csrf} /></Layout>);
        await a.revoke(id);
        return reply.redirect(`${a.path}?notice=revoked`, 303);
      }
      const bounds = await a.expiry();
      const rotationDefault = addDays(utcDateOf(now()), 7);
      const expiry = { min: bounds.min, max: bounds.max, default: bounds.max !== null && bounds.max < rotationDefault ? bounds.max : rotationDefault };
      if (!post) return sendHtml(reply, <Layout title={a.title} chrome={chrome}><ConfirmRotate token={token} action={actionUrl} back={a.path} csrf={chrome.csrf} expiry={expiry} /></Layout>);
      const graceText = formText(request, 'grace_period').trim();
      const grace = graceText === '' ? undefined : parseDurationSeconds(graceText);
      try {
        if (grace === null) throw new Error('grace period');
        const rotated = await a.rotate(id, { expiresAt: formText(request, 'expires_at'), gracePeriodSeconds: grace });
        return render(a, request, reply, { created: newSecret(a, request, rotated, 'rotated') });
      } catch (e) {
        const error = grace === null ? 'The grace period is not a duration.' : errorText(e);
        return sendHtml(reply, <Layout title={a.title} chrome={chrome}><ConfirmRotate token={token} action={actionUrl} back={a.path} csrf={chrome.csrf} expiry={expiry} error={error} /></Layout>, 400);
      }
    },
  };
}
