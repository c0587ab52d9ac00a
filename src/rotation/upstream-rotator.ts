/**
 * Rotation of a synced upstream token (issue 16) through the upstream's own rotate API, which keeps
 * the bot identity: `POST /projects/:id/access_tokens/:token_id/rotate`, `/groups/…` the same, and
 * `/personal_access_tokens/:id/rotate` for personal (and service-account) tokens. GitLab has no rotate
 * API for deploy tokens: those are not rotatable here (`whyNot` says so).
 *
 * The upstream revokes the old secret at once and answers the new one with its new id and expiry; the
 * synced record and its inventory entry then follow the new remote token at once (as the next sync
 * would find it), so placements, owner and procedure stay on the same entry. Failures are thrown as
 * UpstreamFailure with the reason a person reads ("403 Forbidden: …", "no answer from … within …").
 */
import type { UtcDate } from '../kernel/dates.js';
import { UpstreamFailure, type GitlabClient } from '../upstreams/gitlab-client.js';
import { remoteTokenOf } from '../upstreams/upstream-reader.js';
import type { RemoteToken, SyncedToken, Upstream } from '../upstreams/upstream.js';
import { NOT_AN_UPSTREAM_TOKEN, type UpstreamRotation, type UpstreamRotator } from './contracts.js';

export interface UpstreamRotatorDeps {
  /** Upstream-service's `rotation`: the synced token an entry is, a client with its upstream's token, and the record of a rotation. */
  upstreams: {
    syncedToken(credentialId: number): Promise<{ upstream: Upstream; token: SyncedToken } | null>;
    clientOf(upstream: Upstream): Promise<GitlabClient>;
    recordRotation(upstream: Upstream, before: SyncedToken, after: RemoteToken): Promise<void>;
  };
  /** A record that could not be written after the upstream rotated (the secret is still returned: the job must not lose it). */
  onError?: (e: unknown) => void;
}

const WHAT: Record<SyncedToken['kind'], string> = {
  personal_access_token: 'personal access token',
  project_access_token: 'project access token',
  group_access_token: 'group access token',
  project_deploy_token: 'project deploy token',
  group_deploy_token: 'group deploy token',
};

/** The rotate API path of a synced token, or why the upstream cannot rotate it. */
function rotatePathOf(token: SyncedToken): { path: string } | { reason: string } {
  const where = token.resource.replace(/^(group|project):/, '');
  switch (token.kind) {
    case 'project_access_token':
      return { path: `/projects/${encodeURIComponent(where)}/access_tokens/${token.remoteId}/rotate` };
    case 'group_access_token':
      return { path: `/groups/${encodeURIComponent(where)}/access_tokens/${token.remoteId}/rotate` };
    case 'personal_access_token':
      return { path: `/personal_access_tokens/${token.remoteId}/rotate` };
    default:
      return { reason: `GitLab has no rotate API for ${WHAT[token.kind]}s: create a new one upstream, put it in the placements and revoke the old one` };
  }
}

function refusal(status: number, body: unknown, token: SyncedToken, host: string): string {
  const message = (body as { message?: unknown; error?: unknown } | null)?.message ?? (body as { error?: unknown } | null)?.error;
  const detail = message === undefined ? '' : ` (${typeof message === 'string' ? message : JSON.stringify(message)})`;
  const what = `${WHAT[token.kind]} ${token.remoteId} (${token.name}) of ${token.resource.replace(':', ' ')}`;
  if (status === 403) return `403 Forbidden: the upstream token may not rotate ${what} on ${host} (it needs the api scope and Maintainer/Owner there, or an admin for another user's token)${detail}`;
  if (status === 404) return `404 Not Found: ${host} does not know ${what} (revoked, deleted, or out of the upstream token's reach)${detail}`;
  return `${status}: ${host} refused to rotate ${what}${detail}`;
}

export type RotationUpstreamRotator = UpstreamRotator & {
  /** Why an entry cannot be rotated through an upstream (null: it can). */
  whyNot(credentialId: number): Promise<string | null>;
};

export function createUpstreamRotator(deps: UpstreamRotatorDeps): RotationUpstreamRotator {
  async function whyNot(credentialId: number): Promise<string | null> {
    const synced = await deps.upstreams.syncedToken(credentialId);
    if (synced === null) return NOT_AN_UPSTREAM_TOKEN;
    if (synced.token.revoked || !synced.token.active) return `the upstream token is ${synced.token.revoked ? 'revoked' : 'inactive'} upstream`;
    if (synced.token.state === 'disappeared') return 'the upstream token disappeared from the upstream (its last sync no longer saw it)';
    const target = rotatePathOf(synced.token);
    return 'reason' in target ? target.reason : null;
  }

  return {
    whyNot,

    canRotate: async (credentialId) => (await whyNot(credentialId)) === null,

    async rotate(credentialId, options: { expiresAt?: UtcDate }): Promise<UpstreamRotation> {
      const synced = await deps.upstreams.syncedToken(credentialId);
      if (synced === null) throw new UpstreamFailure('the entry is not a token synced from an upstream');
      const { upstream, token: before } = synced;
      const target = rotatePathOf(before);
      if ('reason' in target) throw new UpstreamFailure(target.reason);
      const host = new URL(upstream.url).host;
      const client = await deps.upstreams.clientOf(upstream);
      const answer = await client.send<Record<string, unknown>>('POST', target.path, options.expiresAt === undefined ? {} : { expires_at: options.expiresAt });
      if (answer.status !== 200 && answer.status !== 201) throw new UpstreamFailure(refusal(answer.status, answer.body, before, host));
      const secret = answer.body?.token;
      const after = answer.body ? remoteTokenOf(before.kind, before.resource, { ...answer.body, last_used_at: null }) : null;
      if (typeof secret !== 'string' || secret === '' || after === null) {
        throw new UpstreamFailure(`${host} answered the rotation of ${WHAT[before.kind]} ${before.remoteId} without a new token and id (is ${upstream.url} a GitLab?); the old token may already be revoked there`);
      }
      try {
        await deps.upstreams.recordRotation(upstream, before, after);
      } catch (e) {
        // The next sync puts the record right; the new secret must reach the job whatever happens here.
        deps.onError?.(e);
      }
      return { secret, remoteId: after.remoteId, expiresOn: after.expiresOn };
    },
  };
}
