/**
 * Chain verification (`latchkey audit verify`): walks every entry in id order and reports entries
 * whose content no longer matches their hash (altered), ranges of ids that are gone (deleted — ids are
 * dense, assigned by the appender), and links that point to something else than the entry before (that
 * entry was rewritten together with its hash). The head the appender keeps catches the tail: entries
 * deleted after the last one present, or the last one rewritten with its hash. The caller reads rows
 * up to head.lastId only, so appends racing the check are not mistaken for forgeries.
 */
import { AUDIT_GENESIS_HASH } from '../store/migrations/2026-11-23T0006-audit-log.js';
import { entryHash, type AuditRow } from './audit-entry.js';

export interface ChainReport {
  readonly ok: boolean;
  /** Entries read. */
  readonly entries: number;
  readonly lastId: number;
  /** Entries whose stored hash does not match their content. */
  readonly altered: number[];
  /** Ids that should be there and are not (inclusive ranges). */
  readonly missing: { from: number; to: number }[];
  /** Entries whose prev_hash is not the stored hash of the entry before (that entry was rewritten). */
  readonly brokenLinks: number[];
}

/** Verifies a chain read in id order (any number of pages), against the head the appender keeps. */
export async function verifyChain(rows: AsyncIterable<AuditRow>, head: { lastId: number; lastHash: string }): Promise<ChainReport> {
  const altered: number[] = [];
  const missing: { from: number; to: number }[] = [];
  const brokenLinks: number[] = [];
  let entries = 0;
  let prevId = 0;
  let prevHash = AUDIT_GENESIS_HASH;
  for await (const row of rows) {
    entries++;
    const id = Number(row.id);
    if (entryHash(row) !== row.hash) altered.push(id);
    if (id > prevId + 1) missing.push({ from: prevId + 1, to: id - 1 });
    else if (row.prev_hash !== prevHash) brokenLinks.push(id);
    prevId = id;
    prevHash = row.hash;
  }
  // The tail: entries deleted after the last one still present, or the last one rewritten with its hash.
  if (head.lastId > prevId) missing.push({ from: prevId + 1, to: head.lastId });
  else if (head.lastId === prevId && prevId > 0 && head.lastHash !== prevHash && !altered.includes(prevId)) altered.push(prevId);
  const ok = altered.length === 0 && missing.length === 0 && brokenLinks.length === 0;
  return { ok, entries, lastId: prevId, altered, missing, brokenLinks };
}
