/**
 * The credential inventory pages (issue 18 item 4), on the inventory service the API calls, so its
 * rules hold: Reporters and above of the owning group (and admins) read an entry, Maintainers and
 * above mark it renewed; anyone else gets the 404 page.
 * - `/-/inventory`: the entries one may read, filtered by team (owning group), kind, status (overdue)
 *   and "due within", outside credentials and Latchkey's own tokens (or one of them); keyset pages, nothing counted.
 * - `/-/inventory/<slug or id>`: the entry, its placements, its renewal procedure (Markdown, rendered by
 *   markdown.ts with raw HTML off), its renewal history, the "mark renewed" form, and its rotation
 *   (rotation.tsx: the Rotate button, the entry's rotation jobs, its open rotation tasks).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { addDays, utcDateOf, type UtcDate } from '../../kernel/dates.js';
import { COUNT_LIMIT } from '../../kernel/page.js';
import { AccessLevel } from '../../namespaces/access-levels.js';
import type { User } from '../../namespaces/namespace.js';
import { describePlacement, type InventoryEntry as Credential, type Renewal } from '../../inventory/credential.js';
import type { CredentialListQuery, ListCursor } from '../../inventory/inventory-service.js';
import type { RenewalEntry } from '../../inventory/inventory-store.js';
import { CsrfField, Layout, Notice, TableWrap, sendHtml } from '../html.js';
import { formList, formText, queryPage, queryText } from '../form.js';
import { renderMarkdown } from '../markdown.js';
import { Expires, formatInstant } from '../token-views.js';
import type { WebContext } from '../web-context.js';
import { requireSignIn } from '../web-session.js';
import { errorText, type WebPageTools } from '../web-tools.js';
import { registerRotationPages, RotationJobsSection, RotationTasksSection, type RotationExtras } from './rotation.js';

export const INVENTORY_PATH = '/-/inventory';
export const inventoryEntryPath = (slug: string) => `${INVENTORY_PATH}/${encodeURIComponent(slug)}`;
const PER_PAGE = 50;
const HISTORY_PER_PAGE = 20;
const DUE_WITHIN = [7, 30, 60, 90] as const;

const FILTERS = ['source', 'owner', 'kind', 'status', 'due_within'] as const;
type Filters = Partial<Record<(typeof FILTERS)[number], string>>;

function filtersOf(request: FastifyRequest): Filters {
  const f: Filters = {};
  for (const name of FILTERS) {
    const v = queryText(request, name)?.trim();
    if (v) f[name] = v.slice(0, 255);
  }
  return f;
}

/** The filters as the service's query: "overdue" is due before today, "due within N days" on or before today + N (the stricter wins). */
function listQuery(f: Filters, today: UtcDate): CredentialListQuery {
  const bounds: UtcDate[] = [];
  if (f.status === 'overdue') bounds.push(addDays(today, -1));
  const within = f.due_within !== undefined && /^[0-9]{1,4}$/.test(f.due_within) ? Number(f.due_within) : null;
  if (within !== null) bounds.push(addDays(today, within));
  // Outside credentials, Latchkey's own tokens (issue 14), or both.
  const source = f.source === 'outside' || f.source === 'tokens' ? f.source : 'all';
  return { source, owner: f.owner, kind: f.kind, dueOnOrBefore: bounds.sort()[0] };
}

const listUrl = (f: Filters, after?: ListCursor) => {
  const q = new URLSearchParams(f as Record<string, string>);
  if (after) q.set('after', `${after.source}:${after.afterId ?? ''}`);
  const s = q.toString();
  return s ? `${INVENTORY_PATH}?${s}` : INVENTORY_PATH;
};

/** `?after=outside:12` or `tokens:34` (`tokens:` = the first token): where the keyset page starts. */
function cursorOf(text: string | undefined): ListCursor {
  const m = text === undefined ? null : /^(outside|tokens):([0-9]{1,10})?$/.exec(text);
  return m ? { source: m[1] as ListCursor['source'], afterId: m[2] === undefined ? null : Number(m[2]) } : { source: 'outside', afterId: null };
}

export function renewalText(r: Renewal): string {
  switch (r.type) {
    case 'expires_at':
      return `expires on ${r.expiresAt}`;
    case 'every_days':
      return `every ${r.everyDays} days`;
    case 'event':
      return `${r.event} (reviewed every ${r.reviewEveryDays} days)`;
  }
}

function FilterForm({ f }: { f: Filters }) {
  return (
    <form method="get" action={INVENTORY_PATH} class="filters card" aria-label="Filter the inventory">
      <div class="field">
        <label for="inv-source">Source</label>
        <select id="inv-source" name="source">
          <option value="">Everything</option>
          <option value="outside" selected={f.source === 'outside'}>Outside credentials</option>
          <option value="tokens" selected={f.source === 'tokens'}>Latchkey's tokens</option>
        </select>
      </div>
      <div class="field">
        <label for="inv-owner">Team (group path)</label>
        <input id="inv-owner" name="owner" value={f.owner ?? ''} autoComplete="off" />
      </div>
      <div class="field">
        <label for="inv-kind">Kind</label>
        <input id="inv-kind" name="kind" value={f.kind ?? ''} autoComplete="off" placeholder="e.g. npm_token" />
      </div>
      <div class="field">
        <label for="inv-status">Status</label>
        <select id="inv-status" name="status">
          <option value="">Any</option>
          <option value="overdue" selected={f.status === 'overdue'}>Overdue</option>
        </select>
      </div>
      <div class="field">
        <label for="inv-due">Due within</label>
        <select id="inv-due" name="due_within">
          <option value="">Any time</option>
          {DUE_WITHIN.map((d) => (
            <option value={String(d)} selected={f.due_within === String(d)}>{`${d} days`}</option>
          ))}
        </select>
      </div>
      <div class="field">
        <button type="submit" class="primary">Filter</button> <a href={INVENTORY_PATH}>Clear</a>
      </div>
    </form>
  );
}

function CredentialsTable({ items, now }: { items: readonly Credential[]; now: Date }) {
  return (
    <TableWrap label="Inventory entries">
      <table class="inventory">
        <thead>
          <tr>
            <th scope="col">Credential</th>
            <th scope="col">Kind</th>
            <th scope="col">Team</th>
            <th scope="col">Renewal</th>
            <th scope="col">Due</th>
            <th scope="col">Placements</th>
          </tr>
        </thead>
        <tbody>
          {items.map((c) => (
            <tr>
              <th scope="row">
                <a href={inventoryEntryPath(c.slug)}>{c.name}</a>
                {c.purpose && <div class="description">{c.purpose.length > 140 ? `${c.purpose.slice(0, 139)}…` : c.purpose}</div>}
              </th>
              <td>
                <code>{c.kind}</code>
                {c.provider && <div class="days">{c.provider}</div>}
              </td>
              <td>{c.owner?.fullPath ?? '-'}</td>
              <td>{renewalText(c.renewal)}</td>
              <td>
                <Expires date={c.dueOn} now={now} />
              </td>
              <td>{c.placements.length}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}

interface EntryExtras extends RotationExtras {
  readonly notice?: string;
  readonly error?: string;
  readonly values?: { renewedOn: string; expiresAt: string; placements: readonly string[]; note: string };
  readonly status?: number;
}

function RenewForm({ c, csrf, today, values, error }: { c: Credential; csrf: string; today: UtcDate; values?: EntryExtras['values']; error?: string }) {
  const ticked = values ? new Set(values.placements) : null;
  return (
    <section class="card" aria-labelledby="renew-heading">
      <h2 id="renew-heading">Mark renewed</h2>
      <p class="help">After you renewed it at its provider and updated its placements. The history keeps who did it and when.</p>
      {error && <Notice kind="error">{error}</Notice>}
      <form method="post" action={`${inventoryEntryPath(c.slug)}/renewals`}>
        <CsrfField token={csrf} />
        <div class="field">
          <label for="renew-on">Renewed on</label>
          <input id="renew-on" name="renewed_on" type="date" max={today} required value={values?.renewedOn ?? today} />
        </div>
        {c.renewal.type === 'expires_at' && (
          <div class="field">
            <label for="renew-expires">New expiry date</label>
            <input id="renew-expires" name="expires_at" type="date" min={addDays(today, 1)} required value={values?.expiresAt ?? ''} />
          </div>
        )}
        {c.placements.length > 0 && (
          <fieldset class="field scopes">
            <legend>Placements updated with the new value</legend>
            {c.placements.map((p) => (
              <div class="scope">
                <input type="checkbox" id={`renew-p${p.id}`} name="placements_updated[]" value={String(p.id)} checked={ticked === null || ticked.has(String(p.id))} />
                <label for={`renew-p${p.id}`}>{describePlacement(p)}</label>
              </div>
            ))}
          </fieldset>
        )}
        <div class="field">
          <label for="renew-note">
            Note <span class="optional">(optional)</span>
          </label>
          <textarea id="renew-note" name="note" rows={2} maxLength={2000}>{values?.note ?? ''}</textarea>
        </div>
        <div class="field">
          <label for="renew-value">
            New value <span class="optional">(optional: only its fingerprint is kept, so a leak of it is recognised)</span>
          </label>
          <input id="renew-value" name="value" type="password" autoComplete="off" maxLength={10000} />
        </div>
        <button type="submit" class="primary">Mark renewed</button>
      </form>
    </section>
  );
}

function History({ entries, olderHref }: { entries: readonly RenewalEntry[]; olderHref: string | null }) {
  return (
    <section aria-labelledby="history-heading">
      <h2 id="history-heading">Renewal history</h2>
      {entries.length === 0 ? (
        <p>Not renewed yet.</p>
      ) : (
        <TableWrap label="Renewal history">
          <table>
            <thead>
              <tr>
                <th scope="col">Renewed on</th>
                <th scope="col">By</th>
                <th scope="col">Due</th>
                <th scope="col">Placements updated</th>
                <th scope="col">Note</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((r) => (
                <tr>
                  <th scope="row">
                    {r.renewedOn}
                    <div class="days">{`recorded ${formatInstant(r.renewedAt)}`}</div>
                  </th>
                  <td>{r.renewedBy.username ?? ''}</td>
                  <td>{`${r.previousDueOn} → ${r.dueOn}`}</td>
                  <td>
                    {r.placementsUpdated.length === 0 ? (
                      <span class="days">none</span>
                    ) : (
                      <ul class="plain">
                        {r.placementsUpdated.map((p) => (
                          <li>{p.description}</li>
                        ))}
                      </ul>
                    )}
                  </td>
                  <td>{r.note ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      {olderHref && (
        <nav class="pager" aria-label="Renewal history pages">
          <a href={olderHref} rel="next">Older renewals</a>
        </nav>
      )}
    </section>
  );
}

export function registerInventoryPages(app: FastifyInstance, ctx: WebContext, tools: WebPageTools): void {
  const { inventory, namespaces, upstreams, rotationTasks, rotations } = ctx.services;

  app.get(INVENTORY_PATH, { preHandler: [requireSignIn] }, async (request, reply) => {
    const user = request.webSession!.user;
    const f = filtersOf(request);
    const after = queryText(request, 'after');
    const now = ctx.clock.now();
    const chrome = tools.chrome(request, reply, 'inventory');
    let items: Credential[] = [];
    let next: ListCursor | null = null;
    let problem: string | null = null;
    try {
      // A keyset page (outside entries, then Latchkey's tokens): nothing is counted.
      const result = await inventory.list(user, listQuery(f, utcDateOf(now)), { page: 1, perPage: PER_PAGE }, cursorOf(after));
      items = result.items;
      next = result.next ?? null;
    } catch (e) {
      problem = (e as { kind?: string }).kind === 'not_found' ? 'No such team (group), or you are not a member of it.' : errorText(e);
    }
    return sendHtml(
      reply,
      <Layout title="Credential inventory" chrome={chrome}>
        <p class="intro">
          Credentials Latchkey did not issue that your teams must renew: where each is configured, when it is due, and how to renew it. They are reminded like issued tokens (see <a href="/-/expiring">What expires when</a>).
        </p>
        <FilterForm f={f} />
        {problem && <Notice kind="error">{problem}</Notice>}
        {!problem && items.length === 0 && <p>No entries match.</p>}
        {items.length > 0 && <CredentialsTable items={items} now={now} />}
        {(after !== undefined || next !== null) && (
          <nav class="pager" aria-label="Inventory pages">
            {after !== undefined && <a href={listUrl(f)}>First page</a>}
            {next !== null && (
              <a href={listUrl(f, next)} rel="next">
                Next
              </a>
            )}
          </nav>
        )}
      </Layout>,
      problem ? 400 : 200,
    );
  });

  /** Whether the forms of Maintainers are offered: the service's rule (Maintainer+ of the owning group, or admin); it checks again on submit. */
  async function canManage(user: User, c: Credential): Promise<boolean> {
    if (c.owner === null) return false;
    if (user.isAdmin) return true;
    const group = await namespaces.findGroup(user, String(c.owner.id)).catch(() => null);
    return group !== null && (await namespaces.accessLevel(user, { type: 'group', group: group.group })) >= AccessLevel.MAINTAINER;
  }

  /** Whether "Rotate" is offered: a live Latchkey token, or a token synced from an upstream GitLab (the service decides on submit). */
  const rotatable = (c: Credential): boolean => (c.tokenId !== null ? c.tokenStatus?.state === 'active' : c.kind.startsWith('gitlab_') && c.provider !== null);

  async function entryPage(request: FastifyRequest<{ Params: { ref: string } }>, reply: FastifyReply, extra: EntryExtras = {}) {
    const user = request.webSession!.user;
    const c = await inventory.get(user, request.params.ref);
    const historyPage = queryPage(request, 'history_page');
    const history = await inventory.renewals(user, c.slug, { page: historyPage, perPage: HISTORY_PER_PAGE, countLimit: COUNT_LIMIT });
    const now = ctx.clock.now();
    const chrome = tools.chrome(request, reply, 'inventory');
    const manage = await canManage(user, c);
    // Open rotation tasks and the latest rotation jobs (issue 16): a page of each; the API lists every one.
    const tasks = (await rotationTasks.list(user, c.slug, 'open', { page: 1, perPage: 50 })).tasks.items;
    const jobs = (await rotations.list(user, c.slug, { page: 1, perPage: 5 })).items;
    // The last check of each ci_variable placement (issue 15 item 4): "in sync", "stale: …", "missing", "cannot read: …".
    const checks = new Map((c.id === null ? [] : await upstreams.placementChecks(user, c.slug)).map((k) => [k.placementId, k]));
    const olderHref = history.hasNext === true || (history.exact !== false && history.total > historyPage * HISTORY_PER_PAGE) ? `${inventoryEntryPath(c.slug)}?history_page=${historyPage + 1}` : null;
    return sendHtml(
      reply,
      <Layout title={c.name} chrome={chrome}>
        <p class="intro">
          <a href={INVENTORY_PATH}>Credential inventory</a>
          {` › ${c.owner?.fullPath ?? '-'}`}
        </p>
        {extra.notice && <Notice kind="success">{extra.notice}</Notice>}
        <dl class="facts">
          <dt>Kind</dt>
          <dd>
            <code>{c.kind}</code>
            {c.provider && ` at ${c.provider}`}
            {c.resource && ` (${c.resource})`}
          </dd>
          <dt>Team</dt>
          <dd>{c.owner?.fullPath ?? '-'}</dd>
          {c.purpose && (
            <>
              <dt>Purpose</dt>
              <dd>{c.purpose}</dd>
            </>
          )}
          {c.scopes.length > 0 && (
            <>
              <dt>Scopes</dt>
              <dd>
                {c.scopes.map((s) => (
                  <code class="scope-chip">{s}</code>
                ))}
              </dd>
            </>
          )}
          {c.role && (
            <>
              <dt>Role</dt>
              <dd>{c.role}</dd>
            </>
          )}
          <dt>Renewal</dt>
          <dd>{renewalText(c.renewal)}</dd>
          <dt>Due</dt>
          <dd>
            <Expires date={c.dueOn} now={now} />
          </dd>
          <dt>Last renewed</dt>
          <dd>{c.renewedOn ?? 'Never'}</dd>
          <dt>Fingerprint</dt>
          <dd>{c.hasFingerprint ? 'Recorded: a leak of the value is recognised' : 'None'}</dd>
          {c.tokenId !== null && (
            <>
              <dt>Latchkey token</dt>
              <dd>
                <a href={`/-/audit_events?token_id=${c.tokenId}`}>{`#${c.tokenId} (audit log)`}</a>
                <div class="help">A Latchkey token is not marked renewed: rotate it on its token page (or with Rotate below), and this entry follows the new token.</div>
              </dd>
            </>
          )}
        </dl>
        <section aria-labelledby="placements-heading">
          <h2 id="placements-heading">Placements</h2>
          {c.placements.length === 0 ? (
            <p>Where it is configured is not recorded.</p>
          ) : (
            <TableWrap label="Placements">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Where</th>
                    <th scope="col">Kind</th>
                    <th scope="col">Last check</th>
                  </tr>
                </thead>
                <tbody>
                  {c.placements.map((p) => {
                    const check = checks.get(p.id);
                    return (
                      <tr>
                        <th scope="row">{describePlacement(p)}</th>
                        <td>{p.kind === 'manual' ? 'manual (a person updates it)' : p.kind.replace(/_/g, ' ')}</td>
                        <td>
                          {p.kind !== 'ci_variable' ? (
                            'Not checkable'
                          ) : (
                            <>
                              {check ? (
                                <span>{`${check.detail} (${formatInstant(check.checkedAt)})`}</span>
                              ) : (
                                'Not checked yet'
                              )}
                              <form method="post" action={`${inventoryEntryPath(c.slug)}/placements/${p.id}/check`} class="inline">
                                <CsrfField token={chrome.csrf} />
                                <button type="submit" aria-label={`Check now: ${describePlacement(p)}`}>
                                  Check now
                                </button>
                              </form>
                            </>
                          )}
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </TableWrap>
          )}
        </section>
        <section aria-labelledby="procedure-heading">
          <h2 id="procedure-heading">Renewal procedure</h2>
          {c.procedure ? <div class="markdown" dangerouslySetInnerHTML={{ __html: renderMarkdown(c.procedure) }} /> : <p>No procedure written down yet.</p>}
        </section>
        <RotationJobsSection entryPath={inventoryEntryPath(c.slug)} jobs={jobs} placements={c.placements} canRotate={manage && rotatable(c)} csrf={chrome.csrf} extras={extra} />
        <RotationTasksSection entryPath={inventoryEntryPath(c.slug)} tasks={tasks} manage={manage} csrf={chrome.csrf} extras={extra} />
        {manage && c.tokenId === null && <RenewForm c={c} csrf={chrome.csrf} today={utcDateOf(now)} values={extra.values} error={extra.error} />}
        <History entries={history.items} olderHref={olderHref} />
      </Layout>,
      extra.status ?? 200,
    );
  }

  const ENTRY_NOTICES: Record<string, string> = { renewed: 'Marked renewed.', checked: 'Placement checked: its result is in the Placements table.', task_done: 'Task marked done.' };
  app.get<{ Params: { ref: string } }>(`${INVENTORY_PATH}/:ref`, { preHandler: [requireSignIn] }, (request, reply) =>
    entryPage(request, reply, { notice: ENTRY_NOTICES[queryText(request, 'notice') ?? ''] }),
  );

  /** "Check now": reads the variable and compares it with the fingerprint by the rules of POST …/placements/:id/check (anyone who reads the entry). */
  app.post<{ Params: { ref: string; placement: string } }>(`${INVENTORY_PATH}/:ref/placements/:placement/check`, { preHandler: [requireSignIn, tools.csrf] }, async (request, reply) => {
    const user = request.webSession!.user;
    const c = await inventory.get(user, request.params.ref);
    try {
      await upstreams.checkPlacement(user, c.slug, /^[0-9]{1,10}$/.test(request.params.placement) ? Number(request.params.placement) : -1);
    } catch (e) {
      const kind = (e as { kind?: string }).kind;
      if (kind === 'not_found' || kind === undefined) throw e;
      return entryPage(request, reply, { error: errorText(e), status: 400 });
    }
    return reply.redirect(`${inventoryEntryPath(c.slug)}?notice=checked`, 303);
  });

  registerRotationPages(app, ctx, tools, { entryPage: (request, reply, extras) => entryPage(request, reply, extras), entryPath: inventoryEntryPath });

  app.post<{ Params: { ref: string } }>(`${INVENTORY_PATH}/:ref/renewals`, { preHandler: [requireSignIn, tools.csrf] }, async (request, reply) => {
    const values = { renewedOn: formText(request, 'renewed_on').trim(), expiresAt: formText(request, 'expires_at').trim(), placements: formList(request, 'placements_updated'), note: formText(request, 'note') };
    const value = formText(request, 'value');
    const ids = values.placements.filter((p) => /^[0-9]{1,10}$/.test(p)).map(Number);
    let slug: string;
    try {
      const { credential } = await inventory.renew(request.webSession!.user, request.params.ref, {
        renewedOn: values.renewedOn === '' ? undefined : values.renewedOn,
        expiresAt: values.expiresAt === '' ? undefined : values.expiresAt,
        placementIds: ids,
        note: values.note.trim() === '' ? null : values.note,
        value: value === '' ? undefined : value,
      });
      slug = credential.slug;
    } catch (e) {
      const kind = (e as { kind?: string }).kind;
      if (kind === 'not_found' || kind === 'forbidden' || kind === undefined) throw e;
      return entryPage(request, reply, { error: errorText(e), values, status: 400 });
    }
    return reply.redirect(`${inventoryEntryPath(slug)}?notice=renewed`, 303);
  });
}
