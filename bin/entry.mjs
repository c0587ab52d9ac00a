// Which code bin/latchkey.mjs runs: the compiled JavaScript in dist/ (scripts/build.mjs; `npm install`
// and `npm ci` build it through `prepare`) when it is at least as new as every file under src/, else the
// TypeScript sources through tsx's loader — so a developer who edited src/ (and the tests that spawn the
// CLI) never run a stale build, and a fresh install never pays for transpiling at start-up.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Newest modification time of any file under `dir` (ms), or Infinity when it cannot be read. */
function newestFile(dir) {
  let newest = 0;
  try {
    for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath ?? entry.path, entry.name)).mtimeMs);
    }
  } catch {
    return Infinity;
  }
  return newest;
}

/** `'dist'` when `<root>/dist` holds a build at least as new as `<root>/src`, `'src'` otherwise. */
export function chooseRuntime(root) {
  let built;
  try {
    built = statSync(join(root, 'dist', '.build-stamp')).mtimeMs;
  } catch {
    return 'src';
  }
  return newestFile(join(root, 'src')) <= built ? 'dist' : 'src';
}
