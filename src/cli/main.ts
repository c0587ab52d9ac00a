/**
 * The `latchkey` command line. Commands call the services (never the database directly) and act as
 * the first admin: whoever can run them already holds the data directory or DATABASE_URL.
 */
import { Command, CommanderError } from 'commander';
import { buildApp, buildServices } from '../app.js';
import type { BuiltServices, Services } from '../services.js';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { DomainError } from '../kernel/errors.js';
import { limitHeapGrowth } from '../kernel/heap-growth.js';
import { addDays, utcDateOf } from '../kernel/dates.js';
import { locateDatabase, openStore } from '../store/open-store.js';
import { emit, formatTable, type Output } from './output.js';
import type { Resource } from '../namespaces/namespace.js';
import type { Token } from '../tokens/token.js';
import { isExpiredAt } from '../kernel/dates.js';
import { registerTokenCommands } from './token-commands.js';
import { registerReusedCommand } from './reused-command.js';
import { registerWebhookCommands } from './webhook-commands.js';
import { registerNotifyCommands } from './notify-commands.js';
import { scheduleExpiryJob } from '../notifications/expiry-schedule.js';
import { registerExpiringCommand } from './expiring-command.js';
import { registerSecretCommands } from './secret-commands.js';
import { registerRegistryCommands } from './registry-commands.js';
import { registerOidcCommands } from './oidc-commands.js';
import { registerExportCommands } from './export-commands.js';
import { readFile } from 'node:fs/promises';
import { registerAuditCommands } from './audit-command.js';
import { registerCredentialCommands } from './credential-commands.js';
import { registerInventoryCommands } from './inventory-commands.js';
import { registerRotationPolicyCommands } from './rotation-policy-commands.js';
import { registerUpstreamCommands } from './upstream-commands.js';
import { scheduleUpstreamSync } from '../upstreams/sync-schedule.js';
import { CliInputError } from './token-format.js';
import { registerUserCommands, terminalSecretPrompt } from './user-commands.js';
import { USAGE_FLUSH_INTERVAL_MS } from '../tokens/token-usage-tracker.js';
import { startWalCheckpointer } from '../store/wal-checkpointer.js';

export interface CliIo {
  print(text: string): void;
  error(text: string): void;
  env: Record<string, string | undefined>;
  /** The whole of standard input (`latchkey token inspect -`); process.stdin when absent. */
  readStdin?: () => Promise<string>;
  /** Asks for a secret without echo (`latchkey user set-password`); the terminal's when absent, null without one. */
  promptSecret?: ((question: string) => Promise<string>) | null;
}

async function readProcessStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

const defaultIo: CliIo = {
  print: (t) => process.stdout.write(`${t}\n`),
  error: (t) => process.stderr.write(`${t}\n`),
  env: process.env,
  readStdin: readProcessStdin,
};

const FIRST_ADMIN = { username: 'root', email: 'root@localhost' };

const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: 'the address is already in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'the address is not available on this machine',
};

function deployTokenRow(t: Token, now: Date) {
  return {
    id: t.id,
    name: t.name,
    username: t.username,
    scopes: t.scopes,
    // The date the user typed (--expires-at YYYY-MM-DD), as `admin bootstrap` prints it; the API's
    // GitLab-shaped midnight timestamp is noise in a table.
    expires_at: t.expiresAt,
    revoked: t.revokedAt !== null,
    expired: isExpiredAt(t.expiresAt, now),
  };
}

async function withServices<T>(config: Config, fn: (s: BuiltServices) => Promise<T>): Promise<T> {
  // A one-shot command writes a few audit entries at close: starting a worker thread would cost more.
  const built = await buildServices({ ...config, auditWorker: false });
  try {
    return await fn(built);
  } finally {
    await built.close();
  }
}

export async function runCli(argv: string[], io: CliIo = defaultIo): Promise<number> {
  const program = new Command('latchkey')
    .description('Latchkey: a self-hosted token authority with a GitLab-compatible API')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.print(s.trimEnd()), writeErr: (s) => io.error(s.trimEnd()) });
  const config = () => loadConfig(io.env);
  const out = (opts: { json?: boolean }): Output => ({ json: opts.json === true, print: io.print, error: io.error });

  program
    .command('serve')
    .description('Run the HTTP service (SQLite under ./data and 127.0.0.1:8080 unless configured)')
    .action(async () => {
      const cfg = config();
      // Before the app's start-up fills the heap: a serving process's old generation stays near 1.5× live.
      limitHeapGrowth(cfg.heapGrowthPercent);
      const app = await buildApp(cfg);
      let address: string;
      try {
        address = await app.http.listen({ host: cfg.host, port: cfg.port });
      } catch (e) {
        // Close the store as well: an open PostgreSQL pool would keep a failed `serve` alive for seconds.
        await app.close();
        const reason = LISTEN_ERRORS[(e as NodeJS.ErrnoException).code ?? ''];
        if (reason) throw new CliInputError(`cannot listen on ${cfg.host}:${cfg.port}: ${reason} (set LATCHKEY_HOST / LATCHKEY_PORT)`);
        throw e;
      }
      // Only once the port is ours: a start that fails to listen must not use up the first-admin hint.
      const { created, admin } = await app.services.namespaces.ensureFirstAdmin(FIRST_ADMIN.username, FIRST_ADMIN.email);
      if (created) {
        io.print(`Created the first admin user "${admin.username}".`);
        io.print('Get a personal access token for it, shown once, with:  npx latchkey admin bootstrap');
      }
      if (app.secretGenerated) io.print(`Generated a server secret in ${cfg.dataDir}/server-secret (back it up: without it no issued token verifies).`);
      io.print(`Latchkey listening on ${address} (API: ${address}/api/v4, docs: ${address}/api/docs)`);
      // Token events committed but not relayed — by a node killed between its commit and the relay, or a
      // relay that failed — go into the audit log and webhook deliveries now, then every second.
      void app.services.eventRelay.drain().catch(app.services.eventRelay.reportFailure);
      const stopRelay = app.services.eventRelay.start(1000);
      // Webhook deliveries: sent from the durable outbox by every node (rows are claimed, never sent twice).
      const stopWebhooks = app.services.webhookDispatcher.start(cfg.webhookIntervalMs);
      // Token usage left unwritten by the per-minute throttle (new IPs, reuse) is written within ~10 s of it.
      const stopUsage = app.services.tokenUsage.start(USAGE_FLUSH_INTERVAL_MS);
      // Every node schedules the expiry check; its database lock lets one node at a time run it.
      const expiryJob = cfg.expiryCron === null ? null : scheduleExpiryJob(cfg.expiryCron, () => app.services.expiryNotifier.run(), app.http.log);
      // Upstream syncs (hourly by default); a lock per upstream lets one node at a time sync it.
      void app.services.upstreams.ensureConfigured().catch((e: Error) => io.error(`latchkey: LATCHKEY_UPSTREAMS: ${e.message}`));
      const upstreamSync = cfg.upstreams.syncCron === null ? null : scheduleUpstreamSync(cfg.upstreams.syncCron, () => app.services.upstreams.syncAll(), app.http.log);
      // OAuth2 housekeeping: expired codes and device codes, spent refresh tokens (each node; deletes are idempotent).
      const pruneOAuth = () => void app.services.oauth.prune().catch((e: Error) => app.http.log.warn({ err: { message: e.message } }, 'OAuth2 housekeeping failed'));
      pruneOAuth();
      const oauthPruning = setInterval(pruneOAuth, 3_600_000);
      oauthPruning.unref();
      // Scheduled rotation: every node ticks each minute; a lock lets one node scan at a time, and a run row per
      // entry and due date starts each rotation once.
      const stopRotationSchedule = app.services.rotationScheduler.start(60_000);
      // Rotation jobs a stopped node left, and those waiting for an old secret to go quiet: at start, then
      // every 15 s (or half the job lease, when shorter); a lease per job in the database lets one node at a
      // time advance it.
      let resuming = false;
      const resumeRotations = () => {
        if (resuming) return;
        resuming = true;
        void app.services.rotations
          .resumeAll()
          .catch((e: Error) => app.http.log.warn({ err: { message: e.message } }, 'rotation jobs could not be resumed'))
          .finally(() => (resuming = false));
      };
      resumeRotations();
      const rotationTick = setInterval(resumeRotations, Math.min(15_000, cfg.rotation.leaseMs / 2));
      rotationTick.unref();
      // A file SQLite store: WAL checkpoints in a thread of their own, not in a commit on this one.
      const location = app.store.location;
      const checkpointer =
        location.kind === 'sqlite' && location.file !== ':memory:'
          ? await startWalCheckpointer({ db: app.store.db, file: location.file, onError: (e) => app.http.log.warn({ err: { message: e.message } }, 'WAL checkpointer') })
          : null;
      if (cfg.smtpUrl === null) app.http.log.info('mail is disabled (LATCHKEY_SMTP_URL is not set): expiry notices are recorded and published as events, not e-mailed');
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      expiryJob?.stop();
      upstreamSync?.stop();
      clearInterval(oauthPruning);
      stopRotationSchedule();
      clearInterval(rotationTick);
      await stopWebhooks();
      await stopRelay();
      await stopUsage();
      await checkpointer?.stop();
      await app.close();
    });

  program
    .command('migrate')
    .description('Apply pending database migrations and exit')
    .action(async () => {
      const cfg = config();
      const store = await openStore(locateDatabase(cfg.databaseUrl, cfg.dataDir));
      try {
        const applied = await store.migrate();
        io.print(applied.length === 0 ? 'Database is up to date.' : `Applied: ${applied.join(', ')}`);
      } finally {
        await store.close();
      }
    });

  const admin = program.command('admin').description('Instance administration');
  admin
    .command('bootstrap')
    .description('Create the first admin if needed and print a new personal access token for it (shown once)')
    .option('--expires-in-days <days>', 'token lifetime in days', '30')
    .option('--json', 'machine-readable output')
    .action(async (opts: { expiresInDays: string; json?: boolean }) => {
      const days = Number(opts.expiresInDays);
      if (!Number.isInteger(days) || days < 1 || days > 365) throw new CliInputError('--expires-in-days must be a whole number from 1 to 365');
      await withServices(config(), async ({ services, clock }) => {
        const { admin: user } = await services.namespaces.ensureFirstAdmin(FIRST_ADMIN.username, FIRST_ADMIN.email);
        const expiresAt = addDays(utcDateOf(clock.now()), days);
        const { token, secret } = await services.personalTokens.createFor(user, { name: 'bootstrap', scopes: ['api'], expiresAt }, null);
        // And a one-time link into the web UI, for setting things up before anyone has a password.
        const link = await services.signIn.createLink(user);
        const cfg = config();
        const signInUrl = `${cfg.publicUrl ?? `http://${cfg.host}:${cfg.port}`}/users/sign_in/link?token=${link.secret}`;
        emit(out(opts), { user: user.username, token_id: token.id, token: secret, scopes: token.scopes, expires_at: expiresAt, sign_in_url: signInUrl, sign_in_url_expires_at: link.expiresAt }, () =>
          [
            `Personal access token for ${user.username} (id ${token.id}, scopes api, expires ${expiresAt}).`,
            'It is shown only now; store it safely:',
            '',
            secret,
            '',
            `One-time sign-in link to the web UI (works once, until ${link.expiresAt}):`,
            signInUrl,
          ].join('\n'),
        );
      });
    });

  const dt = program.command('deploy-token').description('Deploy tokens of a project or group');
  const target = (c: Command) => c.option('--project <path>', 'project full path or id').option('--group <path>', 'group full path or id');
  const resolveTarget = async (services: Services, opts: { project?: string; group?: string }): Promise<Resource> => {
    if ((opts.project === undefined) === (opts.group === undefined)) throw new CliInputError('give exactly one of --project <path> or --group <path>');
    return services.namespaces.resolveResourceAsAdmin(opts.project !== undefined ? 'project' : 'group', (opts.project ?? opts.group)!);
  };
  const actorOf = async (services: Services) =>
    (await services.namespaces.ensureFirstAdmin(FIRST_ADMIN.username, FIRST_ADMIN.email)).admin;

  target(dt.command('create').description('Create a deploy token; the secret is printed once'))
    .requiredOption('--name <name>', 'token name')
    .requiredOption('--scopes <list>', 'comma-separated scopes, e.g. read_registry,read_repository')
    .option('--expires-at <date>', 'expiry date (YYYY-MM-DD); never expires when omitted')
    .option('--username <username>', 'username (default gitlab+deploy-token-{id})')
    .option('--json', 'machine-readable output')
    .action(async (opts: { project?: string; group?: string; name: string; scopes: string; expiresAt?: string; username?: string; json?: boolean }) => {
      await withServices(config(), async ({ services, clock }) => {
        const resource = await resolveTarget(services, opts);
        const scopes = opts.scopes.split(',').map((s) => s.trim()).filter(Boolean);
        const { token, secret } = await services.deployTokens.create(await actorOf(services), resource, { name: opts.name, scopes, expiresAt: opts.expiresAt, username: opts.username });
        const row = { ...deployTokenRow(token, clock.now()), token: secret };
        emit(out(opts), row, () => `${formatTable([deployTokenRow(token, clock.now())])}\n\nToken (shown only now): ${secret}`);
      });
    });

  target(dt.command('list').description('List deploy tokens (all pages)'))
    .option('--active', 'only active tokens')
    .option('--json', 'machine-readable output')
    .action(async (opts: { project?: string; group?: string; active?: boolean; json?: boolean }) => {
      await withServices(config(), async ({ services, clock }) => {
        const actor = await actorOf(services);
        const all: Token[] = [];
        const resource = opts.project === undefined && opts.group === undefined ? null : await resolveTarget(services, opts);
        for (let page = 1; ; page++) {
          const result = resource
            ? await services.deployTokens.list(actor, resource, { active: opts.active }, { page, perPage: 100 })
            : await services.deployTokens.listAll(actor, { active: opts.active }, { page, perPage: 100 });
          all.push(...result.items);
          if (all.length >= result.total || result.items.length === 0) break;
        }
        const rows = all.map((t) => deployTokenRow(t, clock.now()));
        emit(out(opts), rows, () => formatTable(rows));
      });
    });

  target(dt.command('revoke').description('Revoke (delete) a deploy token').argument('<token-id>', 'deploy token id'))
    .option('--json', 'machine-readable output')
    .action(async (tokenId: string, opts: { project?: string; group?: string; json?: boolean }) => {
      if (!/^[0-9]{1,10}$/.test(tokenId)) throw new CliInputError('token id must be a number');
      await withServices(config(), async ({ services }) => {
        const resource = await resolveTarget(services, opts);
        await services.deployTokens.remove(await actorOf(services), resource, Number(tokenId));
        emit(out(opts), { id: Number(tokenId), revoked: true }, () => `Revoked deploy token ${tokenId}.`);
      });
    });

  registerWebhookCommands(program, {
    withServices: (fn) => withServices(config(), fn),
    actorOf,
    out,
  });

  registerTokenCommands(program, {
    withServices: (fn) => withServices(config(), fn),
    actorOf,
    out,
    readStdin: io.readStdin ?? readProcessStdin,
  });
  registerUserCommands(program, {
    withServices: (fn) => withServices(config(), fn),
    out,
    readStdin: io.readStdin ?? readProcessStdin,
    promptSecret: io.promptSecret === undefined ? terminalSecretPrompt() : io.promptSecret,
  });
  registerReusedCommand(program, { withServices: (fn) => withServices(config(), fn), actorOf, out });
  registerExpiringCommand(program, { withServices: (fn) => withServices(config(), fn), actorOf, out });
  registerRegistryCommands(program, { withServices: (fn) => withServices(config(), fn), config, out });
  registerOidcCommands(program, { withServices: (fn) => withServices(config(), fn), out });
  registerExportCommands(program, { withServices: (fn) => withServices(config(), fn), actorOf, readStdin: io.readStdin ?? readProcessStdin, readFile: (p) => readFile(p, 'utf8'), env: io.env, print: io.print, error: io.error });

  registerCredentialCommands(program, { withServices: (fn) => withServices(config(), fn), actorOf, out });
  registerRotationPolicyCommands(program, { withServices: (fn) => withServices(config(), fn), actorOf, out });
  registerInventoryCommands(program, { withServices: (fn) => withServices(config(), fn), actorOf, out, readFile: (p) => readFile(p, 'utf8'), readStdin: io.readStdin ?? readProcessStdin });
  let exitCode = 0;
  registerNotifyCommands(program, { withServices: (fn) => withServices(config(), fn), out, setExitCode: (code) => (exitCode = code) });
  registerUpstreamCommands(program, { withServices: (fn) => withServices(config(), fn), actorOf, out, readFile: (p) => readFile(p, 'utf8'), readStdin: io.readStdin ?? readProcessStdin, setExitCode: (code) => (exitCode = code) });
  registerSecretCommands(program, { withServices: (fn) => withServices(config(), fn), out, setExitCode: (code) => (exitCode = code) });
  registerAuditCommands(program, { withServices: (fn) => withServices(config(), fn), actorOf, out, setExitCode: (code) => (exitCode = code) });

  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    if (e instanceof CliInputError || e instanceof ConfigError) {
      io.error(`latchkey: ${e.message}`);
      return 2;
    }
    if (e instanceof DomainError && e.kind === 'unavailable') {
      io.error(`latchkey: the database is unavailable: ${((e.cause as Error | undefined)?.message ?? e.message)}`);
      return 1;
    }
    if (e instanceof DomainError) {
      io.error(`latchkey: ${e.fields ? Object.entries(e.fields).map(([k, v]) => `${k} ${v.join(', ')}`).join('; ') : e.message}`);
      return 1;
    }
    io.error(`latchkey: ${(e as Error).message}`);
    return 1;
  }
}
