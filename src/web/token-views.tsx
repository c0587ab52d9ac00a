/**
 * The parts every token page shares (GitLab's access token and deploy token pages): the create form,
 * the new secret shown once with its snippets, the active and inactive tables, and the revoke and
 * rotate confirmations. Pages pass plain data; nothing here reads a service.
 */
import type { ComponentChildren } from 'preact';
import { accessLevelName } from '../namespaces/access-levels.js';
import { daysUntil, type UtcDate } from '../kernel/dates.js';
import { isRevokedAt, type Token } from '../tokens/token.js';
import { CsrfField, KeysetPager, Notice, TableWrap } from './html.js';
import type { ScopeOption } from './scope-help.js';
import type { Snippet } from './snippets.js';
import { describePlacement, type Credential } from '../inventory/credential.js';
import { inventoryEntryPath } from './pages/inventory.js';

export interface CreateFormModel {
  readonly action: string;
  readonly kindLabel: string;
  readonly scopes: readonly ScopeOption[];
  /** Role select (project and group access tokens): the levels the creator may give. */
  readonly roles?: readonly number[];
  readonly withUsername?: boolean;
  readonly withDescription?: boolean;
  readonly expiry: { readonly min: UtcDate; readonly max: UtcDate | null; readonly default: UtcDate | ''; readonly required: boolean };
  /** What the user typed, after a refused submit. */
  readonly values?: { name?: string; description?: string; expiresAt?: string; scopes?: readonly string[]; accessLevel?: number; username?: string };
  readonly error?: string;
}

export function CreateTokenForm({ model, csrf }: { model: CreateFormModel; csrf: string }) {
  const v = model.values ?? {};
  const checked = new Set(v.scopes ?? []);
  return (
    <section class="card" aria-labelledby="create-heading">
      <h2 id="create-heading">{`Add a ${model.kindLabel}`}</h2>
      {model.error && <Notice kind="error">{model.error}</Notice>}
      <form method="post" action={model.action} class="token-form">
        <CsrfField token={csrf} />
        <div class="field">
          <label for="token-name">Token name</label>
          <input id="token-name" name="name" required maxLength={255} value={v.name ?? ''} autoComplete="off" />
        </div>
        {model.withDescription !== false && (
          <div class="field">
            <label for="token-description">
              Description <span class="optional">(optional)</span>
            </label>
            <textarea id="token-description" name="description" maxLength={255} rows={2}>{v.description ?? ''}</textarea>
          </div>
        )}
        <div class="field">
          <label for="token-expires">Expiration date{model.expiry.required ? '' : <span class="optional"> (optional: empty never expires)</span>}</label>
          <input
            id="token-expires"
            name="expires_at"
            type="date"
            min={model.expiry.min}
            max={model.expiry.max ?? undefined}
            required={model.expiry.required}
            value={v.expiresAt ?? model.expiry.default}
            aria-describedby="token-expires-help"
          />
          <p id="token-expires-help" class="help">
            {model.expiry.max ? `The token stops working at 00:00 UTC of this date. Latest allowed: ${model.expiry.max}.` : 'The token stops working at 00:00 UTC of this date.'}
          </p>
        </div>
        {model.withUsername && (
          <div class="field">
            <label for="token-username">
              Username <span class="optional">(optional)</span>
            </label>
            <input id="token-username" name="username" maxLength={255} value={v.username ?? ''} autoComplete="off" aria-describedby="token-username-help" />
            <p id="token-username-help" class="help">
              Default format is <code>gitlab+deploy-token-{'{n}'}</code>. Name a token <code>gitlab-deploy-token</code> and CI jobs get it as
              CI_DEPLOY_USER / CI_DEPLOY_PASSWORD.
            </p>
          </div>
        )}
        {model.roles && (
          <div class="field">
            <label for="token-role">Select a role</label>
            <select id="token-role" name="access_level">
              {model.roles.map((level) => (
                <option value={String(level)} selected={(v.accessLevel ?? 10) === level}>
                  {accessLevelName(level)}
                </option>
              ))}
            </select>
          </div>
        )}
        <fieldset class="field scopes">
          <legend>Select scopes</legend>
          <p class="help">Scopes set the permission levels granted to the token. Choose the fewest the job needs.</p>
          {model.scopes.map((s) => (
            <div class="scope">
              <input type="checkbox" id={`scope-${s.name}`} name="scopes[]" value={s.name} checked={checked.has(s.name)} aria-describedby={`scope-${s.name}-help`} />
              <label for={`scope-${s.name}`}>
                <code>{s.name}</code>
              </label>
              <p id={`scope-${s.name}-help`} class="help">
                {s.help}
              </p>
            </div>
          ))}
        </fieldset>
        <button type="submit" class="primary">{`Create ${model.kindLabel}`}</button>
      </form>
    </section>
  );
}

export interface NewSecret {
  readonly heading: string;
  readonly secret: string;
  /** Deploy tokens: the username that goes with the secret. */
  readonly username?: string;
  readonly snippets: readonly Snippet[];
}

/** The new secret, shown once: GitLab's "Make sure you save it - you won't be able to access it again." */
export function NewSecretPanel({ created }: { created: NewSecret }) {
  return (
    <section class="card secret" aria-labelledby="secret-heading">
      <h2 id="secret-heading">{created.heading}</h2>
      <Notice kind="warning">Make sure you save it - you won't be able to access it again. Leaving or reloading this page hides it for good.</Notice>
      {created.username !== undefined && <CopyField id="new-username" label="Username" value={created.username} />}
      <CopyField id="new-token" label="Token" value={created.secret} />
      {created.snippets.length > 0 && <h3>Use it</h3>}
      {created.snippets.map((s) => (
        <div class="snippet">
          <div class="snippet-head">
            <h4 id={`snippet-${s.id}-title`}>{s.title}</h4>
            <button type="button" class="copy" data-copy={`snippet-${s.id}`} hidden>
              Copy
            </button>
          </div>
          <pre id={`snippet-${s.id}`} tabIndex={0} aria-labelledby={`snippet-${s.id}-title`}>
            {s.text}
          </pre>
        </div>
      ))}
    </section>
  );
}

export function CopyField({ id, label, value }: { id: string; label: string; value: string }) {
  return (
    <div class="field copy-field">
      <label for={id}>{label}</label>
      <div class="copy-row">
        <input id={id} readOnly value={value} autoComplete="off" spellcheck={false} />
        <button type="button" class="copy" data-copy={id} hidden>
          {`Copy ${label.toLowerCase()}`}
        </button>
      </div>
    </div>
  );
}

export const formatInstant = (iso: string | null): string => (iso === null ? 'Never' : `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`);

/** 0-7 days: critical; 8-30: warning; 31-60: notice (the notification intervals). */
export function urgencyOf(daysLeft: number): 'expired' | 'critical' | 'warning' | 'notice' | 'ok' {
  if (daysLeft <= 0) return 'expired';
  if (daysLeft <= 7) return 'critical';
  if (daysLeft <= 30) return 'warning';
  if (daysLeft <= 60) return 'notice';
  return 'ok';
}

export function Expires({ date, now }: { date: UtcDate | null; now: Date }) {
  if (date === null) return <span>Never</span>;
  const days = daysUntil(date, now);
  return (
    <span class={`urgency-${urgencyOf(days)}`}>
      {date} <span class="days">{days > 0 ? `(in ${days} day${days === 1 ? '' : 's'})` : '(expired)'}</span>
    </span>
  );
}

export interface TokenTableModel {
  readonly tokens: readonly Token[];
  readonly now: Date;
  /** `${base}/${id}/revoke`, `${base}/${id}/rotate` */
  readonly actionBase: string;
  readonly canRotate: boolean;
  readonly withRole?: boolean;
  readonly withUsername?: boolean;
  /**
   * Keyset paging (nothing is counted, so a page costs the same at any depth): the next page's URL when
   * rows follow, the first page's when this is not it.
   */
  readonly nextHref: string | null;
  readonly firstHref: string | null;
  /** The inventory rows of the tokens' chains (their placements), by token id; absent: no placements column. */
  readonly placements?: ReadonlyMap<number, Credential>;
  /** Owner/user shown beside a personal token of a service account etc. */
  readonly auditLinks?: boolean;
}

function Pager({ model, label }: { model: TokenTableModel; label: string }) {
  return <KeysetPager label={`${label} pages`} firstHref={model.firstHref} nextHref={model.nextHref} />;
}

/** The cells both tables show: role (when the page has roles), created, last used with its IPs, expiry with the days left. */
function TokenFactCells({ token: t, model }: { token: Token; model: TokenTableModel }) {
  return (
    <>
      {model.withRole && <td>{t.accessLevel === null ? '' : accessLevelName(t.accessLevel)}</td>}
      <td>{t.createdAt.slice(0, 10)}</td>
      <td>
        {formatInstant(t.lastUsedAt)}
        {t.lastUsedIps.length > 0 && <div class="ips">{t.lastUsedIps.join(', ')}</div>}
      </td>
      <td>
        <Expires date={t.expiresAt} now={model.now} />
      </td>
    </>
  );
}

/** Where a token is configured (its inventory entry's placements), linked to the entry that records them. */
function Placements({ token, entry }: { token: Token; entry: Credential | undefined }) {
  const href = inventoryEntryPath(entry?.slug ?? `token-${token.id}`);
  if (!entry || entry.placements.length === 0) {
    return (
      <a href={href} class="days" aria-label={`Record where ${token.name} is configured`}>
        None recorded
      </a>
    );
  }
  return (
    <>
      <ul class="placements">
        {entry.placements.map((p) => (
          <li>{describePlacement(p)}</li>
        ))}
      </ul>
      <a href={href} aria-label={`Inventory entry of ${token.name}`}>
        Inventory entry
      </a>
    </>
  );
}

export function ActiveTokensTable({ model, title }: { model: TokenTableModel; title: string }) {
  return (
    <section aria-labelledby="active-heading">
      <h2 id="active-heading">
        {title}
      </h2>
      {model.tokens.length === 0 ? (
        <p>This has no active tokens.</p>
      ) : (
        <>
          <div class="filter" hidden>
            <label for="filter-active">Filter tokens</label>
            <input id="filter-active" type="search" data-filter="active-tokens" />
          </div>
          <TableWrap label={title}>
            <table id="active-tokens" class="tokens">
              <thead>
                <tr>
                  <th scope="col">Token name</th>
                  {model.withUsername && <th scope="col">Username</th>}
                  <th scope="col">Scopes</th>
                  {model.withRole && <th scope="col">Role</th>}
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Expires</th>
                  {model.placements && <th scope="col">Placements</th>}
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {model.tokens.map((t) => (
                  <tr>
                    <th scope="row">
                      {t.name}
                      {t.description && <div class="description">{t.description}</div>}
                      {t.graceUntil !== null && !isRevokedAt(t, model.now) && <div class="badge">{`rotated: old secret works until ${formatInstant(t.graceUntil)}`}</div>}
                    </th>
                    {model.withUsername && <td><code>{t.username ?? ''}</code></td>}
                    <td>
                      {t.scopes.map((s) => (
                        <code class="scope-chip">{s}</code>
                      ))}
                    </td>
                    <TokenFactCells token={t} model={model} />
                    {model.placements && (
                      <td>
                        <Placements token={t} entry={model.placements.get(t.id)} />
                      </td>
                    )}
                    <td class="actions">
                      {model.canRotate && <a href={`${model.actionBase}/${t.id}/rotate`} aria-label={`Rotate ${t.name}`}>Rotate</a>}
                      <a href={`${model.actionBase}/${t.id}/revoke`} class="danger" aria-label={`Revoke ${t.name}`}>
                        Revoke
                      </a>
                      {model.auditLinks !== false && <a href={`/-/audit_events?token_id=${t.id}`} aria-label={`Audit log of ${t.name}`}>Audit log</a>}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
          <Pager model={model} label={title} />
        </>
      )}
    </section>
  );
}

function stateOf(t: Token, now: Date): string {
  if (t.revokeReason === 'reuse_detected') return 'Revoked (reuse detected)';
  if (t.supersededAt !== null) return 'Rotated';
  if (isRevokedAt(t, now)) return 'Revoked';
  return 'Expired';
}

export function InactiveTokensTable({ model, title }: { model: TokenTableModel; title: string }) {
  if (model.tokens.length === 0) return null;
  return (
    <section aria-labelledby="inactive-heading">
      <h2 id="inactive-heading">
        {title}
      </h2>
      <TableWrap label={title}>
        <table class="tokens">
          <thead>
            <tr>
              <th scope="col">Token name</th>
              <th scope="col">Scopes</th>
              {model.withRole && <th scope="col">Role</th>}
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">Expires</th>
              <th scope="col">State</th>
              <th scope="col">Audit</th>
            </tr>
          </thead>
          <tbody>
            {model.tokens.map((t) => (
              <tr>
                <th scope="row">{t.name}</th>
                <td>{t.scopes.join(', ')}</td>
                <TokenFactCells token={t} model={model} />
                <td>{stateOf(t, model.now)}</td>
                <td>
                  <a href={`/-/audit_events?token_id=${t.id}`} aria-label={`Audit log of ${t.name}`}>Audit log</a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableWrap>
      <Pager model={model} label={title} />
    </section>
  );
}

export function ConfirmRevoke({ token, action, back, csrf, consequence }: { token: Token; action: string; back: string; csrf: string; consequence?: ComponentChildren }) {
  return (
    <section class="card" aria-labelledby="confirm-heading">
      <h2 id="confirm-heading">{`Revoke "${token.name}"?`}</h2>
      <p>Anything that uses this token stops working at once, on every node. This cannot be undone.</p>
      {consequence}
      <form method="post" action={action}>
        <CsrfField token={csrf} />
        <button type="submit" class="danger">
          Revoke
        </button>{' '}
        <a href={back}>Cancel</a>
      </form>
    </section>
  );
}

export const GRACE_CHOICES = [
  { value: '', label: 'None: the old secret stops at once (GitLab)' },
  { value: '1h', label: '1 hour' },
  { value: '24h', label: '24 hours' },
  { value: '7d', label: '7 days' },
  { value: '30d', label: '30 days' },
] as const;

export function ConfirmRotate({ token, action, back, csrf, expiry, error }: { token: Token; action: string; back: string; csrf: string; expiry: { min: UtcDate; max: UtcDate | null; default: UtcDate }; error?: string }) {
  return (
    <section class="card" aria-labelledby="confirm-heading">
      <h2 id="confirm-heading">{`Rotate "${token.name}"?`}</h2>
      <p>A new secret with the same name, scopes and role is issued and shown once. The old secret stops working at once, unless you give it a grace period so the jobs that use it can switch without downtime.</p>
      {error && <Notice kind="error">{error}</Notice>}
      <form method="post" action={action}>
        <CsrfField token={csrf} />
        <div class="field">
          <label for="rotate-grace">Grace period for the old secret</label>
          <select id="rotate-grace" name="grace_period">
            {GRACE_CHOICES.map((c) => (
              <option value={c.value}>{c.label}</option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="rotate-expires">Expiration date of the new token</label>
          <input id="rotate-expires" name="expires_at" type="date" min={expiry.min} max={expiry.max ?? undefined} value={expiry.default} required />
        </div>
        <button type="submit" class="primary">
          Rotate
        </button>{' '}
        <a href={back}>Cancel</a>
      </form>
    </section>
  );
}
