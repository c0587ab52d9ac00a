/**
 * The shape of the built system: what `buildServices` (app.ts) hands to the HTTP layer, the CLI and
 * tests. It lives apart from the composition root so that route and command modules can name the
 * services without importing app.ts, which imports them (no import circle). Types only.
 */
import type { AuditService } from './audit/audit-service.js';
import type { AuditWriter } from './audit/audit-writer.js';
import type { TokenEventSink } from './events/token-events.js';
import type { EventRelay } from './events/event-relay.js';
import type { Clock } from './kernel/clock.js';
import type { TokenGenerator } from './kernel/random.js';
import type { MetricsRegistry } from './metrics/registry.js';
import type { createMetricsScraper } from './metrics/token-metrics.js';
import type { NamespaceService } from './namespaces/namespace-service.js';
import type { DailyJobWithTasks } from './rotation/task-reminders.js';
import type { RotationTaskService } from './rotation/rotation-tasks.js';
import type { CiVariablesService } from './protocols/ci-variables.js';
import type { CiVariableService } from './ci-variables/ci-variable-service.js';
import type { GenericPackageService } from './protocols/generic-packages/package-service.js';
import type { GitAccess } from './protocols/git/git-access.js';
import type { RegistryModule } from './protocols/registry/index.js';
import type { RateLimiter } from './rate-limit/rate-limiter.js';
import type { ExpiringReportService } from './reports/expiring-report.js';
import type { Store } from './store/open-store.js';
import type { AdminTokenService } from './tokens/admin-token-service.js';
import type { DeployTokenService } from './tokens/deploy-token-service.js';
import type { ExpiryPolicy } from './tokens/expiry-policy.js';
import type { FlaggedTokens } from './tokens/flagged-tokens.js';
import type { ImpersonationTokenService } from './tokens/impersonation-token-service.js';
import type { PersonalTokenService } from './tokens/personal-token-service.js';
import type { ResourceTokenService } from './tokens/resource-token-service.js';
import type { BroadcastRevocationFeed } from './tokens/revocation-broadcast.js';
import type { ServiceAccountService } from './tokens/service-account-service.js';
import type { TokenLifecycle } from './tokens/token-lifecycle.js';
import type { TokenPolicyService } from './tokens/token-policy-service.js';
import type { TokenUsageTracker } from './tokens/token-usage-tracker.js';
import type { TokenVerifier } from './tokens/verify-token.js';
import type { WebhookDispatcher } from './webhooks/webhook-dispatcher.js';
import type { WebhookService } from './webhooks/webhook-service.js';
import type { GitlabHookService } from './webhooks/gitlab-hook-service.js';
import type { AccountService } from './accounts/account-service.js';
import type { SessionService } from './sessions/session-service.js';
import type { SignInService } from './sessions/sign-in-service.js';
import type { SecretResealer } from './store/reseal-secrets.js';
import type { ApplicationService } from './oauth/application-service.js';
import type { OAuthService } from './oauth/oauth-service.js';
import type { Oidc } from './oauth/oidc.js';
import type { InventoryService } from './inventory/inventory-service.js';
import type { UpstreamService } from './upstreams/upstream-service.js';
import type { RotationPlacementIO } from './rotation/placement-io.js';
import type { RotationUpstreamRotator } from './rotation/upstream-rotator.js';
import type { CalendarService } from './calendar/calendar-service.js';
import type { RotationPolicyService, RotationScheduler } from './rotation/rotation-policies.js';
import type { RotationEngine } from './rotation/rotation-service.js';

/** Every service the adapters (HTTP routes, CLI commands) may call. */
export interface Services {
  readonly random: TokenGenerator;
  /** Counters and gauges other services feed; /metrics renders them. */
  readonly metrics: MetricsRegistry;
  readonly metricsScraper: ReturnType<typeof createMetricsScraper>;
  readonly rateLimiter: RateLimiter;
  readonly namespaces: NamespaceService;
  readonly audit: AuditService;
  readonly auditWriter: AuditWriter;
  readonly webhooks: WebhookService;
  /** GitLab's project and group hooks API (GitLab-format deliveries of expiring tokens). */
  readonly gitlabHooks: GitlabHookService;
  readonly webhookDispatcher: WebhookDispatcher;
  /** Publishes a token event on its own commit into the outbox (in a transaction: `ports.events`). */
  readonly tokenEvents: TokenEventSink;
  /** Token ids that stopped working, on this node or another; verification caches listen. */
  readonly revocations: BroadcastRevocationFeed;
  /** Moves committed token events into the audit chain and webhook deliveries (`serve` runs it in the background too). */
  readonly eventRelay: EventRelay;
  readonly verifier: TokenVerifier;
  readonly tokenUsage: TokenUsageTracker;
  readonly flaggedTokens: FlaggedTokens;
  readonly lifecycle: TokenLifecycle;
  readonly expiryPolicy: ExpiryPolicy;
  readonly deployTokens: DeployTokenService;
  readonly personalTokens: PersonalTokenService;
  readonly impersonationTokens: ImpersonationTokenService;
  readonly adminTokens: AdminTokenService;
  readonly resourceTokens: ResourceTokenService;
  readonly serviceAccounts: ServiceAccountService;
  readonly tokenPolicies: TokenPolicyService;
  readonly expiringReport: ExpiringReportService;
  /** The daily expiry job: token notices, then reminders of outside credentials, then of open rotation tasks. */
  readonly expiryNotifier: DailyJobWithTasks;
  readonly gitAccess: GitAccess;
  readonly registry: RegistryModule;
  readonly genericPackages: GenericPackageService;
  readonly ciVariables: CiVariablesService;
  /** GitLab's CI/CD variables API of projects and groups (values sealed at rest). */
  readonly cicdVariables: CiVariableService;
  /** The credential inventory (src/inventory): entries, placements, renewals, import/export. */
  readonly inventory: InventoryService;
  /** Upstream GitLab instances (src/upstreams): registration, check, sync into the inventory. */
  readonly upstreams: UpstreamService;
  /** Manual placements as tasks of rotation jobs (src/rotation/rotation-tasks.ts): list, check off, reveal the pending secret. */
  readonly rotationTasks: RotationTaskService;
  /** Rotation policies of entries and groups (src/rotation/rotation-policies.ts). */
  readonly rotationPolicies: RotationPolicyService;
  /** Starts the rotations policies make due; `serve` ticks it. */
  readonly rotationScheduler: RotationScheduler;
  /** Rotation jobs (src/rotation): rotate an entry's secret and update every place it is configured. */
  readonly rotations: RotationEngine;
  /** Rotation (issue 16): writes a new secret into CI-variable placements (here or upstream) and reads it back. */
  readonly rotationPlacements: RotationPlacementIO;
  /** Rotation (issue 16): rotates a synced upstream token through the upstream's rotate API. */
  readonly upstreamRotator: RotationUpstreamRotator;
  /** Calendar feeds of due dates and the feed tokens that open them (src/calendar). */
  readonly calendar: CalendarService;
  /** Web UI sign-in (src/sessions): sessions, password and link sign-in, account changes that end sessions. */
  readonly sessions: SessionService;
  readonly signIn: SignInService;
  readonly accounts: AccountService;
  /** HMAC key of the web forms' CSRF tokens (derived from the server secret). */
  readonly webCsrfKey: Buffer;
  /** Moves sealed values to the newest server secret (key ring; `latchkey secret reseal`). */
  readonly secretResealer: SecretResealer;
  /** OAuth2 applications (src/oauth): GitLab's Applications API. */
  readonly oauthApplications: ApplicationService;
  /** The OAuth2 protocol (src/oauth): authorization, token, revocation, token info. */
  readonly oauth: OAuthService;
  /** OpenID Connect (src/oauth/oidc.ts): ID tokens, JWKS, discovery, userinfo. */
  readonly oidc: Oidc;
}

/** What `buildServices` returns: the services plus the pieces they were built from. */
export interface BuiltServices {
  readonly clock: Clock;
  readonly random: TokenGenerator;
  readonly store: Store;
  /** The server secret was generated into the data directory by this start. */
  readonly secretGenerated: boolean;
  readonly services: Services;
  /**
   * Writes what is still queued (token usage, then audit entries, which record the usage events) and
   * releases connections: the rate-limit counter store, and the database unless the caller passed
   * its own. Every user of buildServices calls it.
   */
  close(): Promise<void>;
}
