/**
 * Token events: what happened to a token, for webhooks (issue 4) and, later, the audit log (issue 5).
 * Producers (token services, the lifecycle, the expiry job) publish; sinks decide what to do with them.
 * An event carries no secret — ids, names, kinds, paths, scopes and dates only.
 */
export type TokenEventName =
  | 'token.created'
  | 'token.rotated'
  | 'token.revoked'
  | 'token.expiring'
  | 'token.expired'
  /** A rotated-away secret presented to a rotate endpoint after its grace: the chain was revoked (token-lifecycle detectReuse). */
  | 'token.reuse_detected'
  /** A rotated-away secret presented anywhere else: refused, nothing revoked; data names ip, user_agent, endpoint. */
  | 'token.reuse_attempt'
  /** A token seen from more distinct user agents or IPs than allowed within the window (issue 5). */
  | 'token.reuse_flagged';

export interface TokenEvent {
  readonly name: TokenEventName;
  readonly tokenId: number;
  /** ISO instant the event happened (from the injected clock). */
  readonly at: string;
  /** Event details, JSON-serialisable; never a secret. */
  readonly data: Readonly<Record<string, unknown>>;
}

export interface TokenEventSink {
  /** Must not throw into the caller's request: a sink records its own failures. */
  publish(event: TokenEvent): Promise<void>;
}

/** The sink used when nothing listens. */
export const discardEvents: TokenEventSink = { publish: async () => {} };

/** Fans one event out to several sinks, in order. */
export function fanOut(...sinks: TokenEventSink[]): TokenEventSink {
  return {
    async publish(event) {
      for (const sink of sinks) await sink.publish(event);
    },
  };
}
