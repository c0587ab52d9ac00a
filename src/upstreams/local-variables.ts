/**
 * The CI variables of Latchkey itself, read for a `ci_variable` placement whose `instance` is this
 * Latchkey (issue 15 item 4), without registering Latchkey as an upstream of itself. The project or
 * group must be one the person checking can see (404 otherwise: "missing", no existence leak); the
 * value is the system's own read (hidden and masked values included), used for the comparison only and
 * never returned, stored or logged.
 */
import type { DomainError } from '../kernel/errors.js';
import type { Group, Project, User } from '../namespaces/namespace.js';
import type { VariableOwner } from '../ci-variables/ci-variable.js';
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
  readValue(owner: VariableOwner, key: string): Promise<{ value: string } | null>;
}

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
  };
}
