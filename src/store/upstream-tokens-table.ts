/**
 * The synced upstream tokens' table (issue 15) and the one rule every credential query shares about it:
 * an entry whose synced token ended upstream — revoked, or gone from a complete sync — is no longer
 * renewed, so it gets no reminder, no expiry series and no calendar event (the expiring report still shows
 * it, marked). Its own module so that the inventory store and the upstream store both use it without an
 * import circle.
 */
import { sql, type Generated } from 'kysely';

export interface UpstreamTokensTable {
  id: Generated<number>;
  upstream_id: number;
  kind: string;
  remote_id: number;
  credential_id: number;
  resource: string;
  name: string;
  scopes: string;
  access_level: number | null;
  expires_at: string | null;
  last_used_at: string | null;
  revoked: number;
  active: number;
  state: string;
  first_seen_at: string;
  last_seen_at: string;
  disappeared_at: string | null;
}

/** A WHERE on `c` (inventory_credentials): the entry is not a synced token that ended upstream. */
export const notEndedUpstream = sql<boolean>`not exists (select 1 from upstream_tokens u where u.credential_id = c.id and (u.revoked = 1 or u.state = 'disappeared'))`;
