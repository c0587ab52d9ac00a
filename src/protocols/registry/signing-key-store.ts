/** Storage of the registry signing key (Kysely, both dialects): insert-if-absent, then read the winner. */
import type { Kysely, Selectable } from 'kysely';
import type { Database, RegistrySigningKeysTable } from '../../store/database.js';

export type StoredSigningKey = Selectable<RegistrySigningKeysTable>;

export type SigningKeyStore = ReturnType<typeof createSigningKeyStore>;

export function createSigningKeyStore(db: Kysely<Database>) {
  return {
    async find(name: string): Promise<StoredSigningKey | null> {
      return (await db.selectFrom('registry_signing_keys').selectAll().where('name', '=', name).executeTakeFirst()) ?? null;
    },

    /**
     * Inserts the key unless one of that name exists, and returns the stored one: when two nodes
     * generate at once, both end up with the first writer's key (ON CONFLICT DO NOTHING, no error).
     */
    async insertIfAbsent(row: StoredSigningKey): Promise<StoredSigningKey> {
      await db.insertInto('registry_signing_keys').values(row).onConflict((oc) => oc.column('name').doNothing()).execute();
      const stored = await this.find(row.name);
      if (!stored) throw new Error('registry signing key vanished after insert');
      return stored;
    },
  };
}
