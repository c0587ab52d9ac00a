/**
 * Kysely implementation of InventoryStore (both dialects). The tables' types live here and are added
 * to the handle with `withTables`, so the inventory's schema stays with the code that uses it.
 */
import { sql, type Generated, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { Credential, Placement, PlacementFields, PlacementKind, Renewal, ValueFormat } from '../inventory/credential.js';
import type { CredentialFilter, CredentialRecord, InventoryStore, PlacementQuery, RenewalEntry } from '../inventory/inventory-store.js';
import { conflict } from '../kernel/errors.js';
import { offsetOf } from '../kernel/page.js';
import type { Database } from './database.js';
import type { DialectTraits } from './dialects.js';
import { containsPattern } from './like.js';
import { notEndedUpstream } from './upstream-tokens-table.js';
import { createTokenEntryReader, reporterInTree } from './inventory-tokens.js';

export interface InventoryCredentialsTable {
  id: Generated<number>;
  slug: string;
  name: string;
  kind: string;
  provider: string | null;
  resource: string | null;
  owner_group_id: number;
  scopes: string;
  role: string | null;
  purpose: string | null;
  renewal_type: string;
  expires_at: string | null;
  every_days: number | null;
  event: string | null;
  review_every_days: number | null;
  renewed_on: string | null;
  due_on: string;
  procedure: string | null;
  fingerprint: string | null;
  token_id: number | null;
  created_by: number | null;
  created_at: string;
  updated_at: string;
}

export interface InventoryPlacementsTable {
  id: Generated<number>;
  credential_id: number;
  position: number;
  kind: string;
  instance: string | null;
  project: string | null;
  group_path: string | null;
  key: string | null;
  format: string | null;
  registry: string | null;
  username: string | null;
  host: string | null;
  path: string | null;
  cluster: string | null;
  namespace: string | null;
  name: string | null;
  where_text: string | null;
}

export interface InventoryRenewalsTable {
  id: Generated<number>;
  credential_id: number;
  renewed_at: string;
  renewed_on: string;
  renewed_by: number | null;
  renewed_by_username: string | null;
  previous_due_on: string;
  due_on: string;
  placements_updated: string;
  note: string | null;
}

type Tables = Database & { inventory_credentials: InventoryCredentialsTable; inventory_placements: InventoryPlacementsTable; inventory_renewals: InventoryRenewalsTable };
type CredentialRow = Selectable<InventoryCredentialsTable> & { owner_path: string };
type PlacementRow = Selectable<InventoryPlacementsTable>;

const toPlacement = (r: PlacementRow): Placement => ({
  id: r.id,
  credentialId: r.credential_id,
  kind: r.kind as PlacementKind,
  instance: r.instance,
  project: r.project,
  group: r.group_path,
  key: r.key,
  format: r.format as ValueFormat | null,
  registry: r.registry,
  username: r.username,
  host: r.host,
  path: r.path,
  cluster: r.cluster,
  namespace: r.namespace,
  name: r.name,
  where: r.where_text,
});

const placementColumns = (p: PlacementFields) => ({
  kind: p.kind,
  instance: p.instance,
  project: p.project,
  group_path: p.group,
  key: p.key,
  format: p.format,
  registry: p.registry,
  username: p.username,
  host: p.host,
  path: p.path,
  cluster: p.cluster,
  namespace: p.namespace,
  name: p.name,
  where_text: p.where,
});

export function renewalOf(r: Pick<CredentialRow, 'renewal_type' | 'expires_at' | 'every_days' | 'event' | 'review_every_days'>): Renewal {
  if (r.renewal_type === 'expires_at') return { type: 'expires_at', expiresAt: r.expires_at! };
  if (r.renewal_type === 'every_days') return { type: 'every_days', everyDays: Number(r.every_days) };
  return { type: 'event', event: r.event!, reviewEveryDays: Number(r.review_every_days) };
}

const toCredential = (r: CredentialRow, placements: Placement[]): Credential => ({
  id: r.id,
  slug: r.slug,
  name: r.name,
  kind: r.kind,
  provider: r.provider,
  resource: r.resource,
  owner: { id: r.owner_group_id, fullPath: r.owner_path },
  scopes: JSON.parse(r.scopes) as string[],
  role: r.role,
  purpose: r.purpose,
  renewal: renewalOf(r),
  procedure: r.procedure,
  renewedOn: r.renewed_on,
  dueOn: r.due_on,
  hasFingerprint: r.fingerprint !== null,
  tokenId: r.token_id,
  placements,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const recordColumns = (c: CredentialRecord) => ({
  slug: c.slug,
  name: c.name,
  kind: c.kind,
  provider: c.provider,
  resource: c.resource,
  owner_group_id: c.ownerGroupId,
  scopes: JSON.stringify(c.scopes),
  role: c.role,
  purpose: c.purpose,
  renewal_type: c.renewal.type,
  expires_at: c.renewal.type === 'expires_at' ? c.renewal.expiresAt : null,
  every_days: c.renewal.type === 'every_days' ? c.renewal.everyDays : null,
  event: c.renewal.type === 'event' ? c.renewal.event : null,
  review_every_days: c.renewal.type === 'event' ? c.renewal.reviewEveryDays : null,
  renewed_on: c.renewedOn,
  due_on: c.dueOn,
  procedure: c.procedure,
});

const toRenewalEntry = (r: Selectable<InventoryRenewalsTable>): RenewalEntry => ({
  id: r.id,
  credentialId: r.credential_id,
  renewedAt: r.renewed_at,
  renewedOn: r.renewed_on,
  renewedBy: { id: r.renewed_by, username: r.renewed_by_username },
  previousDueOn: r.previous_due_on,
  dueOn: r.due_on,
  placementsUpdated: JSON.parse(r.placements_updated) as RenewalEntry['placementsUpdated'],
  note: r.note,
});

export function createInventoryStore(database: Kysely<Database>, traits: DialectTraits): InventoryStore {
  return bind(database.withTables<{ inventory_credentials: InventoryCredentialsTable; inventory_placements: InventoryPlacementsTable; inventory_renewals: InventoryRenewalsTable }>(), traits, false);
}

function bind(db: Kysely<Tables>, traits: DialectTraits, inTransaction: boolean): InventoryStore {
  const unique = async <T>(write: Promise<T>, slug: string): Promise<T> => {
    try {
      return await write;
    } catch (e) {
      if (traits.isUniqueViolation(e)) throw conflict(`slug (${slug}) has already been taken`, 'ALREADY_EXISTS');
      throw e;
    }
  };

  const selectCredentials = () =>
    db.selectFrom('inventory_credentials as c').innerJoin('groups as g', 'g.id', 'c.owner_group_id').selectAll('c').select('g.full_path as owner_path');

  /** The entries a filter allows, as a WHERE on `c` (inventory_credentials). */
  const filtered = <Q extends ReturnType<typeof selectCredentials> | ReturnType<typeof countCredentials>>(q: Q, f: CredentialFilter): Q => {
    let out = q as ReturnType<typeof selectCredentials>;
    if (f.readableBy) {
      const { userId, today } = f.readableBy;
      out = out.where(reporterInTree(userId, today, 'g.traversal_path') as never);
    }
    if (f.ownerGroupId !== undefined) out = out.where('c.owner_group_id', '=', f.ownerGroupId);
    if (f.kind !== undefined) out = out.where('c.kind', '=', f.kind);
    if (f.dueOnOrBefore !== undefined) out = out.where('c.due_on', '<=', f.dueOnOrBefore);
    if (f.live) out = out.where(notEndedUpstream);
    if (f.search !== undefined) {
      const pattern = containsPattern(f.search);
      out = out.where((eb) =>
        eb.or([
          sql<boolean>`lower(c.slug) like ${pattern} escape '\\'`,
          sql<boolean>`lower(c.name) like ${pattern} escape '\\'`,
          sql<boolean>`lower(coalesce(c.provider, '')) like ${pattern} escape '\\'`,
        ]),
      );
    }
    return out as unknown as Q;
  };
  const countCredentials = () => db.selectFrom('inventory_credentials as c').innerJoin('groups as g', 'g.id', 'c.owner_group_id');

  const withPlacements = async (rows: CredentialRow[]): Promise<Credential[]> => {
    if (rows.length === 0) return [];
    const placements = await db
      .selectFrom('inventory_placements')
      .selectAll()
      .where('credential_id', 'in', rows.map((r) => r.id))
      .orderBy('credential_id')
      .orderBy('position')
      .orderBy('id')
      .execute();
    const byCredential = new Map<number, Placement[]>();
    for (const p of placements) {
      const list = byCredential.get(p.credential_id) ?? [];
      list.push(toPlacement(p));
      byCredential.set(p.credential_id, list);
    }
    return rows.map((r) => toCredential(r, byCredential.get(r.id) ?? []));
  };

  const one = async (rows: CredentialRow[]): Promise<Credential | null> => (await withPlacements(rows))[0] ?? null;

  const nextPosition = async (credentialId: number): Promise<number> => {
    const r = await db.selectFrom('inventory_placements').select((eb) => eb.fn.max('position').as('p')).where('credential_id', '=', credentialId).executeTakeFirst();
    return r?.p === null || r?.p === undefined ? 0 : Number(r.p) + 1;
  };

  const tokenEntries = createTokenEntryReader(db as unknown as Kysely<Database>, {
    fieldsOf: async (rootIds) => (rootIds.length === 0 ? [] : withPlacements(await selectCredentials().where('c.token_id', 'in', rootIds).execute())),
    annotatedRoots: async (owners, userId, today) => {
      const q = filtered(countCredentials(), owners === 'readable' ? { readableBy: { userId: userId!, today: today! } } : {}).select('c.token_id').where('c.token_id', 'is not', null);
      const rows = await (owners === 'readable' ? q : q.where('c.owner_group_id', 'in', owners)).execute();
      return rows.map((r) => Number(r.token_id));
    },
  });

  const store: InventoryStore = {
    async list(filter, page) {
      // Rows of tokens' inventory fields are listed as their tokens (listTokenEntries), or alone when asked for.
      const outside = <Q extends ReturnType<typeof selectCredentials> | ReturnType<typeof countCredentials>>(q: Q): Q => (filtered(q, filter) as ReturnType<typeof selectCredentials>).where('c.token_id', filter.tokenFields ? 'is not' : 'is', null) as unknown as Q;
      if (page.keyset) {
        let q = outside(selectCredentials()).orderBy('c.id').limit(page.perPage + 1);
        if (page.keyset.afterId !== null) q = q.where('c.id', '>', page.keyset.afterId);
        const rows = await q.execute();
        return { items: await withPlacements(rows.slice(0, page.perPage)), total: 0, exact: false, hasNext: rows.length > page.perPage };
      }
      const [rows, count] = await Promise.all([
        outside(selectCredentials()).orderBy('c.id').limit(page.perPage).offset(offsetOf(page)).execute(),
        outside(countCredentials()).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow(),
      ]);
      return { items: await withPlacements(rows), total: Number(count.n) };
    },

    listTokenEntries: (filter) => tokenEntries.list(filter),
    findTokenEntry: (tokenId, today) => tokenEntries.find(tokenId, today),
    tokenFields: (tokens) => tokenEntries.fieldsOfTokens(tokens),

    async findById(id) {
      return one(await selectCredentials().where('c.id', '=', id).execute());
    },

    async findBySlug(slug) {
      return one(await selectCredentials().where('c.slug', '=', slug).execute());
    },

    async findByIds(ids) {
      if (ids.length === 0) return [];
      return withPlacements(await selectCredentials().where('c.id', 'in', [...new Set(ids)]).orderBy('c.id').execute());
    },

    async findByFingerprint(fingerprint) {
      return withPlacements(await selectCredentials().where('c.fingerprint', '=', fingerprint).orderBy('c.id').execute());
    },

    async insert(record, createdBy, at, tokenId) {
      const row = await unique(
        db
          .insertInto('inventory_credentials')
          .values({ ...recordColumns(record), token_id: tokenId ?? null, created_by: createdBy, created_at: at, updated_at: at })
          .returning('id')
          .executeTakeFirstOrThrow(),
        record.slug,
      );
      return row.id;
    },

    async update(id, record, at) {
      await unique(db.updateTable('inventory_credentials').set({ ...recordColumns(record), updated_at: at }).where('id', '=', id).execute(), record.slug);
    },

    async setFingerprint(id, fingerprint) {
      await db.updateTable('inventory_credentials').set({ fingerprint }).where('id', '=', id).execute();
    },

    async delete(id) {
      await db.deleteFrom('inventory_renewals').where('credential_id', '=', id).execute();
      await db.deleteFrom('inventory_placements').where('credential_id', '=', id).execute();
      await db.deleteFrom('inventory_credentials').where('id', '=', id).execute();
    },

    async replacePlacements(credentialId, placements) {
      await db.deleteFrom('inventory_placements').where('credential_id', '=', credentialId).execute();
      if (placements.length === 0) return;
      await db
        .insertInto('inventory_placements')
        .values(placements.map((p, position) => ({ credential_id: credentialId, position, ...placementColumns(p) })))
        .execute();
    },

    async addPlacement(credentialId, placement) {
      const position = await nextPosition(credentialId);
      const row = await db.insertInto('inventory_placements').values({ credential_id: credentialId, position, ...placementColumns(placement) }).returningAll().executeTakeFirstOrThrow();
      return toPlacement(row);
    },

    async updatePlacement(id, placement) {
      const row = await db.updateTable('inventory_placements').set(placementColumns(placement)).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
      return toPlacement(row);
    },

    async deletePlacement(id) {
      await db.deleteFrom('inventory_placements').where('id', '=', id).execute();
    },

    async findPlacements(query: PlacementQuery, filter, page) {
      const columns: Record<keyof PlacementQuery, keyof InventoryPlacementsTable> = {
        kind: 'kind', instance: 'instance', project: 'project', group: 'group_path', key: 'key', host: 'host', path: 'path', namespace: 'namespace', name: 'name',
      };
      const base = () => {
        let q = filtered(countCredentials(), filter).innerJoin('inventory_placements as p', 'p.credential_id', 'c.id');
        for (const [field, column] of Object.entries(columns) as [keyof PlacementQuery, keyof InventoryPlacementsTable][]) {
          const v = query[field];
          if (v !== undefined) q = q.where(`p.${column}`, '=', v);
        }
        return q;
      };
      const [rows, count] = await Promise.all([
        base().select(['p.id as placement_id', 'c.id as credential_id']).orderBy('p.id').limit(page.perPage).offset(offsetOf(page)).execute(),
        base().select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow(),
      ]);
      const credentials = new Map((await withPlacements(rows.length === 0 ? [] : await selectCredentials().where('c.id', 'in', [...new Set(rows.map((r) => r.credential_id))]).execute())).map((c) => [c.id, c]));
      return {
        items: rows.map((r) => {
          const credential = credentials.get(r.credential_id)!;
          return { placement: credential.placements.find((p) => p.id === r.placement_id)!, credential };
        }),
        total: Number(count.n),
      };
    },

    async addRenewal(renewal) {
      const row = await db
        .insertInto('inventory_renewals')
        .values({
          credential_id: renewal.credentialId,
          renewed_at: renewal.renewedAt,
          renewed_on: renewal.renewedOn,
          renewed_by: renewal.renewedBy.id,
          renewed_by_username: renewal.renewedBy.username,
          previous_due_on: renewal.previousDueOn,
          due_on: renewal.dueOn,
          placements_updated: JSON.stringify(renewal.placementsUpdated),
          note: renewal.note,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toRenewalEntry(row);
    },

    async listRenewals(credentialId, page) {
      const q = db.selectFrom('inventory_renewals').where('credential_id', '=', credentialId);
      const [rows, count] = await Promise.all([
        q.selectAll().orderBy('id', 'desc').limit(page.perPage).offset(offsetOf(page)).execute(),
        q.select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow(),
      ]);
      return { items: rows.map(toRenewalEntry), total: Number(count.n) };
    },

    async transaction(fn) {
      if (inTransaction) return fn(store);
      return db.transaction().execute((trx: Transaction<Tables>) => fn(bind(trx, traits, true)));
    },
  };
  return store;
}
