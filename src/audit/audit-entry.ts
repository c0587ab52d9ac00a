/**
 * An audit entry and its place in the chain: the canonical serialisation every entry's hash covers,
 * and the `sha256:<hex>` form a token is shown as. Pure: no I/O, no clock.
 *
 * hash = SHA-256(prev_hash + "\n" + JSON of the fields in a fixed order), hex. The id is part of the
 * hash, so an entry cannot be moved; prev_hash links it to the one before, so a deleted or rewritten
 * entry breaks the chain (audit-chain.ts checks it).
 */
import { createHash } from 'node:crypto';

export type ActorType = 'user' | 'bot' | 'deploy_token';

/** An entry as stored (snake_case columns, as in the table). */
export interface AuditRow {
  readonly id: number;
  readonly created_at: string;
  /** `http.request`, or a token event name (`token.created`, `token.rotated`, …). */
  readonly event: string;
  readonly actor_type: string | null;
  readonly actor_id: number | null;
  readonly actor_name: string | null;
  readonly token_id: number | null;
  readonly token_hash: string | null;
  readonly method: string | null;
  readonly route: string | null;
  readonly path: string | null;
  readonly status: number | null;
  readonly user_agent: string | null;
  readonly ip: string | null;
  readonly project_id: number | null;
  readonly group_id: number | null;
  readonly group_path: string | null;
  /** JSON object text; never a secret. */
  readonly data: string;
  readonly prev_hash: string;
  readonly hash: string;
}

export type UnchainedRow = Omit<AuditRow, 'id' | 'prev_hash' | 'hash'>;

/** Field order of the canonical serialisation: never reorder, only append (old hashes must still verify). */
const HASHED_FIELDS = [
  'id', 'created_at', 'event', 'actor_type', 'actor_id', 'actor_name', 'token_id', 'token_hash', 'method', 'route', 'path',
  'status', 'user_agent', 'ip', 'project_id', 'group_id', 'group_path', 'data',
] as const;

/** The hash an entry must carry, given its fields and the previous entry's hash. */
export function entryHash(row: Omit<AuditRow, 'hash'>): string {
  // Numbers read back from either database are numbers; normalise so a driver returning "5" still verifies.
  const values = HASHED_FIELDS.map((f) => {
    const v = row[f];
    return v === null || v === undefined ? null : f === 'id' || f === 'actor_id' || f === 'token_id' || f === 'status' || f === 'project_id' || f === 'group_id' ? Number(v) : String(v);
  });
  return createHash('sha256').update(`${row.prev_hash}\n${JSON.stringify(values)}`, 'utf8').digest('hex');
}

/** Links rows after `head`: assigns ids and hashes in order. */
export function chain(rows: readonly UnchainedRow[], head: { lastId: number; lastHash: string }): AuditRow[] {
  let prev = head.lastHash;
  return rows.map((r, i) => {
    const linked = { ...r, id: head.lastId + 1 + i, prev_hash: prev };
    const row = { ...linked, hash: entryHash(linked) };
    prev = row.hash;
    return row;
  });
}

/** How a token appears in the log: SHA-256 of its stored HMAC digest (hex text), never the secret. */
export function tokenHashOfDigest(hmacDigestHex: string): string {
  return `sha256:${createHash('sha256').update(hmacDigestHex, 'utf8').digest('hex')}`;
}

export const TOKEN_HASH_PATTERN = /^sha256:[0-9a-f]{64}$/;
