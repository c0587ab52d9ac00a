/**
 * Kysely implementation of CiVariableStore (both dialects). The table's type lives here and is added to
 * the handle with `withTables`, so the CI-variables schema stays with the code that uses it.
 */
import type { Generated, Kysely, Selectable } from 'kysely';
import { conflict } from '../kernel/errors.js';
import { offsetOf } from '../kernel/page.js';
import type { CiVariableStore, SealedAttributes, StoredVariable } from '../ci-variables/ci-variable-store.js';
import type { VariableOwner, VariableType } from '../ci-variables/ci-variable.js';
import type { Database } from './database.js';
import type { DialectTraits } from './dialects.js';

/** One CI/CD variable of a project or a group (exactly one of the two ids is set). */
export interface CiVariablesTable {
  id: Generated<number>;
  project_id: number | null;
  group_id: number | null;
  key: string;
  /** `v1:<iv>:<tag>:<ciphertext>`: AES-256-GCM under a key derived from the server secret. */
  value_encrypted: string;
  variable_type: string;
  protected: number;
  masked: number;
  hidden: number;
  raw: number;
  environment_scope: string;
  description: string | null;
  created_at: string;
  updated_at: string;
}

type Row = Selectable<CiVariablesTable>;

const toVariable = (r: Row): StoredVariable => ({
  id: r.id,
  owner: r.project_id !== null ? { type: 'project', id: r.project_id } : { type: 'group', id: r.group_id! },
  key: r.key,
  valueSealed: r.value_encrypted,
  variableType: r.variable_type as VariableType,
  protected: r.protected === 1,
  masked: r.masked === 1,
  hidden: r.hidden === 1,
  raw: r.raw === 1,
  environmentScope: r.environment_scope,
  description: r.description,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const columnsOf = (a: SealedAttributes) => ({
  key: a.key,
  value_encrypted: a.valueSealed,
  variable_type: a.variableType,
  protected: a.protected ? 1 : 0,
  masked: a.masked ? 1 : 0,
  hidden: a.hidden ? 1 : 0,
  raw: a.raw ? 1 : 0,
  environment_scope: a.environmentScope,
  description: a.description,
});

export function createCiVariableStore(database: Kysely<Database>, traits: DialectTraits): CiVariableStore {
  const db = database.withTables<{ ci_variables: CiVariablesTable }>();
  const ownerColumn = (owner: VariableOwner) => (owner.type === 'project' ? 'project_id' : 'group_id') as 'project_id' | 'group_id';

  const unique = async <T>(write: Promise<T>, key: string): Promise<T> => {
    try {
      return await write;
    } catch (e) {
      if (traits.isUniqueViolation(e)) throw conflict(`(${key}) has already been taken`, 'ALREADY_EXISTS');
      throw e;
    }
  };

  return {
    async list(owner, page) {
      const q = db.selectFrom('ci_variables').where(ownerColumn(owner), '=', owner.id);
      const [rows, count] = await Promise.all([
        q.selectAll().orderBy('id').limit(page.perPage).offset(offsetOf(page)).execute(),
        q.select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow(),
      ]);
      return { items: rows.map(toVariable), total: Number(count.n) };
    },

    async findByKey(owner, key, environmentScope) {
      let q = db.selectFrom('ci_variables').selectAll().where(ownerColumn(owner), '=', owner.id).where('key', '=', key);
      if (environmentScope !== undefined) q = q.where('environment_scope', '=', environmentScope);
      return (await q.orderBy('id').execute()).map(toVariable);
    },

    async insert(owner, attributes, at) {
      const row = await unique(
        db
          .insertInto('ci_variables')
          .values({ project_id: owner.type === 'project' ? owner.id : null, group_id: owner.type === 'group' ? owner.id : null, ...columnsOf(attributes), created_at: at, updated_at: at })
          .returningAll()
          .executeTakeFirstOrThrow(),
        attributes.key,
      );
      return toVariable(row);
    },

    async update(id, attributes, at) {
      const row = await unique(db.updateTable('ci_variables').set({ ...columnsOf(attributes), updated_at: at }).where('id', '=', id).returningAll().executeTakeFirstOrThrow(), attributes.key);
      return toVariable(row);
    },

    async delete(id) {
      await db.deleteFrom('ci_variables').where('id', '=', id).execute();
    },
  };
}
