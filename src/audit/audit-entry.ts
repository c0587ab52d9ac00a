/**
 * An audit entry and its place in the chain: the canonical serialisation every entry's hash covers,
 * and the `sha256:<hex>` form a token is shown as. Pure: no I/O, no clock.
 *
 * hash = SHA-256(prev_hash + "\n" + JSON of the fields in a fixed order), hex. The id is part of the
 * hash, so an entry cannot be moved; prev_hash links it to the one before, so a deleted or rewritten
 * entry breaks the chain (audit-chain.ts checks it).
 */
import { sha256 } from '../kernel/sha256.js';

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

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

/**
 * SHA-256 of `prev + "\n" + JSON of the HASHED_FIELDS values`, numbers normalised (a driver returning "5"
 * still verifies). Written out field by field rather than mapped over HASHED_FIELDS: the appender runs it
 * for every entry. audit-chain.test.ts checks it against that list.
 */
function hashOf(prev: string, id: number, r: UnchainedRow): string {
  const values = [
    num(id), str(r.created_at), str(r.event), str(r.actor_type), num(r.actor_id), str(r.actor_name), num(r.token_id), str(r.token_hash), str(r.method), str(r.route), str(r.path),
    num(r.status), str(r.user_agent), str(r.ip), num(r.project_id), num(r.group_id), str(r.group_path), str(r.data),
  ];
  return sha256(`${prev}\n${JSON.stringify(values)}`, 'hex');
}

/** The hash an entry must carry, given its fields and the previous entry's hash. */
export function entryHash(row: Omit<AuditRow, 'hash'>): string {
  return hashOf(row.prev_hash, row.id, row);
}

/** The canonical serialisation by the field list itself (the reference entryHash is tested against). */
export function canonicalValues(row: Omit<AuditRow, 'hash'>): (string | number | null)[] {
  return HASHED_FIELDS.map((f) => {
    const v = row[f];
    return v === null || v === undefined ? null : f === 'id' || f === 'actor_id' || f === 'token_id' || f === 'status' || f === 'project_id' || f === 'group_id' ? Number(v) : String(v);
  });
}

/** Links rows after `head`: assigns ids and hashes in order (one object per row, no copies). */
export function chain(rows: readonly UnchainedRow[], head: { lastId: number; lastHash: string }): AuditRow[] {
  let prev = head.lastHash;
  const out: AuditRow[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const id = head.lastId + 1 + i;
    const hash = hashOf(prev, id, r);
    out[i] = {
      id, created_at: r.created_at, event: r.event, actor_type: r.actor_type, actor_id: r.actor_id, actor_name: r.actor_name, token_id: r.token_id, token_hash: r.token_hash,
      method: r.method, route: r.route, path: r.path, status: r.status, user_agent: r.user_agent, ip: r.ip, project_id: r.project_id, group_id: r.group_id, group_path: r.group_path,
      data: r.data, prev_hash: prev, hash,
    };
    prev = hash;
  }
  return out;
}

/** How a token appears in the log: SHA-256 of its stored HMAC digest (hex text), never the secret. */
export function tokenHashOfDigest(hmacDigestHex: string): string {
  return `sha256:${sha256(hmacDigestHex, 'hex')}`;
}

export const TOKEN_HASH_PATTERN = /^sha256:[0-9a-f]{64}$/;
