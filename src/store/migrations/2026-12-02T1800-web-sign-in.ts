/**
 * Web sign-in (issue 18): browser sessions, failed sign-in counters (per username and per client IP)
 * and one-time sign-in links. Session ids and link secrets are stored only as HMAC digests.
 * Frozen once released.
 */
import type { Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

export function createWebSignIn(traits: DialectTraits) {
  const id = (c: any) => (traits.needsAutoIncrement ? c.primaryKey().autoIncrement() : c.primaryKey());
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('web_sessions')
        .addColumn('id', traits.serialType, id)
        .addColumn('digest', 'text', (c) => c.notNull().unique())
        .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('last_seen_at', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'text')
        .addColumn('ip', 'text')
        .addColumn('user_agent', 'text')
        .execute();
      await db.schema.createIndex('web_sessions_user_id').on('web_sessions').column('user_id').execute();
      await db.schema
        .createTable('sign_in_throttles')
        // `user:<lower-cased username>` or `ip:<address>`: unknown usernames are counted like known ones.
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('failures', 'integer', (c) => c.notNull())
        .addColumn('window_started_at', 'text', (c) => c.notNull())
        .addColumn('locked_until', 'text')
        .execute();
      await db.schema
        .createTable('sign_in_links')
        .addColumn('id', traits.serialType, id)
        .addColumn('digest', 'text', (c) => c.notNull().unique())
        .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('used_at', 'text')
        .execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.dropTable('sign_in_links').execute();
      await db.schema.dropTable('sign_in_throttles').execute();
      await db.schema.dropTable('web_sessions').execute();
    },
  };
}
