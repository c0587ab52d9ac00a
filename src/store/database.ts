/**
 * Kysely table types: the store's view of the schema. Timestamps are ISO-8601 UTC strings
 * (`2026-11-23T09:30:00.000Z`) and dates `YYYY-MM-DD` on both dialects, so comparisons are plain string
 * comparisons and nothing depends on a database time zone. Flags are 0/1 integers on both dialects.
 */
import type { Generated } from 'kysely';

export interface UsersTable {
  id: Generated<number>;
  username: string;
  username_key: string;
  name: string;
  email: string | null;
  email_key: string | null;
  is_admin: number;
  /** null for humans; `project_bot`, `group_bot` or `service_account` for bot users. */
  bot_kind: string | null;
  state: string;
  password_hash: string | null;
  created_at: string;
  /** Service accounts: the group that provisioned (owns) the account; null otherwise. */
  provisioned_by_group_id: Generated<number | null>;
}

export interface GroupsTable {
  id: Generated<number>;
  name: string;
  path: string;
  full_path: string;
  full_path_key: string;
  parent_id: number | null;
  /** `/1/5/9/`: the ids from the root group down to this one (GitLab's traversal_ids as text). */
  traversal_path: string;
  description: string;
  visibility: string;
  created_at: string;
  /** Stricter maximum lifetime (days) for project/group access tokens in this group's tree; null = instance default. */
  max_token_lifetime_days: Generated<number | null>;
}

export interface ProjectsTable {
  id: Generated<number>;
  name: string;
  path: string;
  path_with_namespace: string;
  path_key: string;
  group_id: number;
  description: string;
  visibility: string;
  created_at: string;
}

export interface MembersTable {
  id: Generated<number>;
  source_type: 'group' | 'project';
  source_id: number;
  user_id: number;
  access_level: number;
  expires_at: string | null;
  created_by: number | null;
  created_at: string;
}

export interface TokensTable {
  id: Generated<number>;
  kind: string;
  name: string;
  description: string;
  digest: string;
  user_id: number | null;
  project_id: number | null;
  group_id: number | null;
  username: string | null;
  /** JSON array of scope names. */
  scopes: string;
  access_level: number | null;
  expires_at: string | null;
  created_by: number | null;
  created_at: string;
  revoked_at: string | null;
  /** Set when a deploy token is deleted through the API: hidden from lists, kept for audit and leak look-ups. */
  deleted_at: string | null;
  last_used_at: string | null;
  /** The token this one replaced by rotation. */
  rotated_from_id: Generated<number | null>;
  /** When this token was rotated away (a successor exists). */
  superseded_at: Generated<string | null>;
  /** Rotated with a grace period: the old secret works until this instant. */
  grace_until: Generated<string | null>;
  /** Why it was revoked: `revoked`, `rotated`, `reuse_detected`, `admin`. */
  revoke_reason: Generated<string | null>;
  /** When this rotated-away secret was presented again and its chain revoked. */
  reuse_detected_at: Generated<string | null>;
  /** JSON array: the most recent distinct client IPs, newest first (token-usage.ts). */
  last_used_ips: Generated<string>;
  /** JSON objects value → ISO instant last seen within the reuse window. */
  usage_window_ips: Generated<string>;
  usage_window_user_agents: Generated<string>;
  /** Compare-and-set counter for usage writes from several nodes. */
  usage_revision: Generated<number>;
  /** When the token was flagged as used by several automations; its evidence as JSON. */
  reuse_flagged_at: Generated<string | null>;
  reuse_flag_evidence: Generated<string | null>;
  /** 1: an impersonation token (kind `personal`) an admin issued to act as its user. */
  impersonation: Generated<number>;
  /** OAuth access tokens: the instant they stop working (they live hours, not days). */
  valid_until: Generated<string | null>;
}

/** One expiry notice per token and interval ('60', '30', '7', 'expired'), unique: never decided twice. */
export interface ExpiryNoticesTable {
  id: Generated<number>;
  token_id: number;
  interval: string;
  /** The token's expiry date when the notice was decided. */
  expires_at: string;
  days_left: number;
  decided_at: string;
  /** When the token.expiring / token.expired event went to the event sink; null until then. */
  event_published_at: string | null;
}

/** One e-mail recipient of a notice: pending → sending (claimed_at) → sent | failed, or skipped (mail disabled). */
export interface ExpiryNoticeDeliveriesTable {
  id: Generated<number>;
  notice_id: number;
  user_id: number | null;
  email: string;
  status: string;
  attempts: Generated<number>;
  claimed_at: string | null;
  sent_at: string | null;
  last_error: string | null;
}

/** Named job locks with a lease: the holder runs the job until `locked_until`. */
export interface JobLocksTable {
  name: string;
  holder: string | null;
  locked_until: string;
}

/** A registered webhook: an instance hook (group_id null) or a group's, for its tree's token events. */
export interface WebhooksTable {
  id: Generated<number>;
  group_id: number | null;
  url: string;
  /** JSON array of event names. */
  events: string;
  /** `v1:<iv>:<tag>:<ciphertext>` (base64url), AES-256-GCM under a key derived from the server secret. */
  secret_encrypted: string;
  created_by: number | null;
  created_at: string;
  deleted_at: string | null;
  /** `latchkey` (Latchkey's token events, signed) or `gitlab` (GitLab's project/group hooks API and payloads). */
  format: Generated<string>;
  /** GitLab hooks of a project; null otherwise. */
  project_id: number | null;
  /** GitLab hooks: their GitLab attributes (name, description, *_events, branch filter...), JSON. */
  settings: string | null;
  /** GitLab hooks: custom headers `{key: value}` as JSON, sealed like the secret. */
  custom_headers_encrypted: string | null;
  /** GitLab hooks: sent as X-Gitlab-Webhook-UUID. */
  uuid: string | null;
}

/** The webhook outbox: one row per event and hook, sent by the dispatcher in order per hook and token. */
export interface WebhookDeliveriesTable {
  id: Generated<number>;
  hook_id: number;
  token_id: number;
  event: string;
  /** The exact JSON body every attempt sends. */
  payload: string;
  /** `pending`, `delivered`, `failed` (given up). */
  status: Generated<string>;
  attempts: Generated<number>;
  next_attempt_at: string;
  lease_until: string | null;
  created_at: string;
  finished_at: string | null;
}

/** Every attempt to send a delivery. */
export interface WebhookAttemptsTable {
  id: Generated<number>;
  delivery_id: number;
  attempt: number;
  started_at: string;
  status_code: number | null;
  latency_ms: number;
  error: string | null;
  next_retry_at: string | null;
}

/** The registry token signing keys, shared by every node: `current`, a staged `next`, and `retired-<kid>` ones. */
export interface RegistrySigningKeysTable {
  name: string;
  algorithm: string;
  /** libtrust key id of the public key. */
  kid: string;
  /** `v1:<iv>:<tag>:<ciphertext>`: the PKCS#8 PEM sealed under a key derived from the server secret. */
  private_key_encrypted: string;
  certificate_pem: string;
  created_at: string;
  /** When a rotated-out key stopped signing (rows `retired-<kid>`); null for `current` and `next`. */
  retired_at: string | null;
}

/** A generic package (issue 6): one per project, type, name and version. */
export interface PackagesTable {
  id: Generated<number>;
  project_id: number;
  package_type: string;
  name: string;
  version: string;
  status: string;
  created_at: string;
  updated_at: string;
}

/** One uploaded file of a package; the same name may be uploaded again (the newest wins on download). */
export interface PackageFilesTable {
  id: Generated<number>;
  package_id: number;
  file_name: string;
  size: number;
  file_sha256: string;
  created_at: string;
  created_by_token_id: number | null;
  created_by_user_id: number | null;
}

/** The sealed secret of a `gitlab-deploy-token` (only those), for CI_DEPLOY_PASSWORD. */
export interface DeployTokenSecretsTable {
  token_id: number;
  secret_encrypted: string;
  created_at: string;
}

/** The audit log: one chained entry per request and token event (src/audit). */
export interface AuditEventsTable {
  id: number;
  created_at: string;
  event: string;
  actor_type: string | null;
  actor_id: number | null;
  actor_name: string | null;
  token_id: number | null;
  token_hash: string | null;
  method: string | null;
  route: string | null;
  path: string | null;
  status: number | null;
  user_agent: string | null;
  ip: string | null;
  project_id: number | null;
  group_id: number | null;
  group_path: string | null;
  /** JSON object of event details; never a secret. */
  data: string;
  prev_hash: string;
  hash: string;
}

/** The audit chain's head (one row, id 1): what the next append links to. */
export interface AuditChainHeadTable {
  id: number;
  last_id: number;
  last_hash: string;
}

/** Each (token hash, token id) pair audit entries carry, once: a query by token hash finds the token ids here. */
export interface AuditTokenHashesTable {
  token_hash: string;
  token_id: number;
}

/** A browser session (web UI): only the HMAC digest of its id is stored. */
export interface WebSessionsTable {
  id: Generated<number>;
  digest: string;
  user_id: number;
  created_at: string;
  last_seen_at: string;
  revoked_at: string | null;
  ip: string | null;
  user_agent: string | null;
}

/** Failed sign-ins per `user:<name>` or `ip:<address>` key, and the lock they lead to. */
export interface SignInThrottlesTable {
  key: string;
  failures: number;
  window_started_at: string;
  locked_until: string | null;
}

/** One-time sign-in links (`latchkey admin bootstrap`): digest only, used once. */
export interface SignInLinksTable {
  id: Generated<number>;
  digest: string;
  user_id: number;
  created_at: string;
  expires_at: string;
  used_at: string | null;
}

/** OAuth2 applications (src/oauth): the client secret only as a digest. */
export interface OauthApplicationsTable {
  id: Generated<number>;
  uid: string;
  name: string;
  redirect_uri: string;
  /** JSON array of scope names. */
  scopes: string;
  confidential: number;
  secret_digest: string;
  /** The user who registered it (a user application). */
  owner_id: number | null;
  /** The group that owns it (a group application). Both null: an instance application. */
  owner_group_id: number | null;
  created_at: string;
}

export interface OauthGrantsTable {
  id: Generated<number>;
  application_id: number;
  user_id: number;
  scopes: string;
  flow: string;
  nonce: string | null;
  auth_time: string;
  created_at: string;
  revoked_at: string | null;
  revoke_reason: string | null;
  expires_at: string | null;
}

export interface OauthCodesTable {
  id: Generated<number>;
  digest: string;
  application_id: number;
  user_id: number;
  redirect_uri: string;
  scopes: string;
  code_challenge: string | null;
  code_challenge_method: string | null;
  nonce: string | null;
  created_at: string;
  expires_at: string;
  used_at: string | null;
  grant_id: number | null;
}

export interface OauthRefreshTokensTable {
  id: Generated<number>;
  digest: string;
  grant_id: number;
  created_at: string;
  used_at: string | null;
}

export interface OauthAccessTokensTable {
  token_id: number;
  grant_id: number;
}

export interface OidcSigningKeysTable {
  generation: number;
  kid: string;
  algorithm: string;
  private_key_sealed: string;
  public_jwk: string;
  created_at: string;
}

/** Token events committed with their change, waiting for the relay (src/events/event-relay.ts). */
export interface EventOutboxTable {
  id: Generated<number>;
  name: string;
  token_id: number;
  at: string;
  /** JSON object; never a secret. */
  data: string;
}

export interface OauthDeviceCodesTable {
  id: Generated<number>;
  device_digest: string;
  user_code_digest: string;
  application_id: number;
  scopes: string;
  created_at: string;
  expires_at: string;
  last_polled_at: string | null;
  user_id: number | null;
  approved_at: string | null;
  denied_at: string | null;
  used_at: string | null;
}

export interface Database {
  users: UsersTable;
  groups: GroupsTable;
  projects: ProjectsTable;
  members: MembersTable;
  tokens: TokensTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
  expiry_notices: ExpiryNoticesTable;
  expiry_notice_deliveries: ExpiryNoticeDeliveriesTable;
  job_locks: JobLocksTable;
  registry_signing_keys: RegistrySigningKeysTable;
  packages: PackagesTable;
  package_files: PackageFilesTable;
  deploy_token_secrets: DeployTokenSecretsTable;
  audit_events: AuditEventsTable;
  audit_chain_head: AuditChainHeadTable;
  audit_token_hashes: AuditTokenHashesTable;
  event_outbox: EventOutboxTable;
  web_sessions: WebSessionsTable;
  sign_in_throttles: SignInThrottlesTable;
  sign_in_links: SignInLinksTable;
  oauth_applications: OauthApplicationsTable;
  oauth_grants: OauthGrantsTable;
  oauth_codes: OauthCodesTable;
  oauth_refresh_tokens: OauthRefreshTokensTable;
  oauth_access_tokens: OauthAccessTokensTable;
  oidc_signing_keys: OidcSigningKeysTable;
  oauth_device_codes: OauthDeviceCodesTable;
}
