/**
 * The credential inventory (issue 14): entries for credentials a team must renew, their placements and
 * renewals. Who may: Maintainers and Owners of the owning group (inherited) manage its entries,
 * Reporters and above read them, admins everything; anyone else gets 404, as if the entry did not
 * exist. Every change is an audit entry (never a value), recorded once the change is committed.
 *
 * Permissions and groups are read before a transaction opens (on SQLite a transaction holds the only
 * connection, so a read outside it would wait forever); the transaction re-reads the entry itself.
 *
 * An entry is named by `ref`: its numeric id or its slug. A pasted value becomes a fingerprint (the
 * token digester's HMAC) at once and is never kept or returned.
 */
import type { AuditRecord } from '../audit/audit-writer.js';
import type { Clock } from '../kernel/clock.js';
import { utcDateOf, type UtcDate } from '../kernel/dates.js';
import { DomainError, forbidden, notFound } from '../kernel/errors.js';
import { offsetOf, type Page, type PageRequest } from '../kernel/page.js';
import { LATCHKEY_PROVIDER, NO_EXPIRY, TOKEN_ENTRY_FIELDS, TOKEN_ENTRY_KINDS, tokenIdOfRef, tokenSlug, type TokenEntryKind, type TokenStateFilter } from './token-entry.js';
import { AccessLevel } from '../namespaces/access-levels.js';
import type { Group, User } from '../namespaces/namespace.js';
import type { TokenDigester } from '../tokens/token-digest.js';
import {
  describePlacement,
  dueDate,
  invalidCredential,
  slugFromName,
  type Credential,
  type CredentialInput,
  type FieldErrors,
  type InventoryEntry,
  type Placement,
  type PlacementFields,
} from './credential.js';
import type { CredentialFilter, CredentialRecord, InventoryStore, PlacementQuery, RenewalEntry, TokenEntryFilter, TokenEntryRead } from './inventory-store.js';
import { parseInventoryFile } from './inventory-file.js';
import { planRenewal, type RenewalInput } from './renewal.js';

export interface InventoryServiceDeps {
  store: InventoryStore;
  /** The group an id or full path names, whoever asks (null: none); access is checked here. */
  findGroup(idOrPath: string): Promise<Group | null>;
  findGroupById(id: number): Promise<Group | null>;
  accessLevel(user: User, resource: { type: 'group'; group: Group }): Promise<number>;
  /** HMAC of a pasted value: the same digest tokens are stored as, so a leaked value is found either way. */
  digester: TokenDigester;
  clock: Clock;
  /** The audit writer's `record`; never given a value. */
  audit?: (entry: AuditRecord) => Promise<void> | void;
}

/** List filters: `owner` is a group id or full path; `source` narrows to outside credentials or Latchkey's tokens. */
export interface CredentialListQuery {
  readonly source?: 'all' | 'outside' | 'tokens';
  readonly owner?: string;
  readonly kind?: string;
  readonly search?: string;
  readonly dueOnOrBefore?: UtcDate;
  /** Latchkey's tokens by state: active (default), expired, revoked (or deleted), all; anything but active and all lists tokens only. */
  readonly state?: TokenStateFilter;
}

/** What an import did (or, dry, would do): slugs created, changed (with the fields), left as they were. */
export interface ImportResult {
  readonly dryRun: boolean;
  readonly created: string[];
  readonly changed: { slug: string; fields: string[] }[];
  readonly left: string[];
}

/**
 * Where a keyset page starts: after an outside entry's id (outside entries come first), or after a
 * token's id; `afterId` null: at the start of that part.
 */
export interface ListCursor {
  readonly source: 'outside' | 'tokens';
  readonly afterId: number | null;
}

/** A list page, and for keyset pages where the next one starts (null: none follows). */
export type EntryPage = Page<InventoryEntry> & { readonly next?: ListCursor | null };

/** Thrown inside a dry run's transaction so that it rolls back. */
class DryRunRollback extends Error {}

/** What one committed change records in the audit log (under the owning group, for group-filtered audit queries). */
type PendingAudit = { event: string; credential: Pick<Credential, 'id' | 'slug' | 'owner' | 'tokenId'>; data?: Record<string, unknown> };

/** An entry as a look-up finds it: a stored outside entry, or a Latchkey token's. */
type Found = { readonly credential: Credential; readonly token: null } | { readonly credential: null; readonly token: TokenEntryRead };

const isTokenKind = (kind: string): kind is TokenEntryKind => (TOKEN_ENTRY_KINDS as readonly string[]).includes(kind);

/** The token states whose lists include outside entries (which have no state of their own). */
const LISTS_OUTSIDE: Record<string, true> = { active: true, all: true };

const NUMERIC = /^[0-9]{1,10}$/;
const SLUG_LIKE = /^[a-z0-9][a-z0-9._-]{0,99}$/;
const NOT_FOUND = () => notFound('Credential Not Found', 'CREDENTIAL_NOT_FOUND');

export type InventoryService = ReturnType<typeof createInventoryService>;

export function createInventoryService({ store, findGroup, findGroupById, accessLevel, digester, clock, audit }: InventoryServiceDeps) {
  const now = () => clock.now().toISOString();
  const today = () => utcDateOf(clock.now());

  const levelOn = async (actor: User, groupId: number): Promise<number> => {
    if (actor.isAdmin) return AccessLevel.OWNER;
    const group = await findGroupById(groupId);
    return group === null ? 0 : accessLevel(actor, { type: 'group', group });
  };

  const findRef = async (s: InventoryStore, ref: string): Promise<Credential | null> => {
    if (NUMERIC.test(ref)) return Number(ref) <= 2147483647 ? s.findById(Number(ref)) : null;
    // Only what a slug can be reaches the database (no NUL, no stray surrogate for PostgreSQL to refuse).
    return SLUG_LIKE.test(ref) ? s.findBySlug(ref) : null;
  };

  /**
   * The entry `ref` names: an outside entry (id or slug), or a token's (`token-<id>` of any token of its
   * rotation chain, or the id of the row holding its inventory fields).
   */
  const find = async (s: InventoryStore, ref: string): Promise<Found | null> => {
    const tokenId = tokenIdOfRef(ref);
    const credential = tokenId === null ? await findRef(s, ref) : null;
    if (credential !== null && credential.tokenId === null) return { credential, token: null };
    const chainTokenId = tokenId ?? credential?.tokenId;
    const token = chainTokenId === undefined || chainTokenId === null ? null : await s.findTokenEntry(chainTokenId, today());
    return token === null ? null : { credential: null, token };
  };

  /** The actor's level on a token's entry: on its owning group; a person manages their own personal access tokens. */
  const levelOnToken = async (actor: User, read: TokenEntryRead): Promise<number> => {
    if (actor.isAdmin || (read.token.kind === 'personal_access_token' && read.token.userId === actor.id)) return AccessLevel.OWNER;
    return read.entry.owner === null ? 0 : levelOn(actor, read.entry.owner.id);
  };

  /** The entry if `actor` may read it (Reporter+), else 404; `manage` also needs Maintainer+ (else 403). */
  const authoriseEntry = async (actor: User, ref: string, need: 'read' | 'manage'): Promise<Found> => {
    const found = await find(store, ref);
    if (found === null) throw NOT_FOUND();
    const level = found.token !== null ? await levelOnToken(actor, found.token) : await levelOn(actor, found.credential.owner.id);
    if (level < AccessLevel.REPORTER) throw NOT_FOUND();
    if (need === 'manage' && level < AccessLevel.MAINTAINER) throw forbidden('CREDENTIAL_NEEDS_MAINTAINER');
    return found;
  };

  /** An outside entry `actor` may read or manage; a token's entry is refused with `tokenRefusal`. */
  const authorise = async (actor: User, ref: string, need: 'read' | 'manage', tokenRefusal?: FieldErrors): Promise<Credential> => {
    const found = await authoriseEntry(actor, ref, need);
    if (found.token !== null) throw invalidCredential(tokenRefusal ?? { base: ["is a Latchkey token's entry"] });
    return found.credential;
  };

  /** The group `owner` names, which `actor` must manage: an unknown or unseen group is a field error, a seen one below Maintainer a 403. */
  const ownerGroup = async (actor: User, owner: string): Promise<Group> => {
    const group = await findGroup(owner);
    const level = group === null ? 0 : await levelOn(actor, group.id);
    if (group === null || (level < AccessLevel.GUEST && !actor.isAdmin)) throw invalidCredential({ owner: [`(${owner}) is not a group you are a member of`] });
    if (level < AccessLevel.MAINTAINER) throw forbidden('CREDENTIAL_NEEDS_MAINTAINER');
    return group;
  };

  const slugTaken = (slug: string): DomainError => invalidCredential({ slug: [`(${slug}) has already been taken`] });

  /** Runs `fn` in one transaction; its audit entries are recorded only once it has committed. */
  const atomically = async <T>(fn: (s: InventoryStore, pending: PendingAudit[]) => Promise<T>, actor: User): Promise<T> => {
    const pending: PendingAudit[] = [];
    let result: T;
    try {
      result = await store.transaction((s) => fn(s, pending));
    } catch (e) {
      if ((e as { code?: string }).code === 'ALREADY_EXISTS') throw slugTaken(/\((.*)\)/.exec((e as Error).message)?.[1] ?? '');
      throw e;
    }
    const at = now();
    for (const p of pending) {
      await audit?.({
        at,
        event: p.event,
        actorUsername: actor.username,
        groupId: p.credential.owner.id,
        data: {
          by: actor.username, credential_id: p.credential.id, slug: p.credential.slug, owner: p.credential.owner.fullPath,
          ...(p.credential.tokenId !== null ? { token_id: p.credential.tokenId } : {}), ...p.data,
        },
      });
    }
    return result;
  };

  /** The columns of an entry after `input` is applied to `current` (null: a new entry). */
  const recordOf = (input: CredentialInput, current: Credential | null, owner: Group, createdOn: UtcDate): CredentialRecord => {
    const name = input.name ?? current!.name;
    const slug = input.slug ?? current?.slug ?? slugFromName(name);
    if (slug.length === 0) throw invalidCredential({ slug: ["can't be derived from the name; give one"] });
    if (tokenIdOfRef(slug) !== null) throw invalidCredential({ slug: [`(${slug}) names a Latchkey token's entry; give another`] });
    const renewal = input.renewal ?? current!.renewal;
    const renewedOn = current?.renewedOn ?? null;
    return {
      slug,
      name,
      kind: input.kind ?? current!.kind,
      provider: input.provider !== undefined ? input.provider : (current?.provider ?? null),
      resource: input.resource !== undefined ? input.resource : (current?.resource ?? null),
      ownerGroupId: owner.id,
      scopes: input.scopes ?? current?.scopes ?? [],
      role: input.role !== undefined ? input.role : (current?.role ?? null),
      purpose: input.purpose !== undefined ? input.purpose : (current?.purpose ?? null),
      renewal,
      procedure: input.procedure !== undefined ? input.procedure : (current?.procedure ?? null),
      renewedOn,
      dueOn: dueDate(renewal, renewedOn ?? createdOn),
    };
  };

  /** Which of the user-set fields a change touches (for the audit entry; never the value). */
  const changedFields = (input: CredentialInput, current: Credential, next: CredentialRecord): string[] => {
    const out: string[] = [];
    const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
    for (const f of ['slug', 'name', 'kind', 'provider', 'resource', 'scopes', 'role', 'purpose', 'renewal', 'procedure'] as const) {
      if (input[f] !== undefined && !same(current[f], next[f])) out.push(f);
    }
    if (next.ownerGroupId !== current.owner.id) out.push('owner');
    if (input.placements !== undefined && !same(current.placements.map(({ id: _i, credentialId: _c, ...p }) => p), input.placements)) out.push('placements');
    if (input.value !== undefined) out.push('fingerprint');
    return out;
  };

  const fingerprintOf = (value: string | null): string | null => (value === null ? null : digester.digest(value));

  /**
   * Everything a create needs that is not the inventory's own tables (the owning group, the actor's
   * level on it), read before the transaction: on SQLite a transaction holds the only connection.
   */
  async function prepareCreate(actor: User, input: CredentialInput): Promise<CredentialRecord> {
    const owner = await ownerGroup(actor, input.owner!);
    return recordOf(input, null, owner, today());
  }

  /** Creates an entry inside a transaction (the API's create, and the import's). */
  async function createIn(s: InventoryStore, pending: PendingAudit[], actor: User, record: CredentialRecord, input: CredentialInput): Promise<Credential> {
    if ((await s.findBySlug(record.slug)) !== null) throw slugTaken(record.slug);
    const id = await s.insert(record, actor.id > 0 ? actor.id : null, now());
    if (input.placements && input.placements.length > 0) await s.replacePlacements(id, input.placements);
    if (input.value) await s.setFingerprint(id, fingerprintOf(input.value));
    const created = (await s.findById(id))!;
    pending.push({ event: 'credential.created', credential: created, data: { kind: created.kind, placements: created.placements.length, fingerprint: created.hasFingerprint } });
    return created;
  }

  /** The new owning group of an update (Maintainer+ needed there too), or the current one; read before the transaction. */
  async function prepareUpdate(actor: User, current: Credential, input: CredentialInput): Promise<Group> {
    if (input.owner !== undefined) return ownerGroup(actor, input.owner);
    return (await findGroupById(current.owner.id))!;
  }

  /** Applies an update inside a transaction; returns the entry and what changed (empty: nothing). */
  async function updateIn(s: InventoryStore, pending: PendingAudit[], currentId: number, input: CredentialInput, owner: Group): Promise<{ credential: Credential; changed: string[] }> {
    // Read again inside the transaction: it may have changed or gone since it was authorised.
    const current = await s.findById(currentId);
    if (current === null) throw NOT_FOUND();
    const record = recordOf(input, current, owner, current.createdAt.slice(0, 10));
    if (record.slug !== current.slug && (await s.findBySlug(record.slug)) !== null) throw slugTaken(record.slug);
    const changed = changedFields(input, current, record);
    if (changed.length === 0) return { credential: current, changed };
    await s.update(current.id, record, now());
    if (changed.includes('placements')) await s.replacePlacements(current.id, input.placements!);
    if (input.value !== undefined) await s.setFingerprint(current.id, fingerprintOf(input.value));
    const updated = (await s.findById(current.id))!;
    pending.push({ event: 'credential.updated', credential: updated, data: { changed, ...(input.value !== undefined ? { fingerprint: input.value !== null } : {}) } });
    return { credential: updated, changed };
  }

  const placementOf = (credential: { placements: readonly Placement[] }, placementId: number): Placement => {
    const p = credential.placements.find((x) => x.id === placementId);
    if (!p) throw notFound('Placement Not Found', 'PLACEMENT_NOT_FOUND');
    return p;
  };

  /**
   * The entry a token's inventory row stands for: its chain's last token as it is now. A token gone
   * from the database altogether answers as deleted, with the row's inventory fields only.
   */
  const entryOfRow = async (row: Credential): Promise<InventoryEntry> => {
    const read = await store.findTokenEntry(row.tokenId!, today());
    return read?.entry ?? { ...row, tokenStatus: { state: 'deleted', since: null } };
  };

  /** The list scope of `actor`: everything for admins, else entries of groups where they are Reporter+. */
  const scopeOf = (actor: User): CredentialFilter => (actor.isAdmin ? {} : { readableBy: { userId: actor.id, today: today() } });

  /**
   * The owning group a write to a token's inventory fields gives (read before the transaction): a token
   * with a group is owned by it (naming another is refused); a person's token takes the group `owner`
   * names, which the actor must manage. Fields a token's entry reads from the token are refused.
   */
  async function prepareTokenUpdate(actor: User, read: TokenEntryRead, input: CredentialInput): Promise<Group | null> {
    refuseDeadToken(read);
    const readOnly = Object.keys(input).filter((f) => !(TOKEN_ENTRY_FIELDS as readonly string[]).includes(f));
    if (readOnly.length > 0) throw invalidCredential(Object.fromEntries(readOnly.map((f) => [f, ['is read from the Latchkey token (only owner, purpose, procedure and placements are set on its entry)']])));
    if (input.owner === undefined) return null;
    const own = read.token.group;
    if (own === null) return ownerGroup(actor, input.owner);
    const named = await findGroup(input.owner);
    if (named?.id !== own.id) throw invalidCredential({ owner: [`is the token's group (${own.fullPath}) and cannot be changed`] });
    return null;
  }

  /**
   * The row of a token's inventory fields after `input`: the inventory fields set, and nothing copied
   * from the token. The token's own fields (name, scopes, role, expiry, renewal day) are read from it at
   * every read, so a copy would only go stale; the row's columns for them hold fixed values
   * (the slug as name, no scopes, no expiry) that no reader uses, and the reminder job and reports
   * leave token rows out.
   */
  const tokenFieldsRecord = (read: TokenEntryRead, input: CredentialInput, ownerGroupId: number): CredentialRecord => {
    const { fields } = read;
    const slug = tokenSlug(read.token.rootId);
    return {
      slug,
      name: slug,
      kind: read.token.kind,
      provider: LATCHKEY_PROVIDER,
      resource: null,
      ownerGroupId,
      scopes: [],
      role: null,
      purpose: input.purpose !== undefined ? input.purpose : (fields?.purpose ?? null),
      renewal: { type: 'expires_at', expiresAt: NO_EXPIRY },
      procedure: input.procedure !== undefined ? input.procedure : (fields?.procedure ?? null),
      renewedOn: null,
      dueOn: NO_EXPIRY,
    };
  };

  /** A revoked or deleted token's entry is read, and its inventory fields may be deleted, but not changed. */
  const refuseDeadToken = (read: TokenEntryRead): void => {
    const status = read.entry.tokenStatus;
    if (status && (status.state === 'revoked' || status.state === 'deleted')) throw invalidCredential({ base: [`is a Latchkey token ${status.state} on ${status.since}: its entry can no longer change`] });
  };

  const ownerMissing = () => invalidCredential({ owner: ["is missing: a person's token needs an owning group before inventory fields are added to it"] });

  /**
   * Writes a token's inventory fields inside a transaction (the row is created on the first write);
   * returns the entry and what changed (empty: nothing, and no row is created for nothing).
   */
  async function updateTokenIn(s: InventoryStore, pending: PendingAudit[], actor: User, tokenId: number, input: CredentialInput, owner: Group | null): Promise<{ entry: InventoryEntry; changed: string[] }> {
    const read = await s.findTokenEntry(tokenId, today());
    if (read === null) throw NOT_FOUND();
    refuseDeadToken(read);
    const current = read.fields;
    const ownerGroupId = read.token.group?.id ?? owner?.id ?? current?.owner.id;
    const changed: string[] = [];
    for (const f of ['purpose', 'procedure'] as const) if (input[f] !== undefined && input[f] !== (current?.[f] ?? null)) changed.push(f);
    if (owner !== null && owner.id !== current?.owner.id) changed.push('owner');
    const placementsNow = (current?.placements ?? []).map(({ id: _i, credentialId: _c, ...p }) => p);
    if (input.placements !== undefined && JSON.stringify(placementsNow) !== JSON.stringify(input.placements)) changed.push('placements');
    if (changed.length === 0) return { entry: read.entry, changed };
    if (ownerGroupId === undefined) throw ownerMissing();
    const record = tokenFieldsRecord(read, input, ownerGroupId);
    const id = current !== null ? current.id : await s.insert(record, actor.id > 0 ? actor.id : null, now(), read.token.rootId);
    if (current !== null) await s.update(id, record, now());
    if (changed.includes('placements')) await s.replacePlacements(id, input.placements!);
    const fresh = (await s.findTokenEntry(read.token.id, today()))!;
    pending.push({ event: current === null ? 'credential.created' : 'credential.updated', credential: fresh.fields!, data: { changed, live_token_id: read.token.id } });
    return { entry: fresh.entry, changed };
  }

  /** The stored row of a token's inventory fields, created (empty) on first use, inside a transaction. */
  async function tokenRowIn(s: InventoryStore, pending: PendingAudit[], actor: User, tokenId: number, owner: Group | null): Promise<Credential> {
    const read = await s.findTokenEntry(tokenId, today());
    if (read === null) throw NOT_FOUND();
    refuseDeadToken(read);
    if (read.fields !== null) return read.fields;
    const ownerGroupId = read.token.group?.id ?? owner?.id;
    if (ownerGroupId === undefined) throw ownerMissing();
    await s.insert(tokenFieldsRecord(read, {}, ownerGroupId), actor.id > 0 ? actor.id : null, now(), read.token.rootId);
    const created = (await s.findTokenEntry(tokenId, today()))!.fields!;
    pending.push({ event: 'credential.created', credential: created, data: { kind: created.kind, live_token_id: read.token.id } });
    return created;
  }

  /** The entry whose placements `actor` changes, and (inside the transaction) the stored row they hang on. */
  const placementTarget = async (actor: User, ref: string) => {
    const found = await authoriseEntry(actor, ref, 'manage');
    if (found.token === null) {
      const c = found.credential;
      return { placements: c.placements, rowIn: async (_s: InventoryStore, _p: PendingAudit[]) => c };
    }
    const read = found.token;
    return { placements: read.entry.placements, rowIn: (s: InventoryStore, p: PendingAudit[]) => tokenRowIn(s, p, actor, read.token.id, null) };
  };

  /** The token side of a list's filters: the caller's reach (admins: every token) and the query's filters. */
  const tokenFilterOf = (actor: User, query: CredentialListQuery, ownerGroupId: number | undefined): Omit<TokenEntryFilter, 'limit'> => ({
    today: today(),
    state: query.state ?? 'active',
    ...(actor.isAdmin ? {} : { readableBy: { userId: actor.id, today: today() } }),
    ...(ownerGroupId !== undefined ? { ownerGroupId } : {}),
    ...(query.kind !== undefined && isTokenKind(query.kind) ? { kind: query.kind } : {}),
    ...(query.search !== undefined && query.search !== '' ? { search: query.search } : {}),
    ...(query.dueOnOrBefore !== undefined ? { dueOnOrBefore: query.dueOnOrBefore } : {}),
  });

  return {
    /**
     * The inventory rows (placements above all) of tokens the caller already holds — a page of a token
     * table, listed by the token services, which decided who may see them — by token id: one batch.
     */
    tokenFields: (tokens: readonly { id: number; rotatedFromId: number | null }[]): Promise<Map<number, Credential>> => (tokens.length === 0 ? Promise.resolve(new Map()) : store.tokenFields(tokens)),

    /**
     * Entries `actor` may read: outside entries (id order), then Latchkey's tokens (token id order).
     * Offset pages count tokens up to `page.countLimit`; keyset pages (`cursor`) count nothing, so a
     * page costs the same at any depth. `owner` narrows to one group (404 when the actor cannot see it).
     */
    async list(actor: User, query: CredentialListQuery, page: PageRequest, cursor?: ListCursor): Promise<EntryPage> {
      const filter: { -readonly [K in keyof CredentialFilter]: CredentialFilter[K] } = { ...scopeOf(actor) };
      if (query.owner !== undefined) {
        const group = await findGroup(query.owner);
        if (group === null || (await levelOn(actor, group.id)) < AccessLevel.REPORTER) throw notFound('Group Not Found', 'GROUP_NOT_FOUND');
        filter.ownerGroupId = group.id;
      }
      if (query.kind !== undefined) filter.kind = query.kind;
      if (query.search !== undefined && query.search !== '') filter.search = query.search;
      if (query.dueOnOrBefore !== undefined) filter.dueOnOrBefore = query.dueOnOrBefore;
      const source = query.source ?? 'all';
      const withTokens = source !== 'outside' && (query.kind === undefined || isTokenKind(query.kind));
      const withOutside = source !== 'tokens' && !(query.kind !== undefined && isTokenKind(query.kind)) && (query.state ?? 'active') in LISTS_OUTSIDE;
      const tokens = tokenFilterOf(actor, query, filter.ownerGroupId);
      if (cursor !== undefined) {
        const items: InventoryEntry[] = [];
        if (withOutside && cursor.source === 'outside') {
          const outside = await store.list(filter, { page: 1, perPage: page.perPage, keyset: { afterId: cursor.afterId, direction: 'asc' } });
          items.push(...outside.items);
          if (outside.hasNext) return { items, total: 0, exact: false, hasNext: true, next: { source: 'outside', afterId: outside.items.at(-1)!.id } };
        }
        if (!withTokens || items.length === page.perPage) {
          const more = withTokens;
          return { items, total: 0, exact: false, hasNext: more, next: more ? { source: 'tokens', afterId: null } : null };
        }
        const afterId = cursor.source === 'tokens' ? (cursor.afterId ?? undefined) : undefined;
        const t = await store.listTokenEntries({ ...tokens, limit: page.perPage - items.length, ...(afterId !== undefined ? { afterId } : {}) });
        items.push(...t.items);
        return { items, total: 0, exact: false, hasNext: t.hasNext, next: t.hasNext ? { source: 'tokens', afterId: items.at(-1)!.tokenId } : null };
      }
      const outside = withOutside ? await store.list(filter, page) : { items: [], total: 0 };
      if (!withTokens) return outside;
      const offset = offsetOf(page);
      const t = await store.listTokenEntries({ ...tokens, limit: page.perPage - outside.items.length, offset: Math.max(0, offset - outside.total), countLimit: page.countLimit ?? null });
      const total = outside.total + t.total;
      return { items: [...outside.items, ...t.items], total, exact: t.exact, hasNext: t.hasNext || offset + page.perPage < total };
    },

    /**
     * What `inventory export` writes: every outside entry `actor` may read, and the tokens' entries that
     * have inventory fields (a token without any has nothing an import could set), but not those of
     * revoked or deleted tokens, whose entries an import could no longer change.
     */
    async exportable(actor: User): Promise<InventoryEntry[]> {
      const all: InventoryEntry[] = [];
      for (const tokenFields of [false, true]) {
        for (let afterId: number | null = null; ; ) {
          const page = await store.list({ ...scopeOf(actor), tokenFields }, { page: 1, perPage: 100, keyset: { afterId, direction: 'asc' } });
          for (const c of page.items) {
            const token = c.tokenId === null ? null : await store.findTokenEntry(c.tokenId, today());
            if (c.tokenId === null) all.push(c);
            else if (token !== null && (token.entry.tokenStatus?.state === 'active' || token.entry.tokenStatus?.state === 'expired')) all.push(token.entry);
          }
          if (!page.hasNext) break;
          afterId = page.items.at(-1)!.id;
        }
      }
      return all;
    },

    /**
     * The entry `ref` names with its stored row, for what hangs on the row (a rotation policy): `read`
     * answers a token's entry without inventory fields with no row; `manage` (Maintainer+) creates that
     * row on first use, as adding a placement does.
     */
    async entryRow(actor: User, ref: string, need: 'read' | 'manage'): Promise<{ entry: InventoryEntry; row: Credential | null }> {
      const found = await authoriseEntry(actor, ref, need);
      if (found.token === null) return { entry: found.credential, row: found.credential };
      const read = found.token;
      if (read.fields !== null || need === 'read') return { entry: read.entry, row: read.fields };
      try {
        const row = await atomically((s, pending) => tokenRowIn(s, pending, actor, read.token.id, null), actor);
        return { entry: read.entry, row };
      } catch (e) {
        // Concurrent first uses (rotate requests reaching two nodes at once) race to make the row: the
        // loser's insert collides with the winner's slug, and the winner's row is the one to use.
        const again = (await authoriseEntry(actor, ref, need)).token;
        if (again?.fields) return { entry: again.entry, row: again.fields };
        throw e;
      }
    },

    async get(actor: User, ref: string): Promise<InventoryEntry> {
      const found = await authoriseEntry(actor, ref, 'read');
      return found.token !== null ? found.token.entry : found.credential;
    },

    /** The entry if `actor` may manage it (Maintainer+ of the owning group, admins): 404 when they cannot read it, 403 when they only read it. */
    async getManaged(actor: User, ref: string): Promise<InventoryEntry> {
      const found = await authoriseEntry(actor, ref, 'manage');
      return found.token !== null ? found.token.entry : found.credential;
    },

    /** A new entry; `input` comes from parseCredentialInput (name, kind, owner and renewal present). */
    async create(actor: User, input: CredentialInput): Promise<Credential> {
      const record = await prepareCreate(actor, input);
      return atomically((s, pending) => createIn(s, pending, actor, record, input), actor);
    },

    /**
     * Changes the given fields; `placements`, when given, replaces the list. A token's entry takes only
     * its inventory fields (owner where the token has no group, purpose, procedure, placements).
     */
    async update(actor: User, ref: string, input: CredentialInput): Promise<InventoryEntry> {
      const found = await authoriseEntry(actor, ref, 'manage');
      if (found.token !== null) {
        const read = found.token;
        const owner = await prepareTokenUpdate(actor, read, input);
        return atomically(async (s, pending) => (await updateTokenIn(s, pending, actor, read.token.id, input, owner)).entry, actor);
      }
      const current = found.credential;
      const owner = await prepareUpdate(actor, current, input);
      return atomically(async (s, pending) => (await updateIn(s, pending, current.id, input, owner)).credential, actor);
    },

    /** Deletes an outside entry with its placements and history; for a token's entry, its inventory fields (the token stays). */
    async remove(actor: User, ref: string): Promise<void> {
      const found = await authoriseEntry(actor, ref, 'manage');
      const current = found.token !== null ? found.token.fields : found.credential;
      if (current === null) return;
      await atomically(async (s, pending) => {
        await s.delete(current.id);
        pending.push({ event: 'credential.deleted', credential: current, data: { kind: current.kind } });
      }, actor);
    },

    async addPlacement(actor: User, ref: string, fields: PlacementFields): Promise<Placement> {
      const target = await placementTarget(actor, ref);
      return atomically(async (s, pending) => {
        const current = await target.rowIn(s, pending);
        const placement = await s.addPlacement(current.id, fields);
        pending.push({ event: 'credential.placement_added', credential: current, data: { placement_id: placement.id, placement: describePlacement(placement) } });
        return placement;
      }, actor);
    },

    async updatePlacement(actor: User, ref: string, placementId: number, fields: PlacementFields): Promise<Placement> {
      const target = await placementTarget(actor, ref);
      const before = placementOf(target, placementId);
      return atomically(async (s, pending) => {
        const current = await target.rowIn(s, pending);
        const placement = await s.updatePlacement(before.id, fields);
        pending.push({ event: 'credential.placement_updated', credential: current, data: { placement_id: placement.id, from: describePlacement(before), placement: describePlacement(placement) } });
        return placement;
      }, actor);
    },

    async removePlacement(actor: User, ref: string, placementId: number): Promise<void> {
      const target = await placementTarget(actor, ref);
      const before = placementOf(target, placementId);
      await atomically(async (s, pending) => {
        const current = await target.rowIn(s, pending);
        await s.deletePlacement(before.id);
        pending.push({ event: 'credential.placement_removed', credential: current, data: { placement_id: before.id, placement: describePlacement(before) } });
      }, actor);
    },

    /** Placements matching `query` (the reverse look-up) among the entries `actor` may read. */
    async findPlacements(actor: User, query: PlacementQuery, page: PageRequest): Promise<Page<{ placement: Placement; credential: InventoryEntry }>> {
      const found = await store.findPlacements(query, scopeOf(actor), page);
      // A token's inventory row answers as the token's entry: its last token as it is now (revoked,
      // expired), never the row's own columns.
      const items = await Promise.all(
        found.items.map(async (item) => ({ placement: item.placement, credential: item.credential.tokenId === null ? item.credential : await entryOfRow(item.credential) })),
      );
      return { ...found, items };
    },

    /**
     * The entry of the rotation chain `tokenId` belongs to when inventory fields were added to it (the
     * leak response shows its placements and state); null when none were. No permission check: the
     * caller is an admin route.
     */
    async entryOfToken(tokenId: number): Promise<InventoryEntry | null> {
      const read = await store.findTokenEntry(tokenId, today());
      return read?.fields ? read.entry : null;
    },

    /**
     * The system's own look-up of a leaked value (admin leak response): the entries whose fingerprint
     * is this value's. No user, no permission check; the caller is an admin route.
     */
    async recogniseValue(value: string): Promise<Credential[]> {
      return store.findByFingerprint(digester.digest(value));
    },

    /**
     * Marks an entry renewed (Maintainer+): the renewal day, the new expiry (fixed-date rules) and so
     * the next due date, and the placements updated; the history keeps every renewal.
     */
    async renew(actor: User, ref: string, input: RenewalInput): Promise<{ credential: Credential; renewal: RenewalEntry }> {
      const current = await authorise(actor, ref, 'manage', { base: ['is a Latchkey token: rotate it (POST …/rotate) and its entry follows the new token'] });
      const plan = planRenewal(current, input, today(), (id) => {
        const p = current.placements.find((x) => x.id === id);
        return p ? describePlacement(p) : null;
      });
      return atomically(async (s, pending) => {
        const fresh = await s.findById(current.id);
        if (fresh === null) throw NOT_FOUND();
        const { id: _id, owner, placements: _p, hasFingerprint: _h, tokenId: _t, createdAt: _c, updatedAt: _u, ...fields } = fresh;
        await s.update(fresh.id, { ...fields, ownerGroupId: owner.id, renewal: plan.renewal, renewedOn: plan.renewedOn, dueOn: plan.dueOn }, now());
        if (input.value !== undefined) await s.setFingerprint(fresh.id, fingerprintOf(input.value));
        const renewal = await s.addRenewal({
          credentialId: fresh.id,
          renewedAt: now(),
          renewedOn: plan.renewedOn,
          renewedBy: { id: actor.id > 0 ? actor.id : null, username: actor.username },
          previousDueOn: fresh.dueOn,
          dueOn: plan.dueOn,
          placementsUpdated: plan.placements,
          note: plan.note,
        });
        const credential = (await s.findById(fresh.id))!;
        pending.push({ event: 'credential.renewed', credential, data: { renewed_on: plan.renewedOn, previous_due_on: fresh.dueOn, due_on: plan.dueOn, placements_updated: plan.placements.map((p) => p.id) } });
        return { credential, renewal };
      }, actor);
    },

    /** The renewal history of an entry (Reporter+), newest first. */
    async renewals(actor: User, ref: string, page: PageRequest): Promise<Page<RenewalEntry>> {
      const found = await authoriseEntry(actor, ref, 'read');
      const current = found.token !== null ? found.token.fields : found.credential;
      return current === null ? { items: [], total: 0 } : store.listRenewals(current.id, page);
    },

    /**
     * Applies an inventory file (inventory-file.ts): entries matched by slug are created or changed,
     * entries not in the file are left alone. Everything is checked first (fields with their lines,
     * owners, permissions) and then written in one transaction; a dry run rolls it back and reports.
     */
    async importFile(actor: User, text: string, options: { dryRun: boolean }): Promise<ImportResult> {
      const entries = parseInventoryFile(text);
      type Plan = { slug: string; existing: Credential | null; owner: Group | null; record: CredentialRecord | null; input: CredentialInput; tokenId?: number };
      const plans: Plan[] = [];
      const errors: Record<string, string[]> = {};
      for (const e of entries) {
        const existing = tokenIdOfRef(e.slug) === null ? await store.findBySlug(e.slug) : null;
        try {
          if (tokenIdOfRef(e.slug) !== null) {
            // A Latchkey token's entry: only its inventory fields are applied; the rest is the token's.
            const found = await authoriseEntry(actor, e.slug, 'manage');
            const read = found.token!;
            const input = Object.fromEntries(Object.entries(e.input).filter(([f]) => (TOKEN_ENTRY_FIELDS as readonly string[]).includes(f))) as CredentialInput;
            plans.push({ slug: e.slug, existing: null, owner: await prepareTokenUpdate(actor, read, input), record: null, input, tokenId: read.token.id });
          } else if (existing !== null) {
            await authorise(actor, String(existing.id), 'manage');
            plans.push({ slug: e.slug, existing, owner: await prepareUpdate(actor, existing, e.input), record: null, input: e.input });
          } else plans.push({ slug: e.slug, existing: null, owner: null, record: await prepareCreate(actor, e.input), input: e.input });
        } catch (err) {
          if (!(err instanceof DomainError)) throw err;
          for (const [field, reasons] of Object.entries(err.fields ?? { base: [err.message] })) (errors[`credentials[${e.index}].${field}`] ??= []).push(...reasons.map((r) => `${r} (line ${e.line})`));
        }
      }
      if (Object.keys(errors).length > 0) throw invalidCredential(errors, 'INVALID_INVENTORY_FILE');
      const result: ImportResult = { dryRun: options.dryRun, created: [], changed: [], left: [] };
      try {
        await atomically(async (s, pending) => {
          for (const p of plans) {
            if (p.tokenId !== undefined) {
              const { changed } = await updateTokenIn(s, pending, actor, p.tokenId, p.input, p.owner);
              if (changed.length === 0) result.left.push(p.slug);
              else result.changed.push({ slug: p.slug, fields: changed });
            } else if (p.existing === null) {
              await createIn(s, pending, actor, p.record!, p.input);
              result.created.push(p.slug);
            } else {
              const { changed } = await updateIn(s, pending, p.existing.id, p.input, p.owner!);
              if (changed.length === 0) result.left.push(p.slug);
              else result.changed.push({ slug: p.slug, fields: changed });
            }
          }
          if (options.dryRun) throw new DryRunRollback();
        }, actor);
      } catch (e) {
        if (!(e instanceof DryRunRollback)) throw e;
      }
      return result;
    },

    /** For the importer and other multi-entry changes in one transaction (internal to src/inventory). */
    internals: { atomically, prepareCreate, createIn, prepareUpdate, updateIn, findRef, authorise },
  };
}
