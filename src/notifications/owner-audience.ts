/**
 * Who answers for what a group owns: its chain (root first) and the Maintainers and Owners along it
 * (inherited memberships count, each user's highest level). The recipients of credential reminders
 * and of rotation task reminders. Two queries for any number of groups.
 */
import { AccessLevel } from '../namespaces/access-levels.js';
import type { UtcDate } from '../kernel/dates.js';
import type { ExpiryNoticeStore, Recipient } from './expiry-notice-store.js';

export interface OwnerAudience {
  readonly chain: Set<number>;
  readonly recipients: Recipient[];
}

/** By owning group id: its chain and its Maintainers and Owners, by user id. */
export async function ownerAudiences(facts: Pick<ExpiryNoticeStore, 'findGroups' | 'listMembersOf'>, groupIds: readonly number[], today: UtcDate): Promise<Map<number, OwnerAudience>> {
  const ids = [...new Set(groupIds)];
  const groups = await facts.findGroups(ids);
  const chainIds = [...new Set([...groups.values()].flatMap((g) => g.ancestorIds))];
  const members = await facts.listMembersOf(chainIds.map((id) => ({ type: 'group' as const, id })), today);
  const out = new Map<number, OwnerAudience>();
  for (const groupId of ids) {
    const chain = new Set(groups.get(groupId)?.ancestorIds ?? []);
    const best = new Map<number, { email: string; level: number }>();
    for (const m of members) {
      if (!chain.has(m.source.id)) continue;
      const seen = best.get(m.userId);
      if (!seen || m.accessLevel > seen.level) best.set(m.userId, { email: m.email, level: m.accessLevel });
    }
    const recipients = [...best].filter(([, v]) => v.level >= AccessLevel.MAINTAINER).map(([userId, v]) => ({ userId, email: v.email }));
    out.set(groupId, { chain, recipients: recipients.sort((a, b) => a.userId - b.userId) });
  }
  return out;
}
