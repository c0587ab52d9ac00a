/**
 * GitLab's CI/CD variables of Latchkey's projects and groups (doc/api/project_level_variables.md,
 * group_level_variables.md): list, show, create, update, delete, with `filter[environment_scope]`.
 *
 * Who may: Maintainers and Owners of the project or group (inherited) and admins (GitLab's
 * `admin_cicd_variables`); others who can see it get 403, the rest 404 from the resolver. Values are
 * sealed under the server secret at rest and opened only for an answer; a hidden variable's value is
 * never returned again (`value: null`), to anyone. Every change is an audit entry, without the value.
 *
 * `readValue` and `writeValue` are the system's own read and write (placement checks, rotation): they
 * skip the permission check and are never reachable from HTTP.
 */
import type { AuditRecord } from '../audit/audit-writer.js';
import type { Clock } from '../kernel/clock.js';
import { conflict, forbidden, notFound } from '../kernel/errors.js';
import type { Page, PageRequest } from '../kernel/page.js';
import type { SecretBox } from '../kernel/secret-box.js';
import { AccessLevel } from '../namespaces/access-levels.js';
import type { Resource, User } from '../namespaces/namespace.js';
import {
  attributesForCreate,
  attributesForUpdate,
  invalidVariable,
  isMaskableValue,
  keyTaken,
  validateVariable,
  type CiVariable,
  type VariableAttributes,
  type VariableInput,
  type VariableOwner,
} from './ci-variable.js';
import type { CiVariableStore, StoredVariable } from './ci-variable-store.js';

export interface CiVariableServiceDeps {
  store: CiVariableStore;
  /** Seals values at rest (its own HKDF purpose of the server secret). */
  box: SecretBox;
  accessLevel(user: User, resource: Resource): Promise<number>;
  clock: Clock;
  /** The audit writer's `record`; never given a value. */
  audit?: (entry: AuditRecord) => Promise<void> | void;
}

/** A variable as answered: its value, or null when it is hidden. */
export interface VariableView {
  readonly variable: CiVariable;
  readonly value: string | null;
}

/** Which variable of a key a request means: `filter[environment_scope]`, when given. */
export interface VariableFilter {
  readonly environmentScope?: string;
}

export const ownerOf = (resource: Resource): VariableOwner =>
  resource.type === 'project' ? { type: 'project', id: resource.project.id } : { type: 'group', id: resource.group.id };

const pathOf = (resource: Resource) => (resource.type === 'project' ? resource.project.pathWithNamespace : resource.group.fullPath);

export type CiVariableService = ReturnType<typeof createCiVariableService>;
export type ManagedVariables = Awaited<ReturnType<CiVariableService['manage']>>;

export function createCiVariableService({ store, box, accessLevel, clock, audit }: CiVariableServiceDeps) {
  const view = (v: StoredVariable): VariableView => {
    const { valueSealed, ...variable } = v;
    return { variable, value: v.hidden ? null : box.open(valueSealed) };
  };
  const seal = ({ value, ...rest }: VariableAttributes) => ({ ...rest, valueSealed: box.seal(value) });

  return {
    /**
     * The variables of `resource` as `actor` may manage them: 403 below Maintainer. Called before the
     * request's parameters are validated, as GitLab authorises before Grape validates.
     */
    async manage(actor: User, resource: Resource) {
      if ((await accessLevel(actor, resource)) < AccessLevel.MAINTAINER) throw forbidden('CI_VARIABLES_NEED_MAINTAINER');
      const owner = ownerOf(resource);
      const notFoundWhat = resource.type === 'project' ? 'Variable Not Found' : 'GroupVariable Not Found';
      const record = (event: string, v: CiVariable, data: Record<string, unknown> = {}) =>
        audit?.({
          at: clock.now().toISOString(),
          event,
          actorUsername: actor.username,
          data: { by: actor.username, [resource.type]: pathOf(resource), key: v.key, environment_scope: v.environmentScope, ...data },
        });

      /** GitLab's find_variable: the one variable of that key (in the filtered scope); 409 when several match. */
      const findOne = async (key: string, filter: VariableFilter): Promise<StoredVariable> => {
        const found = await store.findByKey(owner, key, filter.environmentScope);
        if (found.length === 0) throw notFound(notFoundWhat, 'VARIABLE_NOT_FOUND');
        if (found.length > 1) throw conflict("There are multiple variables with provided parameters. Please use 'filter[environment_scope]'", 'VARIABLE_AMBIGUOUS');
        return found[0]!;
      };

      /** Rails' validations, plus the uniqueness of (key, scope) among the owner's other variables. */
      const check = async (next: VariableAttributes, previous: StoredVariable | null) => {
        const errors = validateVariable(next, previous);
        if (!errors.key) {
          const sameKey = await store.findByKey(owner, next.key, next.environmentScope);
          if (sameKey.some((v) => v.id !== previous?.id)) (errors.key ??= []).push(`(${next.key}) has already been taken`);
        }
        if (Object.keys(errors).length > 0) throw invalidVariable(errors);
      };

      /** A concurrent write took the key between the check and the write: the same answer the check gives. */
      const orTaken = async <T>(write: Promise<T>, key: string): Promise<T> => {
        try {
          return await write;
        } catch (e) {
          if ((e as { code?: string }).code === 'ALREADY_EXISTS') throw keyTaken(key);
          throw e;
        }
      };

      return {
        async list(page: PageRequest): Promise<Page<VariableView>> {
          const result = await store.list(owner, page);
          return { items: result.items.map(view), total: result.total };
        },

        async show(key: string, filter: VariableFilter): Promise<VariableView> {
          return view(await findOne(key, filter));
        },

        async create(input: VariableInput & { key: string; value: string }): Promise<VariableView> {
          const next = attributesForCreate(input);
          await check(next, null);
          const created = await orTaken(store.insert(owner, seal(next), clock.now().toISOString()), next.key);
          await record('ci_variable.created', created, { masked: created.masked, hidden: created.hidden, protected: created.protected });
          return view(created);
        },

        /**
         * `firstOfKey`: GitLab's group endpoint without a filter updates the first variable of the key
         * whatever its scope (kept for compatibility there); everywhere else an ambiguous key is a 409.
         */
        async update(key: string, filter: VariableFilter, input: VariableInput, options: { firstOfKey?: boolean } = {}): Promise<VariableView> {
          let current: StoredVariable;
          if (options.firstOfKey && filter.environmentScope === undefined) {
            const found = await store.findByKey(owner, key);
            if (found.length === 0) throw notFound(notFoundWhat, 'VARIABLE_NOT_FOUND');
            current = found[0]!;
          } else current = await findOne(key, filter);
          const next = attributesForUpdate(current, box.open(current.valueSealed), input);
          await check(next, current);
          const updated = await orTaken(store.update(current.id, seal(next), clock.now().toISOString()), next.key);
          const changed = Object.entries(input).filter(([, v]) => v !== undefined).map(([k]) => k);
          await record('ci_variable.updated', updated, { changed });
          return view(updated);
        },

        async remove(key: string, filter: VariableFilter): Promise<void> {
          const current = await findOne(key, filter);
          await store.delete(current.id);
          await record('ci_variable.deleted', current);
        },
      };
    },

    /**
     * The system's own read of a variable's value (placement checks, rotation): no user, no permission
     * check, hidden values included. Never reachable from HTTP. Null when there is no such variable;
     * without `environmentScope`, the one variable of that key (409 when several scopes have it, as the API).
     */
    async readValue(owner: VariableOwner, key: string, environmentScope?: string): Promise<{ variable: CiVariable; value: string } | null> {
      const all = await store.findByKey(owner, key, environmentScope);
      if (all.length > 1) throw conflict("There are multiple variables with provided parameters. Please use 'filter[environment_scope]'", 'VARIABLE_AMBIGUOUS');
      const [found] = all;
      if (!found) return null;
      const { valueSealed, ...variable } = found;
      return { variable, value: box.open(valueSealed) };
    },

    /**
     * The system's own write (rotation): the value of the variable of `key` in `environmentScope`,
     * computed from what it holds now, its other attributes kept; absent, it is created in that scope —
     * masked and hidden when the value can be masked (as GitLab offers for secrets), else visible. The
     * model's rules apply (a masked variable refuses a value it cannot mask: 400). Audited as Latchkey's
     * own `ci_variable.created` / `.updated` (`where` names the project or group), never with the value.
     */
    async writeValue(owner: VariableOwner, key: string, environmentScope: string, valueFor: (current: string | null) => string, where: Record<string, string>): Promise<CiVariable> {
      const [current, ...more] = await store.findByKey(owner, key, environmentScope);
      if (more.length > 0) throw conflict("There are multiple variables with provided parameters. Please use 'filter[environment_scope]'", 'VARIABLE_AMBIGUOUS');
      const value = valueFor(current ? box.open(current.valueSealed) : null);
      const next = current
        ? attributesForUpdate(current, value, { value })
        : attributesForCreate({ key, value, environmentScope, maskedAndHidden: isMaskableValue(value, false) });
      const errors = validateVariable(next, current ?? null);
      if (Object.keys(errors).length > 0) throw invalidVariable(errors);
      const at = clock.now().toISOString();
      const written = await (current ? store.update(current.id, seal(next), at) : store.insert(owner, seal(next), at)).catch((e) => {
        if ((e as { code?: string }).code === 'ALREADY_EXISTS') throw keyTaken(key);
        throw e;
      });
      await audit?.({
        at,
        event: current ? 'ci_variable.updated' : 'ci_variable.created',
        data: { by: 'latchkey', ...where, key, environment_scope: environmentScope, ...(current ? { changed: ['value'] } : { masked: written.masked, hidden: written.hidden }) },
      });
      const { valueSealed: _sealed, ...variable } = written;
      return variable;
    },
  };
}
