/**
 * Storage of hooks, the delivery outbox and attempts (Kysely, both dialects). Claiming a delivery is
 * one conditional UPDATE, so two nodes never send the same attempt.
 */
import type { Kysely, Selectable } from 'kysely';
import type { Database, WebhookAttemptsTable, WebhookDeliveriesTable, WebhooksTable } from '../store/database.js';
import { offsetOf, type Page, type PageRequest } from '../kernel/page.js';
import type { DeliveryHistory, DeliveryStatus, Webhook, WebhookAttempt, WebhookDelivery } from './webhook.js';

export interface StoredHook extends Webhook {
  readonly secretEncrypted: string;
  /** `latchkey` (signed token events) or `gitlab` (GitLab's hooks API and payloads: gitlab-hook-service.ts). */
  readonly format: 'latchkey' | 'gitlab';
  /** GitLab hooks of a project. */
  readonly projectId: number | null;
  /** GitLab hooks: their attributes (JSON), sealed custom headers, and X-Gitlab-Webhook-UUID. */
  readonly settings: string | null;
  readonly customHeadersEncrypted: string | null;
  readonly uuid: string | null;
}

/** Instance hooks (admins') may reach the local network; project and group hooks only when allowed. */
export const isInstanceHook = (h: Pick<StoredHook, 'groupId' | 'projectId'>) => h.groupId === null && h.projectId === null;

export const toHook = (r: Selectable<WebhooksTable>): StoredHook => ({
  id: r.id,
  groupId: r.group_id,
  url: r.url,
  events: JSON.parse(r.events) as string[],
  createdBy: r.created_by,
  createdAt: r.created_at,
  secretEncrypted: r.secret_encrypted,
  format: r.format === 'gitlab' ? 'gitlab' : 'latchkey',
  projectId: r.project_id,
  settings: r.settings,
  customHeadersEncrypted: r.custom_headers_encrypted,
  uuid: r.uuid,
});

const toDelivery = (r: Selectable<WebhookDeliveriesTable>): WebhookDelivery => ({
  id: r.id,
  hookId: r.hook_id,
  tokenId: r.token_id,
  event: r.event,
  status: r.status as DeliveryStatus,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  createdAt: r.created_at,
  finishedAt: r.finished_at,
});

const toAttempt = (r: Selectable<WebhookAttemptsTable>): WebhookAttempt => ({
  attempt: r.attempt,
  startedAt: r.started_at,
  statusCode: r.status_code,
  latencyMs: r.latency_ms,
  error: r.error,
  nextRetryAt: r.next_retry_at,
});

export type WebhookStore = ReturnType<typeof createWebhookStore>;

export function createWebhookStore(db: Kysely<Database>) {
  return {
    async insertHook(h: { groupId: number | null; url: string; events: readonly string[]; secretEncrypted: string; createdBy: number | null; createdAt: string }): Promise<StoredHook> {
      const row = await db
        .insertInto('webhooks')
        .values({ group_id: h.groupId, url: h.url, events: JSON.stringify(h.events), secret_encrypted: h.secretEncrypted, created_by: h.createdBy, created_at: h.createdAt, deleted_at: null })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toHook(row);
    },

    async findHook(id: number): Promise<StoredHook | null> {
      const row = await db.selectFrom('webhooks').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
      return row ? toHook(row) : null;
    },

    /** Hooks of one group, or the instance hooks (groupId null). */
    async listHooks(groupId: number | null, page: PageRequest): Promise<Page<StoredHook>> {
      let q = db.selectFrom('webhooks').where('deleted_at', 'is', null).where('format', '=', 'latchkey');
      q = groupId === null ? q.where('group_id', 'is', null) : q.where('group_id', '=', groupId);
      const { n } = await q.select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
      const rows = await q.selectAll().orderBy('id').limit(page.perPage).offset(offsetOf(page)).execute();
      return { items: rows.map(toHook), total: Number(n) };
    },

    /** Every live Latchkey-format hook: the outbox filters them by event and group tree (hooks are few). */
    async liveHooks(): Promise<StoredHook[]> {
      return (await db.selectFrom('webhooks').selectAll().where('deleted_at', 'is', null).where('format', '=', 'latchkey').orderBy('id').execute()).map(toHook);
    },

    /** Deletes a hook and cancels what it had not sent yet. */
    async deleteHook(id: number, at: string): Promise<void> {
      await db.transaction().execute(async (trx) => {
        await trx.updateTable('webhooks').set({ deleted_at: at }).where('id', '=', id).execute();
        await trx.updateTable('webhook_deliveries').set({ status: 'cancelled', finished_at: at, lease_until: null }).where('hook_id', '=', id).where('status', '=', 'pending').execute();
      });
    },

    async insertDeliveries(rows: readonly { hookId: number; tokenId: number; event: string; payload: string; at: string }[]): Promise<void> {
      if (rows.length === 0) return;
      await db
        .insertInto('webhook_deliveries')
        .values(rows.map((r) => ({ hook_id: r.hookId, token_id: r.tokenId, event: r.event, payload: r.payload, status: 'pending', attempts: 0, next_attempt_at: r.at, lease_until: null, created_at: r.at, finished_at: null })))
        .execute();
    },

    /**
     * Deliveries to send now: pending, due, not leased by a live claim, and first in line for their
     * hook and token (an earlier pending one holds later ones back, so a receiver sees a token's
     * events in order).
     */
    async dueDeliveries(now: string, limit: number): Promise<(WebhookDelivery & { payload: string })[]> {
      const rows = await db
        .selectFrom('webhook_deliveries as d')
        .selectAll('d')
        .where('d.status', '=', 'pending')
        .where('d.next_attempt_at', '<=', now)
        .where((eb) => eb.or([eb('d.lease_until', 'is', null), eb('d.lease_until', '<=', now)]))
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('webhook_deliveries as e')
                .select('e.id')
                .whereRef('e.hook_id', '=', 'd.hook_id')
                .whereRef('e.token_id', '=', 'd.token_id')
                .whereRef('e.id', '<', 'd.id')
                .where('e.status', '=', 'pending'),
            ),
          ),
        )
        .orderBy('d.id')
        .limit(limit)
        .execute();
      return rows.map((r) => ({ ...toDelivery(r), payload: r.payload }));
    },

    /** Takes a delivery for one attempt until `leaseUntil`. False when another node holds it or it is done. */
    async claim(id: number, now: string, leaseUntil: string): Promise<boolean> {
      const result = await db
        .updateTable('webhook_deliveries')
        .set({ lease_until: leaseUntil })
        .where('id', '=', id)
        .where('status', '=', 'pending')
        .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', now)]))
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    /** Records an attempt and moves the delivery on (delivered, retry later, or given up), in one transaction. */
    async recordAttempt(deliveryId: number, attempt: WebhookAttempt & { outcome: 'delivered' | 'retry' | 'failed'; at: string }): Promise<void> {
      await db.transaction().execute(async (trx) => {
        await trx
          .insertInto('webhook_attempts')
          .values({ delivery_id: deliveryId, attempt: attempt.attempt, started_at: attempt.startedAt, status_code: attempt.statusCode, latency_ms: attempt.latencyMs, error: attempt.error, next_retry_at: attempt.nextRetryAt })
          .execute();
        const update =
          attempt.outcome === 'retry'
            ? { attempts: attempt.attempt, next_attempt_at: attempt.nextRetryAt!, lease_until: null }
            : { attempts: attempt.attempt, status: attempt.outcome, finished_at: attempt.at, lease_until: null };
        await trx.updateTable('webhook_deliveries').set(update).where('id', '=', deliveryId).where('status', '=', 'pending').execute();
      });
    },

    /**
     * Deletes finished deliveries (delivered, given up, cancelled) that finished before `before`, with
     * their attempts, at most `limit` per call. Pending ones are never touched. Returns how many went.
     */
    async pruneFinished(before: string, limit: number): Promise<number> {
      return db.transaction().execute(async (trx) => {
        const ids = (
          await trx.selectFrom('webhook_deliveries').select('id').where('status', 'in', ['delivered', 'failed', 'cancelled']).where('finished_at', '<', before).orderBy('id').limit(limit).execute()
        ).map((r) => r.id);
        if (ids.length === 0) return 0;
        await trx.deleteFrom('webhook_attempts').where('delivery_id', 'in', ids).execute();
        await trx.deleteFrom('webhook_deliveries').where('id', 'in', ids).execute();
        return ids.length;
      });
    },

    /** A hook's deliveries, newest first, each with its attempts. */
    async listDeliveries(hookId: number, page: PageRequest): Promise<Page<DeliveryHistory>> {
      const base = db.selectFrom('webhook_deliveries').where('hook_id', '=', hookId);
      const { n } = await base.select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
      const rows = await base.selectAll().orderBy('id', 'desc').limit(page.perPage).offset(offsetOf(page)).execute();
      const ids = rows.map((r) => r.id);
      const attempts = ids.length === 0 ? [] : await db.selectFrom('webhook_attempts').selectAll().where('delivery_id', 'in', ids).orderBy('delivery_id').orderBy('attempt').execute();
      const items = rows.map((r) => ({ ...toDelivery(r), attemptLog: attempts.filter((a) => a.delivery_id === r.id).map(toAttempt) }));
      return { items, total: Number(n) };
    },

    /** What an event says about a token — deleted deploy tokens included (their deletion is an event too). */
    async tokenForEvent(id: number) {
      const r = await db.selectFrom('tokens').select(['id', 'kind', 'name', 'scopes', 'expires_at', 'user_id', 'project_id', 'group_id', 'username', 'impersonation']).where('id', '=', id).executeTakeFirst();
      if (!r) return null;
      return { id: r.id, kind: r.kind, name: r.name, scopes: JSON.parse(r.scopes) as string[], expiresAt: r.expires_at, userId: r.user_id, projectId: r.project_id, groupId: r.group_id, username: r.username, impersonation: r.impersonation === 1 };
    },

    /** Ancestor ids of a group (root first), from its traversal path; [] when unknown. */
    async groupChain(groupId: number): Promise<number[]> {
      const row = await db.selectFrom('groups').select('traversal_path').where('id', '=', groupId).executeTakeFirst();
      return row ? row.traversal_path.split('/').filter(Boolean).map(Number) : [];
    },

    /** The group that owns a service account (null for humans and other bots). */
    async serviceAccountGroup(userId: number): Promise<number | null> {
      const row = await db.selectFrom('users').select(['bot_kind', 'provisioned_by_group_id']).where('id', '=', userId).executeTakeFirst();
      return row && row.bot_kind === 'service_account' ? row.provisioned_by_group_id : null;
    },
  };
}
