// `npm run build` (and `prepare`, so `npm install` / `npm ci` run it): the TypeScript sources in src/
// transpiled to JavaScript in dist/, file by file (no bundling; imports stay as written), with source
// maps, and every other file of src/ (web assets) copied beside them. No type checking here — that is
// `npm run typecheck`. bin/latchkey.mjs runs dist/ when it is newer than every source file.
//
//   node scripts/build.mjs [--outdir <dir>]
import { cpSync, mkdirSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');
const at = process.argv.indexOf('--outdir');
const outdir = resolve(root, at < 0 ? 'dist' : process.argv[at + 1]);
// The build reflects the sources as they were when it started: a file saved during the build is newer
// than the stamp, so the entry falls back to the sources rather than run a build without it.
const started = new Date();

const sources = [];
const others = [];
for (const entry of readdirSync(src, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile()) continue;
  const file = join(entry.parentPath ?? entry.path, entry.name);
  if (/\.test\.tsx?$/.test(entry.name)) continue;
  (/\.tsx?$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? sources : others).push(file);
}

rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: sources,
  outdir,
  outbase: src,
  bundle: false,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  // JSX settings (preact) and the rest come from the project's tsconfig.
  tsconfig: join(root, 'tsconfig.json'),
  logLevel: 'warning',
});
for (const file of others) {
  const to = join(outdir, relative(src, file));
  mkdirSync(dirname(to), { recursive: true });
  cpSync(file, to);
}
const stamp = join(outdir, '.build-stamp');
writeFileSync(stamp, `${started.toISOString()}\n`);
utimesSync(stamp, started, started);
process.stdout.write(`latchkey: built ${sources.length} modules into ${relative(root, outdir) || '.'}\n`);
