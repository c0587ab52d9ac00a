/** Storage of the OpenID Connect signing keys (Kysely, both dialects): insert-if-absent per generation. */
import type { Kysely, Selectable } from 'kysely';
import type { Database, OidcSigningKeysTable } from './database.js';

export type StoredOidcKey = Selectable<OidcSigningKeysTable>;

export function createOidcKeyStore(db: Kysely<Database>) {
  return {
    /** Every key, newest generation first. */
    async all(): Promise<StoredOidcKey[]> {
      return db.selectFrom('oidc_signing_keys').selectAll().orderBy('generation', 'desc').execute();
    },
    /** Inserts unless that generation exists: two nodes generating at once both keep the first writer's key. */
    async insertIfAbsent(row: StoredOidcKey): Promise<void> {
      await db.insertInto('oidc_signing_keys').values(row).onConflict((oc) => oc.column('generation').doNothing()).execute();
    },
  };
}
export type OidcKeyStore = ReturnType<typeof createOidcKeyStore>;
