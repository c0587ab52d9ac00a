/**
 * The module graph of src/ has no cycles: data flows one way (http/cli → services → store), and the
 * services' shape lives in its own module so that route modules need not import the composition root.
 * Type-only imports count too: a cycle of types is still a knot a reader has to untie.
 * @see issue 12 item 10 (an 18-file circle through http/route-context.ts and app.ts)
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [path] : [];
  });
}

/** Relative imports and re-exports of one file, resolved to the .ts files they name. */
function importsOf(file: string, known: Set<string>): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?\sfrom\s+'(\.{1,2}\/[^']+)'/g)) {
    const target = resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts'));
    if (known.has(target)) out.push(target);
  }
  return out;
}

/** Strongly connected components with more than one file (Tarjan). */
function importCycles(files: string[]): string[][] {
  const known = new Set(files);
  const edges = new Map(files.map((f) => [f, importsOf(f, known)]));
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v)!) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || edges.get(v)!.includes(v)) cycles.push(component);
    }
  };
  for (const f of files) if (!index.has(f)) visit(f);
  return cycles;
}

describe('src/ import graph', () => {
  it('reports a cycle when there is one, type-only and multi-line imports included', () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-graph-'));
    try {
      writeFileSync(join(dir, 'a.ts'), "import type {\n  B,\n} from './b.js';\nexport type A = B;\n");
      writeFileSync(join(dir, 'b.ts'), "export * from './c.js';\n");
      writeFileSync(join(dir, 'c.ts'), "import { a } from './a.js';\nexport const c = a;\n");
      writeFileSync(join(dir, 'd.ts'), "import { c } from './c.js';\nexport const d = c;\n");
      const cycles = importCycles(sourceFiles(dir)).map((c) => c.map((f) => relative(dir, f)).sort());
      expect(cycles).toEqual([['a.ts', 'b.ts', 'c.ts']]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('has no import cycles (type-only imports included)', () => {
    const cycles = importCycles(sourceFiles(SRC)).map((c) => c.map((f) => relative(SRC, f)).sort());
    expect(cycles).toEqual([]);
  });
});
