/**
 * Who may clone and push over git smart HTTP (nginx `auth_request` in front of `git http-backend`),
 * decided as GitLab's Gitlab::Auth and Gitlab::GitAccess do. One call per request; it returns a closed
 * set of outcomes and the HTTP adapter (http/routes/git-auth.ts) maps each to its status.
 *
 * - Credentials: HTTP Basic, the token as password. A deploy token's username must be its own; a
 *   personal, project, group or service-account token takes any username (GitLab ignores it too).
 * - Scopes (abilities_for_scopes): fetch needs read_repository, write_repository, read_api or api;
 *   push needs write_repository or api. Deploy tokens can hold only read_repository of these.
 * - Project: deploy tokens act on their project, or on every project under their group; users (and
 *   the bots behind project/group tokens) by membership: Reporter+ fetches, Developer+ pushes.
 * - Visibility (namespaces/visibility.ts): a public project is fetched by anyone — without credentials,
 *   or with any credential that verifies, whatever its scopes (GitLab's guest download) — and an
 *   internal one by any signed-in user whose token may fetch. Pushing always takes membership.
 * - A project that does not exist and one the token may not see give the same `not_found`, so a token
 *   learns nothing about projects outside its reach (GitLab answers 401 for a deploy or bot token on a
 *   foreign project; 404 also keeps git from discarding a stored, valid credential).
 */
import { readBasic } from '../../auth/credentials.js';
import { deployTokenReaches } from '../deploy-token-reach.js';
import { AccessLevel } from '../../namespaces/access-levels.js';
import type { NamespaceService } from '../../namespaces/namespace-service.js';
import type { Project, User } from '../../namespaces/namespace.js';
import { isVisibleWithoutMembership, viewerOf } from '../../namespaces/visibility.js';
import type { Store } from '../../store/open-store.js';
import type { Token } from '../../tokens/token.js';
import type { TokenVerifier, VerifyContext } from '../../tokens/verify-token.js';
import type { DecisionCache } from '../decision-cache.js';
import { parseGitRequest, type GitOperation, type GitRequest } from './git-request.js';

/** Why an authenticated request is refused: GitLab's GitAccess error keys. */
export type GitRefusal = 'auth_download' | 'auth_upload' | 'download' | 'push';

export type GitAccessOutcome =
  /** `token` null: an anonymous fetch of a public project (`remoteUser` is then empty). */
  | { readonly outcome: 'allowed'; readonly token: Token | null; readonly user: User | null; readonly project: Project; readonly operation: GitOperation; readonly remoteUser: string }
  /** Not one of git's smart-HTTP requests. */
  | { readonly outcome: 'not_git' }
  /** No credential, or one that does not verify: the client must (re)authenticate. */
  /** `token`: the presented token, when it is known but does not work (expired, revoked, wrong username). */
  | { readonly outcome: 'unauthenticated'; readonly token?: Token }
  | { readonly outcome: 'forbidden'; readonly reason: GitRefusal; readonly token: Token; readonly user: User | null }
  | { readonly outcome: 'not_found'; readonly token: Token; readonly user: User | null };

export interface GitAccessRequest {
  /** The client's `Authorization` header, as nginx passes it on. */
  readonly authorization: string | undefined;
  /** nginx's `$request_uri` and `$request_method` of the request being authorised. */
  readonly originalUri: string;
  readonly originalMethod: string;
  readonly context: VerifyContext;
}

export interface GitAccessDeps {
  verifier: TokenVerifier;
  namespaces: NamespaceService;
  store: Store;
  /** Decisions per (token, operation, project) for a short time (protocols/decision-cache.ts). */
  decisions?: DecisionCache<GitVerdict>;
}

/** The decision for a verified token, without the token and user it is reattached to. */
export type GitVerdict =
  | { readonly outcome: 'allowed'; readonly project: Project }
  | { readonly outcome: 'forbidden'; readonly reason: GitRefusal }
  | { readonly outcome: 'not_found' };

const SCOPES_FOR: Record<GitOperation, readonly string[]> = {
  read: ['api', 'read_api', 'read_repository', 'write_repository'],
  write: ['api', 'write_repository'],
};
const LEVEL_FOR: Record<GitOperation, number> = { read: AccessLevel.REPORTER, write: AccessLevel.DEVELOPER };

export type GitAccess = ReturnType<typeof createGitAccess>;

export function createGitAccess({ verifier, namespaces, store, decisions }: GitAccessDeps) {
  /** What a verified credential may do on the repository: everything after verification, cacheable per token. */
  async function decide(token: Token, user: User | null, git: GitRequest): Promise<GitVerdict> {
    const project = await store.namespaces.findProjectByPath(git.projectPath);
    // A credential never fetches less than nobody would: a public project, whatever the token's scopes.
    if (project && git.operation === 'read' && isVisibleWithoutMembership(project.visibility, 'anonymous')) return { outcome: 'allowed', project };
    if (!token.scopes.some((s) => SCOPES_FOR[git.operation].includes(s))) {
      return { outcome: 'forbidden', reason: git.operation === 'read' ? 'auth_download' : 'auth_upload' };
    }
    if (!project) return { outcome: 'not_found' };
    if (token.kind === 'deploy') return (await deployTokenReaches(store.namespaces, token, project)) ? { outcome: 'allowed', project } : { outcome: 'not_found' };
    const level = await namespaces.accessLevel(user!, { type: 'project', project });
    const visible = level >= AccessLevel.GUEST || isVisibleWithoutMembership(project.visibility, viewerOf(user));
    if (!visible) return { outcome: 'not_found' };
    const allowed = git.operation === 'read' ? await namespaces.canReadContent(user, project) : level >= LEVEL_FOR.write;
    if (!allowed) return { outcome: 'forbidden', reason: git.operation === 'read' ? 'download' : 'push' };
    return { outcome: 'allowed', project };
  }

  /** A deploy token answers to its own username only; any other token must belong to a user. */
  const credentialFits = (basic: { username: string }, token: Token, user: User | null) => (token.kind === 'deploy' ? basic.username === token.username : user !== null);
  const remoteUserOf = (token: Token, user: User | null) => (token.kind === 'deploy' ? token.username! : user!.username);
  const decisionKey = (git: GitRequest) => `${git.operation}\n${git.projectPath}`;

  return {
    /**
     * The fast lane's check (http/fast-lane.ts): an `allowed` answer made from the verify cache and the
     * decision cache alone, with the same side effects as `check` (the token's usage); null when either
     * cache does not have it, or when the answer is not `allowed` — then `check` decides, from the start.
     * `admits`: the caller's own last word on the token (the lane's rate limit), asked before any side effect.
     */
    checkCached(request: GitAccessRequest, admits: (token: Token) => boolean = () => true): Extract<GitAccessOutcome, { outcome: 'allowed' }> | null {
      const git = parseGitRequest(request.originalUri, request.originalMethod);
      const basic = git && decisions ? readBasic(request.authorization) : null;
      if (!git || !basic || basic.secret.length === 0) return null;
      const found: { project?: Project } = {};
      const verified = verifier.verifyCached(basic.secret, request.context, (token, user) => {
        if (!credentialFits(basic, token, user)) return false;
        const verdict = decisions!.get(token.id, decisionKey(git));
        if (verdict?.outcome !== 'allowed' || !admits(token)) return false;
        found.project = verdict.project;
        return true;
      });
      if (!verified || !found.project) return null;
      return { outcome: 'allowed', token: verified.token, user: verified.user, project: found.project, operation: git.operation, remoteUser: remoteUserOf(verified.token, verified.user) };
    },

    async check(request: GitAccessRequest): Promise<GitAccessOutcome> {
      const git = parseGitRequest(request.originalUri, request.originalMethod);
      if (!git) return { outcome: 'not_git' };
      const basic = readBasic(request.authorization);
      if (!basic || basic.secret.length === 0) {
        // git asks without credentials first: a public project's fetch needs none; anything else gets the challenge.
        if (git.operation !== 'read') return { outcome: 'unauthenticated' };
        const project = await store.namespaces.findProjectByPath(git.projectPath);
        if (!project || !isVisibleWithoutMembership(project.visibility, 'anonymous')) return { outcome: 'unauthenticated' };
        return { outcome: 'allowed', token: null, user: null, project, operation: 'read', remoteUser: '' };
      }
      const verified = await verifier.verify(basic.secret, request.context);
      if (!verified.ok) return verified.token ? { outcome: 'unauthenticated', token: verified.token } : { outcome: 'unauthenticated' };
      const { token, user } = verified;
      if (!credentialFits(basic, token, user)) return { outcome: 'unauthenticated', token };
      const remoteUser = remoteUserOf(token, user);
      // The same token on the same repository and operation within the TTL: the decision in hand.
      const key = decisionKey(git);
      let verdict = decisions?.get(token.id, key);
      if (verdict === undefined) {
        verdict = await decide(token, user, git);
        decisions?.set(token.id, user?.id ?? null, key, verdict);
      }
      if (verdict.outcome === 'allowed') return { outcome: 'allowed', token, user, project: verdict.project, operation: git.operation, remoteUser };
      if (verdict.outcome === 'forbidden') return { outcome: 'forbidden', reason: verdict.reason, token, user };
      return { outcome: 'not_found', token, user };
    },
  };
}
