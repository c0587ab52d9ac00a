/**
 * What a verified credential may do on a registry repository, as GitLab decides it: the repository
 * name is a project path (or an image below one, `group/project/image`); deploy tokens need to belong
 * to that project or an ancestor group of it, and `read_registry` → pull, `write_registry` → push;
 * personal, project, group and service-account tokens need the user's access level (Reporter+ to pull,
 * Developer+ to push) and a scope that allows it (`api`, `read_api`, `read_registry` → pull;
 * `api`, `write_registry` → push). Nothing else (`delete`, `*`, the catalog) is ever granted.
 * Visibility (namespaces/visibility.ts): anyone may pull a public project's images — anonymously, or with
 * any credential that verifies (GitLab lets a guest read them) — and any signed-in user with a pull
 * scope an internal project's. Pushing always takes membership (or a deploy token's reach).
 */
import { AccessLevel } from '../../namespaces/access-levels.js';
import type { User, Project } from '../../namespaces/namespace.js';
import { isVisibleWithoutMembership, viewerOf } from '../../namespaces/visibility.js';
import type { NamespaceService } from '../../namespaces/namespace-service.js';
import type { Store } from '../../store/open-store.js';
import type { Token } from '../../tokens/token.js';
import { deployTokenReaches } from '../deploy-token-reach.js';
import type { ResourceAccess } from './registry-scope.js';

/** Who asks: nobody (no credentials), or a verified token (user null for deploy tokens). */
export type Principal = { readonly kind: 'anonymous' } | { readonly kind: 'token'; readonly token: Token; readonly user: User | null };

interface ActionRule {
  readonly deployScopes: readonly string[];
  readonly userScopes: readonly string[];
  readonly minLevel: number;
}

const RULES: Record<string, ActionRule> = {
  pull: { deployScopes: ['read_registry'], userScopes: ['api', 'read_api', 'read_registry'], minLevel: AccessLevel.REPORTER },
  push: { deployScopes: ['write_registry'], userScopes: ['api', 'write_registry'], minLevel: AccessLevel.DEVELOPER },
};

/** Images may sit up to this many levels below the project (`group/project/a/b/c`), as in GitLab. */
const MAX_IMAGE_DEPTH = 3;

export interface RegistryAccessDeps {
  store: Store;
  namespaces: NamespaceService;
}

export type RegistryAccess = ReturnType<typeof createRegistryAccess>;

export function createRegistryAccess({ store, namespaces }: RegistryAccessDeps) {
  /** The project a repository name belongs to: the longest project path it starts with. */
  async function projectOf(repository: string): Promise<Project | null> {
    const segments = repository.split('/');
    if (segments.some((s) => s.length === 0)) return null;
    for (let n = segments.length; n >= Math.max(2, segments.length - MAX_IMAGE_DEPTH); n--) {
      const project = await store.namespaces.findProjectByPath(segments.slice(0, n).join('/'));
      if (project) return project;
    }
    return null;
  }

  /** The actions of `requested` the principal may perform on the project: a subset, never an error. */
  async function allowedOn(principal: Principal, project: Project, requested: readonly string[]): Promise<string[]> {
    const candidates = requested.filter((a) => RULES[a] !== undefined);
    if (candidates.length === 0) return [];
    // A credential never pulls less than nobody would.
    const publicPull = isVisibleWithoutMembership(project.visibility, 'anonymous') && candidates.includes('pull') ? ['pull'] : [];
    if (principal.kind === 'anonymous') return publicPull;
    const { token, user } = principal;
    let granted: string[];
    if (token.kind === 'deploy') {
      const reaches = await deployTokenReaches(store.namespaces, token, project);
      granted = reaches ? candidates.filter((a) => RULES[a]!.deployScopes.some((s) => token.scopes.includes(s))) : [];
    } else if (!user) {
      granted = [];
    } else {
      const byScope = candidates.filter((a) => RULES[a]!.userScopes.some((s) => token.scopes.includes(s)));
      const level = byScope.length === 0 ? 0 : await namespaces.accessLevel(user, { type: 'project', project });
      granted = byScope.filter((a) => level >= RULES[a]!.minLevel || (a === 'pull' && isVisibleWithoutMembership(project.visibility, viewerOf(user))));
    }
    return candidates.filter((a) => granted.includes(a) || publicPull.includes(a));
  }

  return {
    /** The granted subset of each requested resource, in the order asked (entries granted nothing keep `actions: []`). */
    async grant(principal: Principal, requested: readonly ResourceAccess[]): Promise<ResourceAccess[]> {
      const granted: ResourceAccess[] = [];
      for (const resource of requested) {
        const project = resource.type === 'repository' ? await projectOf(resource.name) : null;
        const actions = project ? await allowedOn(principal, project, resource.actions) : [];
        granted.push({ type: resource.type, name: resource.name, actions });
      }
      return granted;
    },
  };
}
