/** TokenOverviewStore over Kysely (both dialects): the expiring report's and the metrics' token queries. */
import { sql, type Kysely } from 'kysely';
import type { Database } from './database.js';
import type { OverviewToken, ReportTokenKind, TokenOverviewStore, TokenState } from '../reports/token-overview-store.js';
import { kindLabelOf, type TokenKind } from '../tokens/token.js';

function reportKind(kind: string, impersonation: number, ownerBotKind: string | null): ReportTokenKind {
  return kindLabelOf({ kind: kind as TokenKind, impersonation: Number(impersonation) === 1 }, ownerBotKind);
}

/** `reportKind` in SQL (tokens `t`, owners `u`): what the per-kind ranking partitions by. */
const REPORT_KIND_SQL = sql`case when t.kind <> 'personal' then t.kind when t.impersonation = 1 then 'impersonation' when u.bot_kind = 'service_account' then 'service_account' else 'personal' end`;

interface ActiveRow {
  id: number;
  kind: string;
  name: string;
  scopes: string;
  expires_at: string | null;
  user_id: number | null;
  project_id: number | null;
  group_id: number | null;
  impersonation: number;
  username: string | null;
  bot_kind: string | null;
  provisioned_by_group_id: number | null;
  path_with_namespace: string | null;
  full_path: string | null;
  owner_group_path: string | null;
}

function toOverviewToken(r: ActiveRow): OverviewToken {
  const kind = reportKind(r.kind, r.impersonation, r.bot_kind);
  const namespace =
    r.project_id !== null
      ? { type: 'project' as const, id: r.project_id, fullPath: r.path_with_namespace ?? `project ${r.project_id}` }
      : r.group_id !== null
        ? { type: 'group' as const, id: r.group_id, fullPath: r.full_path ?? `group ${r.group_id}` }
        : kind === 'service_account' && r.provisioned_by_group_id !== null
          ? { type: 'group' as const, id: r.provisioned_by_group_id, fullPath: r.owner_group_path ?? `group ${r.provisioned_by_group_id}` }
          : { type: 'user' as const, id: r.user_id ?? 0, fullPath: r.username ?? `user ${r.user_id}` };
  return { id: r.id, kind, name: r.name, scopes: JSON.parse(r.scopes) as string[], expiresAt: r.expires_at!, namespace, userId: r.user_id };
}

export function createTokenOverviewStore(db: Kysely<Database>): TokenOverviewStore {
  return {
    async activeExpiring({ today, until, limitPerKind }) {
      let q = db
        .selectFrom('tokens as t')
        .leftJoin('users as u', 'u.id', 't.user_id')
        .leftJoin('projects as p', 'p.id', 't.project_id')
        .leftJoin('groups as g', 'g.id', 't.group_id')
        // A service account's tokens belong to the group that owns the account.
        .leftJoin('groups as sg', 'sg.id', 'u.provisioned_by_group_id')
        .select([
          't.id',
          't.kind',
          't.name',
          't.scopes',
          't.expires_at',
          't.user_id',
          't.project_id',
          't.group_id',
          't.impersonation',
          'u.username',
          'u.bot_kind',
          'u.provisioned_by_group_id',
          'p.path_with_namespace',
          'g.full_path',
          'sg.full_path as owner_group_path',
        ])
        .where('t.revoked_at', 'is', null)
        .where('t.deleted_at', 'is', null)
        // A rotated-away token (even one still in its grace period) is being replaced: its successor is listed.
        .where('t.superseded_at', 'is', null)
        .where('t.expires_at', 'is not', null)
        .where('t.expires_at', '>', today);
      if (until !== null) q = q.where('t.expires_at', '<=', until);
      if (limitPerKind !== undefined) {
        // The soonest `limitPerKind` of each kind (a window over the kind as reports name it), in the database:
        // a scrape at a million tokens reads only these rows.
        const ranked = q.select(sql<number>`row_number() over (partition by ${REPORT_KIND_SQL} order by t.expires_at, t.id)`.as('rank'));
        const rows = await db
          .selectFrom(ranked.as('r'))
          .selectAll()
          .where('r.rank', '<=', limitPerKind)
          .orderBy('r.expires_at')
          .orderBy('r.id')
          .execute();
        return rows.map(toOverviewToken);
      }
      const rows = await q.orderBy('t.expires_at').orderBy('t.id').execute();
      return rows.map(toOverviewToken);
    },

    async expiringWithin({ today, bounds }) {
      const rows = await db
        .selectFrom('tokens as t')
        .leftJoin('users as u', 'u.id', 't.user_id')
        .select([
          REPORT_KIND_SQL.as('kind'),
          (eb) => eb.fn.countAll<string | number>().as('total'),
          // One conditional sum per bound: one pass over the active tokens, whatever their number.
          ...bounds.map((bound, i) => sql<string | number>`sum(case when t.expires_at <= ${bound} then 1 else 0 end)`.as(`b${i}`)),
        ])
        .where('t.revoked_at', 'is', null)
        .where('t.deleted_at', 'is', null)
        .where('t.superseded_at', 'is', null)
        .where('t.expires_at', 'is not', null)
        .where('t.expires_at', '>', today)
        .groupBy(sql`1`)
        .execute();
      return rows.map((r) => {
        const row = r as unknown as Record<string, string | number | null>;
        return { kind: r.kind as ReportTokenKind, total: Number(r.total), counts: bounds.map((_, i) => Number(row[`b${i}`] ?? 0)) };
      });
    },

    async countByKindAndState({ today, now }) {
      const state = sql<TokenState>`case
        when t.revoked_at is not null or t.deleted_at is not null or (t.grace_until is not null and t.grace_until <= ${now}) then 'revoked'
        when t.expires_at is not null and t.expires_at <= ${today} then 'expired'
        else 'active' end`;
      const serviceAccount = sql<number>`case when t.kind = 'personal' and u.bot_kind = 'service_account' then 1 else 0 end`;
      const rows = await db
        .selectFrom('tokens as t')
        .leftJoin('users as u', 'u.id', 't.user_id')
        .select([sql<string>`t.kind`.as('kind'), serviceAccount.as('sa'), sql<number>`t.impersonation`.as('imp'), state.as('state'), (eb) => eb.fn.countAll<string | number>().as('n')])
        .groupBy([sql`t.kind`, sql`2`, sql`3`, sql`4`])
        .execute();
      // Two groups (a service account's impersonation tokens, and the rest) can share one label: add them up.
      const counts = new Map<string, { kind: ReportTokenKind; state: TokenState; count: number }>();
      for (const r of rows) {
        const kind = reportKind(r.kind, r.imp, Number(r.sa) === 1 ? 'service_account' : null);
        const key = `${kind}/${r.state}`;
        const held = counts.get(key);
        if (held) held.count += Number(r.n);
        else counts.set(key, { kind, state: r.state, count: Number(r.n) });
      }
      return [...counts.values()];
    },
  };
}
