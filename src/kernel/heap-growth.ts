/**
 * How far `serve` lets V8's old generation grow past what the last full collection left live
 * (LATCHKEY_HEAP_GROWTH_PERCENT). V8 lets it grow up to 4× by default when the process may use more than
 * 2 GB of heap (any machine with 16 GB or more), and a serving process fills that room with garbage: the
 * requests' objects that outlive two young-generation collections (an audit batch waiting for its
 * write, an expired verify-cache entry) die in the old generation and stay there until the next full
 * collection. Measured on the bench (1M tokens, 64 connections): about 45 MB live after a full collection
 * on SQLite, 60 MB on PostgreSQL, and an old generation of 160–190 MB before the next, the bulk of serve's
 * 300+ MB peak. Capped at +50 %, the old generation stays near 1.5× live plus the young generation's size
 * and serve peaked at 200–230 MB; full collections come more often, each marking the same ~50 MB, and the
 * 2-core bench machine showed no throughput difference (A/B, CPU per request within the noise).
 *
 * V8 reads the setting each time it sets the next limit (after a full collection), so setting it once the
 * process runs takes effect from the next one on. 0 leaves V8's own heuristic — or a
 * `node --heap-growing-percent=…` given by hand — alone.
 */
import { setFlagsFromString } from 'node:v8';

/** Default of LATCHKEY_HEAP_GROWTH_PERCENT. */
export const DEFAULT_HEAP_GROWTH_PERCENT = 50;

/** Caps the old generation's growth between full collections at `percent` % of what was live; 0 = V8's default. */
export function limitHeapGrowth(percent: number): void {
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}
