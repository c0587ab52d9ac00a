/**
 * The migrations. Names sort by their ISO-date prefix; add new ones at the end. A new migration may sort before one a
 * database already ran (work landed in parallel): the migrator runs it anyway, so none may depend on a sibling that is
 * not yet on main.
 */
import type { Migration, MigrationProvider } from 'kysely';
import type { DialectTraits } from '../dialects.js';
import { createCore } from './2026-11-23T0001-create-core.js';
import { createAccessTokens } from './2026-11-23T0002-access-tokens.js';
import { createServiceAccounts } from './2026-11-23T0003-service-accounts.js';
import { createExpiryNotices } from './2026-11-23T0004-expiry-notices.js';
import { createWebhooks } from './2026-11-23T0005-webhooks.js';
import { createAuditLog } from './2026-11-23T0006-audit-log.js';
import { createTokenUsage } from './2026-11-23T0007-token-usage.js';
import { createRegistryKey } from './2026-11-23T0008-registry-key.js';
import { createPackagesAndCiDeployToken } from './2026-11-23T0009-packages-and-ci-deploy-token.js';
import { createImpersonationTokens } from './2026-12-02T1150-impersonation-tokens.js';
import { createExpiryScanIndexes } from './2026-12-02T1300-expiry-scan-indexes.js';
import { createCiVariables } from './2026-12-02T1500-ci-variables.js';
import { createWebSignIn } from './2026-12-02T1800-web-sign-in.js';
import { createOauthApplications } from './2026-12-03T0700-oauth-applications.js';
import { createOauthGrants } from './2026-12-03T0701-oauth-grants.js';
import { createGitlabHooks } from './2026-12-03T0600-gitlab-hooks.js';
import { createOidcSigningKeys } from './2026-12-03T0702-oidc-signing-keys.js';
import { createListIndexes } from './2026-12-03T0400-list-indexes.js';
import { createListIndexPersonal } from './2026-12-03T0401-list-index-personal.js';
import { createAnalyzeTokens } from './2026-12-03T0402-analyze-tokens.js';
import { createEventOutbox } from './2026-12-03T0100-event-outbox.js';
import { createCredentialInventory } from './2026-12-03T0500-credential-inventory.js';
import { createCredentialReminders } from './2026-12-03T1200-credential-reminders.js';
import { createRegistryKeyRotation } from './2026-12-03T0300-registry-key-rotation.js';
import { createUpstreams } from './2026-12-03T1300-upstreams.js';
import { createUpstreamRotatedTokens } from './2026-12-04T0200-upstream-rotated-tokens.js';
import { createPlacementChecks } from './2026-12-03T1301-placement-checks.js';
import { createOauthDeviceCodes } from './2026-12-03T0703-oauth-device-codes.js';
import { createOauthApplicationGroupOwner } from './2026-12-03T2000-oauth-application-group-owner.js';
import { createOauthGrantExpiry } from './2026-12-03T2300-oauth-grant-expiry.js';
import { createAuditLeanIndexes } from './2026-12-04T0500-audit-lean-indexes.js';
import { createAuditGroupPathIndex } from './2026-12-04T0501-audit-group-path-index.js';
import { createTokensUsageRoom } from './2026-12-04T0600-tokens-usage-room.js';
import { createRotationTasks } from './2026-12-04T0400-rotation-tasks.js';
import { createRotationPolicies } from './2026-12-04T0300-rotation-policies.js';
import { createRotationJobs } from './2026-12-04T0100-rotation-jobs.js';

export function migrationProvider(traits: DialectTraits): MigrationProvider {
  const migrations: Record<string, Migration> = {
    '2026-11-23T0001-create-core': createCore(traits),
    '2026-11-23T0002-access-tokens': createAccessTokens(traits),
    '2026-11-23T0003-service-accounts': createServiceAccounts(traits),
    '2026-11-23T0004-expiry-notices': createExpiryNotices(traits),
    '2026-11-23T0005-webhooks': createWebhooks(traits),
    '2026-11-23T0006-audit-log': createAuditLog(traits),
    '2026-11-23T0007-token-usage': createTokenUsage(traits),
    '2026-11-23T0008-registry-key': createRegistryKey(traits),
    '2026-11-23T0009-packages-and-ci-deploy-token': createPackagesAndCiDeployToken(traits),
    '2026-12-02T1150-impersonation-tokens': createImpersonationTokens(traits),
    '2026-12-02T1300-expiry-scan-indexes': createExpiryScanIndexes(traits),
    '2026-12-02T1500-ci-variables': createCiVariables(traits),
    '2026-12-02T1800-web-sign-in': createWebSignIn(traits),
    '2026-12-03T0700-oauth-applications': createOauthApplications(traits),
    '2026-12-03T0701-oauth-grants': createOauthGrants(traits),
    '2026-12-03T0600-gitlab-hooks': createGitlabHooks(traits),
    '2026-12-03T0702-oidc-signing-keys': createOidcSigningKeys(traits),
    '2026-12-03T0400-list-indexes': createListIndexes(traits),
    '2026-12-03T0401-list-index-personal': createListIndexPersonal(traits),
    '2026-12-03T0100-event-outbox': createEventOutbox(traits),
    '2026-12-03T0500-credential-inventory': createCredentialInventory(traits),
    '2026-12-03T0300-registry-key-rotation': createRegistryKeyRotation(traits),
    '2026-12-03T0703-oauth-device-codes': createOauthDeviceCodes(traits),
    '2026-12-03T0402-analyze-tokens': createAnalyzeTokens(traits),
    '2026-12-03T1300-upstreams': createUpstreams(traits),
    '2026-12-03T1200-credential-reminders': createCredentialReminders(traits),
    '2026-12-03T1301-placement-checks': createPlacementChecks(traits),
    '2026-12-03T2000-oauth-application-group-owner': createOauthApplicationGroupOwner(traits),
    '2026-12-03T2300-oauth-grant-expiry': createOauthGrantExpiry(traits),
    '2026-12-04T0400-rotation-tasks': createRotationTasks(traits),
    '2026-12-04T0300-rotation-policies': createRotationPolicies(traits),
    '2026-12-04T0100-rotation-jobs': createRotationJobs(traits),
    '2026-12-04T0200-upstream-rotated-tokens': createUpstreamRotatedTokens(traits),
    '2026-12-04T0500-audit-lean-indexes': createAuditLeanIndexes(traits),
    '2026-12-04T0501-audit-group-path-index': createAuditGroupPathIndex(traits),
    '2026-12-04T0600-tokens-usage-room': createTokensUsageRoom(traits),
  };
  return { getMigrations: async () => migrations };
}
