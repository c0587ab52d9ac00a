/**
 * The CI variables of Latchkey itself, read for a `ci_variable` placement whose `instance` is this
 * Latchkey (issue 15 item 4), without registering Latchkey as an upstream of itself. The project or
 * group must be one the person checking can see (404 otherwise: "missing", no existence leak); the
 * value is the system's own read (hidden and masked values included), used for the comparison only and
 * never returned, stored or logged.
 *
 * Rotation (issue 16) writes and reads back such a variable as the system, not as a person: `writeAsSystem`
 * and `readAsSystem` find the project or group by path and work on the variable of the `*` environment
 * scope (the scope a placement means, as it names none), created there when absent.
 */
import type { DomainError } from '../kernel/errors.js';
import type { Group, Project, User } from '../namespaces/namespace.js';
import type { CiVariable, VariableOwner } from '../ci-variables/ci-variable.js';
import type { PlacementFields } from '../inventory/credential.js';
import type { PlacementCheckStatus } from './upstream.js';

/** What a placement's variable holds, or why it cannot be compared. */
export type VariableRead = { readonly value: string } | { readonly status: PlacementCheckStatus; readonly detail: string };

export interface LocalVariablesDeps {
  /** The hosts (`host[:port]`) this Latchkey answers on: LATCHKEY_PUBLIC_URL's, else the listen address. */
  hosts: readonly string[];
  /** A project or group the user may see; throws the resolver's 404 otherwise. */
  findProject(user: User, path: string): Promise<{ project: Project }>;
  findGroup(user: User, path: string): Promise<{ group: Group }>;
  /** The CI-variables service's own read (hidden values included); 409 VARIABLE_AMBIGUOUS when several scopes have the key. */
  readValue(owner: VariableOwner, key: string, environmentScope?: string): Promise<{ value: string } | null>;
  /** For rotation: projects and groups by path, whoever asks, and the CI-variables service's own write. */
  system?: {
    findProjectByPath(path: string): Promise<Project | null>;
    findGroupByPath(path: string): Promise<Group | null>;
    writeValue(owner: VariableOwner, key: string, environmentScope: string, valueFor: (current: string | null) => string, where: Record<string, string>): Promise<CiVariable>;
  };
}

/** The scope a placement's variable is written and read back in (placements name none: GitLab's default). */
export const PLACEMENT_ENVIRONMENT_SCOPE = '*';

export type LocalVariables = ReturnType<typeof createLocalVariables>;

export function createLocalVariables(deps: LocalVariablesDeps) {
  const hosts = new Set(deps.hosts.map((h) => h.toLowerCase()));
  const missing = { status: 'missing', detail: 'missing' } as const;

  /** The owner of the placement's variable on this instance, or null when the actor cannot see it. */
  async function ownerOf(actor: User, placement: Pick<PlacementFields, 'project' | 'group'>): Promise<VariableOwner | null> {
    try {
      if (placement.project !== null) return { type: 'project', id: (await deps.findProject(actor, placement.project)).project.id };
      return { type: 'group', id: (await deps.findGroup(actor, placement.group!)).group.id };
    } catch (e) {
      if ((e as DomainError).kind === 'not_found') return null;
      throw e;
    }
  }

  /** The owner of the placement's variable for the system (no person's visibility), or why there is none. */
  async function systemOwnerOf(placement: Pick<PlacementFields, 'project' | 'group'>): Promise<{ owner: VariableOwner; where: Record<string, string> } | { reason: string }> {
    if (!deps.system) return { reason: 'writing CI variables of this Latchkey is not configured' };
    if (placement.project !== null) {
      const project = await deps.system.findProjectByPath(placement.project);
      return project ? { owner: { type: 'project', id: project.id }, where: { project: project.pathWithNamespace } } : { reason: `project ${placement.project} does not exist on this Latchkey` };
    }
    if (placement.group === null) return { reason: 'Latchkey has no instance-level CI variables (name a project or group)' };
    const group = await deps.system.findGroupByPath(placement.group);
    return group ? { owner: { type: 'group', id: group.id }, where: { group: group.fullPath } } : { reason: `group ${placement.group} does not exist on this Latchkey` };
  }

  return {
    /** Whether a placement's `instance` names this Latchkey. */
    isLocal: (instance: string | null): boolean => instance !== null && hosts.has(instance.toLowerCase()),

    async read(actor: User, placement: Pick<PlacementFields, 'project' | 'group' | 'key'>): Promise<VariableRead> {
      if (placement.project === null && placement.group === null) return { status: 'cannot_read', detail: 'cannot read: Latchkey has no instance-level CI variables (name a project or group)' };
      const owner = await ownerOf(actor, placement);
      if (owner === null) return missing;
      try {
        const read = await deps.readValue(owner, placement.key!);
        return read === null ? missing : { value: read.value };
      } catch (e) {
        if ((e as DomainError).code === 'VARIABLE_AMBIGUOUS') return { status: 'cannot_read', detail: `cannot read: several environment scopes have ${placement.key}` };
        throw e;
      }
    },

    /** Rotation's write: the variable of the `*` scope set to `valueFor(what it holds)`, created when absent; or why it cannot be. */
    async writeAsSystem(placement: Pick<PlacementFields, 'project' | 'group' | 'key'>, valueFor: (current: string | null) => string): Promise<{ ok: true } | { ok: false; reason: string }> {
      const target = await systemOwnerOf(placement);
      if ('reason' in target) return { ok: false, reason: target.reason };
      try {
        await deps.system!.writeValue(target.owner, placement.key!, PLACEMENT_ENVIRONMENT_SCOPE, valueFor, target.where);
        return { ok: true };
      } catch (e) {
        const err = e as DomainError;
        if (err.kind === 'invalid') return { ok: false, reason: `400 Bad request: ${placement.key}: ${err.message}` };
        if (err.kind === 'conflict') return { ok: false, reason: `409 Conflict: ${placement.key}: ${err.message}` };
        throw e;
      }
    },

    /** Rotation's read-back of the variable of the `*` scope (hidden values included). */
    async readAsSystem(placement: Pick<PlacementFields, 'project' | 'group' | 'key'>): Promise<VariableRead> {
      const target = await systemOwnerOf(placement);
      if ('reason' in target) return { status: 'cannot_read', detail: `cannot read: ${target.reason}` };
      const read = await deps.readValue(target.owner, placement.key!, PLACEMENT_ENVIRONMENT_SCOPE);
      return read === null ? missing : { value: read.value };
    },
  };
}
