import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const MB = 1024 * 1024;

/**
 * In a process of its own (V8 flags are per process): a live set of about 50 MB, a full collection, then
 * garbage that outlives two young-generation collections (a ring of the latest 120,000 objects, as a
 * serving process's queued and cached ones) and so dies in the old generation. Reports the live set and the largest
 * old generation seen while the garbage piles up.
 */
const CHILD = `
import v8 from 'node:v8';
const { limitHeapGrowth } = await import(process.argv[1]);
limitHeapGrowth(Number(process.argv[2]));
const oldSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space');
const live = [];
for (let i = 0; i < 10_000; i++) live.push(new Array(100).fill(i));
const ring = new Array(120_000);
for (let i = 0; i < ring.length; i++) ring[i] = { values: new Array(30).fill(i), i };
globalThis.gc();
const liveBytes = oldSpace().space_used_size;
let largest = 0;
for (let i = 0; i < 1_200_000; i++) {
  ring[i % ring.length] = { values: new Array(30).fill(i), i };
  if (i % 5_000 === 0) largest = Math.max(largest, oldSpace().space_size);
}
console.log(JSON.stringify({ liveBytes, largest, kept: live.length + ring.length }));
`;

async function oldGenerationUnderChurn(percent: number): Promise<{ liveBytes: number; largest: number }> {
  const module = fileURLToPath(new URL('./heap-growth.ts', import.meta.url));
  const { stdout } = await run(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', CHILD, module, String(percent)], { timeout: 90_000 });
  return JSON.parse(stdout) as { liveBytes: number; largest: number };
}

describe('limitHeapGrowth (LATCHKEY_HEAP_GROWTH_PERCENT)', () => {
  it('keeps the old generation near 1.5× what is live at 50 %, where V8 alone lets garbage take it far past 2×', async () => {
    const capped = await oldGenerationUnderChurn(50);
    const own = await oldGenerationUnderChurn(0);
    // 1.5× live, plus V8's slack of the young generation's size (32 MB) while it marks.
    expect(capped.largest).toBeLessThan(capped.liveBytes * 1.5 + 40 * MB);
    // The control: without the cap the same churn grows the old generation past that (V8 allows up to 4×).
    expect(own.largest).toBeGreaterThan(own.liveBytes * 1.5 + 40 * MB);
  }, 180_000);
});
