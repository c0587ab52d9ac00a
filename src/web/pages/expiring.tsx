/**
 * "What expires when" (`/-/expiring`, issue 18 item 3): everything the signed-in person may see that
 * expires within a window (default 90 days) — issued tokens of every kind from the expiring report (the
 * same service and visibility rules as `GET /api/v4/latchkey/expiring` and `latchkey expiring`) — as a
 * server-rendered SVG timeline of the next 90 days, one row per group, project or user, markers coloured
 * by urgency over the 60/30/7-day bands (no script; CSS classes only, the CSP allows no inline style),
 * and a table whose rows link to where each token is rotated.
 *
 * Other sources join through `ExpirySource`: the credential inventory (src/inventory, issue 14) adds
 * the entries due in the window, overdue ones included (see `inventorySource`). The page also hands out
 * the inventory's iCalendar feed address (src/calendar): made or reset by a form, shown once.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '../../kernel/errors.js';
import { addDays, daysUntil, utcDateOf, type UtcDate } from '../../kernel/dates.js';
import type { User } from '../../namespaces/namespace.js';
import { parseWithin, type ExpiringReport } from '../../reports/expiring-report.js';
import { COUNT_LIMIT } from '../../kernel/page.js';
import { inventoryEntryPath } from './inventory.js';
import type { ReportTokenKind, TokenNamespace } from '../../reports/token-overview-store.js';
import { CsrfField, Layout, Notice, TableWrap, sendHtml } from '../html.js';
import { queryText } from '../form.js';
import { CopyField, urgencyOf } from '../token-views.js';
import type { WebContext } from '../web-context.js';
import { requireSignIn } from '../web-session.js';
import type { WebPageTools } from '../web-tools.js';
import { PERSONAL_TOKENS_PATH } from './personal-tokens.js';

export const EXPIRING_PATH = '/-/expiring';
const FEED_TOKEN_PATH = `${EXPIRING_PATH}/feed_token`;
/** The timeline always shows this many days; the table follows the chosen window. */
export const TIMELINE_DAYS = 90;
const WINDOWS = [7, 30, 60, 90, 180, 365] as const;
const DEFAULT_WINDOW = 90;
/** Rows drawn in the picture; the rest are in the table (a picture of 500 rows helps no one). */
const MAX_TIMELINE_ROWS = 40;
/** Inventory entries listed at most (soonest first is the report's order; the inventory page has them all). */
const MAX_INVENTORY_ROWS = 500;

/** One thing that expires, whatever its source. */
export interface ExpiryRow {
  readonly source: 'token' | 'credential';
  readonly id: number;
  readonly name: string;
  /** What people call it: `deploy token`, `project access token`, … */
  readonly kindLabel: string;
  readonly scopes: readonly string[];
  readonly expiresAt: UtcDate;
  readonly daysLeft: number;
  /** The group, project or user it belongs to (the timeline's rows). */
  readonly owner: { readonly label: string; readonly key: string };
  /** Where it is rotated or replaced, and what the link says; null when no page does it (API only). */
  readonly rotate: { readonly href: string; readonly label: string } | null;
  /** Its entries in the audit log, when it has any. */
  readonly auditHref: string | null;
}

/** A source of rows for one person (issued tokens; the inventory when it lands). */
export interface ExpirySource {
  /** `within`: days, or text as the expiring report reads it (`30`, `30d`, `4w`); a bad one is its 400. */
  rows(user: User, within: number | string): Promise<ExpiryRow[]>;
}

const KIND_LABELS: Record<ReportTokenKind, string> = {
  deploy: 'deploy token',
  personal: 'personal access token',
  project: 'project access token',
  group: 'group access token',
  service_account: 'service account token',
  impersonation: 'impersonation token',
  oauth: 'OAuth access token',
};

const ownerOf = (ns: TokenNamespace) => ({ label: ns.type === 'user' ? `${ns.fullPath} (user)` : ns.type === 'group' ? `${ns.fullPath} (group)` : ns.fullPath, key: `${ns.type}:${ns.id}` });

/** The page where a token of this kind is rotated (deploy tokens cannot be: they are replaced). */
export function rotateLink(t: { id: number; kind: ReportTokenKind; namespace: TokenNamespace; userId: number | null; name: string }, viewer: User): ExpiryRow['rotate'] {
  const ns = t.namespace;
  const settings = ns.type === 'group' ? `/groups/${ns.fullPath}/-/settings` : `/${ns.fullPath}/-/settings`;
  switch (t.kind) {
    case 'deploy':
      return { href: `${settings}/repository`, label: 'Replace' };
    case 'project':
    case 'group':
      return { href: `${settings}/access_tokens/${t.id}/rotate`, label: 'Rotate' };
    case 'service_account':
      return ns.type === 'group' && t.userId !== null ? { href: `${settings}/service_accounts/${t.userId}/tokens/${t.id}/rotate`, label: 'Rotate' } : null;
    case 'personal':
      return t.userId === viewer.id ? { href: `${PERSONAL_TOKENS_PATH}/${t.id}/rotate`, label: 'Rotate' } : null;
    case 'impersonation':
    case 'oauth':
      return null;
  }
}

/** Issued tokens of every kind, through the expiring report (its visibility rules, never the page's own). */
export function issuedTokenSource(ctx: WebContext): ExpirySource {
  return {
    async rows(user, within) {
      const report: ExpiringReport = await ctx.services.expiringReport.build(user, within);
      return report.sections.flatMap((section) =>
        section.tokens.map((t): ExpiryRow => ({
          source: 'token',
          id: t.id,
          name: t.name,
          kindLabel: KIND_LABELS[t.kind],
          scopes: t.scopes,
          expiresAt: t.expiresAt,
          daysLeft: t.daysLeft,
          owner: ownerOf(section.namespace),
          rotate: rotateLink({ ...t, namespace: section.namespace }, user),
          auditHref: `/-/audit_events?token_id=${t.id}`,
        })),
      );
    },
  };
}

/**
 * The credential inventory (src/inventory): the entries the person may read (the inventory service's
 * rule: Reporter+ of the owning group, admins all) due within the window or overdue, each linking to its
 * page, where it is marked renewed. Entries that annotate an issued token come with that token already.
 */
export function inventorySource(ctx: WebContext): ExpirySource {
  return {
    async rows(user, within) {
      const days = typeof within === 'number' ? within : parseWithin(within);
      // A window the report cannot read is the issued-token source's 400.
      if (days === null) return [];
      const now = ctx.clock.now();
      // Outside credentials: Latchkey's own tokens come from the issued-token source.
      const page = await ctx.services.inventory.list(user, { source: 'outside', dueOnOrBefore: addDays(utcDateOf(now), days) }, { page: 1, perPage: MAX_INVENTORY_ROWS, countLimit: COUNT_LIMIT });
      return page.items
        .filter((c) => c.id !== null && c.owner !== null)
        .map((c): ExpiryRow => ({
          source: 'credential',
          id: c.id!,
          name: c.name,
          kindLabel: `${c.kind.replace(/_/g, ' ')} (inventory)`,
          scopes: c.scopes,
          expiresAt: c.dueOn,
          daysLeft: daysUntil(c.dueOn, now),
          owner: { label: `${c.owner!.fullPath} (group)`, key: `group:${c.owner!.id}` },
          rotate: { href: inventoryEntryPath(c.slug), label: 'Renew' },
          auditHref: null,
        }));
    },
  };
}

/** Every source this server has: issued tokens and the credential inventory. */
export function expirySources(ctx: WebContext): ExpirySource[] {
  return [issuedTokenSource(ctx), inventorySource(ctx)];
}

/** Fixed notices after a redirect: looked up, never echoed from the URL. */
const FEED_NOTICES: Record<string, string> = { feed_revoked: 'Your calendar feed address was revoked: calendars subscribed to it get nothing more.' };

/**
 * The iCalendar feed (src/calendar): the inventory's due dates, for calendar clients. Its address holds
 * a feed token, kept only as a digest, so the address is shown once, when the token is made or reset.
 */
function CalendarFeed({ feed, status, csrf }: { feed: { user: string; group: string } & { token?: string }; status: { createdAt: string; lastUsedAt: string | null } | null; csrf: string }) {
  return (
    <section class="card" aria-labelledby="feed-heading">
      <h2 id="feed-heading">Calendar feed (iCalendar)</h2>
      <p>
        Subscribe a calendar (Google, Outlook, Thunderbird, Apple) to the due dates of the inventory credentials of your groups. A group's own feed is{' '}
        <code class="url">{feed.group}</code> with the same <code>feed_token</code>.
      </p>
      {feed.token !== undefined && (
        <>
          <Notice kind="warning">Copy this address now: it holds your feed token, and you won't be able to see it again after you leave or refresh the page.</Notice>
          <div class="secret">
            <CopyField id="feed-url" label="Feed address" value={`${feed.user}?feed_token=${feed.token}`} />
          </div>
        </>
      )}
      {status && feed.token === undefined && <p>{`You have a feed address, made ${status.createdAt.slice(0, 10)}, ${status.lastUsedAt ? `last read ${status.lastUsedAt.slice(0, 10)}` : 'never read yet'}.`}</p>}
      <form method="post" action={FEED_TOKEN_PATH} class="inline">
        <CsrfField token={csrf} />
        <button type="submit">{status ? 'Reset the feed address (the old one stops working)' : 'Make a feed address'}</button>
      </form>
      {status && (
        <form method="post" action={`${FEED_TOKEN_PATH}/revoke`} class="inline">
          <CsrfField token={csrf} />
          <button type="submit" class="danger">
            Revoke the feed address
          </button>
        </form>
      )}
    </section>
  );
}

interface Group {
  readonly key: string;
  readonly label: string;
  readonly rows: ExpiryRow[];
}

/** Rows by owner, owners by their soonest expiry then name; rows by date then name. */
export function groupRows(rows: readonly ExpiryRow[]): Group[] {
  const groups = new Map<string, Group>();
  const sorted = [...rows].sort((a, b) => a.expiresAt.localeCompare(b.expiresAt) || a.name.localeCompare(b.name) || a.id - b.id);
  for (const r of sorted) {
    let g = groups.get(r.owner.key);
    if (!g) groups.set(r.owner.key, (g = { key: r.owner.key, label: r.owner.label, rows: [] }));
    g.rows.push(r);
  }
  return [...groups.values()].sort((a, b) => a.rows[0]!.expiresAt.localeCompare(b.rows[0]!.expiresAt) || a.label.localeCompare(b.label));
}

const URGENCY_TEXT = { expired: 'expired', critical: 'within 7 days', warning: 'within 30 days', notice: 'within 60 days', ok: 'later' } as const;

/** The picture: days 0..90 left to right, one row per owner, the 60/30/7-day bands behind. */
export function Timeline({ groups, today }: { groups: readonly Group[]; today: UtcDate }) {
  const labelW = 230;
  const chartW = 660;
  const rowH = 26;
  const top = 40;
  const shown = groups.slice(0, MAX_TIMELINE_ROWS);
  const height = top + Math.max(shown.length, 1) * rowH + 10;
  const x = (day: number) => Math.round((labelW + (Math.min(Math.max(day, 0), TIMELINE_DAYS) / TIMELINE_DAYS) * chartW) * 10) / 10;
  const bands: [number, number, string, string][] = [
    [0, 7, 'critical', '7 days'],
    [7, 30, 'warning', '30 days'],
    [30, 60, 'notice', '60 days'],
    [60, TIMELINE_DAYS, 'ok', '90 days'],
  ];
  const inWindow = shown.flatMap((g) => g.rows).filter((r) => r.daysLeft <= TIMELINE_DAYS);
  const count = (u: string) => inWindow.filter((r) => urgencyOf(r.daysLeft) === u).length;
  const summary = `Timeline of the next ${TIMELINE_DAYS} days from ${today}: ${inWindow.length} expiring, ${count('critical')} within 7 days, ${count('warning')} within 30, ${count('notice')} within 60. The table below lists each one.`;
  const clip = (s: string) => (s.length > 34 ? `${s.slice(0, 33)}…` : s);
  return (
    <figure class="timeline-figure">
      <svg class="timeline" viewBox={`0 0 ${labelW + chartW + 20} ${height}`} role="img" aria-labelledby="timeline-title" xmlns="http://www.w3.org/2000/svg">
        <title id="timeline-title">{summary}</title>
        {bands.map(([from, to, cls, label]) => (
          <g>
            <rect class={`band-${cls}`} x={x(from)} y={top - 6} width={x(to) - x(from)} height={height - top} />
            <text class="band-label" x={x(to) - 4} y={top - 10} text-anchor="end">{label}</text>
          </g>
        ))}
        {[0, 7, 30, 60, TIMELINE_DAYS].map((d) => (
          <g>
            <line class="axis" x1={x(d)} x2={x(d)} y1={top - 6} y2={height - 4} />
            {d !== 7 && (
              <text class="tick-label" x={x(d)} y={14} text-anchor={d === 0 ? 'start' : d === TIMELINE_DAYS ? 'end' : 'middle'}>{addDays(today, d)}</text>
            )}
          </g>
        ))}
        {shown.map((g, i) => {
          const y = top + i * rowH + rowH / 2;
          return (
            <g>
              <line class="row-line" x1={labelW} x2={labelW + chartW} y1={y} y2={y} />
              <text class="row-label" x={labelW - 8} y={y + 4} text-anchor="end">{clip(g.label)}</text>
              {g.rows
                .filter((r) => r.daysLeft <= TIMELINE_DAYS)
                .map((r) => (
                  <circle class={`marker-${urgencyOf(r.daysLeft)}`} cx={x(r.daysLeft)} cy={y} r={6}>
                    <title>{`${r.name} (${r.kindLabel}) expires ${r.expiresAt}, in ${r.daysLeft} day${r.daysLeft === 1 ? '' : 's'}`}</title>
                  </circle>
                ))}
            </g>
          );
        })}
      </svg>
      <figcaption>
        <ul class="legend" aria-label="Colours">
          <li><span class="swatch swatch-critical" aria-hidden="true" />Within 7 days</li>
          <li><span class="swatch swatch-warning" aria-hidden="true" />Within 30 days</li>
          <li><span class="swatch swatch-notice" aria-hidden="true" />Within 60 days</li>
          <li><span class="swatch swatch-ok" aria-hidden="true" />Later</li>
        </ul>
        {groups.length > MAX_TIMELINE_ROWS && <p class="help">{`The picture shows the first ${MAX_TIMELINE_ROWS} of ${groups.length} groups, projects and users; the table lists all.`}</p>}
      </figcaption>
    </figure>
  );
}

export function registerExpiringPage(app: FastifyInstance, ctx: WebContext, tools: WebPageTools): void {
  const { calendar } = ctx.services;
  const statusOf = (user: User) => calendar.status(user).catch((e: unknown) => (e instanceof DomainError && e.code === 'FEED_TOKEN_NOT_FOUND' ? null : Promise.reject(e)));

  async function render(request: FastifyRequest, reply: FastifyReply, feedToken?: string) {
    const user = request.webSession!.user;
    const raw = queryText(request, 'within');
    // Any window the report reads (`30`, `30d`, `4w`); a bad one is the report's 400, as in the API.
    const within: number | string = raw === undefined || raw === '' ? DEFAULT_WINDOW : raw;
    const rows = (await Promise.all(expirySources(ctx).map((s) => s.rows(user, within)))).flat();
    const groups = groupRows(rows);
    const today = utcDateOf(ctx.clock.now());
    const feedStatus = await statusOf(user);
    const notice = FEED_NOTICES[queryText(request, 'notice') ?? ''];
    const chosen = String(within).replace(/d$/i, '');
    const chrome = tools.chrome(request, reply, 'expiring');
    return sendHtml(
      reply,
      <Layout title="What expires when" chrome={chrome}>
        <p class="intro">
          Everything you may see that stops working soon: tokens of your projects and groups (as Maintainer or Owner), your own, and the inventory credentials of your teams that are due. Each row links to where it is rotated or renewed. The inventory's dates are also a <a href="#feed-heading">calendar feed</a>.
        </p>
        {notice && <Notice kind="success">{notice}</Notice>}
        <form method="get" action={EXPIRING_PATH} class="filters">
          <div class="field">
            <label for="expiring-within">Show what expires within</label>
            <select id="expiring-within" name="within">
              {WINDOWS.map((d) => (
                <option value={String(d)} selected={chosen === String(d)}>{`${d} days`}</option>
              ))}
            </select>
          </div>
          <button type="submit">Show</button>
        </form>
        <h2 id="timeline-heading">{`Next ${TIMELINE_DAYS} days`}</h2>
        {groups.length === 0 ? <p>Nothing you may see expires in this window.</p> : <Timeline groups={groups} today={today} />}
        <h2 id="table-heading">
          Expiring <span class="count">{rows.length}</span>
        </h2>
        {rows.length > 0 && (
          <>
            <div class="filter" hidden>
              <label for="filter-expiring">Filter</label> <input id="filter-expiring" type="search" data-filter="expiring-table" />
            </div>
            <TableWrap label="Expiring tokens">
              <table id="expiring-table" class="expiring">
                <thead>
                  <tr>
                    <th scope="col">Group, project or user</th>
                    <th scope="col">Name</th>
                    <th scope="col">Kind</th>
                    <th scope="col">Expires</th>
                    <th scope="col">Scopes</th>
                    <th scope="col">Actions</th>
                  </tr>
                </thead>
                <tbody>
                  {groups.flatMap((g) =>
                    g.rows.map((r) => {
                      const urgency = urgencyOf(r.daysLeft);
                      return (
                        <tr class={`row-${urgency}`}>
                          <td>{g.label}</td>
                          <th scope="row">{r.name}</th>
                          <td>{r.kindLabel}</td>
                          <td>
                            <span class={`urgency-${urgency}`}>{r.expiresAt}</span>{' '}
                            <span class="days">{`(${r.daysLeft > 0 ? `in ${r.daysLeft} day${r.daysLeft === 1 ? '' : 's'}` : r.daysLeft === 0 ? 'today' : `${-r.daysLeft} day${r.daysLeft === -1 ? '' : 's'} ago`}, ${URGENCY_TEXT[urgency]})`}</span>
                          </td>
                          <td>
                            {r.scopes.map((s) => (
                              <code class="scope-chip">{s}</code>
                            ))}
                          </td>
                          <td class="actions">
                            {r.rotate ? <a href={r.rotate.href} aria-label={`${r.rotate.label} ${r.name}`}>{r.rotate.label}</a> : <span class="days">API only</span>}
                            {r.auditHref && <a href={r.auditHref} aria-label={`Audit log of ${r.name}`}>Audit log</a>}
                          </td>
                        </tr>
                      );
                    }),
                  )}
                </tbody>
              </table>
            </TableWrap>
          </>
        )}
        <CalendarFeed feed={{ ...calendar.feedUrls(), token: feedToken }} status={feedStatus} csrf={chrome.csrf} />
      </Layout>,
    );
  }

  app.get(EXPIRING_PATH, { preHandler: [requireSignIn] }, render);
  // Makes or resets the feed token (the service's, as POST /latchkey/feed_token); the answer shows the address once.
  app.post(FEED_TOKEN_PATH, { preHandler: [requireSignIn, tools.csrf] }, async (request, reply) => render(request, reply, (await calendar.issue(request.webSession!.user)).token));
  app.post(`${FEED_TOKEN_PATH}/revoke`, { preHandler: [requireSignIn, tools.csrf] }, async (request, reply) => {
    const user = request.webSession!.user;
    if ((await statusOf(user)) !== null) await calendar.revoke(user);
    return reply.redirect(`${EXPIRING_PATH}?notice=feed_revoked`, 303);
  });
}
