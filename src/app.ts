/**
 * Composition root: config → clock, token generator, store → services → HTTP. The only place that
 * builds the system clock and the CSPRNG generator; tests pass fakes through `overrides`.
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import { systemClock, type Clock } from './kernel/clock.js';
import { cryptoTokenGenerator, type TokenGenerator } from './kernel/random.js';
import { createNamespaceService } from './namespaces/namespace-service.js';
import { resolveServerSecret } from './server-secret.js';
import { locateDatabase, openStore, type Store } from './store/open-store.js';
import { createAdminTokenService } from './tokens/admin-token-service.js';
import { createDeployTokenService } from './tokens/deploy-token-service.js';
import { createPersonalTokenService } from './tokens/personal-token-service.js';
import { createImpersonationTokenService } from './tokens/impersonation-token-service.js';
import { createResourceTokenService } from './tokens/resource-token-service.js';
import { createServiceAccountService } from './tokens/service-account-service.js';
import { createTokenDigester } from './tokens/token-digest.js';
import { createTokenIssuer } from './tokens/token-issuer.js';
import { createExpiryPolicy } from './tokens/expiry-policy.js';
import { createTokenLifecycle } from './tokens/token-lifecycle.js';
import { createBroadcastRevocationFeed, createPostgresRevocationChannel, createRedisRevocationChannel, createSingleNodeRevocationFeed } from './tokens/revocation-broadcast.js';
import { createTokenPolicyService } from './tokens/token-policy-service.js';
import { createTokenVerifier } from './tokens/verify-token.js';
import { createTokenUsageTracker } from './tokens/token-usage-tracker.js';
import { createFlaggedTokens } from './tokens/flagged-tokens.js';
import { createTokenUsageStore } from './store/token-usage.js';
import { buildHttp } from './http/server.js';
import { createWebhookModule } from './webhooks/index.js';
import { createGitAccess } from './protocols/git/git-access.js';
import { createMetricsRegistry } from './metrics/registry.js';
import { createMetricsScraper } from './metrics/token-metrics.js';
import { createExpiringReport } from './reports/expiring-report.js';
import { createTokenOverviewStore } from './store/token-overview.js';
import type { TokenEventSink } from './events/token-events.js';
import { createEventRelay } from './events/event-relay.js';
import { createExpiryNotifier } from './notifications/expiry-notifier.js';
import { createMailer } from './notifications/mailer.js';
import { createExpiryNoticeStore } from './store/expiry-notices.js';
import { createCredentialNotifier, withCredentialReminders } from './notifications/credential-notifier.js';
import { createCredentialNoticeStore } from './store/credential-notices.js';
import { createCredentialOverviewStore } from './store/credential-overview.js';
import { createCalendarService } from './calendar/calendar-service.js';
import { createFeedTokenStore } from './store/calendar-feed-tokens.js';
import { createWebhookStore } from './webhooks/webhook-store.js';
import { createRateLimiter } from './rate-limit/index.js';
import { createRegistryModule } from './protocols/registry/index.js';
import { createProtocolServices } from './protocols/protocol-services.js';
import { createDecisionCache } from './protocols/decision-cache.js';
import { createAuditModule } from './audit/index.js';
import type { BuiltServices, Services } from './services.js';
import { createCiVariableService } from './ci-variables/ci-variable-service.js';
import { createCiVariableStore } from './store/ci-variables.js';
import { createSecretBox } from './kernel/secret-box.js';
import { createSecretResealer } from './store/reseal-secrets.js';
import { WEBHOOK_SECRET_PURPOSE } from './webhooks/secret-box.js';
import { CI_DEPLOY_TOKEN_PURPOSE } from './protocols/protocol-services.js';
import { REGISTRY_KEY_PURPOSE } from './protocols/registry/index.js';
import { OIDC_KEY_PURPOSE } from './oauth/oidc.js';
import { createSignInModule } from './sessions/index.js';
import { createOAuthModule } from './oauth/index.js';
import { DEFAULT_OAUTH_SETTINGS } from './oauth/oauth-service.js';
import { createOAuthGrantOverview } from './store/oauth.js';
import { auditRecordOfOAuthEvent } from './oauth/oauth-events.js';
import { createInventoryService } from './inventory/inventory-service.js';
import { createInventoryStore } from './store/inventory.js';
import { createUpstreamService, UPSTREAM_TOKEN_PURPOSE } from './upstreams/upstream-service.js';
import { createUpstreamStore } from './store/upstreams.js';
import { createLocalVariables } from './upstreams/local-variables.js';
import { createRotationTaskStore } from './store/rotation-tasks.js';
import { createRotationTasks } from './rotation/rotation-tasks.js';
import { createTaskReminders, withTaskReminders } from './rotation/task-reminders.js';
import type { RotationService } from './rotation/contracts.js';
import { createRotationPolicyService, createRotationScheduler, ROTATION_SCHEDULER_ACTOR } from './rotation/rotation-policies.js';
import { createRotationOutcomes } from './rotation/rotation-outcomes.js';
import { createRotationPolicyStore } from './store/rotation-policies.js';
import { createRotationService, ROTATION_SECRET_PURPOSE } from './rotation/rotation-service.js';
import type { PlacementIO, RotationTasks, UpstreamRotator } from './rotation/contracts.js';
import { createPlacementIO } from './rotation/placement-io.js';
import { createUpstreamRotator } from './rotation/upstream-rotator.js';

export interface Overrides {
  clock?: Clock;
  random?: TokenGenerator;
  store?: Store;
  /** How upstream syncs wait for a rate limit (a real timer when absent). */
  sleep?: (ms: number) => Promise<void>;
  /** Log destination (stdout when absent). */
  logStream?: { write(line: string): void };
  /** The rotation job engine (issue 16) the scheduler starts and whose finished jobs are reported. */
  rotations?: RotationService;
  /** The rotation job's collaborators (tests pass doubles; absent: the built-in ones). */
  rotation?: { placements?: PlacementIO; upstream?: UpstreamRotator; tasks?: RotationTasks | null };
}

/** HKDF purpose of the CI/CD variable values. Frozen: stored values were sealed under it. */
const CI_VARIABLE_VALUE_PURPOSE = 'ci-variable-value v1';

/** Background failures of one area go to stderr; the area reports them itself when it must (metrics, readiness). */
const reportTo = (area: string) => (e: unknown) => {
  // A store outage arrives as `503 Service Unavailable`; the driver's reason is what an operator needs.
  const cause = (e as Error).cause as Error | undefined;
  process.stderr.write(`latchkey: ${area}: ${(e as Error).message}${cause?.message ? ` (${cause.message})` : ''}\n`);
};

/** The revocation feed of this node: broadcast when other nodes can share the store, local otherwise. */
function revocationFeedFor(config: Config, store: Store, clock: Clock) {
  // A channel that is down reports on every reconnection attempt: one line a minute is enough.
  const report = reportTo('revocation broadcast (verify caches fall back to their TTL)');
  let lastReport = 0;
  const onError = (e: unknown) => {
    const now = clock.now().getTime();
    if (now - lastReport < 60_000) return;
    lastReport = now;
    report(e);
  };
  if (store.location.kind === 'postgres') return createBroadcastRevocationFeed(createPostgresRevocationChannel({ url: store.location.url, db: store.db, onError }), onError);
  const redisUrl = config.rateLimit.redisUrl;
  if (redisUrl) return createBroadcastRevocationFeed(createRedisRevocationChannel({ url: redisUrl, channel: `${config.rateLimit.redisKeyPrefix}revocations`, onError }), onError);
  return createSingleNodeRevocationFeed();
}

/**
 * Builds every service in one order: each line uses only what the lines above it built. Two pairs
 * that need each other talk through an intermediary built first: token services publish revoked ids
 * on the revocation feed the verifier subscribes to, and producers publish token events to sinks.
 */
export async function buildServices(config: Config, overrides: Overrides = {}): Promise<BuiltServices> {
  const clock = overrides.clock ?? systemClock;
  const random = overrides.random ?? cryptoTokenGenerator;
  const store = overrides.store ?? (await openStore(locateDatabase(config.databaseUrl, config.dataDir)));
  await store.migrate();
  const { secret, generated: secretGenerated } = resolveServerSecret(config.secret, config.dataDir, random);
  // The key ring: new digests and seals use `secret`, older values still verify and open under the previous ones.
  const secrets: readonly string[] = [secret, ...config.previousSecrets.filter((p) => p !== secret)];
  const digester = createTokenDigester(secrets);
  const issuer = createTokenIssuer(random, digester, config.prefixes);
  // Counters the services below increment (notifications, webhook deliveries, audit, HTTP); /metrics renders them.
  const metrics = createMetricsRegistry();
  const namespaces = createNamespaceService({ store, clock });

  // Where token events go. Webhooks: registrations, the outbox every token event is recorded in
  // (publishing is an insert), and the dispatcher `serve` runs to send them.
  const webhooks = createWebhookModule({
    store, clock, random, namespaces, serverSecret: secrets, timeoutMs: config.webhookTimeoutMs, allowLocalNetwork: config.webhookAllowLocalNetwork, retentionDays: config.webhookRetentionDays,
    publicUrl: config.publicUrl ?? `http://${config.host}:${config.port}`,
    onAttempt: (outcome) => metrics.webhookDeliveries.inc({ outcome }),
    onError: reportTo('webhooks'),
  });
  // The audit log: request entries queued and written in chained batches off the request path.
  const audit = createAuditModule({
    store, clock, namespaces, digester, maxQueue: config.auditQueueMax, flushMs: config.auditFlushMs, required: config.auditRequired, worker: config.auditWorker,
    onWritten: (n) => metrics.auditEvents.inc({ outcome: 'written' }, n),
    onDropped: (n) => metrics.auditEvents.inc({ outcome: 'dropped' }, n),
    onError: reportTo('audit'),
  });
  // Token events: producers publish them into the outbox in the transaction of their change
  // (`ports.events`; `store.events` outside one). The relay moves them into the audit chain and the
  // webhook deliveries, exactly once, right after the commit (the committer waits) and, for whatever a
  // crash or a failure left, in the background of `serve`.
  const eventRelay = createEventRelay({
    db: store.db,
    sinks: [audit.sink, webhooks.outbox, webhooks.gitlabOutbox],
    onRelayed: (n) => metrics.auditEvents.inc({ outcome: 'written' }, n),
    onError: reportTo('event outbox'),
  });
  store.afterEventsCommitted(() => eventRelay.drain().catch(eventRelay.reportFailure));
  const tokenEvents: TokenEventSink = store.events;
  // Every token id that stops working is published here once committed; verification caches drop it,
  // on every node: through PostgreSQL LISTEN/NOTIFY, or Redis pub/sub for a SQLite store shared on one host.
  const revocations = revocationFeedFor(config, store, clock);

  // Tokens: rules, life after issue (revoke, rotate, reuse), verification and usage.
  const expiryPolicy = createExpiryPolicy({ requireExpiry: config.requireTokenExpiry, maxLifetimeDays: config.maxTokenLifetimeDays }, store);
  const lifecycle = createTokenLifecycle({ store, clock, issuer, onRevoked: revocations.publish });
  // last_used_at / last_used_ips and the reuse flag: noted by the verifier, written at most once a minute per token.
  // A token.reuse_flagged event commits with the flag; the relay moves it on at once.
  const usageStore = createTokenUsageStore(store.db, () => eventRelay.drain().catch(eventRelay.reportFailure));
  const tokenUsage = createTokenUsageTracker({ store: usageStore, clock, policy: config.reuse, onError: reportTo('token usage') });
  const flaggedTokens = createFlaggedTokens({ usage: usageStore, clock });
  const verifier = createTokenVerifier({ store, digester, clock, cacheMs: config.verifyCacheMs, maxBytes: config.verifyCacheBytes, revocations, onRotatedSecretPresented: lifecycle.rotatedSecretPresented, usage: tokenUsage });
  // Generic packages and the CI variables of gitlab-deploy-token (issue 6).
  // Protocol decisions per (token, request) for as long as a verification is cached; a revocation drops them.
  const decisionCache = <V>() => createDecisionCache<V>({ clock, ttlMs: config.verifyCacheMs, revocations });
  const protocols = createProtocolServices({
    store, clock, random, namespaces, serverSecret: secrets, packagesDir: config.packagesDir, packageMaxBytes: config.packageMaxBytes, packageDecisions: decisionCache(), packageFileCacheMs: config.verifyCacheMs,
  });
  const deployTokens = createDeployTokenService({ store, clock, issuer, namespaces, onRevoked: revocations.publish, ciSecretBox: protocols.ciSecretBox });
  const personalTokens = createPersonalTokenService({ store, clock, issuer, lifecycle, expiryPolicy });
  const impersonationTokens = createImpersonationTokenService({ store, clock, issuer, lifecycle, expiryPolicy });
  const adminTokens = createAdminTokenService({ store, digester, lifecycle });
  // Bot and service-account e-mail addresses, as GitLab's `noreply.<host>`.
  const noreplyDomain = `noreply.${config.publicUrl ? new URL(config.publicUrl).hostname : 'localhost'}`;
  const botDeps = { store, clock, issuer, random, namespaces, lifecycle, expiryPolicy, noreplyDomain, onRevoked: revocations.publish, onUserChanged: revocations.publishUser };
  const resourceTokens = createResourceTokenService(botDeps);
  const serviceAccounts = createServiceAccountService(botDeps);
  const tokenPolicies = createTokenPolicyService({ store, namespaces, expiryPolicy });

  // Reports and notifications. Read-only token queries shared by the expiring report and the /metrics gauges.
  const tokenOverview = createTokenOverviewStore(store.db);
  const credentialOverview = createCredentialOverviewStore(store.db);
  const expiringReport = createExpiringReport({ overview: tokenOverview, credentials: credentialOverview, oauthGrants: createOAuthGrantOverview(store.db), namespaces: store.namespaces, accessLevel: namespaces.accessLevel, clock });
  const rotationPolicyStore = createRotationPolicyStore(store.db);
  const metricsScraper = createMetricsScraper({
    overview: tokenOverview, credentials: credentialOverview, registry: metrics, clock, seriesPerKind: config.metricsTokenSeries,
    placementsOutOfSync: () => rotationPolicyStore.countPlacementsOutOfSync(),
  });
  // The daily expiry job (notices, e-mails, token.expiring/expired events); `serve` schedules it.
  const expiryNotices = createExpiryNoticeStore(store.db, () => eventRelay.drain().catch(eventRelay.reportFailure));
  const mailer = createMailer(config.smtpUrl, config.mailFrom);
  const tokenExpiry = createExpiryNotifier({
    // Its events commit with the notices' published mark; the relay moves them on at once.
    notices: expiryNotices,
    clock,
    mailer,
    publicUrl: config.publicUrl ?? `http://${config.host}:${config.port}`,
    onEmail: (outcome) => metrics.notifications.inc({ channel: 'email', outcome }),
  });

  // Protocols and the request path. Git over HTTP: the decision behind nginx's auth_request (http/routes/git-auth.ts).
  const gitAccess = createGitAccess({ verifier, namespaces, store, decisions: decisionCache() });
  // Request counters for the HTTP rate limits: Redis when REDIS_URL is set, in-process otherwise. Its
  // connection errors are reported by the HTTP plugin when a request cannot be counted.
  const rateLimiter = createRateLimiter({ redisUrl: config.rateLimit.redisUrl, keyPrefix: config.rateLimit.redisKeyPrefix, clock, onError: () => {} });
  // Docker registry token service (/jwt/auth) and its signing key, shared by every node through the store.
  const registry = createRegistryModule({ store, clock, random, verifier, namespaces, serverSecret: secrets, settings: config.registry, issued: decisionCache() });
  // GitLab's CI/CD variables API of projects and groups (issue 15); values sealed under the server secret.
  const cicdVariables = createCiVariableService({
    store: createCiVariableStore(store.db, store.traits), box: createSecretBox(secrets, CI_VARIABLE_VALUE_PURPOSE), accessLevel: namespaces.accessLevel, clock, audit: audit.writer.record,
  });
  // A group named by its id or full path, whoever asks (the services check access themselves).
  const findGroupByRef = async (ref: string) => (/^[0-9]{1,10}$/.test(ref) ? (Number(ref) <= 2147483647 ? store.namespaces.findGroupById(Number(ref)) : null) : store.namespaces.findGroupByPath(ref));
  // The credential inventory (issue 14): outside credentials, where each is configured, how it is renewed.
  const inventoryStore = createInventoryStore(store.db, store.traits);
  const inventory = createInventoryService({
    store: inventoryStore,
    findGroup: findGroupByRef,
    findGroupById: (id) => store.namespaces.findGroupById(id),
    accessLevel: namespaces.accessLevel,
    digester,
    clock,
    audit: audit.writer.record,
  });
  // Latchkey's own CI variables as placements (issue 15 item 4), read by placement checks and written by rotation (issue 16).
  const localVariables = createLocalVariables({
    hosts: [new URL(config.publicUrl ?? `http://${config.host}:${config.port}`).host],
    findProject: namespaces.findProject,
    findGroup: namespaces.findGroup,
    readValue: (owner, key, environmentScope) => cicdVariables.readValue(owner, key, environmentScope),
    system: {
      findProjectByPath: (path) => store.namespaces.findProjectByPath(path),
      findGroupByPath: (path) => store.namespaces.findGroupByPath(path),
      writeValue: cicdVariables.writeValue,
    },
  });
  // Upstream GitLab instances (issue 15): their tokens' metadata synced into the inventory.
  const upstreams = createUpstreamService({
    store: createUpstreamStore(store.db, store.traits),
    box: createSecretBox(secrets, UPSTREAM_TOKEN_PURPOSE),
    findGroup: findGroupByRef,
    clock,
    sleep: overrides.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
    timeoutMs: config.upstreams.timeoutMs,
    maxRetryWaitMs: config.upstreams.maxRetryWaitMs,
    lock: createExpiryNoticeStore(store.db),
    holder: Buffer.from(random.randomBytes(8)).toString('hex'),
    configured: config.upstreams.configured,
    audit: audit.writer.record,
    inventory,
    local: localVariables,
    onPlacementCheck: (status) => metrics.placementChecks.inc({ status }),
  });
  // Rotation (issue 16): secrets written into CI-variable placements here or upstream and read back; synced upstream tokens rotated there.
  const rotationPlacements = createPlacementIO({ local: localVariables, upstreams: upstreams.rotation, clock });
  const upstreamRotator = createUpstreamRotator({ upstreams: upstreams.rotation, onError: reportTo('upstream rotation record') });
  // Reminders of outside credentials (issue 14 item 4), run by the daily expiry job after the token notices.
  // Then the daily reminders of open rotation tasks (issue 16).
  const rotationTaskStore = createRotationTaskStore(store.db);
  const expiryNotifier = withTaskReminders(withCredentialReminders(tokenExpiry, createCredentialNotifier({
    notices: createCredentialNoticeStore(store.db),
    inventory: inventoryStore,
    facts: expiryNotices,
    hooks: createWebhookStore(store.db),
    clock,
    mailer,
    onEmail: (outcome) => metrics.notifications.inc({ channel: 'email', outcome }),
  })), createTaskReminders({
    tasks: rotationTaskStore,
    inventory: inventoryStore,
    facts: expiryNotices,
    clock,
    mailer,
    publicUrl: config.publicUrl ?? `http://${config.host}:${config.port}`,
    onEmail: (outcome) => metrics.notifications.inc({ channel: 'email', outcome }),
  }));
  // Manual placements as tasks of rotation jobs (issue 16); the job engine binds itself with `bindRotation`.
  const rotationTasks = createRotationTasks({
    store: rotationTaskStore, inventory, entries: inventoryStore, findUserById: (id) => store.namespaces.findUserById(id), clock, audit: audit.writer.record,
  });
  // Rotation jobs (issue 16): renew, write and verify placements, tasks, retire the old secret; resumed by `serve`.
  const rotations = createRotationService({
    store,
    rotatable: async (actor, ref) => (await inventory.entryRow(actor, ref, 'manage')).row!,
    readable: (actor, ref) => inventory.get(actor, ref),
    entries: inventoryStore,
    lifecycle,
    expiryPolicy,
    box: createSecretBox(secrets, ROTATION_SECRET_PURPOSE),
    ciSecretBox: protocols.ciSecretBox,
    placements: overrides.rotation?.placements ?? rotationPlacements,
    upstream: overrides.rotation?.upstream ?? upstreamRotator,
    tasks: overrides.rotation?.tasks === undefined ? rotationTasks : overrides.rotation.tasks,
    clock,
    holder: Buffer.from(random.randomBytes(8)).toString('hex'),
    leaseMs: config.rotation.leaseMs,
    audit: audit.writer.record,
    // A test hook (README "Rotation"): the process dies as a crash would, right after that step is stored.
    faultPoint: config.rotation.faultPoint === null ? undefined : (point) => {
      if (point === config.rotation.faultPoint) process.kill(process.pid, 'SIGKILL');
    },
    onError: reportTo('rotation'),
  });
  rotationTasks.bindRotation(rotations);
  // Scheduled rotation (issue 16 item 3): policies per entry or group, the scheduler `serve` ticks, and the
  // outcome of every finished rotation job (scheduled runs, webhooks, notices, metrics).
  const rotationService: RotationService = overrides.rotations ?? rotations;
  const rotationPolicies = createRotationPolicyService({
    store: rotationPolicyStore, inventory, findGroup: findGroupByRef, findGroupById: (id) => store.namespaces.findGroupById(id), accessLevel: namespaces.accessLevel, clock, audit: audit.writer.record,
  });
  const rotationScheduler = createRotationScheduler({
    store: rotationPolicyStore,
    clock,
    start: (actor, id, options) => rotationService.start(actor, id, options),
    tokenDueOn: async (tokenId, today) => {
      const read = await inventoryStore.findTokenEntry(tokenId, today);
      return read !== null && read.entry.tokenStatus?.state === 'active' ? read.entry.dueOn : null;
    },
    tokenEntryRow: async (tokenId) => (await inventory.entryRow(ROTATION_SCHEDULER_ACTOR, `token-${tokenId}`, 'manage')).row?.id ?? null,
    lock: expiryNotices,
    holder: Buffer.from(random.randomBytes(8)).toString('hex'),
    // rotationOutcomes is made below; a refusal only happens in a tick, after both exist.
    onRefused: (credentialId, reason) => rotationOutcomes.onRefused(credentialId, reason),
    onError: reportTo('rotation schedule'),
  });
  const rotationOutcomes = createRotationOutcomes({
    store: rotationPolicyStore, inventory: inventoryStore, facts: expiryNotices, hooks: createWebhookStore(store.db), mailer, clock,
    savePlacementCheck: createUpstreamStore(store.db, store.traits).savePlacementCheck,
    onOutcome: (labels) => metrics.rotations.inc(labels),
    onEmail: (outcome) => metrics.notifications.inc({ channel: 'email', outcome }),
    onError: reportTo('rotation outcomes'),
  });
  rotationService.onFinished((job) => rotationOutcomes.onFinished(job));
  // iCalendar feeds of the inventory's due dates, opened by per-user feed tokens (issue 14 item 4).
  const calendar = createCalendarService({
    tokens: createFeedTokenStore(store.db),
    inventory: inventoryStore,
    findUserById: (id) => store.namespaces.findUserById(id),
    findGroup: findGroupByRef,
    accessLevel: namespaces.accessLevel,
    digester,
    random,
    clock,
    publicUrl: config.publicUrl ?? `http://${config.host}:${config.port}`,
    audit: audit.writer.record,
  });
  // Web UI sign-in (issue 18): sessions, password and one-time-link sign-in, account changes.
  const signIn = createSignInModule({ db: store.db, users: store.namespaces, namespaces, clock, random, serverSecret: secret, policy: config.session, onUserChanged: revocations.publishUser });
  // OAuth2 / OpenID Connect provider (issue 17): applications, grants, OAuth tokens.
  const oauth = createOAuthModule({
    db: store.db, users: store.namespaces, namespaces, serverSecret: secrets, clock, random, digester, verifier, onRevoked: revocations.publish,
    settings: { ...DEFAULT_OAUTH_SETTINGS, refreshTokenLifetimeDays: config.oauthRefreshTokenLifetimeDays },
    onEvent: (e) => {
      audit.writer.record(auditRecordOfOAuthEvent(e));
      metrics.oauthEvents.inc({ event: e.name.slice('oauth.'.length), flow: e.grant.flow, reason: e.reason ?? '' });
    },
  });

  // `latchkey secret reseal`: every sealed value moved to the newest server secret.
  const secretResealer = createSecretResealer(store.db, {
    webhooks: createSecretBox(secrets, WEBHOOK_SECRET_PURPOSE),
    deployTokens: createSecretBox(secrets, CI_DEPLOY_TOKEN_PURPOSE),
    ciVariables: createSecretBox(secrets, CI_VARIABLE_VALUE_PURPOSE),
    registryKey: createSecretBox(secrets, REGISTRY_KEY_PURPOSE),
    oidcKey: createSecretBox(secrets, OIDC_KEY_PURPOSE),
    upstreamTokens: createSecretBox(secrets, UPSTREAM_TOKEN_PURPOSE),
    rotationSecrets: createSecretBox(secrets, ROTATION_SECRET_PURPOSE),
  });

  const services: Services = {
    random,
    metrics,
    metricsScraper,
    rateLimiter,
    namespaces,
    audit: audit.service,
    auditWriter: audit.writer,
    webhooks: webhooks.service,
    gitlabHooks: webhooks.gitlabHooks,
    webhookDispatcher: webhooks.dispatcher,
    tokenEvents,
    eventRelay,
    revocations,
    verifier,
    tokenUsage,
    flaggedTokens,
    lifecycle,
    expiryPolicy,
    deployTokens,
    personalTokens,
    impersonationTokens,
    adminTokens,
    resourceTokens,
    serviceAccounts,
    tokenPolicies,
    expiringReport,
    expiryNotifier,
    gitAccess,
    registry,
    genericPackages: protocols.genericPackages,
    ciVariables: protocols.ciVariables,
    cicdVariables,
    inventory,
    calendar,
    upstreams,
    rotationTasks,
    rotationPolicies,
    rotationScheduler,
    rotations,
    rotationPlacements,
    upstreamRotator,
    sessions: signIn.sessions,
    signIn: signIn.signIn,
    accounts: signIn.accounts,
    webCsrfKey: signIn.csrfKey,
    secretResealer,
    oauthApplications: oauth.applications,
    oauth: oauth.oauth,
    oidc: oauth.oidc,
  };
  return {
    clock,
    random,
    store,
    secretGenerated,
    services,
    async close() {
      await tokenUsage.flushAll().catch(() => {}); // a failed write was reported through onError
      // Events a failed relay left in the outbox (they stay there if it fails again: the next start relays them).
      await eventRelay.drain().catch(eventRelay.reportFailure);
      await audit.writer.close();
      await rateLimiter.close();
      await revocations.close();
      if (!overrides.store) await store.close();
    },
  };
}

export interface App {
  readonly services: Services;
  readonly store: Store;
  readonly clock: Clock;
  readonly http: FastifyInstance;
  readonly secretGenerated: boolean;
  close(): Promise<void>;
}

export async function buildApp(config: Config, overrides: Overrides = {}): Promise<App> {
  const built = await buildServices(config, overrides);
  const http = await buildHttp({ services: built.services, store: built.store, clock: built.clock, publicUrl: config.publicUrl, bodyLimit: config.bodyLimit, metricsToken: config.metricsToken, logLevel: config.logLevel, logStream: overrides.logStream, rateLimit: config.rateLimit, fastLane: config.fastLane });
  return {
    services: built.services,
    store: built.store,
    clock: built.clock,
    http,
    secretGenerated: built.secretGenerated,
    async close() {
      await http.close();
      // Then queued audit entries are written before the store closes: nothing is lost on a clean stop.
      await built.close();
    },
  };
}
