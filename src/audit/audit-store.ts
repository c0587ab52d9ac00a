/**
 * Storage of the audit log (Kysely, both dialects): chained appends, filtered keyset reads, the walk
 * `verify` makes, and the look-ups that enrich entries off the request path (token digest and
 * namespace, actor ids). Appends are serialised by updating the one head row first inside the
 * transaction: PostgreSQL holds that row lock until commit, so appends from several nodes queue up
 * and each links to the one committed before it; SQLite takes its database write lock at that UPDATE.
 */
import { CompiledQuery, SqliteAdapter, sql, type Kysely } from 'kysely';
import type { Database } from '../store/database.js';
import { inRelaxedTransaction } from '../store/relaxed-commit.js';
import { chain, tokenHashOfDigest, type AuditRow, type UnchainedRow } from './audit-entry.js';

/** Rows per statement of the token-hash pairs: well under both dialects' bound-parameter limits. */
const INSERT_CHUNK = 200;
/** SQLite rows per INSERT of a batch, between which requests are served (about 1 ms of inserting each). */
export const SQLITE_YIELD_CHUNK = 100;
/** Rows per page of the verification walk. */
const WALK_PAGE = 1000;

export interface AuditFilter {
  readonly tokenId?: number;
  readonly tokenHash?: string;
  readonly actor?: string;
  readonly event?: string;
  readonly status?: number;
  readonly projectId?: number;
  /** Entries of tokens under this group traversal path (`/1/5/`), subgroups and projects included. */
  readonly groupPath?: string;
  /** created_at >= after, created_at <= before (ISO instants). */
  readonly after?: string;
  readonly before?: string;
  /** Keyset: only ids below this one (the previous page's last id). */
  readonly beforeId?: number;
  /** A non-admin's reach: entries of these group trees and projects only. null = everything. */
  readonly scope?: { readonly groupPaths: readonly string[]; readonly projectIds: readonly number[] } | null;
}

export interface TokenInfo {
  readonly digest: string;
  /** The hash the audit log records for the token (tokenHashOfDigest of its digest). */
  readonly tokenHash: string;
  readonly projectId: number | null;
  readonly groupId: number | null;
  /** A service account's owning group (its tokens have neither project nor group). */
  readonly ownerGroupId: number | null;
}

/**
 * The condition of the partial index audit_events_token_event, word for word and with its literal (a
 * bound parameter would not do): a database uses a partial index only for a query whose condition
 * implies the index's, and neither proves `event = 'token.created'` implies it on its own.
 */
const TOKEN_EVENTS_ONLY = sql<boolean>`audit_events.event <> 'http.request'`;

/** `%` and `_` in a traversal path are impossible (digits and slashes), so LIKE needs no escaping. */
const under = (path: string) => `${path}%`;

export type AuditStore = ReturnType<typeof createAuditStore>;

/** Every column of audit_events, in the order the insert lists them. */
const COLUMNS = [
  'id', 'created_at', 'event', 'actor_type', 'actor_id', 'actor_name', 'token_id', 'token_hash', 'method', 'route', 'path',
  'status', 'user_agent', 'ip', 'project_id', 'group_id', 'group_path', 'data', 'prev_hash', 'hash',
] as const satisfies readonly (keyof AuditRow)[];

/** SQLite's INSERT text for `n` rows (kept: batches come in a few sizes, at most SQLITE_YIELD_CHUNK rows). */
const insertTexts = new Map<number, string>();
function insertText(n: number): string {
  let text = insertTexts.get(n);
  if (text === undefined) {
    const row = `(${COLUMNS.map(() => '?').join(', ')})`;
    text = `insert into audit_events (${COLUMNS.join(', ')}) values ${Array.from({ length: n }, () => row).join(', ')}`;
    insertTexts.set(n, text);
  }
  return text;
}

/** PostgreSQL's type of each column (all `integer` or `text`), for the arrays of the unnest insert. */
const INTEGER_COLUMNS = new Set<string>(['id', 'actor_id', 'token_id', 'status', 'project_id', 'group_id']);
const POSTGRES_INSERT = `insert into audit_events (${COLUMNS.join(', ')}) select * from unnest(${COLUMNS.map((c, i) => `$${i + 1}::${INTEGER_COLUMNS.has(c) ? 'integer' : 'text'}[]`).join(', ')})`;

/**
 * The rows in as few statements as possible, their text written here rather than built by Kysely:
 * building the query from hundreds of row objects cost more than the database's insert itself.
 * SQLite: multi-row INSERTs of SQLITE_YIELD_CHUNK rows (statements prepared once per size). PostgreSQL: one
 * INSERT … SELECT FROM unnest of one array per column, whatever the number of rows — 20 parameters and
 * the same short text every time, where a multi-row INSERT made the server parse and plan thousands of
 * parameters for every chunk.
 */
async function insertRows(trx: Kysely<Database>, rows: readonly AuditRow[]): Promise<void> {
  if (trx.getExecutor().adapter instanceof SqliteAdapter) {
    for (let i = 0; i < rows.length; i += SQLITE_YIELD_CHUNK) {
      // better-sqlite3 runs on the thread that serves requests: between chunks of a large batch, requests
      // waiting to be served go first (the transaction keeps its connection meanwhile; other queries on it
      // wait, cache hits need none), so a flush stalls them for one chunk's insert rather than the whole batch's.
      if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      const chunk = rows.slice(i, i + SQLITE_YIELD_CHUNK);
      const parameters: unknown[] = [];
      for (const row of chunk) for (const column of COLUMNS) parameters.push(row[column]);
      await trx.executeQuery(CompiledQuery.raw(insertText(chunk.length), parameters));
    }
    return;
  }
  const columns = COLUMNS.map((column) => rows.map((row) => row[column]));
  await trx.executeQuery(CompiledQuery.raw(POSTGRES_INSERT, columns));
}

const pairKey = (tokenId: number, tokenHash: string) => `${tokenId} ${tokenHash}`;

/**
 * The (token hash, token id) pairs of a batch, each once (audit_token_hashes: migration
 * 2026-12-04T0500), but for those `recorded` holds: pairs this process saw committed (rows of that table are
 * never deleted), so a busy token's pair is written once rather than checked again in every batch.
 * Returns the keys (pairKey) of the pairs it wrote.
 */
async function recordTokenHashes(trx: Kysely<Database>, rows: readonly AuditRow[], recorded: ReadonlySet<string>): Promise<string[]> {
  const pairs = new Map<string, { token_hash: string; token_id: number }>();
  for (const r of rows) {
    if (r.token_hash === null || r.token_id === null) continue;
    const key = pairKey(r.token_id, r.token_hash);
    if (!recorded.has(key)) pairs.set(key, { token_hash: r.token_hash, token_id: r.token_id });
  }
  if (pairs.size === 0) return [];
  const values = [...pairs.values()];
  for (let i = 0; i < values.length; i += INSERT_CHUNK) {
    await trx.insertInto('audit_token_hashes').values(values.slice(i, i + INSERT_CHUNK)).onConflict((oc) => oc.columns(['token_hash', 'token_id']).doNothing()).execute();
  }
  return [...pairs.keys()];
}

/**
 * Appends rows after the current head inside the caller's transaction `trx`; returns them as stored and
 * the token-hash pairs it wrote (recordTokenHashes).
 */
async function appendIn(trx: Kysely<Database>, rows: readonly UnchainedRow[], recorded: ReadonlySet<string>): Promise<{ rows: AuditRow[]; pairs: string[] }> {
  if (rows.length === 0) return { rows: [], pairs: [] };
  // The lock: a no-op write of the head row, which also reads it.
  const head = await trx.updateTable('audit_chain_head').set((eb) => ({ last_id: eb.ref('last_id') })).where('id', '=', 1).returning(['last_id', 'last_hash']).executeTakeFirstOrThrow();
  const chained = chain(rows, { lastId: Number(head.last_id), lastHash: head.last_hash });
  await insertRows(trx, chained);
  const pairs = await recordTokenHashes(trx, chained, recorded);
  const last = chained[chained.length - 1]!;
  await trx.updateTable('audit_chain_head').set({ last_id: last.id, last_hash: last.hash }).where('id', '=', 1).execute();
  return { rows: chained, pairs };
}

/**
 * Entries matching `f`, newest first. `hashTokenIds`: with `f.tokenHash`, the token ids that ever carried
 * that hash (audit_token_hashes) — the entries are read by the token id index (nearly always one id, so
 * in id order without a sort), and only those that show the hash are kept.
 */
export function entriesQuery(db: Kysely<Database>, f: AuditFilter, hashTokenIds?: readonly number[]) {
  let q = db.selectFrom('audit_events').selectAll();
  if (f.tokenId !== undefined) q = q.where('token_id', '=', f.tokenId);
  if (f.tokenHash !== undefined) {
    const ids = hashTokenIds ?? [];
    q = (ids.length === 1 ? q.where('token_id', '=', ids[0]!) : q.where('token_id', 'in', ids.length > 0 ? [...ids] : [-1])).where('token_hash', '=', f.tokenHash);
  }
  if (f.actor !== undefined) q = q.where('actor_name', '=', f.actor);
  if (f.event !== undefined) q = q.where('event', '=', f.event);
  if (f.status !== undefined) q = q.where('status', '=', f.status);
  if (f.projectId !== undefined) q = q.where('project_id', '=', f.projectId);
  if (f.groupPath !== undefined) q = q.where('group_path', 'like', under(f.groupPath));
  if (f.after !== undefined) q = q.where('created_at', '>=', f.after);
  if (f.before !== undefined) q = q.where('created_at', '<=', f.before);
  if (f.beforeId !== undefined) q = q.where('id', '<', f.beforeId);
  const scope = f.scope;
  if (scope) {
    q = q.where((eb) =>
      eb.or([
        ...scope.groupPaths.map((p) => eb('group_path', 'like', under(p))),
        ...(scope.projectIds.length > 0 ? [eb('project_id', 'in', [...scope.projectIds])] : []),
        // Nothing owned: no entry matches (callers refuse earlier; this keeps the query safe).
        sql<boolean>`1 = 0`,
      ]),
    );
  }
  return q.orderBy('id', 'desc');
}

/** The token event `event` of the token `tokenIdRef` refers to, as `audit verify` looks for it: on the partial index. */
export function tokenEventEntry(db: Kysely<Database>, tokenIdRef: 'tokens.id' | 'tokens.rotated_from_id' | 'n.token_id', event: string) {
  return db.selectFrom('audit_events').select(sql`1`.as('one')).where('audit_events.token_id', '=', sql.ref<number>(tokenIdRef)).where('audit_events.event', '=', event).where(TOKEN_EVENTS_ONLY);
}

/**
 * How long a token's digest and namespace, read to enrich entries, are used again without reading them
 * anew, and how many tokens are kept (the oldest go first). A token's project, group and owning group never
 * change; its digest changes only when it moves to a new server secret (LATCHKEY_SECRET_PREVIOUS), after
 * which entries may show its previous hash for up to this long (audit_token_hashes keeps both, so a search
 * by either finds them).
 */
export const TOKEN_INFO_TTL_MS = 60_000;
const TOKEN_INFO_KEPT = 20_000;
/** Committed (token id, hash) pairs remembered, so a busy token's pair is not inserted again per batch. */
const RECORDED_PAIRS_KEPT = 50_000;

export interface AuditStoreOptions {
  /** The clock of the token look-up's reuse (TOKEN_INFO_TTL_MS), in ms; default Date.now. */
  now?: () => number;
}

export function createAuditStore(db: Kysely<Database>, { now = Date.now }: AuditStoreOptions = {}) {
  /**
   * Between batches (each a few queries for all its tokens, audit-writer.ts enrichRecords): a service with
   * thousands of busy tokens would otherwise read every one of them again in every batch.
   */
  const tokenInfos = new Map<number, { info: TokenInfo; until: number }>();
  const recordedPairs = new Set<string>();
  /** Called once the transaction that wrote them has committed. */
  const remembered = ({ rows, pairs }: { rows: AuditRow[]; pairs: string[] }): AuditRow[] => {
    for (const key of pairs) {
      if (recordedPairs.size >= RECORDED_PAIRS_KEPT) recordedPairs.delete(recordedPairs.values().next().value!);
      recordedPairs.add(key);
    }
    return rows;
  };

  async function groupPaths(ids: readonly number[]): Promise<Map<number, string>> {
    if (ids.length === 0) return new Map();
    const rows = await db.selectFrom('groups').select(['id', 'traversal_path']).where('id', 'in', [...ids]).execute();
    return new Map(rows.map((r) => [Number(r.id), r.traversal_path]));
  }

  return {
    /**
     * Appends rows after the current head, in one transaction; returns them as stored. `relaxed`: the
     * commit does not wait for the disk (request entries, unless LATCHKEY_AUDIT_REQUIRED; see
     * src/store/relaxed-commit.ts): still atomic, and it survives a crash of the process.
     */
    async append(rows: readonly UnchainedRow[], { relaxed = false }: { relaxed?: boolean } = {}): Promise<AuditRow[]> {
      if (rows.length === 0) return [];
      // The pairs count as recorded only once the transaction has committed.
      if (relaxed) return remembered(await inRelaxedTransaction(db, (trx) => appendIn(trx, rows, recordedPairs)));
      return remembered(await db.transaction().execute((trx) => appendIn(trx, rows, recordedPairs)));
    },

    /** Takes the head row's lock in `trx` (the outbox relay's first statement: relays queue here). */
    async lockHead(trx: Kysely<Database>): Promise<void> {
      await trx.updateTable('audit_chain_head').set((eb) => ({ last_id: eb.ref('last_id') })).where('id', '=', 1).execute();
    },

    /** appendIn in the caller's transaction: its pairs are not remembered (this store cannot see its commit). */
    appendIn: async (trx: Kysely<Database>, rows: readonly UnchainedRow[]): Promise<AuditRow[]> => (await appendIn(trx, rows, recordedPairs)).rows,

    async head(): Promise<{ lastId: number; lastHash: string }> {
      const r = await db.selectFrom('audit_chain_head').select(['last_id', 'last_hash']).where('id', '=', 1).executeTakeFirstOrThrow();
      return { lastId: Number(r.last_id), lastHash: r.last_hash };
    },

    /** Every entry up to `lastId`, in id order, a page at a time. */
    async *walk(lastId: number): AsyncGenerator<AuditRow> {
      let after = 0;
      for (;;) {
        const page = await db.selectFrom('audit_events').selectAll().where('id', '>', after).where('id', '<=', lastId).orderBy('id').limit(WALK_PAGE).execute();
        for (const row of page) yield row;
        if (page.length < WALK_PAGE) return;
        after = Number(page[page.length - 1]!.id);
      }
    },

    /**
     * Token changes the log has no entry for (and the outbox holds none waiting): created, rotated, revoked,
     * reuse flagged, and expiry notices published (token.expiring / token.expired); each check's count and
     * its first `sample` token ids. The entry is looked for on the token the event is about.
     */
    async unrecorded(sample: number): Promise<{ event: string; count: number; tokenIds: number[] }[]> {
      const checks = [
        // Every token was created — one made by a rotation is the token.rotated of the one it replaced.
        { event: 'token.created', about: 'tokens.id' as const, where: sql<boolean>`tokens.rotated_from_id is null` },
        // A token rotated from another: the other one has its token.rotated (naming it: new_token_id).
        { event: 'token.rotated', about: 'tokens.rotated_from_id' as const, where: sql<boolean>`tokens.rotated_from_id is not null` },
        // Revoked other than by a rotation without grace (that one is the token.rotated): a token.revoked.
        { event: 'token.revoked', about: 'tokens.id' as const, where: sql<boolean>`tokens.revoked_at is not null and (tokens.revoke_reason is null or tokens.revoke_reason <> 'rotated')` },
        // Flagged for use from too many places: the flag commits with its token.reuse_flagged.
        { event: 'token.reuse_flagged', about: 'tokens.id' as const, where: sql<boolean>`tokens.reuse_flagged_at is not null` },
      ];
      const out = [];
      for (const c of checks) {
        const about = sql.ref(c.about);
        const missing = db
          .selectFrom('tokens')
          // OAuth access tokens (src/oauth) are an OAuth grant's, short-lived, and have no token events.
          .where('tokens.kind', '<>', 'oauth')
          .where(c.where)
          .where(({ not, exists }) => not(exists(tokenEventEntry(db, c.about, c.event))))
          .where(({ not, exists, selectFrom }) => not(exists(selectFrom('event_outbox').select(sql`1`.as('one')).whereRef('event_outbox.token_id', '=', c.about).where('event_outbox.name', '=', c.event))));
        const { n } = await missing.select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
        const count = Number(n);
        const ids = count === 0 ? [] : await missing.select(about.as('token_id')).orderBy(about).limit(sample).execute();
        out.push({ event: c.event, count, tokenIds: ids.map((r) => Number((r as { token_id: unknown }).token_id)) });
      }
      // An expiry notice marked published committed its token.expiring / token.expired with the mark: a token
      // with such a notice and no entry of that event lost it. Counted per token, on the notices' token index.
      for (const [event, expired] of [
        ['token.expiring', false],
        ['token.expired', true],
      ] as const) {
        const missing = db
          .selectFrom('expiry_notices as n')
          .where('n.event_published_at', 'is not', null)
          .where('n.interval', expired ? '=' : '<>', 'expired')
          .where(({ not, exists }) => not(exists(tokenEventEntry(db, 'n.token_id', event))))
          .where(({ not, exists, selectFrom }) => not(exists(selectFrom('event_outbox').select(sql`1`.as('one')).whereRef('event_outbox.token_id', '=', 'n.token_id').where('event_outbox.name', '=', event))));
        const { n } = await missing.select((eb) => eb.fn.count('n.token_id').distinct().as('n')).executeTakeFirstOrThrow();
        const count = Number(n);
        const ids = count === 0 ? [] : await missing.select('n.token_id').distinct().orderBy('n.token_id').limit(sample).execute();
        out.push({ event, count, tokenIds: ids.map((r) => Number(r.token_id)) });
      }
      return out;
    },

    /** Newest first; at most `limit` entries. */
    async query(f: AuditFilter, limit: number): Promise<AuditRow[]> {
      let hashTokenIds: number[] | undefined;
      if (f.tokenHash !== undefined) {
        hashTokenIds = (await db.selectFrom('audit_token_hashes').select('token_id').where('token_hash', '=', f.tokenHash).execute()).map((r) => Number(r.token_id));
        if (hashTokenIds.length === 0) return [];
      }
      return entriesQuery(db, f, hashTokenIds).limit(limit).execute();
    },

    /**
     * Digest, hash and namespace of each token: those read in the last TOKEN_INFO_TTL_MS from memory, the
     * others in one query for the whole batch.
     */
    async tokenInfo(ids: readonly number[]): Promise<Map<number, TokenInfo>> {
      const out = new Map<number, TokenInfo>();
      const at = now();
      const unknown: number[] = [];
      for (const id of ids) {
        const kept = tokenInfos.get(id);
        if (kept !== undefined && kept.until > at) out.set(id, kept.info);
        else unknown.push(id);
      }
      if (unknown.length === 0) return out;
      const rows = await db
        .selectFrom('tokens')
        .leftJoin('users', 'users.id', 'tokens.user_id')
        .select(['tokens.id', 'tokens.digest', 'tokens.project_id', 'tokens.group_id', 'users.provisioned_by_group_id'])
        .where('tokens.id', 'in', unknown)
        .execute();
      for (const r of rows) {
        const id = Number(r.id);
        const info: TokenInfo = { digest: r.digest, tokenHash: tokenHashOfDigest(r.digest), projectId: r.project_id, groupId: r.group_id, ownerGroupId: r.provisioned_by_group_id ?? null };
        out.set(id, info);
        tokenInfos.delete(id);
        if (tokenInfos.size >= TOKEN_INFO_KEPT) tokenInfos.delete(tokenInfos.keys().next().value!);
        tokenInfos.set(id, { info, until: at + TOKEN_INFO_TTL_MS });
      }
      return out;
    },

    /** Traversal path of each group. */
    groupPaths,

    /** The group each project lives in. */
    async projectGroups(ids: readonly number[]): Promise<Map<number, number>> {
      if (ids.length === 0) return new Map();
      const rows = await db.selectFrom('projects').select(['id', 'group_id']).where('id', 'in', [...ids]).execute();
      return new Map(rows.map((r) => [Number(r.id), Number(r.group_id)]));
    },

    /** Id and bot kind of users named in token events (`by`). */
    async usersByName(usernames: readonly string[]): Promise<Map<string, { id: number; botKind: string | null }>> {
      if (usernames.length === 0) return new Map();
      const rows = await db.selectFrom('users').select(['id', 'username', 'bot_kind']).where('username', 'in', [...usernames]).execute();
      return new Map(rows.map((r) => [r.username, { id: Number(r.id), botKind: r.bot_kind }]));
    },

    /** Where `userId` is a direct Owner (unexpired): group traversal paths (their trees) and project ids. */
    async ownedNamespaces(userId: number, ownerLevel: number, today: string): Promise<{ groupPaths: string[]; projectIds: number[] }> {
      const members = await db
        .selectFrom('members')
        .select(['source_type', 'source_id'])
        .where('user_id', '=', userId)
        .where('access_level', '>=', ownerLevel)
        .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', today)]))
        .execute();
      const groupIds = members.filter((m) => m.source_type === 'group').map((m) => Number(m.source_id));
      const projectIds = members.filter((m) => m.source_type === 'project').map((m) => Number(m.source_id));
      return { groupPaths: [...(await groupPaths(groupIds)).values()], projectIds };
    },
  };
}
