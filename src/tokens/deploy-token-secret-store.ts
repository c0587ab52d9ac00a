/**
 * Port: the sealed secrets of `gitlab-deploy-token`s, the one deploy token GitLab hands to CI jobs
 * again (CI_DEPLOY_PASSWORD). Every other deploy token is digest-only. Values are sealed before they
 * reach this port; it never sees a plain secret.
 */
export interface SealedDeployToken {
  readonly tokenId: number;
  readonly username: string;
  readonly secretEncrypted: string;
}

export interface DeployTokenSecretStore {
  insert(tokenId: number, secretEncrypted: string, createdAt: string): Promise<void>;
  /**
   * The newest active (not revoked, not deleted, not expired on `today`) `gitlab-deploy-token` of
   * exactly this project or group that has a sealed secret; null when there is none.
   */
  findActiveGitlabDeployToken(owner: { projectId: number } | { groupId: number }, today: string): Promise<SealedDeployToken | null>;
}

/** GitLab's DeployToken::GITLAB_DEPLOY_TOKEN_NAME: the name that makes a deploy token CI's. */
export const GITLAB_DEPLOY_TOKEN_NAME = 'gitlab-deploy-token';
