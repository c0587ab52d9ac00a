/**
 * The read-only storage port of the outside credentials in the expiring report and the expiry gauge:
 * inventory entries Latchkey did not issue, by due date. Implemented in store/credential-overview.ts.
 * (Annotations of Latchkey's own tokens are left out: the token itself is listed.)
 */
import type { UtcDate } from '../kernel/dates.js';
import type { Renewal } from '../inventory/credential.js';

/** The kind outside credentials carry in reports and metrics, beside the token kinds. */
export const CREDENTIAL_REPORT_KIND = 'credential';

export interface DueCredentialOverview {
  readonly id: number;
  readonly slug: string;
  readonly name: string;
  /** The inventory kind (`npm_token`, `api_key`, `gitlab_group_token`…). */
  readonly kind: string;
  readonly provider: string | null;
  readonly owner: { readonly id: number; readonly fullPath: string };
  readonly renewal: Renewal;
  readonly dueOn: UtcDate;
  /** A synced entry whose upstream token ended — `revoked`, or `disappeared` from the upstream — gets no reminders; null otherwise. */
  readonly upstreamToken: UpstreamTokenState;
}

export type UpstreamTokenState = 'revoked' | 'disappeared' | null;

export interface CredentialOverviewStore {
  /**
   * Outside credentials due on or before `until` (every one when null), overdue ones included, by due date
   * then id; at most `limit`. `live`: without synced entries whose upstream token ended (the gauge's view).
   */
  dueBy(query: { until: UtcDate | null; limit?: number; live?: boolean }): Promise<DueCredentialOverview[]>;
  /** How many live outside credentials there are (the gauge's omitted count): synced entries whose upstream token ended do not count. */
  count(): Promise<number>;
}
