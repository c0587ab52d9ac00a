/**
 * Reading the audit log (`GET /api/v4/latchkey/audit_events`, `latchkey audit`) and checking its chain
 * (`latchkey audit verify`). Who sees what: an admin everything; a group Owner the entries of tokens
 * in its groups' trees (subgroups and their projects), a project Owner those of its project; anyone
 * else is refused. Entries of personal tokens belong to no namespace: admins only.
 */
import { AccessLevel } from '../namespaces/access-levels.js';
import type { NamespaceService } from '../namespaces/namespace-service.js';
import type { Group, User } from '../namespaces/namespace.js';
import type { Clock } from '../kernel/clock.js';
import { utcDateOf } from '../kernel/dates.js';
import { forbidden, invalidParam } from '../kernel/errors.js';
import type { TokenDigester } from '../tokens/token-digest.js';
import { TOKEN_HASH_PATTERN, tokenHashOfDigest, type AuditRow } from './audit-entry.js';
import { verifyChain, type ChainReport } from './audit-chain.js';
import type { AuditFilter, AuditStore } from './audit-store.js';

export const MAX_AUDIT_PAGE = 100;
/** Token ids named per kind of missing event in a verify report. */
const UNRECORDED_SAMPLE = 20;

/** `latchkey audit verify`: the chain's report, and token changes without their entry. */
export interface AuditReport extends ChainReport {
  /** Per event: how many tokens lack it, and the first of their ids. Empty when none does. */
  readonly unrecorded: { event: string; count: number; tokenIds: number[] }[];
}

/** Query parameters as the API and CLI take them (all optional, all text or numbers). */
export interface AuditQuery {
  readonly tokenId?: number;
  /** `sha256:<hex>` as entries show it. */
  readonly tokenHash?: string;
  /** A token's secret (CLI `--token <value>`): turned into its hash here, never stored or logged. */
  readonly tokenSecret?: string;
  readonly actor?: string;
  readonly event?: string;
  readonly status?: number;
  /** Project id or full path. */
  readonly project?: string;
  /** Group id or full path: the group, its subgroups and their projects. */
  readonly group?: string;
  /** ISO 8601 instants (or dates), inclusive. */
  readonly createdAfter?: string;
  readonly createdBefore?: string;
  /** The opaque cursor of the previous page's `next` link. */
  readonly cursor?: string;
  readonly perPage?: number;
}

export interface AuditPage {
  readonly items: AuditRow[];
  /** Cursor of the next (older) page; null on the last page. */
  readonly nextCursor: string | null;
}

export interface AuditServiceDeps {
  store: AuditStore;
  namespaces: Pick<NamespaceService, 'findProject' | 'findGroup' | 'accessLevel'>;
  digester: TokenDigester;
  clock: Clock;
}

const traversalOf = (g: Group) => `/${g.ancestorIds.join('/')}/`;

export const encodeCursor = (beforeId: number) => Buffer.from(JSON.stringify({ id_before: beforeId })).toString('base64url');

function decodeCursor(cursor: string): number {
  try {
    const { id_before: id } = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { id_before?: unknown };
    if (typeof id === 'number' && Number.isInteger(id) && id > 0 && id <= 2_147_483_647) return id;
  } catch {
    // fall through
  }
  throw invalidParam('cursor is invalid', 'CURSOR_INVALID');
}

function instant(name: string, text: string): string {
  const ms = /^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(ms)) throw invalidParam(`${name} is invalid`, 'INVALID_TIME');
  return new Date(ms).toISOString();
}

export type AuditService = ReturnType<typeof createAuditService>;

export function createAuditService({ store, namespaces, digester, clock }: AuditServiceDeps) {
  /** The non-admin's reach; refused when it owns nothing. */
  async function scopeOf(actor: User): Promise<AuditFilter['scope']> {
    if (actor.isAdmin) return null;
    const owned = await store.ownedNamespaces(actor.id, AccessLevel.OWNER, utcDateOf(clock.now()));
    if (owned.groupPaths.length === 0 && owned.projectIds.length === 0) throw forbidden('AUDIT_FORBIDDEN');
    return owned;
  }

  return {
    /** The `sha256:` form of a token's secret, computed through the server's digester. */
    tokenHashOf(secret: string): string {
      return tokenHashOfDigest(digester.digest(secret));
    },

    /** One page of entries visible to `actor`, newest first. */
    async list(actor: User, q: AuditQuery): Promise<AuditPage> {
      const scope = await scopeOf(actor);
      if (q.tokenHash !== undefined && !TOKEN_HASH_PATTERN.test(q.tokenHash)) throw invalidParam('token_hash must be sha256:<64 hex digits>', 'TOKEN_HASH_INVALID');
      const perPage = q.perPage ?? 20;
      if (!Number.isInteger(perPage) || perPage < 1) throw invalidParam('per_page is invalid');
      let projectId: number | undefined;
      let groupPath: string | undefined;
      if (q.project !== undefined) {
        const { project, level } = await namespaces.findProject(actor, q.project);
        if (level < AccessLevel.OWNER) throw forbidden('AUDIT_FORBIDDEN');
        projectId = project.id;
      }
      if (q.group !== undefined) {
        const { group, level } = await namespaces.findGroup(actor, q.group);
        if (level < AccessLevel.OWNER) throw forbidden('AUDIT_FORBIDDEN');
        groupPath = traversalOf(group);
      }
      const tokenHash = q.tokenSecret !== undefined ? tokenHashOfDigest(digester.digest(q.tokenSecret)) : q.tokenHash;
      const limit = Math.min(perPage, MAX_AUDIT_PAGE);
      const rows = await store.query(
        {
          tokenId: q.tokenId,
          tokenHash,
          actor: q.actor,
          event: q.event,
          status: q.status,
          projectId,
          groupPath,
          after: q.createdAfter === undefined ? undefined : instant('created_after', q.createdAfter),
          before: q.createdBefore === undefined ? undefined : instant('created_before', q.createdBefore),
          beforeId: q.cursor === undefined ? undefined : decodeCursor(q.cursor),
          scope,
        },
        limit + 1,
      );
      const items = rows.slice(0, limit);
      return { items, nextCursor: rows.length > limit ? encodeCursor(Number(items[items.length - 1]!.id)) : null };
    },

    /**
     * Walks the whole chain (admin tooling: the CLI), then looks for token changes the log has no
     * entry for — a created, rotated or revoked token without its event (and none waiting in the outbox).
     */
    async verify(): Promise<AuditReport> {
      const head = await store.head();
      const chain = await verifyChain(store.walk(head.lastId), head);
      const unrecorded = (await store.unrecorded(UNRECORDED_SAMPLE)).filter((u) => u.count > 0);
      return { ...chain, ok: chain.ok && unrecorded.length === 0, unrecorded };
    },
  };
}

/** An entry's JSON shape, shared by the API and `latchkey audit --json` (snake_case). Never a secret. */
export function presentAuditEvent(r: AuditRow) {
  let details: unknown = {};
  try {
    details = JSON.parse(r.data);
  } catch {
    details = { unreadable: true };
  }
  return {
    id: Number(r.id),
    created_at: r.created_at,
    event: r.event,
    actor_type: r.actor_type,
    actor_id: r.actor_id,
    actor_username: r.actor_name,
    token_id: r.token_id,
    token_hash: r.token_hash,
    method: r.method,
    route: r.route,
    path: r.path,
    status: r.status,
    user_agent: r.user_agent,
    ip: r.ip,
    project_id: r.project_id,
    group_id: r.group_id,
    details,
    hash: r.hash,
  };
}
