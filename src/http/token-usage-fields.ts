/**
 * Usage fields shared by every token entity: GitLab's `last_used_ips` (the five most recent distinct
 * client IPs, newest first) and Latchkey's reuse flag (`reuse_flagged`, `reuse_flagged_at`: the token
 * was seen from more distinct user agents or IPs than LATCHKEY_REUSE_* allow). Deploy tokens have no
 * usage fields in GitLab; Latchkey adds `last_used_at` to them as well (additive).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { Token } from '../tokens/token.js';

export const TokenUsageFields = {
  last_used_ips: Type.Array(Type.String()),
  reuse_flagged: Type.Boolean(),
  reuse_flagged_at: Type.Union([Type.String(), Type.Null()]),
};

export const DeployTokenUsageFields = {
  last_used_at: Type.Union([Type.String(), Type.Null()]),
  ...TokenUsageFields,
};

const UsageObject = Type.Object(TokenUsageFields);
const DeployUsageObject = Type.Object(DeployTokenUsageFields);

export function presentTokenUsage(t: Token): Static<typeof UsageObject> {
  return { last_used_ips: [...t.lastUsedIps], reuse_flagged: t.reuseFlaggedAt !== null, reuse_flagged_at: t.reuseFlaggedAt };
}

export function presentDeployTokenUsage(t: Token): Static<typeof DeployUsageObject> {
  return { last_used_at: t.lastUsedAt, ...presentTokenUsage(t) };
}
