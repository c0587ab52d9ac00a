/** CredentialOverviewStore over Kysely (both dialects): outside credentials by due date, on the partial index of migration 2026-12-03T1200. */
import type { Kysely } from 'kysely';
import type { Database } from './database.js';
import { renewalOf, type InventoryCredentialsTable } from './inventory.js';
import { notEndedUpstream, type UpstreamTokensTable } from './upstream-tokens-table.js';
import type { CredentialOverviewStore, UpstreamTokenState } from '../reports/credential-overview-store.js';

type Tables = Database & { inventory_credentials: InventoryCredentialsTable; upstream_tokens: UpstreamTokensTable };

/** `revoked` or `disappeared` for a synced token that ended upstream (its entry gets no reminders); null otherwise. */
const upstreamTokenState = (r: { revoked: number | null; state: string | null }): UpstreamTokenState => (r.state === 'disappeared' ? 'disappeared' : Number(r.revoked) === 1 ? 'revoked' : null);

export function createCredentialOverviewStore(database: Kysely<Database>): CredentialOverviewStore {
  const db = database as unknown as Kysely<Tables>;
  return {
    async dueBy({ until, limit, live }) {
      let q = db
        .selectFrom('inventory_credentials as c')
        .innerJoin('groups as g', 'g.id', 'c.owner_group_id')
        // The synced token of the entry, if any (at most one: unique per credential).
        .leftJoin('upstream_tokens as u', 'u.credential_id', 'c.id')
        .select(['c.id', 'c.slug', 'c.name', 'c.kind', 'c.provider', 'c.owner_group_id', 'g.full_path', 'c.renewal_type', 'c.expires_at', 'c.every_days', 'c.event', 'c.review_every_days', 'c.due_on', 'u.revoked', 'u.state'])
        .where('c.token_id', 'is', null);
      if (until !== null) q = q.where('c.due_on', '<=', until);
      if (live) q = q.where(notEndedUpstream);
      q = q.orderBy('c.due_on').orderBy('c.id');
      if (limit !== undefined) q = q.limit(limit);
      return (await q.execute()).map((r) => ({ id: r.id, slug: r.slug, name: r.name, kind: r.kind, provider: r.provider, owner: { id: r.owner_group_id, fullPath: r.full_path }, renewal: renewalOf(r), dueOn: r.due_on, upstreamToken: upstreamTokenState(r) }));
    },
    async count() {
      const r = await db.selectFrom('inventory_credentials as c').select((eb) => eb.fn.countAll().as('n')).where('c.token_id', 'is', null).where(notEndedUpstream).executeTakeFirstOrThrow();
      return Number(r.n);
    },
  };
}
