/**
 * The token side of the inventory store: Latchkey's listed tokens read as inventory entries, a page at
 * a time. Nothing is written per token: a page of live tokens (not revoked, not deleted, not rotated
 * away; OAuth tokens, which live hours, left out) is read in id order from the tokens table's indexes,
 * and only that page's rotation chains and inventory rows are looked up. Keyset pages cost what the
 * first does; offset pages count to a limit, as GitLab's lists.
 */
import { sql, type Expression, type ExpressionBuilder, type Kysely } from 'kysely';
import { tokenEntryKind, tokenEntryOf, type TokenCore, type TokenEntryKind } from '../inventory/token-entry.js';
import type { TokenEntryFilter, TokenEntryPage, TokenEntryRead } from '../inventory/inventory-store.js';
import type { Credential } from '../inventory/credential.js';
import type { UtcDate } from '../kernel/dates.js';
import type { Database } from './database.js';
import { containsPattern } from './like.js';

type Db = Kysely<Database>;
type Eb = ExpressionBuilder<Database & { t: Database['tokens']; u: Database['users'] }, 't' | 'u'>;

/** Token rows as entries read them; `dead`: also revoked and deleted ones (never rotated-away ones: a chain shows at its live token). */
const tokenRows = (db: Db, dead = false) => {
  const q = db
    .selectFrom('tokens as t')
    .leftJoin('users as u', 'u.id', 't.user_id')
    .leftJoin('projects as p', 'p.id', 't.project_id')
    .leftJoin('groups as g', (j) => j.on(sql<boolean>`g.id = coalesce(t.group_id, p.group_id, u.provisioned_by_group_id)`))
    .select([
      't.id', 't.kind', 't.name', 't.scopes', 't.access_level', 't.expires_at', 't.created_at', 't.revoked_at', 't.deleted_at', 't.rotated_from_id', 't.user_id', 't.impersonation',
      'u.bot_kind', 'u.username', 'p.path_with_namespace', 'g.id as group_id', 'g.full_path as group_path',
    ])
    .where('t.superseded_at', 'is', null)
    .where('t.kind', '<>', 'oauth');
  return dead ? q : q.where('t.deleted_at', 'is', null).where('t.revoked_at', 'is', null);
};

/**
 * A membership of `userId` in the group whose traversal path (`/1/5/9/`) is in `traversalPath`, or in any
 * ancestor of it: Reporter or above, not ended. The inventory's read rule, for outside entries and tokens.
 */
export function reporterInTree(userId: number, today: string, traversalPath: string) {
  return ({ exists, selectFrom }: ExpressionBuilder<Database, keyof Database>) =>
    exists(
      selectFrom('members as m')
        .select(sql`1`.as('one'))
        .where('m.user_id', '=', userId)
        .where('m.source_type', '=', 'group')
        .where('m.access_level', '>=', 20)
        .where((e) => e.or([e('m.expires_at', 'is', null), e('m.expires_at', '>', today)]))
        .where(sql<boolean>`${sql.ref(traversalPath)} like '%/' || m.source_id || '/%'`),
    );
}

type TokenRow = Awaited<ReturnType<ReturnType<typeof tokenRows>['execute']>>[number];

/** The rows of each entry kind. */
function kindPredicate(eb: Eb, kind: TokenEntryKind) {
  const personal = (impersonation: number) => eb.and([eb('t.kind', '=', 'personal'), eb('t.impersonation', '=', impersonation)]);
  switch (kind) {
    case 'deploy_token':
      return eb('t.kind', '=', 'deploy');
    case 'project_access_token':
      return eb('t.kind', '=', 'project');
    case 'group_access_token':
      return eb('t.kind', '=', 'group');
    case 'impersonation_token':
      return personal(1);
    case 'service_account_token':
      return eb.and([personal(0), eb('u.bot_kind', '=', 'service_account')]);
    case 'personal_access_token':
      return eb.and([personal(0), eb.or([eb('u.bot_kind', 'is', null), eb('u.bot_kind', '<>', 'service_account')])]);
  }
}

/** Token ids mapped to the first token of their rotation chain, walking `rotated_from_id` back a level per query. */
async function chainRoots(db: Db, rows: readonly { id: number; rotated_from_id: number | null }[]): Promise<Map<number, number>> {
  const parentOf = new Map<number, number | null>(rows.map((r) => [r.id, r.rotated_from_id]));
  let frontier = [...new Set(rows.map((r) => r.rotated_from_id).filter((id): id is number => id !== null && !parentOf.has(id)))];
  while (frontier.length > 0) {
    const got = await db.selectFrom('tokens').select(['id', 'rotated_from_id']).where('id', 'in', frontier).execute();
    for (const g of got) parentOf.set(g.id, g.rotated_from_id);
    for (const id of frontier) if (!parentOf.has(id)) parentOf.set(id, null);
    frontier = [...new Set(got.map((g) => g.rotated_from_id).filter((id): id is number => id !== null && !parentOf.has(id)))];
  }
  const rootOf = (id: number): number => {
    let at = id;
    for (let parent = parentOf.get(at); parent !== null && parent !== undefined; parent = parentOf.get(at)) at = parent;
    return at;
  };
  return new Map(rows.map((r) => [r.id, rootOf(r.id)]));
}

/** The live token of each chain (its last rotation), from the chains' first tokens, a level per query. */
export async function chainHeads(db: Db, roots: readonly number[]): Promise<number[]> {
  const heads: number[] = [];
  let frontier = [...new Set(roots)];
  while (frontier.length > 0) {
    const children = await db.selectFrom('tokens').select(['id', 'rotated_from_id']).where('rotated_from_id', 'in', frontier).execute();
    const rotated = new Set(children.map((c) => c.rotated_from_id));
    heads.push(...frontier.filter((id) => !rotated.has(id)));
    frontier = children.map((c) => c.id);
  }
  return heads;
}

function coreOf(r: TokenRow, rootId: number): TokenCore | null {
  const kind = tokenEntryKind(r.kind, r.impersonation === 1, r.bot_kind ?? null);
  if (kind === null) return null;
  return {
    id: r.id,
    rootId,
    kind,
    name: r.name,
    scopes: JSON.parse(r.scopes) as string[],
    accessLevel: r.access_level,
    expiresAt: r.expires_at,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
    deletedAt: r.deleted_at,
    rotated: r.rotated_from_id !== null,
    userId: r.user_id,
    resource: r.path_with_namespace ?? (r.kind === 'group' || (r.kind === 'deploy' && r.group_path !== null) ? r.group_path : null) ?? r.username ?? null,
    group: r.group_id === null || r.group_id === undefined ? null : { id: Number(r.group_id), fullPath: r.group_path! },
  };
}

export interface TokenEntryReads {
  /** The inventory rows keyed to these chains' first tokens (with placements). */
  fieldsOf(rootIds: readonly number[]): Promise<Credential[]>;
  /** Chains' first tokens with inventory rows whose owner is one of these groups (a subquery or ids). */
  annotatedRoots(ownerGroupIds: readonly number[] | 'readable', userId?: number, today?: string): Promise<number[]>;
}

export function createTokenEntryReader(db: Db, reads: TokenEntryReads) {
  /** Entries for a page of token rows: each with its chain's inventory fields. */
  const entriesOf = async (rows: TokenRow[], today: UtcDate): Promise<TokenEntryRead[]> => {
    const roots = await chainRoots(db, rows);
    const fields = new Map((await reads.fieldsOf([...new Set(roots.values())])).map((c) => [c.tokenId!, c]));
    const out: TokenEntryRead[] = [];
    for (const r of rows) {
      const token = coreOf(r, roots.get(r.id)!);
      if (token === null) continue;
      const f = fields.get(token.rootId) ?? null;
      out.push({ entry: tokenEntryOf(token, f, today), token, fields: f });
    }
    return out;
  };

  return {
    /** A page of token entries the filter allows, in token id order. */
    async list(filter: TokenEntryFilter): Promise<TokenEntryPage> {
      const readable = filter.readableBy;
      const [readableHeads, ownerHeads] = await Promise.all([
        readable ? reads.annotatedRoots('readable', readable.userId, readable.today).then((r) => chainHeads(db, r)) : null,
        filter.ownerGroupId !== undefined ? reads.annotatedRoots([filter.ownerGroupId]).then((r) => chainHeads(db, r)) : null,
      ]);
      /**
       * The ids of tokens whose group is one of `groups` (their own, their project's, their service
       * account's), whose chain's inventory row such a group owns (`heads`), and `own` (a person's own
       * personal tokens): a union of index look-ups, which the page then walks in id order, instead of an
       * OR that would scan every token for a user who sees few.
       */
      const idsIn = (groups: readonly number[] | Expression<unknown>, heads: number[] | null, ownUserId?: number) => {
        // Ids or a subquery of them: both are operands of IN (one type for Kysely).
        const g = groups as number[];
        let ids = db.selectFrom('tokens as a').select('a.id').where('a.group_id', 'in', g)
          .union(db.selectFrom('tokens as b').select('b.id').where('b.project_id', 'in', db.selectFrom('projects').select('projects.id').where('projects.group_id', 'in', g)))
          .union(db.selectFrom('tokens as c').select('c.id').where('c.user_id', 'in', db.selectFrom('users as sa').select('sa.id').where('sa.provisioned_by_group_id', 'in', g)));
        if (heads !== null && heads.length > 0) ids = ids.union(db.selectFrom('tokens as d').select('d.id').where('d.id', 'in', heads));
        if (ownUserId !== undefined) ids = ids.union(db.selectFrom('tokens as e').select('e.id').where('e.user_id', '=', ownUserId).where('e.kind', '=', 'personal').where('e.impersonation', '=', 0));
        return ids;
      };
      const state = filter.state ?? 'active';
      const base = () => {
        let q = tokenRows(db, state === 'revoked' || state === 'all');
        if (state === 'active') q = q.where((eb) => eb.or([eb('t.expires_at', 'is', null), eb('t.expires_at', '>=', filter.today)]));
        if (state === 'expired') q = q.where('t.expires_at', '<', filter.today);
        if (state === 'revoked') q = q.where((eb) => eb.or([eb('t.revoked_at', 'is not', null), eb('t.deleted_at', 'is not', null)]));
        if (readable) {
          const { userId, today } = readable;
          // Groups where the user is Reporter or above, directly or through an ancestor, membership not ended.
          const readableGroups = db.selectFrom('groups as rg').select('rg.id').where(reporterInTree(userId, today, 'rg.traversal_path') as never);
          q = q.where('t.id', 'in', idsIn(readableGroups, readableHeads, userId));
        }
        if (filter.ownerGroupId !== undefined) q = q.where('t.id', 'in', idsIn([filter.ownerGroupId], ownerHeads));
        if (filter.kind !== undefined) {
          const kind = filter.kind;
          q = q.where((eb) => kindPredicate(eb as unknown as Eb, kind));
        }
        if (filter.dueOnOrBefore !== undefined) q = q.where('t.expires_at', 'is not', null).where('t.expires_at', '<=', filter.dueOnOrBefore);
        if (filter.search !== undefined) q = q.where(sql<boolean>`lower(t.name) like ${containsPattern(filter.search)} escape '\\'`);
        return q;
      };
      let page = base().orderBy('t.id').limit(filter.limit + 1);
      if (filter.afterId !== undefined) page = page.where('t.id', '>', filter.afterId);
      if (filter.offset !== undefined && filter.offset > 0) page = page.offset(filter.offset);
      const rows = await page.execute();
      const hasNext = rows.length > filter.limit;
      const items = (await entriesOf(rows.slice(0, filter.limit), filter.today)).map((e) => e.entry);
      if (filter.countLimit === undefined) return { items, total: 0, exact: false, hasNext };
      const limit = filter.countLimit === null ? undefined : filter.countLimit + 1;
      const inner = base().clearSelect().select('t.id');
      const counted = await db
        .selectFrom((limit === undefined ? inner : inner.limit(limit)).as('x'))
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow();
      const n = Number(counted.n);
      return { items, total: limit !== undefined && n >= limit ? limit - 1 : n, exact: limit === undefined || n < limit, hasNext };
    },

    /** The inventory rows (with placements) of these tokens' rotation chains, by token id: one batch for a page of a token table. */
    async fieldsOfTokens(tokens: readonly { id: number; rotatedFromId: number | null }[]): Promise<Map<number, Credential>> {
      const roots = await chainRoots(db, tokens.map((t) => ({ id: t.id, rotated_from_id: t.rotatedFromId })));
      const fields = new Map((await reads.fieldsOf([...new Set(roots.values())])).map((c) => [c.tokenId!, c]));
      return new Map(tokens.flatMap((t) => (fields.has(roots.get(t.id)!) ? [[t.id, fields.get(roots.get(t.id)!)!] as const] : [])));
    },

    /**
     * The entry of the chain any of whose tokens is `tokenId`, read at its last token, revoked, expired or
     * deleted as it may be (its entry says so); null when there is no such token (or an OAuth one).
     */
    async find(tokenId: number, today: UtcDate): Promise<TokenEntryRead | null> {
      let head = tokenId;
      for (;;) {
        const next = await db.selectFrom('tokens').select('id').where('rotated_from_id', '=', head).executeTakeFirst();
        if (next === undefined) break;
        head = next.id;
      }
      const rows = await tokenRows(db, true).where('t.id', '=', head).execute();
      return (await entriesOf(rows, today))[0] ?? null;
    },
  };
}

export type TokenEntryReader = ReturnType<typeof createTokenEntryReader>;
