/**
 * Keeps the bench's stores the same from run to run: the load cases write an audit entry per request
 * (millions in a full run), and a store that kept them grew by a gigabyte a run on SQLite, so later runs
 * measured a different store (the 4.6 GB file of 2026-12-03's runs). `markAudit` notes where the chain ends
 * before `serve` starts; `trimAudit` deletes what came after and puts the chain's head back, so the log is
 * the valid chain it was. The token hashes of tokens no longer there (the creates, deleted again) that no
 * remaining entry names go too.
 */
import { sql } from 'kysely';
import type { Store } from '../src/store/open-store.js';

export interface AuditMark {
  lastId: number;
  lastHash: string;
}

export async function markAudit(st: Store): Promise<AuditMark | null> {
  const head = await st.db.selectFrom('audit_chain_head').select(['last_id', 'last_hash']).where('id', '=', 1).executeTakeFirst();
  return head ? { lastId: Number(head.last_id), lastHash: head.last_hash } : null;
}

/** Entries removed. */
export async function trimAudit(st: Store, mark: AuditMark): Promise<number> {
  const removed = await st.db.transaction().execute(async (trx) => {
    const r = await trx.deleteFrom('audit_events').where('id', '>', mark.lastId).executeTakeFirst();
    await trx.updateTable('audit_chain_head').set({ last_id: mark.lastId, last_hash: mark.lastHash }).where('id', '=', 1).execute();
    // Pairs of tokens that are gone (the creates) and that no remaining entry names.
    await trx
      .deleteFrom('audit_token_hashes')
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('tokens').select('tokens.id').whereRef('tokens.id', '=', 'audit_token_hashes.token_id'))))
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('audit_events').select('audit_events.id').whereRef('audit_events.token_id', '=', 'audit_token_hashes.token_id'))))
      .execute();
    return Number(r.numDeletedRows);
  });
  // As a live PostgreSQL's autovacuum would (this machine's may run without it); SQLite reuses the freed pages.
  if (st.location.kind === 'postgres') await sql`vacuum analyze audit_events`.execute(st.db);
  else await sql`pragma wal_checkpoint(truncate)`.execute(st.db);
  return removed;
}
