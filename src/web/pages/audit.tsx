/**
 * The audit log page (`/-/audit_events`, issue 18 item 5): the filters `GET /api/v4/latchkey/audit_events`
 * has (token, actor, event, status, project or group, time range), newest first, keyset paging through
 * the service's opaque cursor. It calls the same audit service, so who sees what is the service's rule:
 * an admin everything, a project or group Owner the entries of what they own, anyone else nothing.
 * Token tables link here with `?token_id=`; each entry's token links to that token's entries.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { presentAuditEvent, type AuditQuery } from '../../audit/audit-service.js';
import type { AuditRow } from '../../audit/audit-entry.js';
import { DomainError, invalidParam } from '../../kernel/errors.js';
import { Layout, Notice, TableWrap, sendHtml } from '../html.js';
import { queryText } from '../form.js';
import { formatInstant } from '../token-views.js';
import type { WebContext } from '../web-context.js';
import { requireSignIn } from '../web-session.js';
import { errorText, type WebPageTools } from '../web-tools.js';

export const AUDIT_PATH = '/-/audit_events';
const PER_PAGE = 50;
export const AUDIT_EVENTS = ['http.request', 'token.created', 'token.rotated', 'token.revoked', 'token.expiring', 'token.expired', 'token.reuse_attempt', 'token.reuse_detected', 'token.reuse_flagged'] as const;

/** The filter fields, as the form and the query string name them (the API's names). */
const FIELDS = ['token_id', 'actor', 'event', 'status', 'project', 'group', 'created_after', 'created_before'] as const;
type Filters = Partial<Record<(typeof FIELDS)[number], string>>;

function filtersOf(request: FastifyRequest): Filters {
  const f: Filters = {};
  for (const name of FIELDS) {
    const v = queryText(request, name)?.trim();
    if (v) f[name] = v.slice(0, 2048);
  }
  return f;
}

/** `datetime-local` gives `2026-11-23T10:00` without a zone: the form says UTC, so it is read as UTC. */
const asUtc = (text: string) => (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(text) ? `${text}Z` : text);

/** Form values to the service's query; a number field that is not one is the same 400 the API gives. */
function auditQuery(f: Filters, cursor: string | undefined): AuditQuery {
  const int = (name: string, text: string | undefined, min: number, max: number): number | undefined => {
    if (text === undefined) return undefined;
    const n = /^[0-9]{1,10}$/.test(text) ? Number(text) : NaN;
    if (!(n >= min && n <= max)) throw invalidParam(`${name} is invalid`);
    return n;
  };
  return {
    tokenId: int('token_id', f.token_id, 1, 2_147_483_647),
    actor: f.actor,
    event: f.event,
    status: int('status', f.status, 100, 599),
    project: f.project,
    group: f.group,
    createdAfter: f.created_after === undefined ? undefined : asUtc(f.created_after),
    createdBefore: f.created_before === undefined ? undefined : asUtc(f.created_before),
    cursor,
    perPage: PER_PAGE,
  };
}

const auditUrl = (f: Filters, extra: Record<string, string> = {}) => {
  const q = new URLSearchParams({ ...(f as Record<string, string>), ...extra }).toString();
  return q ? `${AUDIT_PATH}?${q}` : AUDIT_PATH;
};

function Details({ row }: { row: AuditRow }) {
  const details = presentAuditEvent(row).details as Record<string, unknown>;
  const entries = Object.entries(details ?? {}).filter(([, v]) => v !== null && v !== undefined);
  if (entries.length === 0) return null;
  return (
    <dl class="facts compact">
      {entries.slice(0, 8).map(([k, v]) => (
        <>
          <dt>{k}</dt>
          <dd>{typeof v === 'string' ? v : JSON.stringify(v)}</dd>
        </>
      ))}
    </dl>
  );
}

function FilterForm({ f }: { f: Filters }) {
  const text = (name: keyof Filters, label: string, extra: Record<string, unknown> = {}) => (
    <div class="field">
      <label for={`audit-${name}`}>{label}</label>
      <input id={`audit-${name}`} name={name} value={f[name] ?? ''} {...extra} />
    </div>
  );
  return (
    <form method="get" action={AUDIT_PATH} class="filters card" aria-label="Filter the audit log">
      {text('token_id', 'Token id', { inputMode: 'numeric', pattern: '[0-9]*' })}
      {text('actor', 'Actor (username)', { autoComplete: 'off' })}
      <div class="field">
        <label for="audit-event">Event</label>
        <select id="audit-event" name="event">
          <option value="">Any</option>
          {AUDIT_EVENTS.map((e) => (
            <option value={e} selected={f.event === e}>{e}</option>
          ))}
          {f.event !== undefined && !(AUDIT_EVENTS as readonly string[]).includes(f.event) && <option value={f.event} selected>{f.event}</option>}
        </select>
      </div>
      {text('status', 'HTTP status', { inputMode: 'numeric', pattern: '[0-9]*' })}
      {text('project', 'Project (path or id)', { autoComplete: 'off' })}
      {text('group', 'Group (path or id)', { autoComplete: 'off' })}
      {text('created_after', 'From (UTC)', { type: 'datetime-local' })}
      {text('created_before', 'Until (UTC)', { type: 'datetime-local' })}
      <div class="field">
        <button type="submit" class="primary">Filter</button> <a href={AUDIT_PATH}>Clear</a>
      </div>
    </form>
  );
}

export function registerAuditPage(app: FastifyInstance, ctx: WebContext, tools: WebPageTools): void {
  const { audit } = ctx.services;
  app.get(AUDIT_PATH, { preHandler: [requireSignIn] }, async (request, reply) => {
    const user = request.webSession!.user;
    const f = filtersOf(request);
    const cursor = queryText(request, 'cursor');
    const chrome = tools.chrome(request, reply, 'audit');
    let rows: AuditRow[] = [];
    let next: string | null = null;
    let problem: { status: number; text: string } | null = null;
    try {
      const page = await audit.list(user, auditQuery(f, cursor || undefined));
      rows = page.items;
      next = page.nextCursor;
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
      // Refusals read as the service means them: nothing owned (403), a project or group one may not read (404), a bad filter (400).
      if (e.kind === 'forbidden' || e.kind === 'unauthenticated') {
        problem = { status: 403, text: f.project || f.group ? 'You are not an Owner of that project or group: its audit log is not shown to you.' : 'The audit log shows the entries of projects and groups you own (admins see all). You own none.' };
      } else if (e.kind === 'not_found') problem = { status: 404, text: 'No such project or group (or you are not a member).' };
      else problem = { status: 400, text: errorText(e) };
    }
    return sendHtml(
      reply,
      <Layout title="Audit log" chrome={chrome}>
        <p class="intro">Every API call and token event, newest first. Entries never hold a secret: a token is named by its id and the hash of its digest.</p>
        <FilterForm f={f} />
        {problem && <Notice kind="error">{problem.text}</Notice>}
        {!problem && rows.length === 0 && <p>No entries match.</p>}
        {rows.length > 0 && (
          <TableWrap label="Audit entries">
            <table class="audit">
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Event</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Token</th>
                  <th scope="col">Request</th>
                  <th scope="col">Status</th>
                  <th scope="col">From</th>
                  <th scope="col">Details</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr>
                    <td class="nowrap">{formatInstant(r.created_at)}</td>
                    <th scope="row">{r.event}</th>
                    <td>
                      {r.actor_name ? <a href={auditUrl({ actor: r.actor_name })}>{r.actor_name}</a> : <span class="days">none</span>}
                      {r.actor_type && <span class="days">{` (${r.actor_type.replace('_', ' ')})`}</span>}
                    </td>
                    <td>
                      {r.token_id !== null ? (
                        <a href={auditUrl({ token_id: String(r.token_id) })} aria-label={`Entries of token ${r.token_id}`}>{`#${r.token_id}`}</a>
                      ) : (
                        <span class="days">none</span>
                      )}
                    </td>
                    <td>
                      {r.method && r.path ? <code>{`${r.method} ${r.path}`}</code> : <span class="days">—</span>}
                    </td>
                    <td>{r.status ?? ''}</td>
                    <td>
                      {r.ip ?? ''}
                      {r.user_agent && <div class="ips">{r.user_agent}</div>}
                    </td>
                    <td>
                      {r.project_id !== null && <a href={auditUrl({ project: String(r.project_id) })}>{`project ${r.project_id}`}</a>}
                      {r.project_id === null && r.group_path !== null && r.group_id !== null && <a href={auditUrl({ group: String(r.group_id) })}>{`group ${r.group_id}`}</a>}
                      <Details row={r} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        )}
        {(cursor || next) && (
          <nav class="pager" aria-label="Audit log pages">
            {cursor && <a href={auditUrl(f)}>Newest entries</a>}
            {next && <a href={auditUrl(f, { cursor: next })} rel="next">Older entries</a>}
          </nav>
        )}
      </Layout>,
      problem?.status ?? 200,
    );
  });
}
