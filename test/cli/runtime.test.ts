/**
 * What `latchkey` runs: the build (`scripts/build.mjs`, run by `npm install` / `npm ci` through
 * `prepare`) produces a dist/ that works as the CLI on its own, web assets included; and bin/entry.mjs
 * picks that build only while no source file is newer, so an edited src/ never runs stale code.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { chooseRuntime } from '../../bin/entry.mjs';
import { REPO_ROOT } from '../support/server-process.js';

const run = promisify(execFile);

describe('the runtime the latchkey command picks', () => {
  const root = mkdtempSync(join(tmpdir(), 'latchkey-runtime-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const at = (seconds: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, seconds));
  const file = (path: string, seconds: number) => {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), '');
    utimesSync(join(root, path), at(seconds), at(seconds));
  };

  it('no build: the sources', () => {
    file('src/main.ts', 10);
    expect(chooseRuntime(root)).toBe('src');
  });

  it('a build newer than every source file: dist', () => {
    file('src/cli/main.ts', 20);
    file('dist/main.js', 30);
    file('dist/.build-stamp', 30);
    expect(chooseRuntime(root)).toBe('dist');
  });

  it('one source file edited after the build, however deep: the sources again', () => {
    file('src/protocols/registry/jwt.ts', 31);
    expect(chooseRuntime(root)).toBe('src');
    file('dist/.build-stamp', 31);
    expect(chooseRuntime(root)).toBe('dist');
  });
});

describe('the build', () => {
  const out = join(REPO_ROOT, `dist-test-${process.pid}`);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('transpiles src/ into a dist that runs the CLI without tsx, with the web assets beside it', async () => {
    const built = await run(process.execPath, [join(REPO_ROOT, 'scripts', 'build.mjs'), '--outdir', out], { cwd: REPO_ROOT });
    expect(built.stdout).toMatch(/built \d+ modules/);
    expect(existsSync(join(out, '.build-stamp'))).toBe(true);
    expect(existsSync(join(out, 'web', 'assets', 'latchkey.css'))).toBe(true);
    // No test file and no TypeScript in the build.
    expect(existsSync(join(out, 'tokens', 'token-format.test.js'))).toBe(false);
    expect(readFileSync(join(out, 'tokens', 'token-format.js'), 'utf8')).not.toMatch(/: string\)/);
    const help = await run(process.execPath, [join(out, 'main.js'), '--help'], { cwd: REPO_ROOT, env: { ...process.env, NODE_OPTIONS: '' } });
    expect(help.stdout).toContain('serve');
    expect(help.stdout).toContain('notify');
  }, 120_000);
});
