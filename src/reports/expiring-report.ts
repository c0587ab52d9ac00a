/**
 * The expiring report (`latchkey expiring`, `GET /api/v4/latchkey/expiring`): active tokens of every
 * kind that expire within a window, grouped by the project, group or user they belong to, soonest first.
 * Who sees what: an admin everything; anyone else the tokens of projects and groups where they are
 * Maintainer or above (inherited levels count) and their own personal tokens — not the impersonation
 * tokens an admin holds for them, which GitLab shows to admins only.
 */
import { AccessLevel } from '../namespaces/access-levels.js';
import type { Group, Project, Resource, User } from '../namespaces/namespace.js';
import type { NamespaceStore } from '../namespaces/namespace-store.js';
import type { Clock } from '../kernel/clock.js';
import { addDays, daysUntil, utcDateOf, type UtcDate } from '../kernel/dates.js';
import { invalidParam } from '../kernel/errors.js';
import type { OverviewToken, ReportTokenKind, TokenNamespace, TokenOverviewStore } from './token-overview-store.js';
import { CREDENTIAL_REPORT_KIND, type CredentialOverviewStore, type DueCredentialOverview } from './credential-overview-store.js';
import { presentRenewalRule } from '../inventory/credential-json.js';

export const DEFAULT_WITHIN_DAYS = 30;
export const OAUTH_GRANT_REPORT_KIND = 'oauth_grant';
/** Ten years: further out than any token lifetime policy allows, small enough to stay a real date. */
export const MAX_WITHIN_DAYS = 3650;

/**
 * Reads a window: `30d`, `4w` or a bare number of days (`30`). Null when it is not one, or is outside
 * 1..3650 days.
 */
export function parseWithin(text: string): number | null {
  const m = /^\s*(\d{1,5})\s*([dw]?)\s*$/i.exec(text);
  if (!m) return null;
  const days = Number(m[1]) * (m[2]!.toLowerCase() === 'w' ? 7 : 1);
  return days >= 1 && days <= MAX_WITHIN_DAYS ? days : null;
}

export interface ExpiringToken {
  readonly id: number;
  readonly kind: ReportTokenKind;
  readonly name: string;
  readonly scopes: readonly string[];
  readonly expiresAt: UtcDate;
  readonly daysLeft: number;
  /** The user a personal, service-account or impersonation token belongs to. */
  readonly userId: number | null;
}

export interface ExpiringSection {
  readonly namespace: TokenNamespace;
  /** By expiry date, then id. */
  readonly tokens: readonly ExpiringToken[];
}

export interface ExpiringReport {
  readonly withinDays: number;
  /** Tokens expiring on or before this date are listed. */
  readonly until: UtcDate;
  readonly generatedAt: string;
  /** Sections ordered by their soonest expiry, then full path. */
  readonly sections: readonly ExpiringSection[];
  /** Outside credentials of the inventory due on or before `until` (overdue ones too), by due date. */
  readonly credentials: readonly ExpiringCredential[];
  /** OAuth grants whose refresh expires on or before `until` (LATCHKEY_OAUTH_REFRESH_TOKEN_LIFETIME_DAYS), soonest first. */
  readonly oauthGrants: readonly ExpiringOAuthGrant[];
}

export interface ExpiringOAuthGrant {
  readonly id: number;
  readonly applicationName: string;
  readonly userId: number;
  readonly username: string;
  readonly scopes: readonly string[];
  readonly expiresOn: UtcDate;
  readonly daysLeft: number;
}

export interface ExpiringCredential extends DueCredentialOverview {
  /** Whole days from today (UTC) to the due date; negative when overdue. */
  readonly daysLeft: number;
}

export interface ExpiringReportDeps {
  overview: TokenOverviewStore;
  /** Outside credentials of the inventory; absent: the report lists tokens only. */
  credentials?: CredentialOverviewStore;
  /** Live OAuth grants with an expiry; absent: none are listed. */
  oauthGrants?: { expiringBy(q: { now: string; until: UtcDate }): Promise<{ id: number; applicationName: string; userId: number; username: string; scopes: string[]; expiresAt: string }[]> };
  namespaces: Pick<NamespaceStore, 'findProjectById' | 'findGroupById'>;
  /** The effective access level along the project → group chain (namespace service). */
  accessLevel(user: User, resource: Resource): Promise<number>;
  clock: Clock;
}

export type ExpiringReportService = ReturnType<typeof createExpiringReport>;

export function createExpiringReport(deps: ExpiringReportDeps) {
  /** Whether `actor` may see tokens of this namespace; cached per report, as many tokens share one. */
  function visibility(actor: User) {
    const cache = new Map<string, Promise<boolean>>();
    const check = async (ns: TokenNamespace): Promise<boolean> => {
      if (ns.type === 'user') return ns.id === actor.id;
      let resource: Resource | null = null;
      if (ns.type === 'project') {
        const project: Project | null = await deps.namespaces.findProjectById(ns.id);
        resource = project ? { type: 'project', project } : null;
      } else {
        const group: Group | null = await deps.namespaces.findGroupById(ns.id);
        resource = group ? { type: 'group', group } : null;
      }
      return resource !== null && (await deps.accessLevel(actor, resource)) >= AccessLevel.MAINTAINER;
    };
    return (ns: TokenNamespace): Promise<boolean> => {
      if (actor.isAdmin) return Promise.resolve(true);
      const key = `${ns.type}:${ns.id}`;
      let answer = cache.get(key);
      if (!answer) cache.set(key, (answer = check(ns)));
      return answer;
    };
  }

  return {
    /** The report for `actor` (admin: everything). `within` is a number of days, or text as parseWithin reads it. */
    async build(actor: User, within: number | string | undefined): Promise<ExpiringReport> {
      const withinDays = within === undefined ? DEFAULT_WITHIN_DAYS : typeof within === 'number' ? within : parseWithin(within);
      if (withinDays === null || !Number.isInteger(withinDays) || withinDays < 1 || withinDays > MAX_WITHIN_DAYS) throw invalidParam('within is invalid', 'WITHIN_INVALID');
      const now = deps.clock.now();
      const today = utcDateOf(now);
      const until = addDays(today, withinDays);
      const tokens = await deps.overview.activeExpiring({ today, now: now.toISOString(), until });
      const visible = visibility(actor);
      const sections = new Map<string, { namespace: TokenNamespace; tokens: ExpiringToken[] }>();
      for (const t of tokens) {
        if (t.kind === 'impersonation' && !actor.isAdmin) continue;
        if (!(await visible(t.namespace))) continue;
        const key = `${t.namespace.type}:${t.namespace.id}`;
        let section = sections.get(key);
        if (!section) sections.set(key, (section = { namespace: t.namespace, tokens: [] }));
        section.tokens.push(present(t, now));
      }
      // Tokens arrive by expiry; a section's first token is its soonest, so insertion order is nearly right.
      const ordered = [...sections.values()].sort(
        (a, b) => a.tokens[0]!.expiresAt.localeCompare(b.tokens[0]!.expiresAt) || a.namespace.fullPath.localeCompare(b.namespace.fullPath) || a.namespace.type.localeCompare(b.namespace.type),
      );
      // Outside credentials, shown to whoever may see their owning group's tokens (Maintainer+, admins all).
      const credentials: ExpiringCredential[] = [];
      for (const c of (await deps.credentials?.dueBy({ until })) ?? []) {
        if (await visible({ type: 'group', id: c.owner.id, fullPath: c.owner.fullPath })) credentials.push({ ...c, daysLeft: daysUntil(c.dueOn, now) });
      }
      // OAuth grants: admins see all, anyone else the grants they gave.
      const oauthGrants: ExpiringOAuthGrant[] = [];
      for (const g of (await deps.oauthGrants?.expiringBy({ now: now.toISOString(), until })) ?? []) {
        if (!actor.isAdmin && g.userId !== actor.id) continue;
        const expiresOn = utcDateOf(new Date(g.expiresAt));
        oauthGrants.push({ id: g.id, applicationName: g.applicationName, userId: g.userId, username: g.username, scopes: g.scopes, expiresOn, daysLeft: daysUntil(expiresOn, now) });
      }
      return { withinDays, until, generatedAt: now.toISOString(), sections: ordered, credentials, oauthGrants };
    },
  };
}

function present(t: OverviewToken, now: Date): ExpiringToken {
  return { id: t.id, kind: t.kind, name: t.name, scopes: t.scopes, expiresAt: t.expiresAt, daysLeft: daysUntil(t.expiresAt, now), userId: t.userId ?? null };
}

/** The report's JSON shape, shared by the API and `latchkey expiring --json` (snake_case, as GitLab's). */
export function presentExpiringReport(report: ExpiringReport) {
  return {
    within_days: report.withinDays,
    until: report.until,
    generated_at: report.generatedAt,
    namespaces: report.sections.map((s) => ({
      type: s.namespace.type,
      id: s.namespace.id,
      full_path: s.namespace.fullPath,
      tokens: s.tokens.map((t) => ({ id: t.id, kind: t.kind, name: t.name, scopes: [...t.scopes], expires_at: t.expiresAt, days_left: t.daysLeft })),
    })),
    credentials: report.credentials.map((c) => ({
      id: c.id,
      kind: CREDENTIAL_REPORT_KIND,
      credential_kind: c.kind,
      slug: c.slug,
      name: c.name,
      provider: c.provider,
      owner: { id: c.owner.id, full_path: c.owner.fullPath },
      renewal: presentRenewalRule(c.renewal),
      due_on: c.dueOn,
      days_left: c.daysLeft,
      upstream_token: c.upstreamToken,
    })),
    oauth_grants: report.oauthGrants.map((g) => ({
      id: g.id,
      kind: OAUTH_GRANT_REPORT_KIND,
      application: g.applicationName,
      user: { id: g.userId, username: g.username },
      scopes: [...g.scopes],
      expires_on: g.expiresOn,
      days_left: g.daysLeft,
    })),
  };
}
