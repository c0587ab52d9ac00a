/**
 * Issue 15: upstream GitLab instances and the tokens their sync found. An upstream's token is sealed
 * under the server secret (`token_sealed`); each synced token is one inventory entry, linked here by
 * (upstream, kind, remote id). Frozen once released: add a new migration.
 */
import type { Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

export function createUpstreams(traits: DialectTraits) {
  const id = (c: any) => (traits.needsAutoIncrement ? c.primaryKey().autoIncrement() : c.primaryKey());
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('upstreams')
        .addColumn('id', traits.serialType, id)
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('token_sealed', 'text', (c) => c.notNull())
        // The Latchkey group that owns the inventory entries this upstream's sync creates.
        .addColumn('owner_group_id', 'integer', (c) => c.notNull().references('groups.id'))
        // `api` (registered by API or CLI) or `config` (LATCHKEY_UPSTREAMS, re-applied at start).
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('sync_started_at', 'text')
        .addColumn('sync_finished_at', 'text')
        // `ok` or `failed`; null before the first sync.
        .addColumn('sync_status', 'text')
        .addColumn('sync_reason', 'text')
        // JSON: what the last sync found and changed.
        .addColumn('sync_counts', 'text')
        .execute();

      await db.schema
        .createTable('upstream_tokens')
        .addColumn('id', traits.serialType, id)
        .addColumn('upstream_id', 'integer', (c) => c.notNull().references('upstreams.id').onDelete('cascade'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('remote_id', 'integer', (c) => c.notNull())
        .addColumn('credential_id', 'integer', (c) => c.notNull().references('inventory_credentials.id').onDelete('cascade'))
        // Where it lives upstream: `group:acme/platform`, `project:acme/web`, `user:12`.
        .addColumn('resource', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('access_level', 'integer')
        .addColumn('expires_at', 'text')
        .addColumn('last_used_at', 'text')
        .addColumn('revoked', 'integer', (c) => c.notNull())
        .addColumn('active', 'integer', (c) => c.notNull())
        // `present`, or `disappeared` (a complete sync no longer saw it).
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('first_seen_at', 'text', (c) => c.notNull())
        .addColumn('last_seen_at', 'text', (c) => c.notNull())
        .addColumn('disappeared_at', 'text')
        .addUniqueConstraint('upstream_tokens_key', ['upstream_id', 'kind', 'remote_id'])
        .execute();
      await db.schema.createIndex('upstream_tokens_credential').on('upstream_tokens').column('credential_id').unique().execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.dropTable('upstream_tokens').execute();
      await db.schema.dropTable('upstreams').execute();
    },
  };
}
