/** Storage of the registry signing keys (Kysely, both dialects): insert-if-absent, rotation, the bundle's rows. */
import type { Kysely, Selectable } from 'kysely';
import type { Database, RegistrySigningKeysTable } from '../../store/database.js';

export type StoredSigningKey = Selectable<RegistrySigningKeysTable>;

export type SigningKeyStore = ReturnType<typeof createSigningKeyStore>;

export function createSigningKeyStore(db: Kysely<Database>) {
  const find = async (name: string, on: Kysely<Database> = db): Promise<StoredSigningKey | null> =>
    (await on.selectFrom('registry_signing_keys').selectAll().where('name', '=', name).executeTakeFirst()) ?? null;
  return {
    find: (name: string) => find(name),

    /**
     * Inserts the key unless one of that name exists, and returns the stored one: when two nodes
     * generate at once, both end up with the first writer's key (ON CONFLICT DO NOTHING, no error).
     */
    async insertIfAbsent(row: StoredSigningKey): Promise<StoredSigningKey> {
      await db.insertInto('registry_signing_keys').values(row).onConflict((oc) => oc.column('name').doNothing()).execute();
      const stored = await find(row.name);
      if (!stored) throw new Error('registry signing key vanished after insert');
      return stored;
    },

    /** Every stored key: current, next and retired ones. */
    all: (): Promise<StoredSigningKey[]> => db.selectFrom('registry_signing_keys').selectAll().orderBy('created_at', 'desc').execute(),

    /**
     * One transaction: `current` becomes `retired-<kid>` (retired at `retiredAt`) and `next` becomes
     * `current`. Returns the retired row. Two concurrent activations: the second finds no `next`.
     */
    async promoteNext(retiredAt: string): Promise<StoredSigningKey> {
      return db.transaction().execute(async (trx) => {
        const current = await find('current', trx);
        const next = await find('next', trx);
        if (!current || !next) throw new Error('registry signing key rotation: no current or no staged key');
        await trx.updateTable('registry_signing_keys').set({ name: `retired-${current.kid}`, retired_at: retiredAt }).where('name', '=', 'current').execute();
        const moved = await trx.updateTable('registry_signing_keys').set({ name: 'current' }).where('name', '=', 'next').executeTakeFirst();
        if (Number(moved.numUpdatedRows) !== 1) throw new Error('registry signing key rotation: the staged key vanished');
        return { ...current, name: `retired-${current.kid}`, retired_at: retiredAt };
      });
    },
  };
}
