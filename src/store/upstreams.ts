/**
 * Kysely implementation of UpstreamStore (both dialects). The tables' types live here and are added to
 * the handle with `withTables`, so the upstreams' schema stays with the code that uses it.
 */
import type { Generated, Kysely, Selectable, Transaction } from 'kysely';
import { conflict } from '../kernel/errors.js';
import type { UpstreamTokensTable } from './upstream-tokens-table.js';
import { offsetOf } from '../kernel/page.js';
import type { PlacementCheck, RemoteToken, SyncCounts, SyncedToken, Upstream, UpstreamTokenKind } from '../upstreams/upstream.js';
import type { UpstreamStore, UpstreamSyncPorts } from '../upstreams/upstream-store.js';
import type { Database } from './database.js';
import type { DialectTraits } from './dialects.js';
import { createInventoryStore, type InventoryCredentialsTable } from './inventory.js';

export interface UpstreamsTable {
  id: Generated<number>;
  name: string;
  url: string;
  token_sealed: string;
  owner_group_id: number;
  source: string;
  created_at: string;
  updated_at: string;
  sync_started_at: string | null;
  sync_finished_at: string | null;
  sync_status: string | null;
  sync_reason: string | null;
  sync_counts: string | null;
}

export type { UpstreamTokensTable };

export interface UpstreamRotatedTokensTable {
  upstream_id: number;
  kind: string;
  remote_id: number;
  credential_id: number;
  rotated_at: string;
}

export interface PlacementChecksTable {
  placement_id: number;
  credential_id: number;
  status: string;
  detail: string;
  checked_at: string;
}


type OwnTables = { upstreams: UpstreamsTable; upstream_tokens: UpstreamTokensTable; upstream_rotated_tokens: UpstreamRotatedTokensTable; placement_checks: PlacementChecksTable };
type Tables = Database & OwnTables & { inventory_credentials: InventoryCredentialsTable };
type UpstreamRow = Selectable<UpstreamsTable> & { owner_path: string };
type TokenRow = Selectable<UpstreamTokensTable> & { slug: string };

const toUpstream = (r: UpstreamRow): Upstream => ({
  id: r.id,
  name: r.name,
  url: r.url,
  owner: { id: r.owner_group_id, fullPath: r.owner_path },
  source: r.source as Upstream['source'],
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  sync: {
    startedAt: r.sync_started_at,
    finishedAt: r.sync_finished_at,
    status: r.sync_status as Upstream['sync']['status'],
    reason: r.sync_reason,
    counts: r.sync_counts === null ? null : (JSON.parse(r.sync_counts) as SyncCounts),
  },
});

const toSyncedToken = (r: TokenRow): SyncedToken => ({
  kind: r.kind as UpstreamTokenKind,
  remoteId: Number(r.remote_id),
  resource: r.resource,
  name: r.name,
  scopes: JSON.parse(r.scopes) as string[],
  accessLevel: r.access_level === null ? null : Number(r.access_level),
  expiresOn: r.expires_at,
  lastUsedAt: r.last_used_at,
  revoked: Number(r.revoked) === 1,
  active: Number(r.active) === 1,
  credentialId: r.credential_id,
  credentialSlug: r.slug,
  state: r.state as SyncedToken['state'],
  firstSeenAt: r.first_seen_at,
  lastSeenAt: r.last_seen_at,
  disappearedAt: r.disappeared_at,
});

const tokenColumns = (t: RemoteToken) => ({
  resource: t.resource,
  name: t.name,
  scopes: JSON.stringify(t.scopes),
  access_level: t.accessLevel,
  expires_at: t.expiresOn,
  last_used_at: t.lastUsedAt,
  revoked: t.revoked ? 1 : 0,
  active: t.active ? 1 : 0,
});

export function createUpstreamStore(database: Kysely<Database>, traits: DialectTraits): UpstreamStore {
  const db = database.withTables<OwnTables & { inventory_credentials: InventoryCredentialsTable }>();
  const selectUpstreams = () => db.selectFrom('upstreams as u').innerJoin('groups as g', 'g.id', 'u.owner_group_id').selectAll('u').select('g.full_path as owner_path');
  const selectTokens = (q: Kysely<Tables>) =>
    q.selectFrom('upstream_tokens as t').innerJoin('inventory_credentials as c', 'c.id', 't.credential_id').selectAll('t').select('c.slug as slug');

  const ports = (trx: Kysely<Tables>): UpstreamSyncPorts => ({
    inventory: createInventoryStore(trx as unknown as Kysely<Database>, traits),
    async knownTokens(upstreamId) {
      return (await selectTokens(trx).where('t.upstream_id', '=', upstreamId).execute()).map(toSyncedToken);
    },
    async saveToken(upstreamId, token, credentialId, at) {
      await trx
        .insertInto('upstream_tokens')
        .values({ upstream_id: upstreamId, kind: token.kind, remote_id: token.remoteId, credential_id: credentialId, ...tokenColumns(token), state: 'present', first_seen_at: at, last_seen_at: at, disappeared_at: null })
        .onConflict((oc) => oc.columns(['upstream_id', 'kind', 'remote_id']).doUpdateSet({ credential_id: credentialId, ...tokenColumns(token), state: 'present', last_seen_at: at, disappeared_at: null }))
        .execute();
    },
    async markDisappeared(upstreamId, token, at) {
      await trx
        .updateTable('upstream_tokens')
        .set({ state: 'disappeared', disappeared_at: at })
        .where('upstream_id', '=', upstreamId)
        .where('kind', '=', token.kind)
        .where('remote_id', '=', token.remoteId)
        .where('state', '=', 'present')
        .execute();
    },
    async moveToken(upstreamId, kind, fromRemoteId, toRemoteId, at) {
      const row = await trx.selectFrom('upstream_tokens').select('credential_id').where('upstream_id', '=', upstreamId).where('kind', '=', kind).where('remote_id', '=', fromRemoteId).executeTakeFirst();
      if (!row) return;
      await trx.updateTable('upstream_tokens').set({ remote_id: toRemoteId }).where('upstream_id', '=', upstreamId).where('kind', '=', kind).where('remote_id', '=', fromRemoteId).execute();
      await trx
        .insertInto('upstream_rotated_tokens')
        .values({ upstream_id: upstreamId, kind, remote_id: fromRemoteId, credential_id: row.credential_id, rotated_at: at })
        .onConflict((oc) => oc.columns(['upstream_id', 'kind', 'remote_id']).doNothing())
        .execute();
    },
    async rotatedAway(upstreamId) {
      const rows = await trx.selectFrom('upstream_rotated_tokens').select(['kind', 'remote_id']).where('upstream_id', '=', upstreamId).execute();
      return new Set(rows.map((r) => `${r.kind} ${Number(r.remote_id)}`));
    },
  });

  return {
    async list() {
      return (await selectUpstreams().orderBy('u.name').execute()).map(toUpstream);
    },

    async findByName(name) {
      const row = await selectUpstreams().where('u.name', '=', name).executeTakeFirst();
      return row ? toUpstream(row) : null;
    },

    async sealedToken(id) {
      const row = await db.selectFrom('upstreams').select('token_sealed').where('id', '=', id).executeTakeFirst();
      return row?.token_sealed ?? null;
    },

    async insert(record, at) {
      try {
        await db
          .insertInto('upstreams')
          .values({ name: record.name, url: record.url, token_sealed: record.tokenSealed, owner_group_id: record.ownerGroupId, source: record.source, created_at: at, updated_at: at })
          .execute();
      } catch (e) {
        if (traits.isUniqueViolation(e)) throw conflict(`name (${record.name}) has already been taken`, 'ALREADY_EXISTS');
        throw e;
      }
      return toUpstream((await selectUpstreams().where('u.name', '=', record.name).executeTakeFirstOrThrow()));
    },

    async update(id, changes, at) {
      await db
        .updateTable('upstreams')
        .set({
          ...(changes.url !== undefined ? { url: changes.url } : {}),
          ...(changes.tokenSealed !== undefined ? { token_sealed: changes.tokenSealed } : {}),
          ...(changes.ownerGroupId !== undefined ? { owner_group_id: changes.ownerGroupId } : {}),
          ...(changes.source !== undefined ? { source: changes.source } : {}),
          updated_at: at,
        })
        .where('id', '=', id)
        .execute();
    },

    async delete(id) {
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom('upstream_tokens').where('upstream_id', '=', id).execute();
        await trx.deleteFrom('upstreams').where('id', '=', id).execute();
      });
    },

    async markSyncStarted(id, at) {
      await db.updateTable('upstreams').set({ sync_started_at: at }).where('id', '=', id).execute();
    },

    async recordSyncOutcome(id, outcome) {
      await db
        .updateTable('upstreams')
        .set({ sync_finished_at: outcome.finishedAt, sync_status: outcome.status, sync_reason: outcome.reason, ...(outcome.counts ? { sync_counts: JSON.stringify(outcome.counts) } : {}) })
        .where('id', '=', id)
        .execute();
    },

    async listTokens(upstreamId, page) {
      const base = db.selectFrom('upstream_tokens').where('upstream_id', '=', upstreamId);
      const [rows, count] = await Promise.all([
        selectTokens(db).where('t.upstream_id', '=', upstreamId).orderBy('t.kind').orderBy('t.remote_id').limit(page.perPage).offset(offsetOf(page)).execute(),
        base.select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow(),
      ]);
      return { items: rows.map(toSyncedToken), total: Number(count.n) };
    },

    async tokenOfCredential(credentialId) {
      const row = await selectTokens(db).where('t.credential_id', '=', credentialId).executeTakeFirst();
      return row ? { upstreamId: row.upstream_id, token: toSyncedToken(row) } : null;
    },

    async savePlacementCheck(check) {
      const values = { credential_id: check.credentialId, status: check.status, detail: check.detail, checked_at: check.checkedAt };
      await db
        .insertInto('placement_checks')
        .values({ placement_id: check.placementId, ...values })
        .onConflict((oc) => oc.column('placement_id').doUpdateSet(values))
        .execute();
    },

    async listPlacementChecks(credentialId) {
      const rows = await db.selectFrom('placement_checks').selectAll().where('credential_id', '=', credentialId).orderBy('placement_id').execute();
      return rows.map((r): PlacementCheck => ({ placementId: r.placement_id, credentialId: r.credential_id, status: r.status as PlacementCheck['status'], detail: r.detail, checkedAt: r.checked_at }));
    },

    async transaction(fn) {
      return db.transaction().execute((trx: Transaction<Tables>) => fn(ports(trx)));
    },
  };
}
