/**
 * Revoke and rotate for every token kind (personal, project, group, service-account), and reuse
 * detection: the rules of a token's life after it is issued. Services check permissions and the
 * expiry policy, then call one of these; each change runs in one store transaction and every revoked
 * id is reported through `onRevoked` so verification caches drop it at once.
 *
 * Rotation (GitLab's RotateService) issues a new token with the same name, description, scopes,
 * owner, kind and access level, linked by `rotatedFromId`, and supersedes the old one: revoked at once
 * by default, or — Latchkey's `grace_period` — still working until `graceUntil`.
 *
 * Reuse detection is limited as GitLab limits it (MR 126806, issue 418769: revoking on any use took
 * production down when one stale consumer still held the old secret). A rotated-away secret presented,
 * when it no longer works, to a rotate endpoint (`…/access_tokens/:id/rotate`, `…/self/rotate`) is
 * reuse: every token that descends from it is revoked with reason `reuse_detected` (GitLab's
 * RevokeTokenFamilyService). Presented anywhere else — API, git, registry, packages — it is only
 * refused, and a `token.reuse_attempt` event names where it came from (IP, user agent, endpoint) so the
 * stale consumer can be found. Rotating a rotated-away token by id, with another valid credential, is
 * "token already revoked" and nothing more: the old secret was not presented.
 */
import type { Clock } from '../kernel/clock.js';
import type { UtcDate } from '../kernel/dates.js';
import { invalidRecord } from '../kernel/errors.js';
import type { User } from '../namespaces/namespace.js';
import type { Ports, Store } from '../store/open-store.js';
import { isRevokedAt, isReuseOfRotatedSecret, type Token } from './token.js';
import type { TokenIssuer } from './token-issuer.js';
import type { VerifyContext } from './verify-token.js';

export type RevokeReason = 'revoked' | 'rotated' | 'reuse_detected' | 'admin';

/** What the lifecycle reports, for the audit log (issue 5) and metrics. Never carries a secret. */
export type TokenLifecycleEvent =
  | { type: 'revoked'; tokenId: number; by: number | null; reason: RevokeReason; at: string }
  | { type: 'rotated'; tokenId: number; newTokenId: number; by: number | null; graceUntil: string | null; at: string }
  | { type: 'reuse_detected'; tokenId: number; revokedIds: number[]; at: string }
  | { type: 'reuse_attempt'; tokenId: number; at: string };

export interface TokenLifecycleDeps {
  store: Store;
  clock: Clock;
  issuer: TokenIssuer;
  /** Called for every token id that stops working, so verification caches drop it. */
  onRevoked: (tokenId: number) => void;
  /** Audit hook; must not throw. */
  onEvent?: (event: TokenLifecycleEvent) => void;
}

export interface RotateOptions {
  by: User | null;
  /** The new token's expiry, already checked against the expiry policy (see expiry-policy.ts). */
  expiresAt: UtcDate | null;
  /** Seconds the old secret keeps working (Latchkey extension); 0 or absent = revoked at once. */
  gracePeriodSeconds?: number;
  /**
   * Runs inside the rotation's transaction with the new token and its secret: what the caller records
   * of the rotation (a rotation job's sealed secret) commits with the new token or not at all.
   */
  alsoIn?: (ports: Ports, issued: { token: Token; secret: string }) => Promise<void>;
}

export interface RotateResult {
  /** The new token. */
  token: Token;
  /** Its secret: show once, never store. */
  secret: string;
  /** The old token as it is after the rotation (superseded, revoked or in grace). */
  previous: Token;
}

/** Longest grace period a rotation may ask for: 30 days. */
export const MAX_GRACE_PERIOD_SECONDS = 30 * 86_400;

/** GitLab's RotateService answer for a revoked (or already rotated) token. */
export const tokenAlreadyRevoked = () => invalidRecord('400 Bad request - token already revoked', 'TOKEN_ALREADY_REVOKED');

export type TokenLifecycle = ReturnType<typeof createTokenLifecycle>;

export function createTokenLifecycle({ store, clock, issuer, onRevoked, onEvent = () => {} }: TokenLifecycleDeps) {
  /**
   * Revokes every token rotated from `token`, down the chain, and `token` itself if it still works.
   * Idempotent: a second call revokes nothing new. Returns the ids revoked now.
   */
  async function revokeChainFrom(token: Token, at: string, context: VerifyContext): Promise<number[]> {
    const revoked = await store.transaction(async (ports) => {
      const ids: number[] = [];
      if (token.revokedAt === null && (await ports.tokens.markRevoked(token.id, at, 'rotated'))) ids.push(token.id);
      let current: Token | null = await ports.tokens.findSuccessor(token.id);
      // A chain is short (one link per rotation); the bound only guards against a corrupt cycle.
      for (let hops = 0; current && hops < 10_000; hops++) {
        if (await ports.tokens.markRevoked(current.id, at, 'reuse_detected')) ids.push(current.id);
        current = await ports.tokens.findSuccessor(current.id);
      }
      await ports.tokens.markReuseDetected(token.id, at);
      // The events commit with the revocations (the outbox): a crash loses neither.
      await ports.events.publish({ name: 'token.reuse_detected', tokenId: token.id, at, data: { revoked_ids: ids, ...origin(context) } });
      for (const id of ids) await ports.events.publish({ name: 'token.revoked', tokenId: id, at, data: { reason: id === token.id ? 'rotated' : 'reuse_detected', by: null } });
      return ids;
    });
    onRevoked(token.id);
    for (const id of revoked) onRevoked(id);
    return revoked;
  }

  /** Where a presentation came from, for the events (never a secret). */
  const origin = (context: VerifyContext) => ({ ip: context.ip ?? null, user_agent: context.userAgent ?? null, endpoint: context.endpoint ?? null });

  /**
   * Reuse detection: a rotated-away secret presented to a rotate endpoint after its grace (or after an
   * immediate rotation). Revokes every descendant once; later presentations find `reuseDetectedAt`
   * set and revoke nothing new.
   */
  async function detectReuse(token: Token, context: VerifyContext = {}): Promise<number[]> {
    const now = clock.now();
    // Within its grace a rotated-away secret is expected to be used; that is not reuse.
    if (!isReuseOfRotatedSecret(token, now) || token.reuseDetectedAt !== null) return [];
    const at = now.toISOString();
    const revokedIds = await revokeChainFrom(token, at, context);
    onEvent({ type: 'reuse_detected', tokenId: token.id, revokedIds, at });
    return revokedIds;
  }

  /**
   * A rotated-away secret presented anywhere but a rotate endpoint: a stale consumer (or a thief).
   * Nothing is revoked; the event carries the IP, user agent and endpoint so it can be found.
   */
  async function reportReuseAttempt(token: Token, context: VerifyContext): Promise<void> {
    const at = clock.now().toISOString();
    onEvent({ type: 'reuse_attempt', tokenId: token.id, at });
    // Nothing changes with it: the event commits on its own, into the outbox.
    await store.events.publish({ name: 'token.reuse_attempt', tokenId: token.id, at, data: { ...origin(context), rotated_at: token.supersededAt } });
  }

  return {
    detectReuse,
    reportReuseAttempt,

    /**
     * The verifier's hook for a rotated-away secret that no longer works: on a rotate endpoint it is
     * reuse (the family is revoked, once); anywhere else — or again, once the family is revoked — an
     * attempt, reported.
     */
    async rotatedSecretPresented(token: Token, context: VerifyContext): Promise<void> {
      if (context.rotation === true && token.reuseDetectedAt === null) await detectReuse(token, context);
      else await reportReuseAttempt(token, context);
    },

    /** Revokes one token (ends a rotation grace early too). False when it was already revoked. */
    async revoke(token: Token, { by, reason = 'revoked' }: { by: User | null; reason?: RevokeReason }): Promise<boolean> {
      const at = clock.now().toISOString();
      const done = await store.transaction(async (ports) => {
        if (!(await ports.tokens.markRevoked(token.id, at, reason))) return false;
        await ports.events.publish({ name: 'token.revoked', tokenId: token.id, at, data: { reason, by: by?.username ?? null } });
        return true;
      });
      onRevoked(token.id);
      if (done) onEvent({ type: 'revoked', tokenId: token.id, by: by?.id ?? null, reason, at });
      return done;
    },

    /**
     * Rotates a token. A token that no longer works (revoked, or rotated away) is not rotated:
     * "token already revoked", as GitLab's RotateService answers. That alone is not reuse — the old
     * secret was not presented (the verifier reports that, on the rotate endpoints).
     */
    async rotate(token: Token, { by, expiresAt, gracePeriodSeconds = 0, alsoIn }: RotateOptions): Promise<RotateResult> {
      const now = clock.now();
      const at = now.toISOString();
      if (token.supersededAt !== null || isRevokedAt(token, now)) throw tokenAlreadyRevoked();
      if (!Number.isInteger(gracePeriodSeconds) || gracePeriodSeconds < 0 || gracePeriodSeconds > MAX_GRACE_PERIOD_SECONDS) {
        throw invalidRecord(`400 Bad request - grace_period must be from 0 to ${MAX_GRACE_PERIOD_SECONDS} seconds`, 'INVALID_GRACE_PERIOD');
      }
      const graceUntil = gracePeriodSeconds > 0 ? new Date(now.getTime() + gracePeriodSeconds * 1000).toISOString() : null;
      const { secret, digest } = issuer.issue(token.kind);
      const result = await store.transaction(async (ports) => {
        // Supersede first: only one of two concurrent rotations gets past this line.
        if (!(await ports.tokens.markSuperseded(token.id, { at, graceUntil }))) throw tokenAlreadyRevoked();
        const created = await ports.tokens.insert({
          kind: token.kind,
          name: token.name,
          description: token.description,
          digest,
          userId: token.userId,
          projectId: token.projectId,
          groupId: token.groupId,
          username: token.username,
          scopes: token.scopes,
          accessLevel: token.accessLevel,
          expiresAt,
          createdBy: by?.id ?? null,
          createdAt: at,
          rotatedFromId: token.id,
          // A rotated impersonation token stays one (GitLab's RotateService keeps `impersonation`).
          impersonation: token.impersonation,
        });
        const previous = await ports.tokens.findById(token.id);
        await alsoIn?.(ports, { token: created, secret });
        await ports.events.publish({ name: 'token.rotated', tokenId: token.id, at, data: { new_token_id: created.id, new_expires_at: created.expiresAt, grace_until: graceUntil, by: by?.username ?? null } });
        return { token: created, previous: previous ?? token };
      });
      onRevoked(token.id);
      onEvent({ type: 'rotated', tokenId: token.id, newTokenId: result.token.id, by: by?.id ?? null, graceUntil, at });
      return { token: result.token, secret, previous: result.previous };
    },
  };
}
