/**
 * Token usage and reuse rules, pure: how a node's observations (client IPs and user agents, each with
 * when it was last seen) merge into a token's stored usage record, and when a token counts as reused
 * — seen from more distinct user agents or IPs within the window than the policy allows (the "never
 * share a token between automations" practice made visible). No I/O, no clock: `at` is passed in.
 */
import { redactTokens } from './token-redaction.js';

/** GitLab keeps the five most recent distinct IPs per token. */
export const LAST_USED_IPS_KEPT = 5;
/** Stored window values per dimension: enough to exceed any allowed limit, bounded against floods. */
export const WINDOW_VALUES_KEPT = 64;
/** Longest user agent kept: real ones are far shorter; anything longer is cut. */
export const MAX_USER_AGENT_LENGTH = 256;
/** The shortest token (`a-` + 34 characters): shorter text holds none and needs no scan. */
const SHORTEST_TOKEN = 36;
/** Longest IP text kept (an IPv6 address with a zone is under 64). */
const MAX_IP_LENGTH = 64;

/** The configurable reuse policy (LATCHKEY_REUSE_*); a limit of 0 turns that dimension off. */
export interface ReusePolicy {
  readonly windowMs: number;
  readonly maxUserAgents: number;
  readonly maxIps: number;
}

/** A token's stored usage, as the store reads it. Window maps: value → ISO instant last seen. */
export interface UsageRecord {
  readonly lastUsedAt: string | null;
  readonly lastUsedIps: readonly string[];
  readonly windowIps: Readonly<Record<string, string>>;
  readonly windowUserAgents: Readonly<Record<string, string>>;
  readonly reuseFlaggedAt: string | null;
  /** Compare-and-set counter: a write names the revision it read. */
  readonly revision: number;
}

/**
 * The usage columns of a token row that its Token does not carry (the windows still as stored JSON),
 * read with it by the verifier's look-up: with the Token's last_used_at, last_used_ips and reuse flag
 * they make the UsageRecord of that read (usageRecordOf), so the usage tracker's first write of the token
 * needs no read of its own.
 */
export interface UsageRow {
  readonly revision: number;
  readonly windowIps: string | null;
  readonly windowUserAgents: string | null;
}

/** The UsageRecord of a token row read with its UsageRow. */
export function usageRecordOf(token: { readonly lastUsedAt: string | null; readonly lastUsedIps: readonly string[]; readonly reuseFlaggedAt: string | null }, row: UsageRow): UsageRecord {
  return {
    lastUsedAt: token.lastUsedAt,
    lastUsedIps: token.lastUsedIps,
    windowIps: parseSightings(row.windowIps),
    windowUserAgents: parseSightings(row.windowUserAgents),
    reuseFlaggedAt: token.reuseFlaggedAt,
    revision: row.revision,
  };
}

/** What was seen when a token was flagged. */
export interface ReuseEvidence {
  readonly ips: readonly string[];
  readonly userAgents: readonly string[];
}

/** What one node saw since its last write: value → epoch ms last seen, in the order first seen. */
export interface Observed {
  /** Epoch ms of the latest use (last_used_at). */
  readonly usedAt: number;
  readonly ips: ReadonlyMap<string, number>;
  readonly userAgents: ReadonlyMap<string, number>;
}

export interface MergedUsage {
  readonly lastUsedAt: string;
  readonly lastUsedIps: string[];
  readonly windowIps: Record<string, string>;
  readonly windowUserAgents: Record<string, string>;
  readonly reuseFlaggedAt: string | null;
  /** Set only by the merge that flags the token (so exactly one writer publishes the event). */
  readonly flagged: ReuseEvidence | null;
}

/** The client IP as stored, or null when there is none worth keeping. */
export function normaliseIp(ip: string | null | undefined): string | null {
  if (typeof ip !== 'string') return null;
  const v = ip.trim();
  return v.length === 0 || v.length > MAX_IP_LENGTH ? null : v;
}

/**
 * User agents long enough to be scanned for tokens, kept as they were found clean: a client sends the
 * same one on every request, and the scan costs about a microsecond. Only those that hold no token
 * (nothing secret is kept), at most USER_AGENTS_KEPT, the oldest first out.
 */
const cleanUserAgents = new Map<string, string>();
const USER_AGENTS_KEPT = 256;
/** Longer raw values are scanned every time (never kept). */
const LONGEST_KEPT_USER_AGENT = 1024;

/** The user agent as stored (cut to MAX_USER_AGENT_LENGTH), or null when absent. */
export function normaliseUserAgent(ua: string | null | undefined): string | null {
  if (typeof ua !== 'string') return null;
  const known = cleanUserAgents.get(ua);
  if (known !== undefined) return known;
  const v = ua.trim();
  if (v.length === 0) return null;
  if (v.length < SHORTEST_TOKEN) return v;
  // Stored and shown (reuse reports, audit details): a token pasted into it is redacted first.
  const redacted = redactTokens(v);
  const stored = redacted.slice(0, MAX_USER_AGENT_LENGTH);
  if (redacted === v && ua.length <= LONGEST_KEPT_USER_AGENT) {
    if (cleanUserAgents.size >= USER_AGENTS_KEPT) cleanUserAgents.delete(cleanUserAgents.keys().next().value!);
    cleanUserAgents.set(ua, stored);
  }
  return stored;
}

/** More distinct user agents or IPs than allowed (a limit of 0 never trips). */
export function exceedsReuseLimits(distinctIps: number, distinctUserAgents: number, policy: ReusePolicy): boolean {
  return (policy.maxIps > 0 && distinctIps > policy.maxIps) || (policy.maxUserAgents > 0 && distinctUserAgents > policy.maxUserAgents);
}

/** Stored ∪ observed, keeping each value's latest sighting, dropping those older than the window. */
function mergeWindow(stored: Readonly<Record<string, string>>, observed: ReadonlyMap<string, number>, sinceMs: number): Record<string, string> {
  const seen = new Map<string, number>();
  for (const [value, at] of Object.entries(stored)) {
    const ms = Date.parse(at);
    if (Number.isFinite(ms)) seen.set(value, ms);
  }
  for (const [value, ms] of observed) seen.set(value, Math.max(ms, seen.get(value) ?? 0));
  const kept = [...seen].filter(([, ms]) => ms > sinceMs).sort((a, b) => b[1] - a[1]).slice(0, WINDOW_VALUES_KEPT);
  return Object.fromEntries(kept.map(([value, ms]) => [value, new Date(ms).toISOString()]));
}

/**
 * Merges one node's observations into the stored record at `at`: last_used_at moves forward to the
 * latest use, newly
 * seen IPs go to the front of last_used_ips (five kept), the sliding window keeps values seen within
 * `policy.windowMs`, and a token not yet flagged is flagged when the window exceeds a limit.
 */
export function mergeUsage(stored: UsageRecord, observed: Observed, at: Date, policy: ReusePolicy): MergedUsage {
  const atIso = at.toISOString();
  const usedAt = new Date(Math.min(observed.usedAt, at.getTime())).toISOString();
  const lastUsedAt = stored.lastUsedAt !== null && stored.lastUsedAt > usedAt ? stored.lastUsedAt : usedAt;
  // Newest first; on equal instants the value first seen later comes first.
  const newest = [...observed.ips].reverse().sort((a, b) => b[1] - a[1]).map(([ip]) => ip);
  const lastUsedIps = [...newest, ...stored.lastUsedIps.filter((ip) => !observed.ips.has(ip))].slice(0, LAST_USED_IPS_KEPT);
  const sinceMs = at.getTime() - policy.windowMs;
  const windowIps = mergeWindow(stored.windowIps, observed.ips, sinceMs);
  const windowUserAgents = mergeWindow(stored.windowUserAgents, observed.userAgents, sinceMs);
  const ips = Object.keys(windowIps);
  const userAgents = Object.keys(windowUserAgents);
  const flagNow = stored.reuseFlaggedAt === null && exceedsReuseLimits(ips.length, userAgents.length, policy);
  return {
    lastUsedAt,
    lastUsedIps,
    windowIps,
    windowUserAgents,
    reuseFlaggedAt: flagNow ? atIso : stored.reuseFlaggedAt,
    flagged: flagNow ? { ips, userAgents } : null,
  };
}

/** The strings of a parsed JSON array; anything else reads as empty. */
export function stringsOf(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((x): x is string => typeof x === 'string') : [];
}

/** Reads a stored JSON array of strings; anything else reads as empty. */
export function parseStringArray(json: string | null): string[] {
  if (json === null) return [];
  try {
    return stringsOf(JSON.parse(json));
  } catch {
    return [];
  }
}

/** Reads a stored JSON object of value → instant; anything else reads as empty. */
export function parseSightings(json: string | null): Record<string, string> {
  if (json === null) return {};
  try {
    const v: unknown = JSON.parse(json);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return {};
    return Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return {};
  }
}
