/** Durations as people type them: `3600` (seconds), `90s`, `30m`, `1h`, `7d`. */
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** Seconds, or null when the text is not a duration. */
export function parseDurationSeconds(input: string): number | null {
  const m = /^\s*([0-9]{1,9})\s*([smhd]?)\s*$/.exec(input);
  return m ? Number(m[1]) * UNIT_SECONDS[m[2] || 's']! : null;
}
