/** Tokens flagged as used by several automations (`latchkey token reused`): an instance-admin view. */
import type { Clock } from '../kernel/clock.js';
import { forbidden } from '../kernel/errors.js';
import type { Page, PageRequest } from '../kernel/page.js';
import type { User } from '../namespaces/namespace.js';
import type { FlaggedToken, TokenUsageStore } from './token-usage-store.js';

export interface FlaggedTokensDeps {
  usage: TokenUsageStore;
  clock: Clock;
}

export type FlaggedTokens = ReturnType<typeof createFlaggedTokens>;

export function createFlaggedTokens({ usage, clock }: FlaggedTokensDeps) {
  return {
    /** Flagged tokens, most recently flagged first; only those that still work unless `includeInactive`. */
    async list(actor: User, { includeInactive = false }: { includeInactive?: boolean }, page: PageRequest): Promise<Page<FlaggedToken>> {
      if (!actor.isAdmin) throw forbidden();
      return usage.listFlagged(includeInactive ? {} : { activeAt: clock.now() }, page);
    },
  };
}
