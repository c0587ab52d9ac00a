/**
 * Token usage and reuse flagging (issue 5, points 3–4): the most recent distinct client IPs, the
 * distinct IPs and user agents seen within the reuse window (with when each was last seen, so every
 * node merges into the same window), and when a token was flagged as shared by several automations.
 * Frozen once released: never edit, add a new migration.
 */
import type { Kysely } from 'kysely';
import type { DialectTraits } from '../dialects.js';

const COLUMNS = [
  // JSON array of IP strings, most recent first (GitLab keeps the five most recent distinct ones).
  ['last_used_ips', '[]'],
  // JSON objects value → ISO instant last seen, pruned to the reuse window on every write.
  ['usage_window_ips', '{}'],
  ['usage_window_user_agents', '{}'],
] as const;

export function createTokenUsage(_traits: DialectTraits) {
  return {
    async up(db: Kysely<any>): Promise<void> {
      // One column per statement: SQLite's ALTER TABLE adds a single column at a time.
      for (const [name, empty] of COLUMNS) {
        await db.schema.alterTable('tokens').addColumn(name, 'text', (c) => c.notNull().defaultTo(empty)).execute();
      }
      // Bumped on every usage write: nodes merge their observations with compare-and-set on it.
      await db.schema.alterTable('tokens').addColumn('usage_revision', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.alterTable('tokens').addColumn('reuse_flagged_at', 'text').execute();
      // What was seen when the token was flagged: JSON {"ips": [...], "user_agents": [...]}.
      await db.schema.alterTable('tokens').addColumn('reuse_flag_evidence', 'text').execute();
      await db.schema.createIndex('tokens_reuse_flagged_at').on('tokens').column('reuse_flagged_at').execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.dropIndex('tokens_reuse_flagged_at').execute();
      for (const c of ['reuse_flag_evidence', 'reuse_flagged_at', 'usage_revision', ...COLUMNS.map(([name]) => name).reverse()]) {
        await db.schema.alterTable('tokens').dropColumn(c).execute();
      }
    },
  };
}
