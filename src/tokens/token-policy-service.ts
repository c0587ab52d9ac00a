/**
 * A group's token policy (a Latchkey extension to GitLab's API): the group may set a maximum lifetime
 * for the personal-kind tokens of its tree (project, group and service-account tokens), stricter than
 * the instance's. The expiry policy applies the strictest limit along a token's group chain.
 *
 * Reading needs Maintainer (who manages tokens there); changing it needs Owner (or admin).
 */
import { forbidden, invalidParam } from '../kernel/errors.js';
import { AccessLevel } from '../namespaces/access-levels.js';
import type { User } from '../namespaces/namespace.js';
import type { NamespaceService } from '../namespaces/namespace-service.js';
import type { Store } from '../store/open-store.js';
import type { ExpiryPolicy } from './expiry-policy.js';

export interface GroupTokenPolicy {
  readonly groupId: number;
  /** This group's own limit in days; null when it sets none. */
  readonly maxTokenLifetimeDays: number | null;
  /** The limit that applies to tokens created in this group: the strictest of the instance and the chain. */
  readonly effectiveMaxTokenLifetimeDays: number;
  readonly instanceMaxTokenLifetimeDays: number;
  readonly expiryRequired: boolean;
}

export type TokenPolicyService = ReturnType<typeof createTokenPolicyService>;

export function createTokenPolicyService({ store, namespaces, expiryPolicy }: { store: Store; namespaces: NamespaceService; expiryPolicy: ExpiryPolicy }) {
  async function describe(groupId: number, ancestorIds: readonly number[]): Promise<GroupTokenPolicy> {
    return {
      groupId,
      maxTokenLifetimeDays: await store.tokens.groupLifetimeLimit([groupId]),
      effectiveMaxTokenLifetimeDays: await expiryPolicy.maxLifetimeDays({ now: new Date(0), groupIds: ancestorIds }),
      instanceMaxTokenLifetimeDays: expiryPolicy.settings.maxLifetimeDays,
      expiryRequired: expiryPolicy.settings.requireExpiry,
    };
  }

  return {
    async show(actor: User, groupRef: string): Promise<GroupTokenPolicy> {
      const { group, level } = await namespaces.findGroup(actor, groupRef);
      if (level < AccessLevel.MAINTAINER) throw forbidden();
      return describe(group.id, group.ancestorIds);
    },

    /** `days`: 1 to the instance maximum, or null to clear the group's own limit. */
    async set(actor: User, groupRef: string, input: unknown): Promise<GroupTokenPolicy> {
      // Form bodies carry numbers as text.
      const days = typeof input === 'string' && /^\d{1,6}$/.test(input) ? Number(input) : input;
      const { group, level } = await namespaces.findGroup(actor, groupRef);
      if (level < AccessLevel.OWNER) throw forbidden();
      const max = expiryPolicy.settings.maxLifetimeDays;
      if (days !== null && (typeof days !== 'number' || !Number.isInteger(days) || days < 1 || days > max)) {
        throw invalidParam(`max_token_lifetime_days must be an integer from 1 to ${max} (the instance maximum), or null`);
      }
      await store.transaction((ports) => ports.tokens.setGroupLifetimeLimit(group.id, days as number | null));
      return describe(group.id, group.ancestorIds);
    },
  };
}
