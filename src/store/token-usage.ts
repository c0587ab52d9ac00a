/** TokenUsageStore over Kysely (both dialects): usage records with compare-and-set, and the flagged-token listing. */
import { CompiledQuery, SqliteAdapter, sql, type Kysely } from 'kysely';
import type { Database } from './database.js';
import { inRelaxedTransaction } from './relaxed-commit.js';
import { insertOutboxEvents } from '../events/event-outbox.js';
import { toToken } from './tokens.js';
import { offsetOf } from '../kernel/page.js';
import { utcDateOf } from '../kernel/dates.js';
import type { TokenUsageStore, UsageWrite } from '../tokens/token-usage-store.js';
import { parseSightings, parseStringArray, stringsOf, type ReuseEvidence, type UsageRecord } from '../tokens/token-usage.js';

/** Rows per batched read, and per PostgreSQL write statement (6 parameters each): far below both dialects' limits. */
const BATCH_ROWS = 500;

const USAGE_COLUMNS = ['id', 'last_used_at', 'last_used_ips', 'usage_window_ips', 'usage_window_user_agents', 'reuse_flagged_at', 'usage_revision'] as const;

function toUsageRecord(r: { last_used_at: string | null; last_used_ips: string | null; usage_window_ips: string | null; usage_window_user_agents: string | null; reuse_flagged_at: string | null; usage_revision: number | string }): UsageRecord {
  return {
    lastUsedAt: r.last_used_at,
    lastUsedIps: parseStringArray(r.last_used_ips),
    windowIps: parseSightings(r.usage_window_ips),
    windowUserAgents: parseSightings(r.usage_window_user_agents),
    reuseFlaggedAt: r.reuse_flagged_at,
    revision: Number(r.usage_revision),
  };
}

function parseEvidence(json: string | null): ReuseEvidence | null {
  if (json === null) return null;
  try {
    const v = JSON.parse(json) as { ips?: unknown; user_agents?: unknown };
    return { ips: stringsOf(v.ips), userAgents: stringsOf(v.user_agents) };
  } catch {
    return null;
  }
}

/** One usage compare-and-set on SQLite (saveUsages): the merge, written only while the record is at the revision read. */
const SQLITE_SAVE_USAGE = `update tokens set last_used_at = ?, last_used_ips = ?, usage_window_ips = ?, usage_window_user_agents = ?, usage_revision = ?
  where id = ? and usage_revision = ?`;

/** `onEventsCommitted`: after a commit that wrote a token event (app.ts: the outbox relay's drain). */
export function createTokenUsageStore(db: Kysely<Database>, onEventsCommitted: () => Promise<void> = async () => {}): TokenUsageStore {
  const sqlite = db.getExecutor().adapter instanceof SqliteAdapter;
  return {
    async findUsage(tokenId) {
      const r = await db.selectFrom('tokens').select(USAGE_COLUMNS).where('id', '=', tokenId).executeTakeFirst();
      return r ? toUsageRecord(r) : null;
    },
    async findUsages(tokenIds) {
      const found = new Map<number, UsageRecord>();
      for (let i = 0; i < tokenIds.length; i += BATCH_ROWS) {
        const rows = await db.selectFrom('tokens').select(USAGE_COLUMNS).where('id', 'in', tokenIds.slice(i, i + BATCH_ROWS)).execute();
        for (const r of rows) found.set(Number(r.id), toUsageRecord(r));
      }
      return found;
    },
    async saveUsages(writes) {
      const saved = new Set<number>();
      const json = (m: UsageWrite['merged']) => [JSON.stringify(m.lastUsedIps), JSON.stringify(m.windowIps), JSON.stringify(m.windowUserAgents)] as const;
      if (sqlite) {
        // In-process: one transaction (one commit) of single-row compare-and-sets, each a few µs
        // (SQLite plans an UPDATE … FROM a long VALUES list far worse than the rows it touches), the
        // statement compiled once.
        await inRelaxedTransaction(db, async (trx) => {
          for (const { tokenId, revision, merged } of writes) {
            const [ips, windowIps, windowAgents] = json(merged);
            const r = await trx.executeQuery(CompiledQuery.raw(SQLITE_SAVE_USAGE, [merged.lastUsedAt, ips, windowIps, windowAgents, revision + 1, tokenId, revision]));
            if (Number(r.numAffectedRows ?? 0) > 0) saved.add(tokenId);
          }
        });
        return saved;
      }
      for (let i = 0; i < writes.length; i += BATCH_ROWS) {
        // PostgreSQL: one statement (one round trip) for the chunk, each row still a compare-and-set on
        // its own revision: a VALUES list joined with UPDATE … FROM; the casts type the parameters.
        const values = writes.slice(i, i + BATCH_ROWS).map(({ tokenId, revision, merged }) => {
          const [ips, windowIps, windowAgents] = json(merged);
          return sql`(cast(${tokenId} as bigint), cast(${revision} as bigint), ${merged.lastUsedAt}, ${ips}, ${windowIps}, ${windowAgents})`;
        });
        const result = await sql<{ id: number }>`with v(token_id, revision, last_used_at, last_used_ips, window_ips, window_user_agents) as (values ${sql.join(values)})
          update tokens set last_used_at = v.last_used_at, last_used_ips = v.last_used_ips, usage_window_ips = v.window_ips,
            usage_window_user_agents = v.window_user_agents, usage_revision = tokens.usage_revision + 1
          from v where tokens.id = v.token_id and tokens.usage_revision = v.revision
          returning tokens.id`.execute(db);
        for (const r of result.rows) saved.add(Number(r.id));
      }
      return saved;
    },
    async saveUsage(tokenId, revision, m, flagEvent) {
      const save = (trx: Kysely<Database>) => trx
        .updateTable('tokens')
        .set({
          last_used_at: m.lastUsedAt,
          last_used_ips: JSON.stringify(m.lastUsedIps),
          usage_window_ips: JSON.stringify(m.windowIps),
          usage_window_user_agents: JSON.stringify(m.windowUserAgents),
          usage_revision: revision + 1,
          ...(m.flagged ? { reuse_flagged_at: m.reuseFlaggedAt, reuse_flag_evidence: JSON.stringify({ ips: m.flagged.ips, user_agents: m.flagged.userAgents }) } : {}),
        })
        .where('id', '=', tokenId)
        .where('usage_revision', '=', revision)
        .executeTakeFirst();
      if (flagEvent === null) return Number((await save(db)).numUpdatedRows) > 0;
      const saved = await db.transaction().execute(async (trx) => {
        if (Number((await save(trx)).numUpdatedRows) === 0) return false;
        await insertOutboxEvents(trx, [flagEvent]);
        return true;
      });
      if (saved) await onEventsCommitted();
      return saved;
    },
    async listFlagged(filter, page) {
      let q = db.selectFrom('tokens').where('reuse_flagged_at', 'is not', null).where('deleted_at', 'is', null);
      if (filter.activeAt !== undefined) {
        const now = filter.activeAt.toISOString();
        const today = utcDateOf(filter.activeAt);
        q = q
          .where('revoked_at', 'is', null)
          .where((eb) => eb.or([eb('grace_until', 'is', null), eb('grace_until', '>', now)]))
          .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', today)]));
      }
      const [rows, count] = await Promise.all([
        q.selectAll().orderBy('reuse_flagged_at', 'desc').orderBy('id').limit(page.perPage).offset(offsetOf(page)).execute(),
        q.select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow(),
      ]);
      return { items: rows.map((r) => ({ token: toToken(r), evidence: parseEvidence(r.reuse_flag_evidence) })), total: Number(count.n) };
    },
  };
}
