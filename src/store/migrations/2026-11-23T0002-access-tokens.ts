/**
 * Token rotation and expiry policy: the rotation chain on tokens (which token a rotation replaced,
 * when it was superseded, how long its old secret keeps working, why a token was revoked, when reuse
 * of a rotated-away secret was detected) and a per-group maximum token lifetime. Frozen once released.
 */
import type { Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

export function createAccessTokens(_traits: DialectTraits) {
  return {
    async up(db: Kysely<any>): Promise<void> {
      // One column per statement: SQLite's ALTER TABLE adds a single column at a time.
      await db.schema.alterTable('tokens').addColumn('rotated_from_id', 'integer', (c) => c.references('tokens.id')).execute();
      await db.schema.alterTable('tokens').addColumn('superseded_at', 'text').execute();
      await db.schema.alterTable('tokens').addColumn('grace_until', 'text').execute();
      await db.schema.alterTable('tokens').addColumn('revoke_reason', 'text').execute();
      await db.schema.alterTable('tokens').addColumn('reuse_detected_at', 'text').execute();
      // A token is rotated at most once: the unique key makes a concurrent second rotation fail
      // instead of forking the chain. (NULLs are distinct on both dialects.)
      await db.schema.createIndex('tokens_rotated_from_id').on('tokens').column('rotated_from_id').unique().execute();
      await db.schema.alterTable('groups').addColumn('max_token_lifetime_days', 'integer').execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.dropIndex('tokens_rotated_from_id').execute();
      for (const c of ['reuse_detected_at', 'revoke_reason', 'grace_until', 'superseded_at', 'rotated_from_id']) {
        await db.schema.alterTable('tokens').dropColumn(c).execute();
      }
      await db.schema.alterTable('groups').dropColumn('max_token_lifetime_days').execute();
    },
  };
}
