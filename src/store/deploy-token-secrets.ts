/** Kysely implementation of DeployTokenSecretStore (both dialects). */
import type { Kysely } from 'kysely';
import type { Database } from './database.js';
import { GITLAB_DEPLOY_TOKEN_NAME, type DeployTokenSecretStore } from '../tokens/deploy-token-secret-store.js';

export function createDeployTokenSecretStore(db: Kysely<Database>): DeployTokenSecretStore {
  return {
    async insert(tokenId, secretEncrypted, createdAt) {
      await db.insertInto('deploy_token_secrets').values({ token_id: tokenId, secret_encrypted: secretEncrypted, created_at: createdAt }).execute();
    },

    async findActiveGitlabDeployToken(owner, today) {
      let q = db
        .selectFrom('tokens')
        .innerJoin('deploy_token_secrets', 'deploy_token_secrets.token_id', 'tokens.id')
        .select(['tokens.id', 'tokens.username', 'deploy_token_secrets.secret_encrypted'])
        .where('tokens.kind', '=', 'deploy')
        .where('tokens.name', '=', GITLAB_DEPLOY_TOKEN_NAME)
        .where('tokens.revoked_at', 'is', null)
        .where('tokens.deleted_at', 'is', null)
        .where((eb) => eb.or([eb('tokens.expires_at', 'is', null), eb('tokens.expires_at', '>', today)]));
      q = 'projectId' in owner ? q.where('tokens.project_id', '=', owner.projectId) : q.where('tokens.group_id', '=', owner.groupId);
      const row = await q.orderBy('tokens.id', 'desc').limit(1).executeTakeFirst();
      return row ? { tokenId: row.id, username: row.username ?? '', secretEncrypted: row.secret_encrypted } : null;
    },
  };
}
