/**
 * CI_DEPLOY_USER / CI_DEPLOY_PASSWORD for a project, as GitLab gives them to its CI jobs: from the
 * project's own active `gitlab-deploy-token`, else from the one of the project's immediate parent
 * group — never a grandparent's (GitLab's Project#gitlab_deploy_token).
 *
 * Who may ask: "a CI system authenticated with a project-scoped token" means a project access token of
 * this very project (its bot user, Reporter or above), with `api` or `read_api`. Personal tokens, group
 * tokens and other projects' tokens get 403; deploy tokens never reach here (no API scope), since one
 * deploy token must not yield another. The secret is unsealed only for the answer, never logged.
 */
import type { Clock } from '../kernel/clock.js';
import { utcDateOf } from '../kernel/dates.js';
import { forbidden, notFound } from '../kernel/errors.js';
import type { SecretBox } from '../kernel/secret-box.js';
import { AccessLevel } from '../namespaces/access-levels.js';
import type { Project, User } from '../namespaces/namespace.js';
import type { NamespaceService } from '../namespaces/namespace-service.js';
import type { DeployTokenSecretStore } from '../tokens/deploy-token-secret-store.js';
import type { Token } from '../tokens/token.js';

export interface CiDeployVariables {
  readonly CI_DEPLOY_USER: string;
  readonly CI_DEPLOY_PASSWORD: string;
}

export interface CiVariablesDeps {
  secrets: DeployTokenSecretStore;
  box: SecretBox;
  namespaces: NamespaceService;
  clock: Clock;
}

export type CiVariablesService = ReturnType<typeof createCiVariablesService>;

export function createCiVariablesService({ secrets, box, namespaces, clock }: CiVariablesDeps) {
  return {
    async deployVariables(caller: { user: User; token: Token }, project: Project): Promise<CiDeployVariables> {
      if (caller.token.kind !== 'project' || caller.token.projectId !== project.id) throw forbidden('CI_VARIABLES_NEED_PROJECT_TOKEN');
      if ((await namespaces.accessLevel(caller.user, { type: 'project', project })) < AccessLevel.REPORTER) throw forbidden('CI_VARIABLES_NEED_PROJECT_TOKEN');
      const today = utcDateOf(clock.now());
      const found =
        (await secrets.findActiveGitlabDeployToken({ projectId: project.id }, today)) ??
        // Only the immediate parent group: GitLab does not look further up.
        (await secrets.findActiveGitlabDeployToken({ groupId: project.groupId }, today));
      if (!found) throw notFound('gitlab-deploy-token Not Found: create an active deploy token named gitlab-deploy-token in this project or its parent group', 'GITLAB_DEPLOY_TOKEN_NOT_FOUND');
      return { CI_DEPLOY_USER: found.username, CI_DEPLOY_PASSWORD: box.open(found.secretEncrypted) };
    },
  };
}
