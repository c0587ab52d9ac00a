/**
 * `latchkey token create|list|revoke|rotate|inspect`: personal (`--user`), project (`--project`),
 * group (`--group`) and service-account (`--service-account <username> --group <path>`) tokens, acting
 * as the instance admin through the services (never the database). `inspect` identifies a token from
 * its value (the leak case) and prints what it is, never the secret; `--revoke` revokes it.
 */
import type { Command } from 'commander';
import type { Services } from '../services.js';
import type { Clock } from '../kernel/clock.js';
import { DomainError, invalidRecord, notFound } from '../kernel/errors.js';
import type { Group, Resource, User } from '../namespaces/namespace.js';
import { isRevokedAt, kindLabelOf, type Token } from '../tokens/token.js';
import { emit, formatTable, type Output } from './output.js';
import {
  CliInputError,
  parseAccessLevel,
  parseGracePeriod,
  parseScopes,
  parseTokenId,
  TABLE_COLUMNS,
  tokenView,
  type TokenKindLabel,
  type TokenView,
} from './token-format.js';

export interface TokenCommandDeps {
  /** Runs `fn` with freshly built services and closes the store afterwards. */
  withServices<T>(fn: (built: { services: Services; clock: Clock }) => Promise<T>): Promise<T>;
  /** The instance admin the CLI acts as. */
  actorOf(services: Services): Promise<User>;
  out(opts: { json?: boolean }): Output;
  /** The whole of standard input (for `inspect -`). */
  readStdin(): Promise<string>;
}

interface TargetOptions {
  user?: string;
  project?: string;
  group?: string;
  serviceAccount?: string;
}

type Target =
  | { kind: 'personal'; user: User }
  | { kind: 'project' | 'group'; resource: Resource }
  | { kind: 'service_account'; group: Group; account: User };

const PAGE = 100;

const alreadyRevoked = () => invalidRecord('Token already revoked', 'TOKEN_ALREADY_REVOKED');

export async function allPages<T>(fetch: (page: { page: number; perPage: number }) => Promise<{ items: T[]; total: number }>): Promise<T[]> {
  const all: T[] = [];
  for (let page = 1; ; page++) {
    const result = await fetch({ page, perPage: PAGE });
    all.push(...result.items);
    if (all.length >= result.total || result.items.length === 0) return all;
  }
}

/** A user by username (or numeric id), as the admin sees them; GitLab's 404 wording when absent. */
async function findUserByName(services: Services, actor: User, name: string): Promise<User> {
  if (/^[0-9]{1,10}$/.test(name)) return services.namespaces.findUser(actor, Number(name));
  const wanted = name.toLowerCase();
  for (let page = 1; ; page++) {
    const result = await services.namespaces.listUsers(actor, { page, perPage: PAGE });
    const hit = result.items.find((u) => u.username.toLowerCase() === wanted);
    if (hit) return hit;
    if (page * PAGE >= result.total || result.items.length === 0) throw notFound('User Not Found', 'USER_NOT_FOUND');
  }
}

async function resolveTarget(services: Services, actor: User, opts: TargetOptions): Promise<Target> {
  if (opts.serviceAccount !== undefined) {
    if (opts.group === undefined) throw new CliInputError('--service-account needs --group <path> (the group that owns it)');
    if (opts.user !== undefined || opts.project !== undefined) throw new CliInputError('give --service-account with --group only');
    const resource = await services.namespaces.resolveResourceAsAdmin('group', opts.group);
    const group = (resource as Extract<Resource, { type: 'group' }>).group;
    const wanted = opts.serviceAccount.toLowerCase();
    const accounts = await allPages((p) => services.serviceAccounts.list(actor, group, { by: 'id', direction: 'asc' }, p));
    const account = accounts.find((a) => a.username.toLowerCase() === wanted || String(a.id) === opts.serviceAccount);
    if (!account) throw notFound('Service Account Not Found', 'USER_NOT_FOUND');
    return { kind: 'service_account', group, account };
  }
  const given = [opts.user, opts.project, opts.group].filter((v) => v !== undefined).length;
  if (given !== 1) throw new CliInputError('give exactly one of --user <username>, --project <path>, --group <path> or --service-account <username> --group <path>');
  if (opts.user !== undefined) return { kind: 'personal', user: await findUserByName(services, actor, opts.user) };
  const kind = opts.project !== undefined ? 'project' : 'group';
  return { kind, resource: await services.namespaces.resolveResourceAsAdmin(kind, (opts.project ?? opts.group)!) };
}

/** Who a token belongs to, by username (bots included). */
async function ownerName(services: Services, actor: User, token: Token, cache: Map<number, string>): Promise<string> {
  if (token.userId === null) return '-';
  const known = cache.get(token.userId);
  if (known !== undefined) return known;
  const name = await services.namespaces.findUser(actor, token.userId).then(
    (u) => u.username,
    () => `user ${token.userId}`,
  );
  cache.set(token.userId, name);
  return name;
}

function targetLabel(target: Target): TokenKindLabel {
  return target.kind;
}

function describeTarget(target: Target): string {
  switch (target.kind) {
    case 'personal':
      return `user ${target.user.username}`;
    case 'service_account':
      return `service account ${target.account.username} of group ${target.group.fullPath}`;
    case 'project':
      return `project ${target.resource.type === 'project' ? target.resource.project.pathWithNamespace : ''}`;
    case 'group':
      return `group ${target.resource.type === 'group' ? target.resource.group.fullPath : ''}`;
  }
}

function table(views: readonly TokenView[]): string {
  return formatTable(views as unknown as Record<string, string | number | null | readonly string[]>[], TABLE_COLUMNS);
}

export function registerTokenCommands(program: Command, deps: TokenCommandDeps): void {
  const token = program.command('token').description('Personal, project, group and service-account access tokens');
  const target = (c: Command) =>
    c
      .option('--user <username>', 'personal access tokens of this user')
      .option('--project <path>', 'project access tokens (project full path or id)')
      .option('--group <path>', 'group access tokens (group full path or id); with --service-account, the owning group')
      .option('--service-account <username>', 'tokens of this service account (with --group)');

  target(token.command('create').description('Create a token; the secret is printed once'))
    .requiredOption('--name <name>', 'token name')
    .requiredOption('--scopes <list>', 'comma-separated scopes, e.g. read_api or read_repository,read_registry')
    .option('--expires-at <date>', 'expiry date (YYYY-MM-DD); the instance maximum lifetime when omitted')
    .option('--access-level <level>', 'project/group tokens: 10, 15, 20, 30, 40 (default) or 50')
    .option('--description <text>', 'what the token is for')
    .option('--json', 'machine-readable output')
    .action(async (opts: TargetOptions & { name: string; scopes: string; expiresAt?: string; accessLevel?: string; description?: string; json?: boolean }) => {
      const scopes = parseScopes(opts.scopes);
      const accessLevel = parseAccessLevel(opts.accessLevel);
      await deps.withServices(async ({ services, clock }) => {
        const actor = await deps.actorOf(services);
        const t = await resolveTarget(services, actor, opts);
        if (accessLevel !== undefined && t.kind !== 'project' && t.kind !== 'group') throw new CliInputError('--access-level is for project and group tokens only');
        const input = { name: opts.name, description: opts.description, scopes, expiresAt: opts.expiresAt };
        let created: { token: Token; secret: string };
        let owner: string;
        switch (t.kind) {
          case 'personal':
            created = await services.personalTokens.create(actor, t.user.id, input);
            owner = t.user.username;
            break;
          case 'service_account':
            created = await services.serviceAccounts.createToken(actor, t.group, t.account.id, input);
            owner = t.account.username;
            break;
          default: {
            const r = await services.resourceTokens.create(actor, t.resource, { ...input, accessLevel });
            created = r;
            owner = r.bot.username;
          }
        }
        const view = tokenView(created.token, targetLabel(t), owner, clock.now());
        emit(deps.out(opts), { ...view, token: created.secret }, () => `${table([view])}\n\nToken (shown only now): ${created.secret}`);
      });
    });

  target(token.command('list').description('List the tokens of a user, project, group or service account (all pages)'))
    .option('--state <state>', 'active or inactive')
    .option('--json', 'machine-readable output')
    .action(async (opts: TargetOptions & { state?: string; json?: boolean }) => {
      if (opts.state !== undefined && opts.state !== 'active' && opts.state !== 'inactive') throw new CliInputError('--state must be active or inactive');
      const state = opts.state as 'active' | 'inactive' | undefined;
      await deps.withServices(async ({ services, clock }) => {
        const actor = await deps.actorOf(services);
        const t = await resolveTarget(services, actor, opts);
        let tokens: Token[];
        switch (t.kind) {
          case 'personal':
            tokens = await allPages((p) => services.personalTokens.list(actor, { userId: t.user.id, state }, p));
            break;
          case 'service_account':
            tokens = await allPages((p) => services.serviceAccounts.listTokens(actor, t.group, t.account.id, { state }, p));
            break;
          default:
            tokens = await allPages((p) => services.resourceTokens.list(actor, t.resource, { state }, p));
        }
        const names = new Map<number, string>();
        const now = clock.now();
        const views: TokenView[] = [];
        // A user's list holds the impersonation tokens admins have for them too, labelled as such.
        for (const tok of tokens) views.push(tokenView(tok, tok.impersonation ? 'impersonation' : targetLabel(t), await ownerName(services, actor, tok, names), now));
        emit(deps.out(opts), views, () => table(views));
      });
    });

  target(token.command('revoke').description('Revoke a token by id; its secret stops working at once').argument('<token-id>', 'token id'))
    .option('--json', 'machine-readable output')
    .action(async (tokenId: string, opts: TargetOptions & { json?: boolean }) => {
      const id = parseTokenId(tokenId);
      await deps.withServices(async ({ services, clock }) => {
        const actor = await deps.actorOf(services);
        const t = await resolveTarget(services, actor, opts);
        switch (t.kind) {
          case 'personal': {
            const existing = await services.personalTokens.show(actor, id);
            if (existing.userId !== t.user.id) throw notFound('Personal Access Token Not Found', 'TOKEN_NOT_FOUND');
            if (isRevokedAt(existing, clock.now())) throw alreadyRevoked();
            await services.personalTokens.revokeOfUser(actor, t.user.id, id);
            break;
          }
          case 'service_account':
            await services.serviceAccounts.revokeToken(actor, t.group, t.account.id, id);
            break;
          default:
            if (isRevokedAt(await services.resourceTokens.show(actor, t.resource, id), clock.now())) throw alreadyRevoked();
            await services.resourceTokens.revoke(actor, t.resource, id);
        }
        emit(deps.out(opts), { id, revoked: true }, () => `Revoked token ${id} of ${describeTarget(t)}.`);
      });
    });

  target(token.command('rotate').description('Rotate a token: a new secret, printed once; the old one stops at once or after --grace-period').argument('<token-id>', 'token id'))
    .option('--expires-at <date>', 'expiry date of the new token (YYYY-MM-DD); GitLab’s default when omitted')
    .option('--grace-period <duration>', 'how long the old secret keeps working: seconds, or 30m, 1h, 7d (Latchkey extension)')
    .option('--json', 'machine-readable output')
    .action(async (tokenId: string, opts: TargetOptions & { expiresAt?: string; gracePeriod?: string; json?: boolean }) => {
      const id = parseTokenId(tokenId);
      const gracePeriodSeconds = opts.gracePeriod === undefined ? undefined : parseGracePeriod(opts.gracePeriod);
      await deps.withServices(async ({ services, clock }) => {
        const actor = await deps.actorOf(services);
        const t = await resolveTarget(services, actor, opts);
        const input = { expiresAt: opts.expiresAt, gracePeriodSeconds };
        let rotated: { token: Token; secret: string; previous: Token };
        switch (t.kind) {
          case 'personal':
            rotated = await services.personalTokens.rotateOfUser(actor, t.user.id, id, input);
            break;
          case 'service_account':
            rotated = await services.serviceAccounts.rotateToken(actor, t.group, t.account.id, id, input);
            break;
          default:
            rotated = await services.resourceTokens.rotate(actor, t.resource, id, input);
        }
        const now = clock.now();
        const names = new Map<number, string>();
        const owner = await ownerName(services, actor, rotated.token, names);
        const view = tokenView(rotated.token, targetLabel(t), owner, now);
        const previous = tokenView(rotated.previous, targetLabel(t), owner, now);
        const old =
          previous.state === 'grace'
            ? `The old secret (token ${previous.id}) keeps working until ${previous.grace_until}.`
            : `The old secret (token ${previous.id}) no longer works.`;
        emit(deps.out(opts), { ...view, token: rotated.secret, previous }, () => `${table([view])}\n\n${old}\nToken (shown only now): ${rotated.secret}`);
      });
    });

  token
    .command('inspect')
    .description('Identify any token from its value (the leak case): kind, owner, scopes, state — never the secret')
    .argument('<value>', 'the token value, or - to read it from standard input')
    .option('--revoke', 'revoke the token as well')
    .option('--json', 'machine-readable output')
    .action(async (value: string, opts: { revoke?: boolean; json?: boolean }) => {
      const secret = (value === '-' ? await deps.readStdin() : value).trim();
      if (secret.length === 0) throw new CliInputError('no token value given (pass it as the argument, or - and pipe it in)');
      await deps.withServices(async ({ services, clock }) => {
        const actor = await deps.actorOf(services);
        let found: { token: Token; owner: User | null };
        try {
          found = await services.adminTokens.identify(actor, secret);
        } catch (e) {
          // Never echo the value back; say only that no token has it.
          if (e instanceof DomainError && e.kind === 'not_found') throw notFound('Token Not Found: no token of this instance has that value', 'TOKEN_NOT_FOUND');
          throw e;
        }
        let revokedNow = false;
        if (opts.revoke) {
          revokedNow = !isRevokedAt(found.token, clock.now());
          await services.adminTokens.revoke(actor, secret);
          found = await services.adminTokens.identify(actor, secret);
        }
        const { token: t, owner } = found;
        const kind: TokenKindLabel = kindLabelOf(t, owner?.botKind ?? null);
        const ownerLabel = owner?.username ?? t.username ?? '-';
        const resource =
          t.projectId !== null
            ? (await services.namespaces.resolveResourceAsAdmin('project', String(t.projectId)).catch(() => null))
            : t.groupId !== null
              ? (await services.namespaces.resolveResourceAsAdmin('group', String(t.groupId)).catch(() => null))
              : null;
        const resourcePath = resource === null ? null : resource.type === 'project' ? resource.project.pathWithNamespace : resource.group.fullPath;
        const view = {
          ...tokenView(t, kind, ownerLabel, clock.now()),
          owner_id: t.userId,
          owner_is_bot: owner ? owner.botKind !== null : null,
          resource: resourcePath,
          revoke_reason: t.revokeReason,
          revoked_now: revokedNow,
        };
        emit(deps.out(opts), view, () => {
          const lines = Object.entries(view).map(([k, v]) => `${k.padEnd(16)} ${v === null || v === undefined ? '-' : Array.isArray(v) ? v.join(',') : String(v)}`);
          if (opts.revoke) lines.push('', revokedNow ? `Revoked token ${t.id}: its secret no longer works.` : `Token ${t.id} was already revoked.`);
          return lines.join('\n');
        });
      });
    });
}
