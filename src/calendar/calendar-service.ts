/**
 * Calendar feeds of due dates (issue 14 item 4): an iCalendar feed per user (the inventory entries of
 * every group they can read: Reporter or above, inherited) and per group (the entries it owns), which
 * calendar clients subscribe to with a feed token in the URL, as GitLab's `feed_token` — clients
 * cannot send headers. The feed token is a secret: `glft-` + 160 bits with a checksum, shown once,
 * kept as an HMAC digest under the server secret, one per user, replaced by a reset and revocable.
 * A token of a user who is blocked or gone opens nothing.
 */
import type { AuditRecord } from '../audit/audit-writer.js';
import type { Clock } from '../kernel/clock.js';
import { notFound, unauthenticated } from '../kernel/errors.js';
import type { TokenGenerator } from '../kernel/random.js';
import type { Group, User } from '../namespaces/namespace.js';
import { AccessLevel } from '../namespaces/access-levels.js';
import { describePlacement, type Credential } from '../inventory/credential.js';
import type { CredentialFilter, InventoryStore } from '../inventory/inventory-store.js';
import type { TokenDigester } from '../tokens/token-digest.js';
import { generateToken, hasValidChecksum } from '../tokens/token-format.js';
import { utcDateOf } from '../kernel/dates.js';
import type { FeedTokenRecord, FeedTokenStore } from './feed-token-store.js';
import { renderCalendar, type CalendarEvent } from './icalendar.js';

/** GitLab's feed token prefix, so secret scanners recognise a leaked feed URL. */
export const FEED_TOKEN_PREFIX = 'glft-';
/** Most entries one feed lists (soonest due first). */
const MAX_EVENTS = 5000;
const PAGE = 500;

export interface CalendarServiceDeps {
  tokens: FeedTokenStore;
  inventory: Pick<InventoryStore, 'list'>;
  findUserById(id: number): Promise<User | null>;
  /** A group by id or full path. */
  findGroup(ref: string): Promise<Group | null>;
  accessLevel(user: User, resource: { type: 'group'; group: Group }): Promise<number>;
  digester: TokenDigester;
  random: TokenGenerator;
  clock: Clock;
  /** Base of the feed URLs and of the events' links. */
  publicUrl: string;
  /** The audit writer's `record`: the token's issue and revocation (never the token). */
  audit?: (entry: AuditRecord) => Promise<void> | void;
}

export type CalendarService = ReturnType<typeof createCalendarService>;

function whatIsDue(c: Credential): string {
  const r = c.renewal;
  if (r.type === 'expires_at') return `expires on ${c.dueOn}`;
  if (r.type === 'every_days') return `due for renewal on ${c.dueOn} (renewed every ${r.everyDays} days)`;
  return `review due on ${c.dueOn} (renewed ${r.event}; reviewed every ${r.reviewEveryDays} days)`;
}

export function createCalendarService(deps: CalendarServiceDeps) {
  const base = deps.publicUrl.replace(/\/+$/, '');
  const host = new URL(base).hostname || 'latchkey';

  function eventOf(c: Credential): CalendarEvent {
    const verb = c.renewal.type === 'event' ? 'Review' : 'Renew';
    const description = [
      `${c.name}: ${c.kind}${c.provider ? ` on ${c.provider}` : ''}, owned by ${c.owner.fullPath}`,
      whatIsDue(c),
      ...(c.purpose ? ['', `Purpose: ${c.purpose}`] : []),
      '',
      'Procedure:',
      c.procedure ?? '(none recorded)',
      '',
      'Placements to update:',
      ...(c.placements.length === 0 ? ['(none recorded)'] : c.placements.map((p) => `- ${describePlacement(p)}`)),
      '',
      `When done: latchkey credential renew ${c.slug}`,
    ].join('\n');
    return { uid: `credential-${c.id}@${host}`, date: c.dueOn, summary: `${verb}: ${c.name} (${c.owner.fullPath})`, description, url: `${base}/api/v4/latchkey/credentials/${c.id}`, alarmDaysBefore: 7 };
  }

  async function entries(filter: CredentialFilter): Promise<Credential[]> {
    const out: Credential[] = [];
    for (let page = 1; out.length < MAX_EVENTS; page++) {
      const { items } = await deps.inventory.list(filter, { page, perPage: PAGE, countLimit: 1 });
      out.push(...items);
      if (items.length < PAGE) break;
    }
    return out.slice(0, MAX_EVENTS).sort((a, b) => a.dueOn.localeCompare(b.dueOn) || a.id - b.id);
  }

  /** The user a feed token belongs to; 401 for a token that is malformed, unknown, revoked, or of a blocked user. */
  async function ownerOf(feedToken: string | undefined): Promise<User> {
    if (!feedToken || !hasValidChecksum(feedToken, FEED_TOKEN_PREFIX)) throw unauthenticated();
    const found = await deps.tokens.findByDigest([deps.digester.digest(feedToken), ...deps.digester.olderDigests(feedToken)]);
    if (!found || !deps.digester.verifies(feedToken, found.digest)) throw unauthenticated();
    const user = await deps.findUserById(found.userId);
    if (!user || user.state !== 'active') throw unauthenticated();
    await deps.tokens.touch(user.id, deps.clock.now().toISOString());
    return user;
  }

  const stamp = () => deps.clock.now();
  const today = () => utcDateOf(deps.clock.now());

  return {
    /** Where the feeds are; the token goes in the `feed_token` query parameter. */
    feedUrls: () => ({ user: `${base}/api/v4/latchkey/calendar.ics`, group: `${base}/api/v4/latchkey/groups/:id/calendar.ics` }),

    /** Issues (or resets) the caller's feed token: the old one stops working. The token is in this answer only. */
    async issue(actor: User): Promise<{ token: string; record: FeedTokenRecord }> {
      const token = generateToken(FEED_TOKEN_PREFIX, deps.random);
      const record = await deps.tokens.replace(actor.id, deps.digester.digest(token), deps.clock.now().toISOString());
      await deps.audit?.({ at: record.createdAt, event: 'feed_token.issued', actorUsername: actor.username, data: { by: actor.username, user_id: actor.id } });
      return { token, record };
    },

    async status(actor: User): Promise<FeedTokenRecord> {
      const record = await deps.tokens.find(actor.id);
      if (!record) throw notFound('Feed Token Not Found', 'FEED_TOKEN_NOT_FOUND');
      return record;
    },

    async revoke(actor: User): Promise<void> {
      if (!(await deps.tokens.revoke(actor.id))) throw notFound('Feed Token Not Found', 'FEED_TOKEN_NOT_FOUND');
      await deps.audit?.({ at: deps.clock.now().toISOString(), event: 'feed_token.revoked', actorUsername: actor.username, data: { by: actor.username, user_id: actor.id } });
    },

    /** The feed of every entry the token's user can read (Reporter+ of the owning group or an ancestor). */
    async userFeed(feedToken: string | undefined): Promise<string> {
      const user = await ownerOf(feedToken);
      const list = await entries({ readableBy: { userId: user.id, today: today() }, live: true });
      return renderCalendar({ name: `Latchkey: credentials due (${user.username})`, stamp: stamp(), events: list.map(eventOf) });
    },

    /** The feed of the entries a group owns; 404 for a group the token's user cannot read (or that does not exist). */
    async groupFeed(feedToken: string | undefined, groupRef: string): Promise<string> {
      const user = await ownerOf(feedToken);
      const group = await deps.findGroup(groupRef);
      if (!group || (!user.isAdmin && (await deps.accessLevel(user, { type: 'group', group })) < AccessLevel.REPORTER)) throw notFound('Group Not Found', 'GROUP_NOT_FOUND');
      const list = await entries({ ownerGroupId: group.id, live: true });
      return renderCalendar({ name: `Latchkey: credentials due (${group.fullPath})`, stamp: stamp(), events: list.map(eventOf) });
    },
  };
}
