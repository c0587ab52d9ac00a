/**
 * When a failed delivery is tried again: waits after attempt 1, 2, … Sixteen attempts over about a
 * day, at most an hour apart for the first eight hours, so a receiver that is down for an hour (or a
 * night) gets everything once it is back.
 */
export const RETRY_DELAYS_SECONDS: readonly number[] = [10, 30, 60, 300, 900, 1800, 3600, 3600, 3600, 3600, 7200, 7200, 14_400, 14_400, 21_600];

/** Attempts in all (the first and every retry); after the last failure a delivery is given up. */
export const MAX_ATTEMPTS = RETRY_DELAYS_SECONDS.length + 1;

/** Seconds to wait after failed attempt `attempt` (1-based), or null when it was the last. */
export function retryDelaySeconds(attempt: number): number | null {
  return attempt >= MAX_ATTEMPTS ? null : RETRY_DELAYS_SECONDS[attempt - 1]!;
}
