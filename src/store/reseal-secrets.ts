/**
 * `latchkey secret reseal`: after a re-key (a new LATCHKEY_SECRET, the old one in
 * LATCHKEY_SECRET_PREVIOUS), moves every sealed value in the database to the newest key — webhook
 * secrets and custom headers, `gitlab-deploy-token` secrets, CI/CD variable values, registry and OIDC signing
 * keys, upstream tokens, the pending secrets of rotation jobs — so the previous secret is no longer needed for them. Each value is replaced only while it is
 * still the one read (a concurrent change wins); running it twice changes nothing the second time.
 * Token digests cannot be re-keyed without the tokens: each moves when it is next used (verify-token.ts).
 */
import type { Kysely } from 'kysely';
import type { SecretBox } from '../kernel/secret-box.js';
import type { Database } from './database.js';

export interface ResealBoxes {
  webhooks: SecretBox;
  deployTokens: SecretBox;
  ciVariables: SecretBox;
  registryKey: SecretBox;
  oidcKey: SecretBox;
  upstreamTokens: SecretBox;
  rotationSecrets: SecretBox;
}

export interface ResealCount {
  /** Values moved to the newest key. */
  resealed: number;
  /** Values already under the newest key. */
  current: number;
  /** Values no key of the ring opens (sealed under a secret that is not configured). */
  unreadable: number;
}

export type ResealReport = Record<'webhook_secrets' | 'webhook_headers' | 'deploy_token_secrets' | 'ci_variables' | 'registry_keys' | 'oidc_keys' | 'upstream_tokens' | 'rotation_secrets', ResealCount>;

type Column = { table: 'webhooks'; key: 'id'; column: 'secret_encrypted' | 'custom_headers_encrypted' } | { table: 'deploy_token_secrets'; key: 'token_id'; column: 'secret_encrypted' } | { table: 'ci_variables'; key: 'id'; column: 'value_encrypted' } | { table: 'registry_signing_keys'; key: 'name'; column: 'private_key_encrypted' } | { table: 'oidc_signing_keys'; key: 'generation'; column: 'private_key_sealed' } | { table: 'upstreams'; key: 'id'; column: 'token_sealed' } | { table: 'rotation_jobs'; key: 'id'; column: 'secret_sealed' };

export function createSecretResealer(db: Kysely<Database>, boxes: ResealBoxes) {
  async function reseal(target: Column, box: SecretBox): Promise<ResealCount> {
    const count: ResealCount = { resealed: 0, current: 0, unreadable: 0 };
    const d = db as unknown as Kysely<Record<string, Record<string, string | number | null>>>;
    const rows = await d.selectFrom(target.table).select([`${target.key} as key`, `${target.column} as value`]).where(target.column, 'is not', null).execute();
    for (const row of rows) {
      let next: string | null;
      try {
        next = box.reseal(String(row.value));
      } catch {
        count.unreadable++;
        continue;
      }
      if (next === null) {
        count.current++;
        continue;
      }
      await d.updateTable(target.table).set({ [target.column]: next }).where(target.key, '=', row.key!).where(target.column, '=', row.value!).execute();
      count.resealed++;
    }
    return count;
  }
  return {
    async resealAll(): Promise<ResealReport> {
      return {
        webhook_secrets: await reseal({ table: 'webhooks', key: 'id', column: 'secret_encrypted' }, boxes.webhooks),
        webhook_headers: await reseal({ table: 'webhooks', key: 'id', column: 'custom_headers_encrypted' }, boxes.webhooks),
        deploy_token_secrets: await reseal({ table: 'deploy_token_secrets', key: 'token_id', column: 'secret_encrypted' }, boxes.deployTokens),
        ci_variables: await reseal({ table: 'ci_variables', key: 'id', column: 'value_encrypted' }, boxes.ciVariables),
        registry_keys: await reseal({ table: 'registry_signing_keys', key: 'name', column: 'private_key_encrypted' }, boxes.registryKey),
        oidc_keys: await reseal({ table: 'oidc_signing_keys', key: 'generation', column: 'private_key_sealed' }, boxes.oidcKey),
        upstream_tokens: await reseal({ table: 'upstreams', key: 'id', column: 'token_sealed' }, boxes.upstreamTokens),
        rotation_secrets: await reseal({ table: 'rotation_jobs', key: 'id', column: 'secret_sealed' }, boxes.rotationSecrets),
      };
    },
  };
}

export type SecretResealer = ReturnType<typeof createSecretResealer>;
